// scripts/gpu-tree.sh, on a throwaway git repository shaped like this one (a checkpoints/ folder over
// the size limit next to a little code): slim leaves the checkpoints out of what travels without
// touching them, restore brings back exactly the state before.
import { strict as assert } from 'assert';
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

const SCRIPT = path.join(__dirname, '..', 'scripts', 'gpu-tree.sh');

describe('scripts/gpu-tree.sh (what travels to a GPU machine)', function () {
  this.timeout(60_000);
  let repo = '';
  const sh = (cmd: string, args: string[], env: Record<string, string> = {}) =>
    spawnSync(cmd, args, {
      cwd: repo,
      encoding: 'utf8',
      env: {
        ...process.env,
        GIT_AUTHOR_NAME: 't',
        GIT_AUTHOR_EMAIL: 't@t',
        GIT_COMMITTER_NAME: 't',
        GIT_COMMITTER_EMAIL: 't@t',
        ...env,
      },
    });
  const tree = (...args: string[]) => sh('bash', [SCRIPT, ...args], { GPU_PACK_LIMIT_MB: '1' });
  const git = (...args: string[]) => {
    const r = sh('git', args);
    assert.equal(r.status, 0, r.stderr);
    return r.stdout;
  };

  beforeEach(() => {
    repo = fs.mkdtempSync(path.join(os.tmpdir(), 'gpu-tree-spec-'));
    git('init', '-q');
    fs.mkdirSync(path.join(repo, 'checkpoints', '05'), { recursive: true });
    fs.writeFileSync(path.join(repo, 'checkpoints', '05', 'model.safetensors'), Buffer.alloc(2 << 20, 7)); // 2 MiB
    fs.mkdirSync(path.join(repo, 'lib'));
    fs.writeFileSync(path.join(repo, 'lib', 'code.ts'), 'export const x = 1;\n');
    git('add', '.');
    git('commit', '-q', '-m', 'init');
  });

  afterEach(() => fs.rmSync(repo, { recursive: true, force: true }));

  it('size: counts tracked files, fails over the limit and says how to slim', () => {
    const r = tree('size');
    assert.equal(r.status, 1);
    assert.match(
      r.stdout,
      /working tree that travels 2\.0 MiB, build\/gpu-pack 0\.0 MiB, together 2\.0 MiB \(limit 1 MiB\)/,
    );
    assert.match(r.stdout, /bash scripts\/gpu-tree\.sh slim/);
  });

  it('slim: checkpoints stay on disk but leave the index and are ignored; restore puts everything back', () => {
    const before = fs.readFileSync(path.join(repo, '.git', 'info', 'exclude'), 'utf8');
    const s = tree('slim');
    assert.equal(s.status, 0, s.stderr);
    assert.match(s.stdout, /travels 0\.0 MiB \(slim: without checkpoints\/\)/);
    assert.deepEqual(git('ls-files').trim().split('\n'), ['lib/code.ts']);
    assert.equal(
      git('ls-files', '--others', '--exclude-standard').trim(),
      '',
      'checkpoints/ is ignored, not untracked',
    );
    assert.equal(fs.statSync(path.join(repo, 'checkpoints', '05', 'model.safetensors')).size, 2 << 20);
    assert.equal(tree('size').status, 0);

    const again = tree('slim');
    assert.equal(again.status, 1);
    assert.match(again.stderr, /already slim/);

    const r = tree('restore');
    assert.equal(r.status, 0, r.stderr);
    assert.equal(git('status', '--porcelain'), '', 'nothing staged, nothing untracked');
    assert.equal(fs.readFileSync(path.join(repo, '.git', 'info', 'exclude'), 'utf8'), before);
    assert.match(tree('restore').stderr, /not slim: nothing to restore/);
  });

  it('slim refuses staged checkpoint changes (restore could not bring them back)', () => {
    fs.writeFileSync(path.join(repo, 'checkpoints', '05', 'manifest.json'), '{}\n');
    git('add', 'checkpoints');
    const r = tree('slim');
    assert.equal(r.status, 1);
    assert.match(r.stderr, /checkpoints\/ has staged changes/);
    assert.match(git('ls-files'), /checkpoints\/05\/model\.safetensors/);
  });

  it('refuses an unknown command and a folder outside git', () => {
    assert.match(tree('shrink').stderr, /usage: bash scripts\/gpu-tree\.sh size\|slim\|restore/);
    const outside = fs.mkdtempSync(path.join(os.tmpdir(), 'gpu-tree-nogit-'));
    try {
      const r = spawnSync('bash', [SCRIPT, 'size'], {
        cwd: outside,
        encoding: 'utf8',
        env: { ...process.env, GIT_CEILING_DIRECTORIES: os.tmpdir() },
      });
      assert.equal(r.status, 1);
      assert.match(r.stderr, /not inside a git checkout/);
    } finally {
      fs.rmSync(outside, { recursive: true, force: true });
    }
  });
});
