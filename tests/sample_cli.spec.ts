// `npm run sample`: the script runs as a child process, as a user runs it, on the shipped checkpoints
// (tiny n, 2 sampling steps, the cpu backend so the child needs no native build). The files it writes
// are read back by byte (the .npy header), by lib/eval/npy.ts and by the PNG header.
import { strict as assert } from 'assert';
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { readNpy } from '../lib/eval/npy';

const ROOT = path.resolve(__dirname, '..');
const TSX = path.join(ROOT, 'node_modules', '.bin', 'tsx');

function sample(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(TSX, [path.join(ROOT, 'scripts', 'sample.ts'), ...args], {
    cwd: ROOT,
    encoding: 'utf8',
    env: { ...process.env, DIFFUSION_BACKEND: 'cpu' },
    timeout: 240_000,
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

function pngSize(file: string): [number, number] {
  const b = fs.readFileSync(file);
  assert.equal(b.subarray(1, 4).toString('latin1'), 'PNG', `${file} is not a PNG`);
  return [b.readUInt32BE(16), b.readUInt32BE(20)];
}

describe('npm run sample', function () {
  this.timeout(600_000);
  let dir = '';
  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sample-spec-'));
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('lesson 05: one float32 .npy of N×28×28 in [-1, 1], the same for the same seed, another for another', () => {
    const out = (name: string) => path.join(dir, name);
    const run = (seed: number, name: string) => {
      const r = sample(['05', '--n', '3', '--steps', '2', '--seed', String(seed), '--batch', '2', '--out', out(name)]);
      assert.equal(r.status, 0, r.stderr);
      assert.match(r.stdout, /wrote 3 samples to /);
      assert.match(r.stderr, /sample 05 100%/, 'the progress bar reaches its end on stderr');
    };
    run(7, 'a.npy');
    run(7, 'b.npy');
    run(8, 'c.npy');
    const bytes = fs.readFileSync(out('a.npy'));
    const header = bytes.subarray(10, 10 + bytes.readUInt16LE(8)).toString('latin1');
    assert.match(header, /'descr': '<f4', 'fortran_order': False, 'shape': \(3, 28, 28\)/);
    const a = readNpy(out('a.npy'));
    assert.deepEqual([a.dtype, a.shape], ['float32', [3, 28, 28]]);
    const v = Array.from(a.data);
    assert.ok(
      v.every((x) => Number.isFinite(x) && x >= -1 && x <= 1),
      'every value finite and in [-1, 1]',
    );
    assert.ok(Math.max(...v) - Math.min(...v) > 0.1, 'not a constant image');
    // Images of a batch differ (each starts from its own noise).
    assert.notDeepEqual(v.slice(0, 784), v.slice(784, 1568));
    assert.ok(fs.readFileSync(out('b.npy')).equals(bytes), 'same seed, same bytes');
    assert.ok(!fs.readFileSync(out('c.npy')).equals(bytes), 'another seed, other samples');
    assert.ok(!fs.existsSync(out('a.labels.npy')), 'no labels for an unconditional model');
  });

  it('lesson 07: labels beside the .npy (class i mod 10), and PNGs with labels.json for --class', () => {
    const npy = path.join(dir, 'cfg.npy');
    let r = sample(['07', '--n', '2', '--steps', '2', '--guidance', '2', '--out', npy]);
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(readNpy(npy).shape, [2, 28, 28]);
    const labels = readNpy(path.join(dir, 'cfg.labels.npy'));
    assert.deepEqual([labels.dtype, labels.shape, Array.from(labels.data)], ['uint8', [2], [0, 1]]);

    const pngs = path.join(dir, 'pngs');
    r = sample(['07', '--n', '2', '--steps', '2', '--class', 'Trouser', '--out', pngs]);
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(fs.readdirSync(pngs).sort(), ['000000.png', '000001.png', 'labels.json']);
    assert.deepEqual(pngSize(path.join(pngs, '000000.png')), [28, 28]);
    const rows = JSON.parse(fs.readFileSync(path.join(pngs, 'labels.json'), 'utf8'));
    assert.deepEqual(rows, [
      { file: '000000.png', label: 1, class: 'Trouser' },
      { file: '000001.png', label: 1, class: 'Trouser' },
    ]);
  });

  it('a bad lesson, flag or path is one line on stderr, exit status not 0, no stack trace', () => {
    const npy = path.join(dir, 'bad.npy');
    const cases: [string[], RegExp][] = [
      [['99', '--n', '2', '--out', npy], /unknown lesson '99'.*05, 06, 07/],
      [['05', '--n', '2', '--bogus', '--out', npy], /unknown flag '--bogus'/],
      [['05', '--out', npy], /--n N .* is required/],
      [['05', '--n', '2'], /--out .* is required/],
      [['05', '--n', '2', '--out', path.join(dir, 'missing', 'x.npy')], /the folder .*missing does not exist/],
      [['05', '--n', '2', '--out', path.join(dir, 'folder.npy')], /folder\.npy: is a directory, not a file/],
      [['05', '--n', '2', '--out', path.join(dir, 'note.txt')], /note\.txt: is a file; give a folder/],
      [['05', '--n', '2', '--guidance', '3', '--out', npy], /lesson 05 is unconditional/],
      [['07', '--n', '2', '--class', '12', '--out', npy], /--class needs a label 0-9/],
      [['07', '--n', '2', '--sampler', 'euler', '--out', npy], /--sampler must be one of/],
    ];
    fs.mkdirSync(path.join(dir, 'folder.npy'));
    fs.writeFileSync(path.join(dir, 'note.txt'), 'not a folder\n');
    for (const [args, msg] of cases) {
      const r = sample(args);
      assert.notEqual(r.status, 0, `${args.join(' ')} should fail`);
      const lines = r.stderr.trim().split('\n');
      assert.equal(lines.length, 1, `one line for ${args.join(' ')}, got:\n${r.stderr}`);
      assert.match(lines[0], /^sample: /);
      assert.match(lines[0], msg);
      assert.doesNotMatch(r.stderr, /\n\s+at /);
    }
    assert.ok(!fs.existsSync(npy), 'nothing written');
  });
});
