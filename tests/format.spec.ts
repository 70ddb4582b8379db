// The code is formatted by prettier (scripts/format.ts --check over lib/, datasets/, scripts/, tools/,
// tests/ and every notebook code cell): `npm run format` fixes what this finds.
import { strict as assert } from 'assert';
import { spawnSync } from 'child_process';
import * as path from 'path';

const ROOT = path.join(__dirname, '..');

describe('formatting', function () {
  this.timeout(120_000);
  it('every TypeScript file and notebook code cell is as prettier writes it', () => {
    const r = spawnSync(
      path.join(ROOT, 'node_modules', '.bin', 'tsx'),
      [path.join(ROOT, 'scripts', 'format.ts'), '--check'],
      { cwd: ROOT, encoding: 'utf8' },
    );
    assert.equal(r.status, 0, r.stderr || r.stdout);
    assert.match(r.stdout, /every file and notebook cell is formatted/);
  });
});
