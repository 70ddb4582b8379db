// Backend selection. Each case that depends on the process's first choice runs in a fresh child
// process (tfjs keeps one backend per process), via tools/probe-backend.ts.
import { strict as assert } from 'assert';
import { spawnSync } from 'child_process';
import * as path from 'path';
import {
  BACKEND_NAMES,
  BackendName,
  BackendReport,
  formatBackendReport,
  initBackend,
  parseBackendName,
} from '../lib/runtime/backend';
import { threadCount } from '../lib/runtime/native/addon';

const ROOT = path.join(__dirname, '..');
const TSX = path.join(ROOT, 'node_modules', '.bin', 'tsx');

function probe(env: Record<string, string>): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(TSX, [path.join(ROOT, 'tools', 'probe-backend.ts'), '--json'], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    encoding: 'utf8',
    timeout: 120_000,
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

function parseReport(stdout: string): BackendReport {
  const line = stdout
    .trim()
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .pop();
  assert.ok(line, `no JSON report in output: ${stdout}`);
  return JSON.parse(line) as BackendReport;
}

describe('backend selection', function () {
  this.timeout(240_000);
  let defaultReport: BackendReport;

  before(() => {
    const r = probe({ DIFFUSION_BACKEND: '' });
    assert.equal(r.status, 0, `default probe failed: ${r.stderr}`);
    defaultReport = parseReport(r.stdout);
    console.log(formatBackendReport(defaultReport).replace(/^/gm, '      '));
  });

  it('picks the first backend that starts and explains every faster one it skipped', () => {
    const r = defaultReport;
    assert.ok(['onednn', 'wasm'].includes(r.backend), `expected onednn or wasm on this machine, got ${r.backend}`);
    assert.equal(r.forced, false);
    const faster = BACKEND_NAMES.slice(0, BACKEND_NAMES.indexOf(r.backend));
    assert.deepEqual(
      r.skipped.map((s) => s.name),
      faster,
      'every faster backend is listed, in order',
    );
    for (const s of r.skipped) assert.ok(s.reason.length > 5, `${s.name} skipped without a reason`);
    // onednn runs on every core (or DIFFUSION_THREADS): the count the addon's loader computes.
    if (r.backend === 'onednn') assert.equal(r.threads, threadCount());
    else assert.ok(r.threads >= 1);
    // What this machine lacks (no tfjs-node, no GPU): the reasons must say so.
    const reason = (n: BackendName) => r.skipped.find((s) => s.name === n)?.reason ?? '';
    assert.match(reason('tensorflow-gpu'), /not installed|CUDA libraries missing/);
    assert.match(reason('tensorflow'), /not installed/);
    assert.match(reason('webgpu'), /adapter|not installed/);
    if (r.backend === 'wasm')
      assert.ok(r.details.join(' ').includes('Conv2DBackpropFilter'), 'wasm report lists our training kernels');
  });

  it('DIFFUSION_BACKEND=cpu forces the cpu backend', () => {
    const r = probe({ DIFFUSION_BACKEND: 'cpu' });
    assert.equal(r.status, 0, r.stderr);
    const rep = parseReport(r.stdout);
    assert.equal(rep.backend, 'cpu');
    assert.equal(rep.tfBackend, 'cpu');
    assert.equal(rep.forced, true);
    assert.deepEqual(rep.skipped, []);
  });

  it('DIFFUSION_BACKEND=wasm forces wasm and registers the training kernels', () => {
    const r = probe({ DIFFUSION_BACKEND: 'wasm' });
    assert.equal(r.status, 0, r.stderr);
    const rep = parseReport(r.stdout);
    assert.equal(rep.backend, 'wasm');
    assert.match(rep.details.join('\n'), /Conv2DBackpropFilter/);
  });

  it('forcing a backend that cannot start throws a clear error instead of falling back', function () {
    const webgpu = defaultReport.skipped.find((s) => s.name === 'webgpu');
    if (!webgpu) {
      // A machine with a WebGPU adapter can start it: nothing to refuse there.
      console.log('      SKIPPED: webgpu starts on this machine, so forcing it cannot fail');
      this.skip();
    }
    const r = probe({ DIFFUSION_BACKEND: 'webgpu' });
    assert.equal(r.status, 2, 'forced webgpu must fail here (probe-backend exits 2 when initBackend throws)');
    assert.match(r.stderr, /Backend 'webgpu' \(forced by DIFFUSION_BACKEND=webgpu\) cannot start: /);
    assert.ok(r.stderr.includes(webgpu!.reason), 'the error names the reason');
    assert.doesNotMatch(r.stdout, /"backend"/, 'no silent fallback report');
  });

  it('an unknown backend name is an error that lists the valid names', async () => {
    assert.throws(
      () => parseBackendName('gpu'),
      /Unknown backend 'gpu': use one of tensorflow-gpu, tensorflow, webgpu, onednn, wasm, cpu/,
    );
    await assert.rejects(initBackend({ force: 'cuda' as BackendName }), /Unknown backend 'cuda'/);
    const r = probe({ DIFFUSION_BACKEND: 'tpu' });
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, /initBackend failed: Unknown backend 'tpu': use one of/);
  });

  it('is idempotent within a process, and refuses to switch later', () => {
    const r = spawnSync(TSX, [path.join(ROOT, 'tools', 'probe-backend.ts'), '--twice'], {
      cwd: ROOT,
      env: { ...process.env, DIFFUSION_BACKEND: 'cpu' },
      encoding: 'utf8',
      timeout: 120_000,
    });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /same report/);
    assert.match(
      r.stdout,
      /forcing wasm afterwards: initBackend: backend 'cpu' already runs; restart the process \(kernel\) to use 'wasm'/,
    );
  });
});
