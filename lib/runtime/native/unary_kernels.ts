// Sigmoid, Square, Rsqrt, Neg on float32 (vectorised native loops, AVX-512 where the CPU has it,
// split across threads when large), and the gradient of nearest-neighbour resize (UNet upsampling),
// which wasm computes with a per-pixel search window.
import {
  Neg,
  ResizeNearestNeighbor,
  ResizeNearestNeighborGrad,
  Rsqrt,
  Sigmoid,
  Square,
  util,
} from '@tensorflow/tfjs-core';
import type { KernelConfig, KernelFunc, ResizeNearestNeighborGradAttrs, TensorInfo } from '@tensorflow/tfjs-core';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import type { OnednnAddon } from './addon';
import { input } from './kernel_args';
import type { KernelArgs } from './kernel_args';
import { heapOf, offsetOf } from './wasm_heap';

// Codes of native/src/elementwise.h's UnaryOp.
const OPS = { [Sigmoid]: 0, [Square]: 1, [Rsqrt]: 2, [Neg]: 3 } as const;
type UnaryName = keyof typeof OPS;

function unaryConfig(name: UnaryName, addon: OnednnAddon, fallback: KernelFunc | undefined): KernelConfig {
  const kernelFunc = (args: KernelArgs) => {
    const backend = args.backend as BackendWasm;
    const x = input(args, 'x', name);
    if (x.dtype !== 'float32') {
      if (!fallback) throw new Error(`onednn ${name}: ${x.dtype} input and no wasm kernel to fall back to`);
      return fallback(args as never) as TensorInfo;
    }
    const out = backend.makeOutput(x.shape, 'float32');
    const n = util.sizeFromShape(x.shape);
    if (n > 0) addon.unary(heapOf(backend), OPS[name], offsetOf(backend, x), offsetOf(backend, out), n);
    return out;
  };
  return { kernelName: name, backendName: 'onednn', kernelFunc: kernelFunc as unknown as KernelFunc };
}

type MakesTensors = {
  makeOutput(shape: number[], dtype: 'float32', memoryOffset: undefined, values: Float32Array): TensorInfo;
};

/**
 * For each output pixel of the forward resize, the input pixel it copies: found by resizing an image
 * of pixel indices with the backend's own forward kernel, so the gradient cannot disagree with it
 * (as lib/runtime/wasm/resize_nearest_grad.ts does). Cached per geometry.
 */
function sourcePixels(
  backend: BackendWasm,
  forward: KernelFunc,
  h: number,
  w: number,
  oh: number,
  ow: number,
  alignCorners: boolean,
  halfPixelCenters: boolean,
  cache: Map<string, Int32Array>,
): Int32Array {
  const key = `${h},${w},${oh},${ow},${alignCorners},${halfPixelCenters}`;
  const hit = cache.get(key);
  if (hit) return hit;
  const ramp = Float32Array.from({ length: h * w }, (_, i) => i);
  const idx = (backend as unknown as MakesTensors).makeOutput([1, h, w, 1], 'float32', undefined, ramp);
  const src = forward({
    inputs: { images: idx },
    backend,
    attrs: { alignCorners, halfPixelCenters, size: [oh, ow] },
  } as never) as TensorInfo;
  const map = Int32Array.from(backend.readSync(src.dataId) as Float32Array);
  backend.disposeData(idx.dataId);
  backend.disposeData(src.dataId);
  cache.set(key, map);
  return map;
}

function resizeNearestGradConfig(
  addon: OnednnAddon,
  fallback: KernelFunc | undefined,
  forward: KernelFunc | undefined,
): KernelConfig {
  const cache = new Map<string, Int32Array>();
  const kernelFunc = (args: KernelArgs) => {
    const backend = args.backend as BackendWasm;
    const images = input(args, 'images', ResizeNearestNeighborGrad),
      dy = input(args, 'dy', ResizeNearestNeighborGrad);
    const { alignCorners, halfPixelCenters } = args.attrs as unknown as ResizeNearestNeighborGradAttrs;
    const [batch, h, w, depth] = images.shape;
    if (!forward || dy.dtype !== 'float32' || images.shape.length !== 4 || dy.shape.length !== 4 || h * w >= 1 << 24) {
      if (!fallback)
        throw new Error(`onednn ${ResizeNearestNeighborGrad}: unsupported input and no wasm kernel to fall back to`);
      return fallback(args as never) as TensorInfo;
    }
    const [, oh, ow] = dy.shape;
    const src = sourcePixels(backend, forward, h, w, oh, ow, !!alignCorners, !!halfPixelCenters, cache);
    const out = backend.makeOutput(images.shape, 'float32');
    if (util.sizeFromShape(images.shape) > 0) {
      addon.resizeNearestGrad(
        heapOf(backend),
        offsetOf(backend, dy),
        offsetOf(backend, out),
        Int32Array.from([batch, oh * ow, h * w, depth]),
        src,
      );
    }
    return out;
  };
  return {
    kernelName: ResizeNearestNeighborGrad,
    backendName: 'onednn',
    kernelFunc: kernelFunc as unknown as KernelFunc,
  };
}

export const unaryConfigs = (
  addon: OnednnAddon,
  fallback: (name: string) => KernelFunc | undefined,
): KernelConfig[] => [
  ...(Object.keys(OPS) as UnaryName[]).map((name) => unaryConfig(name, addon, fallback(name))),
  resizeNearestGradConfig(addon, fallback(ResizeNearestNeighborGrad), fallback(ResizeNearestNeighbor)),
];
