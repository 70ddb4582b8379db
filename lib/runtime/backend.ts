// Picks the fastest tfjs compute backend this machine can run, once per process, and says why each
// faster one was skipped. Order: tfjs-node-gpu (CUDA), tfjs-node, WebGPU (Dawn), the project's
// native oneDNN backend, wasm (XNNPACK + our training kernels), pure-JS cpu.
// Heavy or side-effecting packages (tfjs-node registers itself on import and pulls all of
// '@tensorflow/tfjs') are only required when they are actually tried.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { execFileSync } from 'child_process';
import * as tf from '@tensorflow/tfjs-core';
import { chunkWebgpuAddN, explainSyncReads, tileHighRankOnGpu } from './webgpu_fixes';
import { findGpus, gpuPathLine } from './gpu_path';
import '../core/tfjs_setup'; // gradients and chained ops: every program that trains loads this module

export type BackendName = 'tensorflow-gpu' | 'tensorflow' | 'webgpu' | 'onednn' | 'wasm' | 'cpu';
/** Fastest first: the order initBackend tries them in. */
export const BACKEND_NAMES: readonly BackendName[] = [
  'tensorflow-gpu',
  'tensorflow',
  'webgpu',
  'onednn',
  'wasm',
  'cpu',
];

export interface BackendSkip {
  name: BackendName;
  reason: string;
}

export interface BackendReport {
  /** Our name for what runs. */
  backend: BackendName;
  /** The name tfjs knows it by (tf.getBackend()): tfjs-node and tfjs-node-gpu both say 'tensorflow'. */
  tfBackend: string;
  /** True when DIFFUSION_BACKEND or opts.force chose it. */
  forced: boolean;
  /** Compute threads the backend uses. */
  threads: number;
  /** Faster backends that were tried (or not) and why they do not run, fastest first. */
  skipped: BackendSkip[];
  /** Extra facts worth printing: wasm kernels we registered, the GPU adapter, ... */
  details: string[];
  /** Which path the notebooks take on this machine's GPU and why, or that none was found (gpu_path.ts). */
  gpu?: string;
  /** Milliseconds initBackend took. */
  initMs: number;
}

// tfjs-node-gpu 4.x links libtensorflow 2.9.1, built against CUDA 11.2 and cuDNN 8.1.
const CUDA_LIBS = [
  'libcuda.so.1',
  'libcudart.so.11.0',
  'libcublas.so.11',
  'libcublasLt.so.11',
  'libcufft.so.10',
  'libcurand.so.10',
  'libcusolver.so.11',
  'libcusparse.so.11',
  'libcudnn.so.8',
];

let report: BackendReport | null = null;
let pending: Promise<BackendReport> | null = null;

/** The report of the backend initBackend chose, or null before it ran. */
export function backendReport(): BackendReport | null {
  return report;
}

/** Parses a backend name (e.g. from DIFFUSION_BACKEND); throws listing the valid ones. */
export function parseBackendName(raw: string): BackendName {
  const name = raw.trim().toLowerCase();
  if ((BACKEND_NAMES as readonly string[]).includes(name)) return name as BackendName;
  throw new Error(`Unknown backend '${raw}': use one of ${BACKEND_NAMES.join(', ')}.`);
}

/**
 * Starts the fastest available backend (or the one forced by opts.force / DIFFUSION_BACKEND) and
 * returns a report. Idempotent: later calls return the same report; asking later for a different
 * forced backend throws, since tfjs variables already live on the first one.
 */
export async function initBackend(opts: { force?: BackendName } = {}): Promise<BackendReport> {
  const envForce = process.env.DIFFUSION_BACKEND;
  const force =
    opts.force !== undefined
      ? parseBackendName(opts.force)
      : envForce !== undefined && envForce.trim() !== ''
        ? parseBackendName(envForce)
        : undefined;
  if (report) {
    if (force && force !== report.backend) {
      throw new Error(
        `initBackend: backend '${report.backend}' already runs; restart the process (kernel) to use '${force}'.`,
      );
    }
    // Code in between may have switched tfjs to another registered backend (tests pin 'cpu'): the
    // chosen one becomes active again, so a call always leaves the reported backend running.
    if (tf.getBackend() !== report.tfBackend) await tf.setBackend(report.tfBackend);
    return report;
  }
  if (pending) return pending;
  pending = withoutEmscriptenHandlers(() => start(force)).then(
    (r) => {
      report = r;
      pending = null;
      return r;
    },
    (e) => {
      pending = null; // a failed start is not cached: the caller may fix the cause and retry
      throw e;
    },
  );
  return pending;
}

// Emscripten's Node glue in tfjs's wasm binaries installs process-wide handlers that rethrow every
// uncaught exception and unhandled rejection: in a notebook kernel one stray error would kill it.
async function withoutEmscriptenHandlers<T>(fn: () => Promise<T>): Promise<T> {
  const emitter = process as unknown as NodeJS.EventEmitter; // plain EventEmitter typing: no overloads
  const events = ['uncaughtException', 'unhandledRejection'];
  const before = events.map((e) => emitter.listeners(e));
  try {
    return await fn();
  } finally {
    events.forEach((e, i) => {
      for (const l of emitter.listeners(e)) {
        if (!before[i].includes(l)) emitter.removeListener(e, l as (...a: unknown[]) => void);
      }
    });
  }
}

type Attempt = { ok: true; threads: number; details: string[] } | { ok: false; reason: string };

async function start(force: BackendName | undefined): Promise<BackendReport> {
  const t0 = Date.now();
  const skipped: BackendSkip[] = [];
  const order = force ? [force] : BACKEND_NAMES;
  for (const name of order) {
    let result: Attempt;
    try {
      result = await TRY[name]();
    } catch (e) {
      result = { ok: false, reason: oneLine(e) };
    }
    // '=== true/false' rather than truthiness: tslab compiles without strictNullChecks, where only
    // literal comparisons narrow a discriminated union.
    if (result.ok === true) {
      const r: BackendReport = {
        backend: name,
        tfBackend: tf.getBackend(),
        forced: force !== undefined,
        threads: result.threads,
        skipped,
        details: result.details,
        initMs: Date.now() - t0,
      };
      r.gpu = gpuPathLine(r, findGpus());
      return r;
    }
    if (result.ok === false && force)
      throw new Error(`Backend '${name}' (forced by ${forceSource()}) cannot start: ${result.reason}`);
    if (result.ok === false) skipped.push({ name, reason: result.reason });
  }
  // cpu is pure JS and always registers, so this only happens if tfjs itself is broken.
  throw new Error(`No tfjs backend could start: ${skipped.map((s) => `${s.name}: ${s.reason}`).join('; ')}`);
}

function forceSource(): string {
  const env = process.env.DIFFUSION_BACKEND;
  return env !== undefined && env.trim() !== '' ? `DIFFUSION_BACKEND=${env}` : 'opts.force';
}

const TRY: Record<BackendName, () => Promise<Attempt>> = {
  'tensorflow-gpu': tryTensorflowGpu,
  tensorflow: tryTensorflow,
  webgpu: tryWebgpu,
  onednn: tryOnednn,
  wasm: tryWasm,
  cpu: tryCpu,
};

async function tryTensorflowGpu(): Promise<Attempt> {
  if (!isInstalled('@tensorflow/tfjs-node-gpu'))
    return { ok: false, reason: 'not installed (@tensorflow/tfjs-node-gpu)' };
  const missing = missingLibs(CUDA_LIBS);
  if (missing.length > 0) {
    return {
      ok: false,
      reason: `CUDA libraries missing: ${missing.join(', ')} (tfjs-node-gpu needs CUDA 11.2 + cuDNN 8.1 and an NVIDIA driver)`,
    };
  }
  require('@tensorflow/tfjs-node-gpu');
  if (!(await tf.setBackend('tensorflow')))
    return { ok: false, reason: "tfjs-node-gpu loaded but tf.setBackend('tensorflow') failed" };
  return { ok: true, threads: os.cpus().length, details: ['libtensorflow with CUDA (tfjs-node-gpu)'] };
}

async function tryTensorflow(): Promise<Attempt> {
  if (!isInstalled('@tensorflow/tfjs-node')) return { ok: false, reason: 'not installed (@tensorflow/tfjs-node)' };
  require('@tensorflow/tfjs-node');
  if (!(await tf.setBackend('tensorflow')))
    return { ok: false, reason: "tfjs-node loaded but tf.setBackend('tensorflow') failed" };
  return { ok: true, threads: os.cpus().length, details: ['libtensorflow on the CPU (tfjs-node)'] };
}

async function tryWebgpu(): Promise<Attempt> {
  if (!isInstalled('webgpu')) return { ok: false, reason: 'not installed (webgpu, Dawn for Node)' };
  if (!isInstalled('@tensorflow/tfjs-backend-webgpu'))
    return { ok: false, reason: 'not installed (@tensorflow/tfjs-backend-webgpu)' };
  const dawnBackend = webgpuDawnBackend();
  // Dawn needs the Vulkan loader on Linux; checking first gives a precise reason and keeps Dawn's
  // own stderr warning out of notebooks.
  if (dawnBackend === 'vulkan' && process.platform === 'linux' && missingLibs(['libvulkan.so.1']).length > 0) {
    return {
      ok: false,
      reason: 'no WebGPU adapter: libvulkan.so.1 missing (Debian/Ubuntu: apt-get install libvulkan1; needs a real GPU)',
    };
  }
  // Dawn's OpenGL backend over Mesa's llvmpipe (EGL without a display) is a real WebGPU device on a
  // machine without a GPU: slow, for checking kernels only. Dawn offers it in compatibility mode only.
  if (dawnBackend === 'opengl' && !process.env.EGL_PLATFORM) process.env.EGL_PLATFORM = 'surfaceless';
  const dawn = loadDawn();
  type Gpu = { requestAdapter(o?: object): Promise<object | null> };
  const native = dawn.create(dawnBackend === 'opengl' ? ['backend=opengl'] : []) as Gpu;
  const gpu: Gpu =
    dawnBackend === 'opengl'
      ? Object.assign(Object.create(native) as Gpu, {
          requestAdapter: (o: object = {}) => native.requestAdapter({ ...o, featureLevel: 'compatibility' }),
        })
      : native;
  // Ask for an adapter ourselves first: without one tfjs's setBackend just returns false.
  const adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
  if (!adapter) {
    return dawnBackend === 'opengl'
      ? {
          ok: false,
          reason:
            "no WebGPU adapter from Dawn's OpenGL backend (DIFFUSION_WEBGPU_DAWN=opengl needs EGL and Mesa: libegl-mesa0)",
        }
      : { ok: false, reason: 'no WebGPU adapter (needs libvulkan.so.1 and a real GPU; software Vulkan is rejected)' };
  }
  Object.assign(globalThis, dawn.globals); // GPUBufferUsage, GPUMapMode, ... that tfjs-webgpu reads as globals
  const g = globalThis as unknown as { navigator?: { gpu?: unknown } };
  if (g.navigator === undefined) g.navigator = { gpu };
  else Object.defineProperty(g.navigator, 'gpu', { value: gpu, configurable: true });
  require('@tensorflow/tfjs-backend-webgpu'); // registers 'webgpu' only if navigator.gpu exists
  if (!(await tf.setBackend('webgpu')))
    return { ok: false, reason: "WebGPU adapter found but tf.setBackend('webgpu') failed" };
  explainSyncReads(tf.backend() as unknown as { readSync(dataId: object): unknown });
  chunkWebgpuAddN();
  tileHighRankOnGpu();
  const info = (
    adapter as unknown as { info?: { vendor?: string; architecture?: string; device?: string; description?: string } }
  ).info;
  const name = info
    ? [info.vendor, info.architecture, info.device, info.description].filter((s) => s).join(' ')
    : 'unknown adapter';
  return {
    ok: true,
    threads: 1,
    details: [
      `WebGPU adapter: ${name || 'unnamed'}${dawnBackend === 'opengl' ? " (Dawn's OpenGL backend, compatibility mode)" : ''}`,
      // tfjs-webgpu reads synchronously through an OffscreenCanvas, which Node lacks.
      'no synchronous reads under Node (dataSync/arraySync): the course reads tensors with await t.data()',
    ],
  };
}

/** Which Dawn backend to ask for: DIFFUSION_WEBGPU_DAWN=vulkan (default) or opengl (see tryWebgpu). */
function webgpuDawnBackend(): 'vulkan' | 'opengl' {
  const raw = (process.env.DIFFUSION_WEBGPU_DAWN ?? '').trim().toLowerCase();
  if (raw === '' || raw === 'vulkan') return 'vulkan';
  if (raw === 'opengl') return 'opengl';
  throw new Error(`DIFFUSION_WEBGPU_DAWN must be vulkan or opengl, got '${process.env.DIFFUSION_WEBGPU_DAWN}'`);
}

async function tryOnednn(): Promise<Attempt> {
  // Loaded only when tried; a literal path so that tslab compiles it along with this file.
  // eslint-disable-next-line @typescript-eslint/no-var-requires
  const native = require('./native/index') as typeof import('./native/index');
  const r = await native.registerNativeBackend();
  if (r.ok === false) return { ok: false, reason: r.reason };
  if (!(await tf.setBackend('onednn')))
    return { ok: false, reason: "lib/runtime/native registered but tf.setBackend('onednn') failed" };
  return {
    ok: true,
    threads: native.threadCount(),
    details: [native.nativeBackendInfo(), 'other ops: the wasm kernels (XNNPACK, SIMD)'],
  };
}

async function tryWasm(): Promise<Attempt> {
  require('@tensorflow/tfjs-backend-wasm');
  // Our training kernels (Conv2DBackpropFilter, ...) must be registered before tfjs looks them up.
  // eslint-disable-next-line @typescript-eslint/no-var-requires
  const { registerWasmTrainingKernels } = require('./wasm/register') as typeof import('./wasm/register');
  const added = registerWasmTrainingKernels();
  // One thread per core through tfjs's threaded binary (see lib/runtime/wasm/threads.ts); measured 1.4-1.7x
  // faster training steps on 2 cores. DIFFUSION_WASM_THREADS=1 keeps tfjs's single-threaded binary.
  const wantThreads = wasmThreadsWanted();
  if (wantThreads > 1) {
    // eslint-disable-next-line @typescript-eslint/no-var-requires
    const { registerThreadedWasm } = require('./wasm/threads') as typeof import('./wasm/threads');
    await registerThreadedWasm(wantThreads);
  }
  if (!(await tf.setBackend('wasm')))
    return { ok: false, reason: "tf.setBackend('wasm') failed (the .wasm binary did not load)" };
  const threads = wasmThreads();
  return {
    ok: true,
    threads,
    details: [
      `XNNPACK, SIMD${threads > 1 ? `, ${threads} threads (threaded binary, DIFFUSION_WASM_THREADS)` : ', single thread (DIFFUSION_WASM_THREADS=1)'}`,
      `training kernels added: ${added.join(', ')}`,
    ],
  };
}

function wasmThreadsWanted(): number {
  const raw = process.env.DIFFUSION_WASM_THREADS;
  if (raw === undefined || raw === '') return Math.max(1, Math.min(os.cpus().length, 8));
  const n = Number(raw);
  if (!Number.isSafeInteger(n) || n < 1)
    throw new Error(`DIFFUSION_WASM_THREADS must be a positive integer, got '${raw}'`);
  const cores = os.cpus().length;
  if (n > cores) {
    // More wasm workers than cores only contend for them (and each costs memory): capped, with a note.
    console.warn(`DIFFUSION_WASM_THREADS=${raw} is more than the ${cores} cores here; using ${cores}`);
    return cores;
  }
  return n;
}

async function tryCpu(): Promise<Attempt> {
  require('@tensorflow/tfjs-backend-cpu');
  if (!(await tf.setBackend('cpu'))) return { ok: false, reason: "tf.setBackend('cpu') failed" };
  return { ok: true, threads: 1, details: ['pure JavaScript: fine for tests, far too slow for training'] };
}

function wasmThreads(): number {
  try {
    const w = require('@tensorflow/tfjs-backend-wasm') as { getThreadsCount?: () => number };
    return w.getThreadsCount ? w.getThreadsCount() : 1;
  } catch {
    return 1;
  }
}

function isInstalled(pkg: string): boolean {
  try {
    require.resolve(pkg);
    return true;
  } catch {
    return false;
  }
}

// require('webgpu') works where Node can require ES modules (20.19+); else load dawn.node directly.
function loadDawn(): { create: (opts: string[]) => unknown; globals: object } {
  try {
    return require('webgpu');
  } catch {
    const dir = path.dirname(require.resolve('webgpu'));
    const arch = process.platform === 'darwin' ? 'universal' : process.arch;
    return require(path.join(dir, 'dist', `${process.platform}-${arch}`, 'dawn.node'));
  }
}

/** Shared libraries from `names` that the dynamic linker cannot find (ldconfig cache + LD_LIBRARY_PATH). */
export function missingLibs(names: readonly string[]): string[] {
  let cache = '';
  try {
    cache = execFileSync('ldconfig', ['-p'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  } catch {
    try {
      cache = execFileSync('/sbin/ldconfig', ['-p'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    } catch {
      cache = '';
    }
  }
  const known = new Set(
    cache
      .split('\n')
      .map((l) => l.trim().split(' ')[0])
      .filter((s) => s),
  );
  const dirs = (process.env.LD_LIBRARY_PATH ?? '').split(':').filter((d) => d);
  return names.filter((n) => !known.has(n) && !dirs.some((d) => fs.existsSync(path.join(d, n))));
}

function oneLine(e: unknown): string {
  const msg = e instanceof Error ? e.message : String(e);
  return msg.split('\n')[0].trim();
}

/** A few human-readable lines: what runs, with how many threads, and why each faster one does not. */
export function formatBackendReport(r: BackendReport): string {
  const lines = [
    `backend: ${r.backend}${r.tfBackend !== r.backend ? ` (tfjs '${r.tfBackend}')` : ''}${r.forced ? ' [forced]' : ''}, ` +
      `${r.threads} thread${r.threads === 1 ? '' : 's'}, started in ${r.initMs} ms`,
  ];
  if (r.gpu) lines.push(`  GPU: ${r.gpu}`);
  for (const d of r.details) lines.push(`  ${d}`);
  for (const s of r.skipped) lines.push(`  skipped ${s.name}: ${s.reason}`);
  return lines.join('\n');
}
