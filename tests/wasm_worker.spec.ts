// The threaded wasm backend runs a pthread worker script from a file. It must never execute, follow
// or overwrite a file that someone else could have placed: the old code wrote it to a fixed name in the
// shared temp folder (a local code-execution and clobbering hole). Each case runs a fresh child process
// with TMPDIR pointing at a folder of the test's own, where the attacker's files are planted first.
import { strict as assert } from 'assert';
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs-core';
import { writePrivateWorker } from '../lib/runtime/wasm/threads';

const ROOT = path.join(__dirname, '..');
const TSX = path.join(ROOT, 'node_modules', '.bin', 'tsx');
const OLD_NAME = `tfjs-wasm-pthread-worker-${tf.version_core}.js`;

type Probe = {
  workers: Array<{ dir: string; dirMode: string; files: Array<{ name: string; mode: string }> }>;
  threads: number;
  sum: number;
};

function runProbe(tmp: string): Probe {
  const r = spawnSync(TSX, [path.join(__dirname, 'fixtures', 'wasm_worker_probe.ts')], {
    cwd: ROOT,
    env: { ...process.env, TMPDIR: tmp },
    encoding: 'utf8',
    timeout: 120_000,
  });
  assert.equal(r.status, 0, `probe failed: ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').pop()!) as Probe;
}

describe('wasm pthread worker file', function () {
  this.timeout(240_000);
  let tmp: string;
  beforeEach(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'wasm-worker-spec-'));
  });
  afterEach(() => fs.rmSync(tmp, { recursive: true, force: true }));

  // Code an attacker plants: if any worker ran it, the marker file would appear.
  const plant = (marker: string) => `require('fs').writeFileSync(${JSON.stringify(marker)}, 'ran');\n`;

  it('ignores a file planted at the old predictable path and leaves it untouched', () => {
    const marker = path.join(tmp, 'PLANTED-CODE-RAN');
    const planted = path.join(tmp, OLD_NAME);
    fs.writeFileSync(planted, plant(marker));
    const before = fs.readFileSync(planted, 'utf8');
    const p = runProbe(tmp);
    assert.equal(p.sum, convOfOnesSum(), 'the convolution ran on threaded wasm');
    assert.equal(p.threads, 2);
    assert.ok(!fs.existsSync(marker), 'the planted worker code was executed');
    assert.equal(fs.readFileSync(planted, 'utf8'), before, 'the planted file was overwritten');
  });

  it('does not follow a symlink planted at the old path (no clobbering of the victim file)', () => {
    const victim = path.join(tmp, 'victim.txt');
    fs.writeFileSync(victim, 'precious');
    fs.symlinkSync(victim, path.join(tmp, OLD_NAME));
    runProbe(tmp);
    assert.equal(fs.readFileSync(victim, 'utf8'), 'precious');
    assert.equal(fs.readlinkSync(path.join(tmp, OLD_NAME)), victim);
  });

  it('runs its worker from a private folder (0700, file 0600) that is gone when the process exits', () => {
    const p = runProbe(tmp);
    assert.equal(p.workers.length, 1, 'one private worker folder while running');
    assert.equal(p.workers[0].dirMode, '700');
    assert.deepEqual(p.workers[0].files, [{ name: 'pthread-worker.js', mode: '600' }]);
    assert.ok(!fs.existsSync(p.workers[0].dir), 'the worker folder is removed at exit');
    const left = fs.readdirSync(tmp).filter((f) => !f.startsWith('tsx-')); // tsx keeps its own cache there
    assert.deepEqual(left, [], 'nothing of ours left behind in TMPDIR');
  });

  it('writePrivateWorker makes a new folder per call and never reuses a name', () => {
    const a = writePrivateWorker('1');
    const b = writePrivateWorker('2');
    assert.notEqual(path.dirname(a), path.dirname(b));
    assert.equal(fs.readFileSync(a, 'utf8'), '1');
    assert.equal(fs.readFileSync(b, 'utf8'), '2');
  });
});

/** Sum of a 3x3 'same' convolution of ones over a 16x16x4 image with 8 filters (border pixels see fewer taps). */
function convOfOnesSum(): number {
  const taps = (i: number) => (i === 0 || i === 15 ? 2 : 3);
  let sum = 0;
  for (let i = 0; i < 16; i++) for (let j = 0; j < 16; j++) sum += taps(i) * taps(j) * 4 * 8;
  return sum;
}
