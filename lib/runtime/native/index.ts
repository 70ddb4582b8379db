// The 'onednn' tfjs backend: the wasm backend (its heap, its memory management, all its kernels)
// with the hot training kernels replaced by native code working in place on the wasm heap: conv2d,
// fused conv2d and both conv gradients, matMul (oneDNN's AVX-512 code), and sums/means and
// broadcasting add/sub/mul/div, sigmoid/square/rsqrt/neg, the nearest-resize gradient,
// concat/split and GroupNorm(+SiLU) forward and backward (plain C++, where wasm is slow; large ones
// split across threads), and zero-copy Identity/Cast.
import * as tf from '@tensorflow/tfjs-core';
import type { KernelConfig, KernelFunc } from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-wasm';
import { loadAddon, threadCount } from './addon';
import type { OnednnAddon } from './addon';
import { conv2dBackpropFilterConfig, conv2dBackpropInputConfig, conv2dConfig, fusedConv2dConfig } from './conv_kernels';
import { batchMatMulConfig } from './matmul_kernel';
import { meanConfig, sumConfig } from './reduce_kernels';
import { binaryConfigs } from './binary_kernels';
import { copyConfigs } from './copy_kernels';
import { unaryConfigs } from './unary_kernels';
import { groupNormConfigs } from './group_norm_kernel';

export const NATIVE_BACKEND = 'onednn';
// Below wasm (2), so importing this never changes which backend tf.ready() picks by itself.
const PRIORITY = 1;

export type NativeRegistration = { ok: true } | { ok: false; reason: string };

/** Kernels registered for 'wasm' but not yet for 'onednn' are copied (wasm's own implementation). */
function copyWasmKernels(): void {
  const have = new Set(tf.getKernelsForBackend(NATIVE_BACKEND).map((k) => k.kernelName));
  for (const k of tf.getKernelsForBackend('wasm')) {
    if (!have.has(k.kernelName)) tf.registerKernel({ ...k, backendName: NATIVE_BACKEND });
  }
}

function wasmKernel(name: string): KernelFunc | undefined {
  return tf.getKernel(name, 'wasm')?.kernelFunc;
}

function nativeKernels(addon: OnednnAddon): KernelConfig[] {
  return [
    conv2dConfig(addon, wasmKernel(tf.Conv2D)),
    fusedConv2dConfig(addon, wasmKernel(tf.FusedConv2D)),
    conv2dBackpropInputConfig(addon, wasmKernel(tf.Conv2DBackpropInput)),
    conv2dBackpropFilterConfig(addon, wasmKernel(tf.Conv2DBackpropFilter)),
    batchMatMulConfig(addon, wasmKernel(tf.BatchMatMul)),
    sumConfig(addon, wasmKernel(tf.Sum)),
    meanConfig(addon, wasmKernel(tf.Mean)),
    ...binaryConfigs(addon, wasmKernel),
    ...copyConfigs(addon, wasmKernel),
    ...unaryConfigs(addon, wasmKernel),
    // DIFFUSION_NATIVE_GROUPNORM=0: GroupNorm from composed ops again (to compare, or to rule it out).
    ...(process.env.DIFFUSION_NATIVE_GROUPNORM === '0' ? [] : groupNormConfigs(addon)),
  ];
}

/**
 * Registers the 'onednn' backend (use it with `await tf.setBackend('onednn')`). Never throws: when
 * the addon is not built or cannot load, returns { ok: false, reason } and registers nothing.
 */
export async function registerNativeBackend(): Promise<NativeRegistration> {
  try {
    const load = loadAddon();
    if (load.ok === false) return { ok: false, reason: load.reason };
    if (tf.findBackendFactory(NATIVE_BACKEND) !== null) return { ok: true };
    const wasmFactory = tf.findBackendFactory('wasm');
    if (wasmFactory === null)
      return { ok: false, reason: "the 'wasm' backend is not registered, so 'onednn' has nothing to build on" };
    const addon = load.addon;
    addon.setNumThreads(threadCount());
    // The native kernels replace wasm's; their fallbacks are looked up now, so a wasm kernel
    // registered later (e.g. Conv2DBackpropFilter by lib/runtime/wasm) is still copied but not used as a fallback.
    for (const k of nativeKernels(addon)) {
      if (tf.getKernel(k.kernelName, NATIVE_BACKEND)) tf.unregisterKernel(k.kernelName, NATIVE_BACKEND);
      // Keep wasm's setup: it binds the wasm function that the fallback path, and other wasm
      // kernels calling this one internally, use.
      const wasm = tf.getKernel(k.kernelName, 'wasm');
      tf.registerKernel({ ...k, setupFunc: wasm?.setupFunc, disposeFunc: wasm?.disposeFunc });
    }
    copyWasmKernels();
    tf.registerBackend(
      NATIVE_BACKEND,
      async () => {
        copyWasmKernels(); // pick up wasm kernels registered after registerNativeBackend()
        return wasmFactory();
      },
      PRIORITY,
    );
    return { ok: true };
  } catch (e) {
    return { ok: false, reason: `onednn backend registration failed: ${e instanceof Error ? e.message : String(e)}` };
  }
}

/** One line describing the native library (version, instruction set, threads), or why it is unavailable. */
export function nativeBackendInfo(): string {
  const load = loadAddon();
  return load.ok === true ? load.addon.info() : load.reason;
}

export { loadAddon, threadCount } from './addon';
export type { OnednnAddon } from './addon';
