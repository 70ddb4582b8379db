// Noise conditioning augmentation (Imagen, after Ho et al.'s Cascaded Diffusion Models): the
// super-resolution stage is trained on the TRUE low-resolution image, but at sampling it gets the
// base model's output, which has its own artefacts. Corrupting the low-res input with Gaussian noise
// of a random level during training, and telling the network the level, makes it robust to that
// mismatch; at sampling one picks a level (a small one usually works best) and passes it along.
// The level is one of NOISE_AUG_BUCKETS values, gamma_k = k * NOISE_AUG_STEP, given to the UNet as a
// class label (UNetConfig.numClasses = buckets): its embedding is added to the time embedding, the
// same path Imagen's aug-level embedding takes. The corruption is variance preserving:
//     z = sqrt(1 - gamma^2) * lowres + gamma * eps
import * as tf from '@tensorflow/tfjs-core';
import '../../core/tfjs_setup';
import { upsampleBicubic } from '../../core/resize';
import { Rng } from '../../core/random';
import { BatchSource } from '../../core/train/batch_source';
import { stepRng } from '../../core/train/step_seed';
import { downsampleArea } from '../../core/resize';

export const NOISE_AUG_BUCKETS = 7;
export const NOISE_AUG_STEP = 0.1;
/** The largest level, gamma of the last bucket. */
export const NOISE_AUG_MAX = (NOISE_AUG_BUCKETS - 1) * NOISE_AUG_STEP;
/** A stream id of its own (step_seed.ts uses 1-3), so augmentation noise never repeats the diffusion noise. */
const STREAM_AUG = 11;

/** gamma of bucket k (0 = clean). */
export function augLevel(bucket: number): number {
  if (!Number.isInteger(bucket) || bucket < 0 || bucket >= NOISE_AUG_BUCKETS)
    throw new Error(`noise augmentation: bucket must be an integer in [0, ${NOISE_AUG_BUCKETS - 1}], got ${bucket}`);
  return bucket * NOISE_AUG_STEP;
}

/** z = sqrt(1 - gamma_k^2) x + gamma_k eps, with each image's own bucket k. New tensor. */
export function augmentLowRes(lowres: tf.Tensor4D, buckets: readonly number[], rng: Rng): tf.Tensor4D {
  const b = lowres.shape[0];
  if (buckets.length !== b) throw new Error(`augmentLowRes: ${buckets.length} buckets for a batch of ${b}`);
  const g = buckets.map(augLevel);
  return tf.tidy(() => {
    const eps = rng.normalTensor(lowres.shape) as tf.Tensor4D;
    const gamma = tf.tensor4d(g, [b, 1, 1, 1]);
    const keep = tf.tensor4d(
      g.map((x) => Math.sqrt(1 - x * x)),
      [b, 1, 1, 1],
    );
    return tf.add(tf.mul(lowres, keep), tf.mul(eps, gamma)) as tf.Tensor4D;
  });
}

/**
 * The SR model's image condition: the (augmented) low-res image up-sampled bicubically to outSize,
 * and the level labels. `lowres` stays the caller's.
 */
export function srImageCondition(
  lowres: tf.Tensor4D,
  buckets: readonly number[],
  rng: Rng,
  outSize: number,
): { concat: tf.Tensor4D; classLabels: number[] } {
  const z = augmentLowRes(lowres, buckets, rng);
  const concat = upsampleBicubic(z, outSize);
  z.dispose();
  return { concat, classLabels: [...buckets] };
}

/**
 * Wraps a BatchSource of high-res images (with any text condition): adds cond.concat, the image's 2x
 * area down-sampled version augmented at a uniformly drawn level and up-sampled back, and
 * cond.classLabels, the level. Drawn from (seed, step) only, so a resumed run sees the same batches.
 */
export function noiseAugBatches(src: BatchSource, seed: number, factor = 2): BatchSource {
  return (step) => {
    const b = src(step);
    const n = b.x.shape[0];
    const rng = stepRng(seed, step, STREAM_AUG);
    const buckets = Array.from({ length: n }, () => rng.int(NOISE_AUG_BUCKETS));
    const lr = downsampleArea(b.x, factor);
    const img = srImageCondition(lr, buckets, rng, b.x.shape[1]);
    lr.dispose();
    return { x: b.x, cond: { ...b.cond, ...img } };
  };
}
