// Training batches for super-resolution: high-resolution images x and, as cond.concat, their
// low-resolution version up-sampled back (bicubic). With several input sizes the size cycles with
// the step (step k uses lrSizes[k mod n]), so each batch has one size and a resumed run sees the
// same batches. Used by both SR3 (diffusion on x given the condition) and the regression baseline.
import * as tf from '@tensorflow/tfjs-core';
import '../../core/tfjs_setup';
import { BatchSource, ImageData, imageBatches } from '../../core/train/batch_source';
import { lowRes, SrSpec, srCondition, validateSrSpec } from './condition';

export function srBatches(set: ImageData, batchSize: number, seed: number, spec: SrSpec): BatchSource {
  validateSrSpec(spec);
  if (set.height !== spec.hrSize || set.width !== spec.hrSize)
    throw new Error(`srBatches: images are ${set.height}x${set.width}, the spec wants ${spec.hrSize}x${spec.hrSize}`);
  const images = imageBatches(set, batchSize, seed);
  return (step) => {
    const { x } = images(step);
    const size = spec.lrSizes[step % spec.lrSizes.length];
    const concat = tf.tidy(() => srCondition(lowRes(x, size), spec));
    return { x, cond: { concat } };
  };
}
