// The code is formatted by prettier (scripts/format.ts --check over lib/, datasets/, scripts/, tools/,
// tests/ and every notebook code cell): `npm run format` fixes what this finds.
import { strict as assert } from 'assert';
import { spawnSync } from 'child_process';
import * as fs from 'fs';
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

  // Prettier does not break strings or comments; a learner reads code cells in a notebook column.
  it('no line of a notebook code cell is over 120 characters', () => {
    const long: string[] = [];
    const dir = path.join(ROOT, 'notebooks');
    for (const f of fs.readdirSync(dir).filter((n) => /^\d\d_.*\.ipynb$/.test(n))) {
      const nb = JSON.parse(fs.readFileSync(path.join(dir, f), 'utf8')) as {
        cells: { cell_type: string; source: string | string[] }[];
      };
      nb.cells.forEach((cell, i) => {
        if (cell.cell_type !== 'code') return;
        const src = Array.isArray(cell.source) ? cell.source.join('') : cell.source;
        for (const line of src.split('\n')) if (line.length > 120) long.push(`${f} cell ${i}: ${line.slice(0, 60)}…`);
      });
    }
    assert.deepEqual(long, []);
  });
});
