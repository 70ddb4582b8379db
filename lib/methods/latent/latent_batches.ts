// The latent data set: the training images encoded once by the frozen autoencoder to the mean and
// standard deviation of q(z | x). Each batch then draws a fresh z = mean + std * noise (LDM trains on
// posterior samples, not on the means alone) and multiplies by the scale factor, so the diffusion
// model sees latents of about unit standard deviation, as its noise schedule assumes.
import * as tf from '@tensorflow/tfjs-core';
import '../../core/tfjs_setup';
import { BatchSource, ImageData } from '../../core/train/batch_source';
import { STREAM, stepRng } from '../../core/train/step_seed';
import { Condition } from '../../core/condition';
import { UNetCondition } from '../../core/unet/unet';
import { Autoencoder, latentSide } from './autoencoder';

export interface EncodedSet {
  /** [N, s, s, c] posterior means and standard deviations (unscaled). */
  mean: Float32Array;
  std: Float32Array;
  count: number;
  shape: [number, number, number];
}

/** Encodes every image of `set` (uint8 pixels -> [-1, 1]) in chunks of `chunk`. */
export async function encodeImageSet(ae: Autoencoder, set: ImageData, chunk = 250): Promise<EncodedSet> {
  const c = ae.config;
  if (set.height !== c.imageSize || set.width !== c.imageSize || set.channels !== c.imageChannels) {
    throw new Error(
      `encodeImageSet: the set holds ${set.height}x${set.width}x${set.channels} images, the autoencoder takes ${c.imageSize}x${c.imageSize}x${c.imageChannels}`,
    );
  }
  const per = set.height * set.width * set.channels;
  const s = latentSide(c);
  const lat = s * s * c.latentChannels;
  const mean = new Float32Array(set.count * lat);
  const std = new Float32Array(set.count * lat);
  for (let i = 0; i < set.count; i += chunk) {
    const n = Math.min(chunk, set.count - i);
    const px = new Float32Array(n * per);
    for (let p = 0; p < n * per; p++) px[p] = set.images[i * per + p] / 127.5 - 1;
    // Mean and std of the chunk in one asynchronous read ([2, n * lat]).
    const both = tf.tidy(() => {
      const post = ae.encode(tf.tensor4d(px, [n, set.height, set.width, set.channels]));
      return tf.stack([tf.reshape(post.mean, [-1]), tf.reshape(tf.exp(tf.mul(post.logvar, 0.5)), [-1])]);
    });
    const v = (await both.data()) as Float32Array;
    both.dispose();
    mean.set(v.subarray(0, n * lat), i * lat);
    std.set(v.subarray(n * lat), i * lat);
  }
  return { mean, std, count: set.count, shape: [s, s, c.latentChannels] };
}

/** 1 / standard deviation of posterior samples z over the set (LDM's scale_factor), with a fixed seed. */
export function latentScaleFactor(enc: EncodedSet, seed = 0): number {
  const rng = stepRng(seed, 0, STREAM.noise);
  let s1 = 0;
  let s2 = 0;
  const n = enc.mean.length;
  for (let i = 0; i < n; i++) {
    const z = enc.mean[i] + enc.std[i] * rng.normal();
    s1 += z;
    s2 += z * z;
  }
  const variance = s2 / n - (s1 / n) ** 2;
  if (!(variance > 0)) throw new Error(`latentScaleFactor: the latents have variance ${variance}`);
  return 1 / Math.sqrt(variance);
}

/**
 * Seeded batches of scaled latent samples. `cond(indices, step)` gives each batch's condition
 * (captions as cond.text, box tokens as cond.context); it may be omitted for an unconditional model.
 */
export function latentBatches<C extends Condition = UNetCondition>(
  enc: EncodedSet,
  scaleFactor: number,
  batchSize: number,
  seed: number,
  cond?: (indices: Int32Array, step: number) => C,
): BatchSource<C> {
  if (!(scaleFactor > 0)) throw new Error(`latentBatches: scaleFactor must be > 0, got ${scaleFactor}`);
  if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > enc.count)
    throw new Error(`latentBatches: batchSize must be an integer in [1, ${enc.count}], got ${batchSize}`);
  const per = enc.shape[0] * enc.shape[1] * enc.shape[2];
  const perEpoch = Math.floor(enc.count / batchSize);
  let epochSeen = -1;
  let order = new Int32Array(0);
  return (step) => {
    const epoch = Math.floor(step / perEpoch);
    if (epoch !== epochSeen) {
      order = stepRng(seed, epoch, STREAM.data).permutation(enc.count);
      epochSeen = epoch;
    }
    const k = step % perEpoch;
    const idx = order.slice(k * batchSize, (k + 1) * batchSize);
    // Own stream id (not noise: the trainer draws diffusion noise from that one for the same step).
    const rng = stepRng(seed, step, 7);
    const out = new Float32Array(batchSize * per);
    for (let b = 0; b < batchSize; b++) {
      const src = idx[b] * per;
      for (let p = 0; p < per; p++)
        out[b * per + p] = scaleFactor * (enc.mean[src + p] + enc.std[src + p] * rng.normal());
    }
    const x = tf.tensor4d(out, [batchSize, ...enc.shape]);
    return cond ? { x, cond: cond(idx, step) } : { x };
  };
}
