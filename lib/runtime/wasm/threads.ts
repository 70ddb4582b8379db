// Multi-threaded wasm under Node (experimental, opt-in via DIFFUSION_WASM_THREADS=N).
// tfjs turns wasm threads off under Node because it hands Emscripten blob: URLs for the pthread
// worker and main script, which Node's Worker rejects (ERR_WORKER_PATH). Here we start tfjs's
// threaded-SIMD binary ourselves with real file paths and register it as the 'wasm' backend.
// Its C++ also caps threads at os.cpus().length / 2 (it assumes hyperthreads), i.e. 1 on a 2-vCPU
// machine, so os.cpus is doubled while the module's static constructors run.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs-core';
import { BackendWasm, getThreadsCount, setThreadsCount } from '@tensorflow/tfjs-backend-wasm';

type EmscriptenModule = {
  cwrap: (name: string, ret: string | null, args: string[]) => (...a: number[]) => number;
  PThread?: {
    unusedWorkers?: Array<{ loaded?: boolean; unref?: () => void }>;
    runningWorkers?: Array<{ unref?: () => void }>;
  };
  tfjs?: unknown;
};

/** Registers a threaded 'wasm' backend (not selected yet); returns the thread count XNNPACK got. */
export async function registerThreadedWasm(threads: number): Promise<number> {
  if (!Number.isInteger(threads) || threads < 1)
    throw new Error(`wasm threads must be a positive integer, got ${threads}`);
  const out = path.join(path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm/package.json')), 'wasm-out');
  const factory = require(path.join(out, 'tfjs-backend-wasm-threaded-simd.js')) as (
    cfg: object,
  ) => Promise<EmscriptenModule>;
  const { wasmWorkerContents } = require(path.join(out, 'tfjs-backend-wasm-threaded-simd.worker.js')) as {
    wasmWorkerContents: string;
  };
  // As tfjs does for its blob: the source is a template literal whose '\n' escapes must survive.
  const workerPath = writePrivateWorker(wasmWorkerContents.replace(/\n/g, '\\n'));
  const osMod = require('os') as { cpus: typeof os.cpus }; // the real module object (patchable)
  const realCpus = osMod.cpus;
  osMod.cpus = () => [...realCpus(), ...realCpus()];
  let module: EmscriptenModule;
  try {
    module = await factory({
      locateFile: (p: string, prefix: string) =>
        p.endsWith('.worker.js')
          ? workerPath
          : p.endsWith('.wasm')
            ? path.join(out, 'tfjs-backend-wasm-threaded-simd.wasm')
            : prefix + p,
      mainScriptUrlOrBlob: path.join(out, 'tfjs-backend-wasm-threaded-simd.js'),
    });
  } finally {
    osMod.cpus = realCpus;
  }
  // Pthread workers load asynchronously; XNNPACK's pool must not be created before they can run.
  for (let i = 0; i < 100 && (module.PThread?.unusedWorkers ?? []).some((w) => !w.loaded); i++) {
    await new Promise((r) => setTimeout(r, 20));
  }
  module.tfjs = {
    init: module.cwrap('init', null, []),
    initWithThreadsCount: module.cwrap('init_with_threads_count', null, ['number']),
    getThreadsCount: module.cwrap('get_threads_count', 'number', []),
    registerTensor: module.cwrap('register_tensor', null, ['number', 'number', 'number']),
    disposeData: module.cwrap('dispose_data', null, ['number']),
    dispose: module.cwrap('dispose', null, []),
  };
  setThreadsCount(threads);
  tf.removeBackend('wasm');
  tf.registerBackend(
    'wasm',
    () => {
      const backend = new BackendWasm(module as unknown as ConstructorParameters<typeof BackendWasm>[0]);
      // Idle pthread workers must not keep a finished script alive.
      for (const w of [...(module.PThread?.unusedWorkers ?? []), ...(module.PThread?.runningWorkers ?? [])])
        w.unref?.();
      return backend;
    },
    3,
  );
  return threads;
}

/**
 * Writes the pthread worker's source where no other user can have put or changed it, and returns its path.
 * Emscripten executes this file in every worker, so it must never come from a shared directory such as /tmp
 * under a predictable name (another local user could plant code there, or a symlink that the write follows).
 * mkdtemp makes a fresh directory with mode 0700 that only this process knows; the file is created with
 * O_EXCL | O_NOFOLLOW, so even a file or link planted inside it is refused rather than used. The folder is
 * removed when the process exits (the workers have read the file by then).
 */
export function writePrivateWorker(source: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'diffusion-wasm-'));
  const file = path.join(dir, 'pthread-worker.js');
  const { O_WRONLY, O_CREAT, O_EXCL, O_NOFOLLOW } = fs.constants;
  const fd = fs.openSync(file, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0o600);
  try {
    fs.writeSync(fd, source);
  } finally {
    fs.closeSync(fd);
  }
  process.once('exit', () => fs.rmSync(dir, { recursive: true, force: true }));
  return file;
}

export { getThreadsCount };
