// Sum and Mean over any axes, read in place by the addon. wasm transposes the input first when the
// axes are not the innermost ones (bias gradients, GroupNorm statistics), a full copy each time.
import { backend_util, Mean, Sum, util } from '@tensorflow/tfjs-core';
import type { KernelConfig, KernelFunc, SumAttrs, TensorInfo } from '@tensorflow/tfjs-core';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import type { OnednnAddon } from './addon';
import { input } from './kernel_args';
import type { KernelArgs } from './kernel_args';
import { heapOf, offsetOf } from './wasm_heap';

function reduceConfig(
  name: typeof Sum | typeof Mean,
  addon: OnednnAddon,
  fallback: KernelFunc | undefined,
): KernelConfig {
  const kernelFunc = (args: KernelArgs) => {
    const backend = args.backend as BackendWasm;
    const x = input(args, 'x', name);
    const { axis, keepDims } = args.attrs as unknown as SumAttrs; // MeanAttrs has the same fields
    const axes = util.parseAxisParam(axis, x.shape);
    const size = util.sizeFromShape(x.shape);
    if (x.dtype !== 'float32' || axes.length === 0 || size === 0) {
      if (!fallback) throw new Error(`onednn ${name}: unsupported input and no wasm kernel to fall back to`);
      return fallback(args as never) as TensorInfo;
    }
    const [outShape, reduceShape] = backend_util.computeOutAndReduceShapes(x.shape, axes);
    const shape = keepDims ? backend_util.expandShapeToKeepDim(outShape, axes) : outShape;
    const out = backend.makeOutput(shape, 'float32');
    const mask = Int32Array.from(x.shape, (_, i) => (axes.includes(i) ? 1 : 0));
    const scale = name === Mean ? 1 / util.sizeFromShape(reduceShape) : 1;
    addon.reduceSum(
      heapOf(backend),
      offsetOf(backend, x),
      offsetOf(backend, out),
      Int32Array.from(x.shape),
      mask,
      scale,
    );
    return out;
  };
  return { kernelName: name, backendName: 'onednn', kernelFunc: kernelFunc as unknown as KernelFunc };
}

export const sumConfig = (addon: OnednnAddon, fallback: KernelFunc | undefined) => reduceConfig(Sum, addon, fallback);
export const meanConfig = (addon: OnednnAddon, fallback: KernelFunc | undefined) => reduceConfig(Mean, addon, fallback);
