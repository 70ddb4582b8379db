// Experiment: run tfjs's threaded-SIMD wasm binary under Node by giving Emscripten real file paths
// for its pthread worker and main script (tfjs passes blob: URLs, which Node's Worker rejects), then
// time a conv-heavy op with 1 vs 2 threads. Usage: npx tsx scripts/probe-wasm-threads.ts [threads]
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs-core';
import '../lib/tfjs_setup';
import { BackendWasm, setThreadsCount } from '@tensorflow/tfjs-backend-wasm';

const threads = Number(process.argv[2] ?? 2);
const pkg = path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm/package.json'));
const out = path.join(pkg, 'wasm-out');

async function main(): Promise<void> {
  const factory = require(path.join(out, 'tfjs-backend-wasm-threaded-simd.js'));
  const { wasmWorkerContents } = require(path.join(out, 'tfjs-backend-wasm-threaded-simd.worker.js'));
  const workerPath = path.join(os.tmpdir(), `tfjs-wasm-pthread-worker-${process.pid}.js`);
  fs.writeFileSync(workerPath, wasmWorkerContents.replace(/\n/g, '\\n')); // as tfjs does for its blob: string literals must keep their escapes
  // tfjs's C++ caps threads at emscripten_num_logical_cores()/2 (it assumes 2 hyperthreads per
  // core), and under Node that is os.cpus().length: 1 on a 2-vCPU machine. Report twice the CPUs
  // while the module's static constructors run.
  const osMod = require('os') as { cpus: typeof os.cpus }; // the real module object, patchable
  const realCpus = osMod.cpus;
  const fakeCpus = () => { const c = realCpus(); return [...c, ...c]; };
  osMod.cpus = fakeCpus;
  const module = await factory({
    locateFile: (p: string, prefix: string) =>
      p.endsWith('.worker.js') ? workerPath : p.endsWith('.wasm') ? path.join(out, 'tfjs-backend-wasm-threaded-simd.wasm') : prefix + p,
    mainScriptUrlOrBlob: path.join(out, 'tfjs-backend-wasm-threaded-simd.js'),
  });
  osMod.cpus = realCpus;
  module.tfjs = {
    init: module.cwrap('init', null, []),
    initWithThreadsCount: module.cwrap('init_with_threads_count', null, ['number']),
    getThreadsCount: module.cwrap('get_threads_count', 'number', []),
    registerTensor: module.cwrap('register_tensor', null, ['number', 'number', 'number']),
    disposeData: module.cwrap('dispose_data', null, ['number']),
    dispose: module.cwrap('dispose', null, []),
  };
  // Let the 8 pre-allocated pthread workers finish loading before XNNPACK's pool is created.
  await new Promise((r) => setTimeout(r, 1000));
  const ready = (module.PThread?.unusedWorkers ?? []).filter((w: { loaded?: boolean }) => w.loaded).length;
  console.log('pthread workers loaded:', ready, 'of', (module.PThread?.unusedWorkers ?? []).length);
  setThreadsCount(threads);
  tf.removeBackend('wasm');
  tf.registerBackend('wasm', () => new BackendWasm(module), 3);
  console.log('setBackend', await tf.setBackend('wasm'), 'threads', module.tfjs.getThreadsCount());
  const x = tf.randomNormal([64, 28, 28, 32]) as tf.Tensor4D;
  const w = tf.randomNormal([3, 3, 32, 32]) as tf.Tensor4D;
  const ts: number[] = [];
  for (let i = 0; i < 9; i++) {
    const t0 = performance.now();
    const y = tf.conv2d(x, w, 1, 'same');
    y.dataSync();
    y.dispose();
    ts.push(performance.now() - t0);
  }
  ts.sort((a, b) => a - b);
  console.log(`conv2d [64,28,28,32]x[3,3,32,32]: median ${ts[4].toFixed(1)} ms with ${threads} thread(s)`);
  fs.unlinkSync(workerPath);
  process.exit(0); // pthread workers keep the event loop alive
}
main().catch((e) => { console.error('FAILED:', e && (e.message ?? e)); process.exit(1); });
