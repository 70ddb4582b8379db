// Loads the oneDNN addon built by scripts/build-native.sh (native/build/Release/onednn_tfjs.node).
// Loading never throws: callers get either the addon or a one-line reason it is unavailable.
import * as fs from 'fs';
import * as path from 'path';
import { repoRoot } from '../repo_root';

/** The functions the C++ addon exports (native/src/addon.cc). Offsets are byte offsets into `heap`. */
export interface OnednnAddon {
  conv2d(heap: ArrayBuffer, xOff: number, wOff: number, yOff: number, params: Int32Array): void;
  /** Conv + bias (biasOff -1: none) + activation (code from ACTIVATIONS) fused by oneDNN. */
  conv2dFused(
    heap: ArrayBuffer,
    xOff: number,
    wOff: number,
    biasOff: number,
    yOff: number,
    params: Int32Array,
    activation: number,
    alpha: number,
  ): void;
  conv2dBackpropInput(heap: ArrayBuffer, dyOff: number, wOff: number, dxOff: number, params: Int32Array): void;
  conv2dBackpropFilter(heap: ArrayBuffer, xOff: number, dyOff: number, dwOff: number, params: Int32Array): void;
  batchMatMul(heap: ArrayBuffer, aOff: number, bOff: number, cOff: number, params: Int32Array): void;
  /** y = scale * sum of x over the axes flagged in `reduce` (1 per summed axis). */
  reduceSum(heap: ArrayBuffer, xOff: number, yOff: number, dims: Int32Array, reduce: Int32Array, scale: number): void;
  /** out = a (op) b with broadcasting; op 0 add, 1 sub, 2 mul, 3 div; shapes padded to out's rank. */
  binary(
    heap: ArrayBuffer,
    op: number,
    aOff: number,
    aDims: Int32Array,
    bOff: number,
    bDims: Int32Array,
    outOff: number,
    outDims: Int32Array,
  ): void;
  /** GroupNorm (+ SiLU when silu is 1) of x, dims [batch, pixels, channels]; writes y and per (image, group) mean and 1/std. */
  groupNorm(
    heap: ArrayBuffer,
    xOff: number,
    gammaOff: number,
    betaOff: number,
    yOff: number,
    meanOff: number,
    rstdOff: number,
    dims: Int32Array,
    groups: number,
    eps: number,
    silu: number,
  ): void;
  /** Its gradients for dOut: dx, dgamma, dbeta (native/src/group_norm.h). */
  groupNormGrad(
    heap: ArrayBuffer,
    dOutOff: number,
    xOff: number,
    gammaOff: number,
    betaOff: number,
    meanOff: number,
    rstdOff: number,
    dxOff: number,
    dgammaOff: number,
    dbetaOff: number,
    dims: Int32Array,
    groups: number,
    silu: number,
  ): void;
  /** y = op(x) over n floats; op 0 sigmoid, 1 square, 2 rsqrt, 3 neg (native/src/elementwise.h). */
  unary(heap: ArrayBuffer, op: number, xOff: number, yOff: number, n: number): void;
  /** Gradient of nearest-neighbour resize, NHWC; dims [batch, dyPixels, xPixels, depth]; src: input pixel of each dy pixel. */
  resizeNearestGrad(heap: ArrayBuffer, dyOff: number, dxOff: number, dims: Int32Array, src: Int32Array): void;
  /** Calls of the plain C++ kernels so far (unary, binary, reduce, resize grad): tests check the native path ran. */
  elementwiseCalls(): number;
  /** Completed calls of each exported function so far, by name (binary, copyRows, conv2d, ...). */
  kernelCalls(): Record<string, number>;
  /** Copies `rows` runs of `width` 4-byte elements; strides and width in elements, offsets in bytes. */
  copyRows(
    heap: ArrayBuffer,
    srcOff: number,
    srcStride: number,
    dstOff: number,
    dstStride: number,
    rows: number,
    width: number,
  ): void;
  setNumThreads(n: number): void;
  numThreads(): number;
  /** Number of cached oneDNN primitives (one per op and shape). */
  cacheSize(): number;
  clearCache(): void;
  /** Experiment knob: reorder activations to oneDNN's blocked layout around each conv. */
  setBlockedActivations(on: boolean): void;
  /** e.g. "oneDNN 2.6.3, isa avx512_core, 2 threads" */
  info(): string;
}

export type AddonLoad = { ok: true; addon: OnednnAddon } | { ok: false; reason: string };

export const addonPath = path.join(repoRoot(), 'native', 'build', 'Release', 'onednn_tfjs.node');

let cached: AddonLoad | null = null;

export function loadAddon(): AddonLoad {
  if (cached) return cached;
  if (process.platform !== 'linux' || process.arch !== 'x64') {
    cached = {
      ok: false,
      reason: `native oneDNN backend is built for linux-x64 only (this is ${process.platform}-${process.arch})`,
    };
  } else if (!fs.existsSync(addonPath)) {
    cached = { ok: false, reason: 'native addon not built: run scripts/build-native.sh (needs g++ and libdnnl-dev)' };
  } else {
    try {
      // eslint-disable-next-line @typescript-eslint/no-var-requires
      cached = { ok: true, addon: require(addonPath) as OnednnAddon };
    } catch (e) {
      const msg = (e instanceof Error ? e.message : String(e)).split('\n')[0];
      cached = { ok: false, reason: `native addon failed to load (${msg}); rebuild with scripts/build-native.sh` };
    }
  }
  return cached;
}

let cappedNoted = false;

/** Threads for oneDNN: DIFFUSION_THREADS if set (at most the cores), else every core Node sees. */
export function threadCount(): number {
  const os = require('os') as typeof import('os');
  const cores = typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length;
  const env = process.env.DIFFUSION_THREADS;
  if (env !== undefined && env !== '') {
    const n = Number(env);
    // More threads than cores only time-slice them (slower); capped, with a note, once per process.
    if (Number.isSafeInteger(n) && n > cores) {
      if (!cappedNoted) console.warn(`DIFFUSION_THREADS=${env} is more than the ${cores} cores here; using ${cores}`);
      cappedNoted = true;
      return cores;
    }
    if (Number.isSafeInteger(n) && n >= 1) return n;
    console.warn(`DIFFUSION_THREADS=${env} is not a positive integer; using all cores`);
  }
  return cores;
}
