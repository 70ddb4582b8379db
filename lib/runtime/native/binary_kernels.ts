// Add, Sub, Multiply, RealDiv on float32 with broadcasting, computed in place by the addon (split
// across threads by native/src/parallel.h when large). wasm's broadcasting path (per-channel and
// per-group shapes in GroupNorm) is much slower.
import { Add, backend_util, Multiply, RealDiv, Sub, util } from '@tensorflow/tfjs-core';
import type { KernelConfig, KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import type { OnednnAddon } from './addon';
import { input } from './kernel_args';
import type { KernelArgs } from './kernel_args';
import { heapOf, offsetOf } from './wasm_heap';

// Codes of native/src/binary.h's BinaryOp.
const OPS = { [Add]: 0, [Sub]: 1, [Multiply]: 2, [RealDiv]: 3 } as const;
type BinaryName = keyof typeof OPS;

const padTo = (shape: number[], rank: number) => Int32Array.from([...new Array(rank - shape.length).fill(1), ...shape]);

function binaryConfig(name: BinaryName, addon: OnednnAddon, fallback: KernelFunc | undefined): KernelConfig {
  const kernelFunc = (args: KernelArgs) => {
    const backend = args.backend as BackendWasm;
    const a = input(args, 'a', name),
      b = input(args, 'b', name);
    if (a.dtype !== 'float32' || b.dtype !== 'float32') {
      if (!fallback) throw new Error(`onednn ${name}: ${a.dtype}/${b.dtype} inputs and no wasm kernel to fall back to`);
      return fallback(args as never) as TensorInfo;
    }
    const outShape = backend_util.assertAndGetBroadcastShape(a.shape, b.shape);
    const out = backend.makeOutput(outShape, 'float32');
    if (util.sizeFromShape(outShape) > 0) {
      const r = outShape.length;
      addon.binary(
        heapOf(backend),
        OPS[name],
        offsetOf(backend, a),
        padTo(a.shape, r),
        offsetOf(backend, b),
        padTo(b.shape, r),
        offsetOf(backend, out),
        Int32Array.from(outShape),
      );
    }
    return out;
  };
  return { kernelName: name, backendName: 'onednn', kernelFunc: kernelFunc as unknown as KernelFunc };
}

export const binaryConfigs = (addon: OnednnAddon, fallback: (name: string) => KernelFunc | undefined): KernelConfig[] =>
  (Object.keys(OPS) as BinaryName[]).map((name) => binaryConfig(name, addon, fallback(name)));
