// UnsortedSegmentSum for wasm (not registered in tfjs 4.22): the gradient of gather (embedding
// lookups) needs it. It is a scatter-add, which wasm's ScatterNd does (duplicate indices add up).
// Ids outside [0, numSegments) would be dropped by TensorFlow; ScatterNd rejects them, so we check.
import * as tf from '@tensorflow/tfjs-core';
import { Backend, Info, free, reshape, run } from './kernel_ops';

function unsortedSegmentSum(args: { inputs: tf.NamedTensorInfoMap; backend: Backend; attrs?: tf.NamedAttrMap }): Info {
  const { inputs, backend: b } = args;
  const { numSegments } = (args.attrs ?? {}) as unknown as tf.UnsortedSegmentSumAttrs;
  const { x, segmentIds } = inputs as unknown as { x: Info; segmentIds: Info };
  const ids = b.readSync(segmentIds.dataId) as Int32Array | Float32Array;
  for (let i = 0; i < ids.length; i++) {
    if (ids[i] < 0 || ids[i] >= numSegments) {
      throw new Error(`UnsortedSegmentSum on wasm: segment id ${ids[i]} is outside [0, ${numSegments})`);
    }
  }
  const k = segmentIds.shape.length; // segmentIds covers the first k axes of x
  const n = tf.util.sizeFromShape(segmentIds.shape);
  const rest = x.shape.slice(k);
  const idx = reshape(b, segmentIds, [n, 1]);
  const upd = reshape(b, x, [n, ...rest]);
  const out = run(b, 'ScatterNd', { indices: idx, updates: upd }, { shape: [numSegments, ...rest] });
  free(b, idx, upd);
  return out;
}

export const unsortedSegmentSumConfig: tf.KernelConfig = {
  kernelName: tf.UnsortedSegmentSum,
  backendName: 'wasm',
  kernelFunc: unsortedSegmentSum as unknown as tf.KernelFunc,
};
