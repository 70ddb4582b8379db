// ResizeNearestNeighborGrad for wasm. tfjs 4.22's wasm version is wrong with several channels and
// ignores halfPixelCenters. Ours cannot disagree with the forward pass: it resizes an image of pixel
// indices with the forward kernel itself, which says where each output pixel came from, then
// scatter-adds dy there (ScatterNd sums duplicates).
import * as tf from '@tensorflow/tfjs-core';
import { Backend, Info, free, reshape, run, transpose } from './kernel_ops';

// BackendWasm.makeOutput(shape, dtype, memoryOffset?, values?) copies values onto the wasm heap.
type MakesTensors = {
  makeOutput(shape: number[], dtype: 'float32', memoryOffset: undefined, values: Float32Array): Info;
};

function resizeNearestNeighborGrad(args: {
  inputs: tf.NamedTensorInfoMap;
  backend: Backend;
  attrs?: tf.NamedAttrMap;
}): Info {
  const { inputs, backend: b } = args;
  const { alignCorners, halfPixelCenters } = (args.attrs ?? {}) as unknown as tf.ResizeNearestNeighborGradAttrs;
  const { images, dy } = inputs as unknown as { images: Info; dy: Info };
  const [n, h, w, c] = images.shape;
  const [, oh, ow] = dy.shape;
  if (h * w >= 1 << 24)
    throw new Error(`ResizeNearestNeighborGrad on wasm: ${h}x${w} pixels exceed float32 index range`);
  const ramp = new Float32Array(h * w);
  for (let i = 0; i < ramp.length; i++) ramp[i] = i;
  const idx = (b as unknown as MakesTensors).makeOutput([1, h, w, 1], 'float32', undefined, ramp);
  const src = run(b, 'ResizeNearestNeighbor', { images: idx }, { alignCorners, halfPixelCenters, size: [oh, ow] });
  const srcI = run(b, 'Cast', { x: src }, { dtype: 'int32' });
  const ids = reshape(b, srcI, [oh * ow, 1]);
  const dyt = transpose(b, dy, [1, 2, 0, 3]); // [oh, ow, n, c]: one row of updates per output pixel
  const upd = reshape(b, dyt, [oh * ow, n * c]);
  const sum = run(b, 'ScatterNd', { indices: ids, updates: upd }, { shape: [h * w, n * c] });
  const sum4 = reshape(b, sum, [h, w, n, c]);
  const out = transpose(b, sum4, [2, 0, 1, 3]);
  free(b, idx, src, srcI, ids, dyt, upd, sum, sum4);
  return out;
}

export const resizeNearestNeighborGradConfig: tf.KernelConfig = {
  kernelName: tf.ResizeNearestNeighborGrad,
  backendName: 'wasm',
  kernelFunc: resizeNearestNeighborGrad as unknown as tf.KernelFunc,
};
