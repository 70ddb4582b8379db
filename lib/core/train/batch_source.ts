// Where the trainer's batches come from: a function of the step number alone, so a resumed run
// sees the same batch at step k as an uninterrupted one. Epoch e's order is a permutation drawn
// from (seed, e); step k takes batch k mod (batches per epoch) of epoch floor(k / batches per epoch).
import * as tf from '@tensorflow/tfjs-core';
import '../tfjs_setup';
import { UNetCondition } from '../unet/unet';
import { STREAM, stepRng } from './step_seed';

export interface TrainBatch<C = UNetCondition> {
  x: tf.Tensor4D;
  cond?: C;
}

/** step -> batch. The trainer owns (and disposes) the returned tensors, including those in cond. */
export type BatchSource<C = UNetCondition> = (step: number) => TrainBatch<C>;

/**
 * What batching needs of an image set (datasets' ImageSet has these fields and more): uint8 NHWC
 * pixels, one label each. Spelled out here so lib/core imports nothing from outside it.
 */
export interface ImageData {
  images: Uint8Array;
  labels: Uint8Array;
  count: number;
  height: number;
  width: number;
  channels: number;
}

export interface ImageBatchOptions {
  /** Pass the labels as class conditioning (cond.classLabels). Default false. */
  withLabels?: boolean;
  /** Pixel 0 -> range[0], 255 -> range[1]; default [-1, 1]. */
  range?: [number, number];
  /**
   * Condition dropout for classifier-free guidance (needs withLabels): each label is replaced by
   * the null class `nullClass` with probability `p`, so one network learns both the conditional and
   * the unconditional model. Drawn from (seed, step), so a resumed run drops the same labels.
   */
  condDropout?: { p: number; nullClass: number };
  /** One caption per image, passed as cond.text (for UNets with a text encoder). */
  captions?: readonly string[];
  /** With captions: each becomes '' (no text) with this probability, for classifier-free guidance. */
  captionDropout?: number;
}

/**
 * step -> the indices of that step's batch: full batches of an epoch order drawn from (seed, epoch).
 * For batch sources of other data (captioned scenes, embeddings) that must batch the same way.
 */
export function epochOrder(count: number, batchSize: number, seed: number): (step: number) => Int32Array {
  if (!Number.isInteger(batchSize) || batchSize < 1)
    throw new Error(`batch source: batchSize must be a positive integer, got ${batchSize}`);
  if (count < batchSize) throw new Error(`batch source: ${count} examples are fewer than one batch of ${batchSize}`);
  // Full batches only: every step then has the same batch size (and cost).
  const perEpoch = Math.floor(count / batchSize);
  let cachedEpoch = -1;
  let order = new Int32Array(0);
  return (step: number) => {
    const epoch = Math.floor(step / perEpoch);
    if (epoch !== cachedEpoch) {
      order = stepRng(seed, epoch, STREAM.data).permutation(count);
      cachedEpoch = epoch;
    }
    const k = step % perEpoch;
    return order.subarray(k * batchSize, (k + 1) * batchSize);
  };
}

/** Seeded mini-batches of an image data set (e.g. loadFashionMnist('train')). */
export function imageBatches(
  set: ImageData,
  batchSize: number,
  seed: number,
  opts: ImageBatchOptions = {},
): BatchSource {
  const [lo, hi] = opts.range ?? [-1, 1];
  const per = set.height * set.width * set.channels;
  if (set.images.length !== set.count * per)
    throw new Error(`imageBatches: ${set.images.length} pixels do not hold ${set.count} images of ${per}`);
  const lut = new Float32Array(256);
  for (let v = 0; v < 256; v++) lut[v] = lo + ((hi - lo) * v) / 255;
  const pick = epochOrder(set.count, batchSize, seed);
  const drop = opts.condDropout;
  if (drop !== undefined) {
    if (!opts.withLabels) throw new Error('imageBatches: condDropout needs withLabels: true');
    if (!(drop.p >= 0 && drop.p <= 1)) throw new Error(`imageBatches: condDropout.p must be in [0, 1], got ${drop.p}`);
    if (!Number.isInteger(drop.nullClass) || drop.nullClass < 0)
      throw new Error(`imageBatches: condDropout.nullClass must be an integer >= 0, got ${drop.nullClass}`);
  }
  const caps = opts.captions;
  const capDrop = opts.captionDropout ?? 0;
  if (caps !== undefined && opts.withLabels)
    throw new Error('imageBatches: captions and withLabels together are not supported');
  if (caps !== undefined && caps.length !== set.count)
    throw new Error(`imageBatches: ${caps.length} captions for ${set.count} images`);
  if (opts.captionDropout !== undefined) {
    if (caps === undefined) throw new Error('imageBatches: captionDropout needs captions');
    if (!(capDrop >= 0 && capDrop <= 1))
      throw new Error(`imageBatches: captionDropout must be in [0, 1], got ${capDrop}`);
  }
  return (step) => {
    const idx = pick(step);
    const out = new Float32Array(idx.length * per);
    for (let b = 0; b < idx.length; b++) {
      const src = idx[b] * per;
      for (let p = 0; p < per; p++) out[b * per + p] = lut[set.images[src + p]];
    }
    const x = tf.tensor4d(out, [idx.length, set.height, set.width, set.channels], 'float32');
    if (caps !== undefined) {
      const rng = stepRng(seed, step, STREAM.dropout);
      const text = Array.from(idx, (i) => (capDrop > 0 && rng.uniform() < capDrop ? '' : caps[i]));
      return { x, cond: { text } };
    }
    if (!opts.withLabels) return { x };
    const labels = Array.from(idx, (i) => set.labels[i]);
    return { x, cond: { classLabels: drop ? dropLabels(labels, drop.p, drop.nullClass, seed, step) : labels } };
  };
}

/** Replaces each label by `nullClass` with probability p, drawing from (seed, step) only. */
export function dropLabels(labels: number[], p: number, nullClass: number, seed: number, step: number): number[] {
  if (p === 0) return labels;
  const rng = stepRng(seed, step, STREAM.dropout);
  return labels.map((y) => (rng.uniform() < p ? nullClass : y));
}

/** Seeded mini-batches of a tensor already in memory ([N, H, W, C]); labels optional. */
export function tensorBatches(
  data: tf.Tensor4D,
  batchSize: number,
  seed: number,
  labels?: ArrayLike<number>,
): BatchSource {
  const n = data.shape[0];
  if (labels && labels.length !== n) throw new Error(`tensorBatches: ${labels.length} labels for ${n} examples`);
  const pick = epochOrder(n, batchSize, seed);
  return (step) => {
    const idx = pick(step);
    const x = tf.tidy(() => tf.gather(data, tf.tensor1d(idx, 'int32'))) as tf.Tensor4D;
    return labels ? { x, cond: { classLabels: Array.from(idx, (i) => labels[i]) } } : { x };
  };
}
