// BatchMatMul (tf.matMul, dense layers, attention) run by oneDNN on the wasm heap, transposes
// expressed as strides. Batch shapes other than equal-or-1 go to the wasm kernel.
import { BatchMatMul, broadcast_util } from '@tensorflow/tfjs-core';
import type { BatchMatMulAttrs, KernelConfig, KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import type { OnednnAddon } from './addon';
import { heapOf, offsetOf } from './wasm_heap';
import { input } from './kernel_args';
import type { KernelArgs } from './kernel_args';

const prod = (s: number[]) => s.reduce((a, b) => a * b, 1);

export function batchMatMulConfig(addon: OnednnAddon, fallback: KernelFunc | undefined): KernelConfig {
  const kernelFunc = (args: KernelArgs) => {
    const backend = args.backend as BackendWasm;
    const a = input(args, 'a', BatchMatMul),
      b = input(args, 'b', BatchMatMul);
    const { transposeA, transposeB } = args.attrs as unknown as BatchMatMulAttrs;
    const ra = a.shape.length,
      rb = b.shape.length;
    const K = transposeA ? a.shape[ra - 2] : a.shape[ra - 1];
    const kB = transposeB ? b.shape[rb - 1] : b.shape[rb - 2];
    const M = transposeA ? a.shape[ra - 1] : a.shape[ra - 2];
    const N = transposeB ? b.shape[rb - 2] : b.shape[rb - 1];
    if (K !== kB) {
      throw new Error(
        `onednn matMul: inner dimensions ${K} and ${kB} of shapes [${a.shape}] and [${b.shape}] must match`,
      );
    }
    const batchA = prod(a.shape.slice(0, -2)),
      batchB = prod(b.shape.slice(0, -2));
    const outShape = broadcast_util
      .assertAndGetBroadcastShape(a.shape.slice(0, -2), b.shape.slice(0, -2))
      .concat([M, N]);
    const simpleBatch = batchA === batchB || batchA === 1 || batchB === 1;
    if (a.dtype !== 'float32' || b.dtype !== 'float32' || !simpleBatch || K === 0) {
      if (!fallback)
        throw new Error('onednn matMul: unsupported dtype or batch broadcast and no wasm kernel to fall back to');
      return fallback(args as never) as TensorInfo;
    }
    const out = backend.makeOutput(outShape, 'float32');
    if (prod(outShape) > 0) {
      const params = Int32Array.from([batchA, batchB, M, K, N, transposeA ? 1 : 0, transposeB ? 1 : 0]);
      addon.batchMatMul(heapOf(backend), offsetOf(backend, a), offsetOf(backend, b), offsetOf(backend, out), params);
    }
    return out;
  };
  return { kernelName: BatchMatMul, backendName: 'onednn', kernelFunc: kernelFunc as unknown as KernelFunc };
}
