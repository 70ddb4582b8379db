// Kernels that only move data. Identity and same-type Cast share the input's memory (tfjs tensors
// are immutable; the cpu backend does the same), where wasm copies. Concat and SplitV copy row
// blocks in place (memcpy per row), several times faster than wasm's concat and per-piece slices.
import { backend_util, Cast, Concat, Identity, SplitV, util } from '@tensorflow/tfjs-core';
import type { CastAttrs, ConcatAttrs, KernelConfig, KernelFunc, SplitVAttrs, TensorInfo } from '@tensorflow/tfjs-core';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import type { OnednnAddon } from './addon';
import { input } from './kernel_args';
import type { KernelArgs } from './kernel_args';
import { heapOf, offsetOf } from './wasm_heap';

type Fallback = (name: string) => KernelFunc | undefined;

function viaFallback(fallback: KernelFunc | undefined, name: string, args: KernelArgs): TensorInfo | TensorInfo[] {
  if (!fallback) throw new Error(`onednn ${name}: unsupported input and no wasm kernel to fall back to`);
  return fallback(args as never) as TensorInfo | TensorInfo[];
}

function share(backend: BackendWasm, x: TensorInfo): TensorInfo {
  backend.incRef(x.dataId);
  return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
}

const fourBytes = (dtype: string) => dtype === 'float32' || dtype === 'int32';

export function copyConfigs(addon: OnednnAddon, fallback: Fallback): KernelConfig[] {
  const identity = (args: KernelArgs) => {
    const x = input(args, 'x', Identity);
    return x.dtype === 'string'
      ? viaFallback(fallback(Identity), Identity, args)
      : share(args.backend as BackendWasm, x);
  };
  const cast = (args: KernelArgs) => {
    const x = input(args, 'x', Cast);
    const { dtype } = args.attrs as unknown as CastAttrs;
    return x.dtype === dtype && dtype !== 'string'
      ? share(args.backend as BackendWasm, x)
      : viaFallback(fallback(Cast), Cast, args);
  };
  const concat = (args: KernelArgs) => {
    const backend = args.backend as BackendWasm;
    const xs = Object.keys(args.inputs).map((k) => args.inputs[k] as TensorInfo);
    const axis = util.parseAxisParam((args.attrs as unknown as ConcatAttrs).axis, xs[0].shape)[0];
    const dtype = xs[0].dtype;
    if (!fourBytes(dtype) || xs.some((x) => x.dtype !== dtype)) return viaFallback(fallback(Concat), Concat, args);
    const outShape = backend_util.computeOutShape(
      xs.map((x) => x.shape),
      axis,
    );
    const out = backend.makeOutput(outShape, dtype);
    const rows = util.sizeFromShape(outShape.slice(0, axis));
    const outWidth = util.sizeFromShape(outShape.slice(axis));
    let col = 0;
    const heap = heapOf(backend);
    const outOff = offsetOf(backend, out);
    for (const x of xs) {
      const width = util.sizeFromShape(x.shape.slice(axis));
      if (width > 0 && rows > 0)
        addon.copyRows(heap, offsetOf(backend, x), width, outOff + 4 * col, outWidth, rows, width);
      col += width;
    }
    return out;
  };
  const splitV = (args: KernelArgs) => {
    const backend = args.backend as BackendWasm;
    const x = input(args, 'x', SplitV);
    const { numOrSizeSplits, axis } = args.attrs as unknown as SplitVAttrs;
    if (!fourBytes(x.dtype)) return viaFallback(fallback(SplitV), SplitV, args);
    const ax = util.parseAxisParam(axis, x.shape)[0];
    const sizes = backend_util.prepareSplitSize(x as never, numOrSizeSplits, ax);
    const rows = util.sizeFromShape(x.shape.slice(0, ax));
    const inner = util.sizeFromShape(x.shape.slice(ax + 1));
    const inWidth = x.shape[ax] * inner;
    let col = 0;
    return sizes.map((s) => {
      const shape = x.shape.slice();
      shape[ax] = s;
      const out = backend.makeOutput(shape, x.dtype);
      const width = s * inner;
      // Heap and offsets after makeOutput: an allocation may grow (and replace) the heap.
      if (width > 0 && rows > 0)
        addon.copyRows(
          heapOf(backend),
          offsetOf(backend, x) + 4 * col,
          inWidth,
          offsetOf(backend, out),
          width,
          rows,
          width,
        );
      col += width;
      return out;
    });
  };
  return [
    { kernelName: Identity, backendName: 'onednn', kernelFunc: identity as unknown as KernelFunc },
    { kernelName: Cast, backendName: 'onednn', kernelFunc: cast as unknown as KernelFunc },
    { kernelName: Concat, backendName: 'onednn', kernelFunc: concat as unknown as KernelFunc },
    { kernelName: SplitV, backendName: 'onednn', kernelFunc: splitV as unknown as KernelFunc },
  ];
}
