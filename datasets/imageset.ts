// The in-memory image data set shared by every loader, and the two ways lessons consume it:
// a float tensor of chosen images, and seeded mini-batches.
import * as tf from '@tensorflow/tfjs-core';
import { Rng } from '../lib/core/random';

/** Images stored as uint8 NHWC (0-255) with one uint8 label per image. */
export interface ImageSet {
  kind: 'images';
  name: string;
  split: string;
  images: Uint8Array;
  labels: Uint8Array;
  count: number;
  height: number;
  width: number;
  channels: number;
  classNames: string[];
}

export type PixelRange = [number, number];

export interface ToTensorOptions {
  /** Which images, in this order (default: all). */
  indices?: ArrayLike<number>;
  /** Pixel 0 maps to range[0], pixel 255 to range[1]; default [-1, 1], the diffusion convention. */
  range?: PixelRange;
}

/** NHWC float32 tensor of the chosen images, pixels mapped linearly into `range`. */
export function toTensor(set: ImageSet, opts: ToTensorOptions = {}): tf.Tensor4D {
  const [lo, hi] = opts.range ?? [-1, 1];
  if (!Number.isFinite(lo) || !Number.isFinite(hi))
    throw new Error(`toTensor: range must be two finite numbers, got [${lo}, ${hi}]`);
  const per = set.height * set.width * set.channels;
  const idx = opts.indices ?? null;
  const n = idx === null ? set.count : idx.length;
  // A 256-entry table turns the conversion into one lookup per pixel.
  const lut = new Float32Array(256);
  for (let v = 0; v < 256; v++) lut[v] = lo + ((hi - lo) * v) / 255;
  const out = new Float32Array(n * per);
  for (let k = 0; k < n; k++) {
    const i = idx === null ? k : idx[k];
    if (!Number.isInteger(i) || i < 0 || i >= set.count) {
      throw new Error(`toTensor: index ${i} out of range for ${set.name}/${set.split} with ${set.count} images`);
    }
    const src = i * per;
    const dst = k * per;
    for (let p = 0; p < per; p++) out[dst + p] = lut[set.images[src + p]];
  }
  return tf.tensor4d(out, [n, set.height, set.width, set.channels], 'float32');
}

/** One epoch's batches of image indices in seeded random order. */
export function batchIndices(count: number, batchSize: number, rng: Rng, dropLast = false): Int32Array[] {
  if (!Number.isInteger(batchSize) || batchSize < 1)
    throw new Error(`batches: batchSize must be a positive integer, got ${batchSize}`);
  if (!Number.isInteger(count) || count < 0)
    throw new Error(`batches: count must be a non-negative integer, got ${count}`);
  const order = rng.permutation(count);
  const out: Int32Array[] = [];
  for (let s = 0; s < count; s += batchSize) {
    if (dropLast && s + batchSize > count) break;
    out.push(order.slice(s, Math.min(count, s + batchSize)));
  }
  return out;
}

export interface Batch {
  /** Indices into the set, so a batch can be traced back to its images. */
  indices: Int32Array;
  labels: Int32Array;
  /** NHWC float32; the caller owns it and must dispose it (or run inside tf.tidy). */
  x: tf.Tensor4D;
}

export interface BatchOptions {
  range?: PixelRange;
  /** Skip a final short batch (default false). */
  dropLast?: boolean;
}

/**
 * Iterates over one epoch in an order drawn from `rng`: the same seed gives the same batches.
 * Tensors are built lazily, one batch at a time.
 */
export function* batches(set: ImageSet, batchSize: number, rng: Rng, opts: BatchOptions = {}): Generator<Batch> {
  for (const indices of batchIndices(set.count, batchSize, rng, opts.dropLast ?? false)) {
    const labels = new Int32Array(indices.length);
    for (let k = 0; k < indices.length; k++) labels[k] = set.labels[indices[k]];
    yield { indices, labels, x: toTensor(set, { indices, range: opts.range }) };
  }
}

/** A new set holding only the given images (copied), e.g. one class or a quick-mode subset. */
export function subset(set: ImageSet, indices: ArrayLike<number>): ImageSet {
  const per = set.height * set.width * set.channels;
  const images = new Uint8Array(indices.length * per);
  const labels = new Uint8Array(indices.length);
  for (let k = 0; k < indices.length; k++) {
    const i = indices[k];
    if (!Number.isInteger(i) || i < 0 || i >= set.count) {
      throw new Error(`subset: index ${i} out of range for ${set.name}/${set.split} with ${set.count} images`);
    }
    images.set(set.images.subarray(i * per, (i + 1) * per), k * per);
    labels[k] = set.labels[i];
  }
  return { ...set, images, labels, count: indices.length };
}

/** Images per label, e.g. to check balance. */
export function classCounts(set: ImageSet): number[] {
  const counts = new Array<number>(set.classNames.length).fill(0);
  for (let i = 0; i < set.count; i++) counts[set.labels[i]]++;
  return counts;
}
