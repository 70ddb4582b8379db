// Inpainting masks: which pixels are missing. Convention throughout the course: a mask is a
// [B, H, W, 1] float tensor of 0s and 1s with 1 = missing (to be filled) and 0 = known (kept).
// Kinds: 'center' (a centred box of half the side), 'half' (one half of the image, the side drawn
// per image), 'strokes' (a few thick random brush strokes, like a user scribbling over an object),
// and 'box' (a box of random size and place, used in training so the model sees varied holes).
import * as tf from '@tensorflow/tfjs-core';
import '../../core/tfjs_setup';
import { assertFiniteTensor } from '../../core/finite';
import { Rng } from '../../core/random';

export type MaskKind = 'center' | 'half' | 'strokes' | 'box';
/** The kinds the lessons evaluate on. */
export const MASK_KINDS: readonly MaskKind[] = ['center', 'half', 'strokes'];
const ALL_KINDS: readonly MaskKind[] = ['center', 'half', 'strokes', 'box'];

/** One size x size mask (row-major, 1 = missing); random kinds draw from `rng`. */
export function maskArray(kind: MaskKind, size: number, rng: Rng): Float32Array {
  if (!Number.isInteger(size) || size < 4) throw new Error(`maskArray: size must be an integer >= 4, got ${size}`);
  const m = new Float32Array(size * size);
  const fillRect = (y0: number, x0: number, y1: number, x1: number) => {
    for (let y = Math.max(0, y0); y < Math.min(size, y1); y++)
      for (let x = Math.max(0, x0); x < Math.min(size, x1); x++) m[y * size + x] = 1;
  };
  switch (kind) {
    case 'center': {
      const s = Math.round(size / 2);
      const o = Math.floor((size - s) / 2);
      fillRect(o, o, o + s, o + s);
      break;
    }
    case 'half': {
      const h = size / 2;
      const side = rng.int(4); // 0 top, 1 bottom, 2 left, 3 right
      if (side === 0) fillRect(0, 0, Math.floor(h), size);
      else if (side === 1) fillRect(Math.ceil(h), 0, size, size);
      else if (side === 2) fillRect(0, 0, size, Math.floor(h));
      else fillRect(0, Math.ceil(h), size, size);
      break;
    }
    case 'box': {
      const bh = Math.round(size * (0.25 + 0.4 * rng.uniform()));
      const bw = Math.round(size * (0.25 + 0.4 * rng.uniform()));
      const y0 = rng.int(size - bh + 1);
      const x0 = rng.int(size - bw + 1);
      fillRect(y0, x0, y0 + bh, x0 + bw);
      break;
    }
    case 'strokes': {
      // 2-4 strokes, each a random walk of 3-6 straight segments drawn with a round brush.
      const strokes = 2 + rng.int(3);
      for (let s = 0; s < strokes; s++) {
        let y = rng.uniform() * size;
        let x = rng.uniform() * size;
        let angle = rng.uniform() * 2 * Math.PI;
        const r = 1 + rng.uniform() * 1.2 * (size / 28);
        const segments = 3 + rng.int(4);
        for (let g = 0; g < segments; g++) {
          angle += (rng.uniform() - 0.5) * 2;
          const len = (0.15 + 0.2 * rng.uniform()) * size;
          const y1 = Math.min(size - 1, Math.max(0, y + len * Math.sin(angle)));
          const x1 = Math.min(size - 1, Math.max(0, x + len * Math.cos(angle)));
          const steps = Math.ceil(len * 2);
          for (let i = 0; i <= steps; i++) {
            const cy = y + ((y1 - y) * i) / steps;
            const cx = x + ((x1 - x) * i) / steps;
            for (let yy = Math.floor(cy - r); yy <= Math.ceil(cy + r); yy++) {
              for (let xx = Math.floor(cx - r); xx <= Math.ceil(cx + r); xx++) {
                if (yy >= 0 && yy < size && xx >= 0 && xx < size && (yy - cy) ** 2 + (xx - cx) ** 2 <= r * r)
                  m[yy * size + xx] = 1;
              }
            }
          }
          y = y1;
          x = x1;
        }
      }
      break;
    }
    default:
      throw new Error(`maskArray: unknown mask kind '${kind as string}': use ${ALL_KINDS.join(', ')}`);
  }
  return m;
}

/**
 * n masks of one kind, or of kinds drawn per mask from a list (training mixes them), as a
 * [n, size, size, 1] tensor. The same rng state gives the same masks.
 */
export function makeMasks(kind: MaskKind | readonly MaskKind[], n: number, size: number, rng: Rng): tf.Tensor4D {
  if (!Number.isInteger(n) || n < 1) throw new Error(`makeMasks: n must be a positive integer, got ${n}`);
  const kinds = typeof kind === 'string' ? [kind] : [...kind];
  if (kinds.length === 0) throw new Error('makeMasks: no mask kinds given');
  for (const k of kinds)
    if (!ALL_KINDS.includes(k)) throw new Error(`makeMasks: unknown mask kind '${k}': use ${ALL_KINDS.join(', ')}`);
  const out = new Float32Array(n * size * size);
  for (let i = 0; i < n; i++) {
    const k = kinds.length === 1 ? kinds[0] : kinds[rng.int(kinds.length)];
    out.set(maskArray(k, size, rng), i * size * size);
  }
  return tf.tensor4d(out, [n, size, size, 1]);
}

/** Throws a clear error unless `mask` has the shape [B, H, W, 1] of `images` ([B, H, W, C]); reads nothing. */
export function validateMaskShape(mask: tf.Tensor, images: tf.Tensor4D, fn = 'mask'): void {
  if (!(mask instanceof tf.Tensor)) throw new Error(`${fn}: the mask must be a tensor`);
  const [b, h, w] = images.shape;
  if (mask.rank !== 4 || mask.shape[0] !== b || mask.shape[1] !== h || mask.shape[2] !== w || mask.shape[3] !== 1) {
    throw new Error(
      `${fn}: the mask must have shape [${b}, ${h}, ${w}, 1] (one per image, 1 = missing), got [${mask.shape}]`,
    );
  }
}

/**
 * Throws a clear error unless `mask` fits `images` ([B, H, W, C]): shape [B, H, W, 1] and every
 * value exactly 0 or 1, and the images finite (one asynchronous read). For user input, checked once;
 * the samplers' per-call paths check the shape only (validateMaskShape).
 */
export async function validateMask(mask: tf.Tensor, images: tf.Tensor4D, fn = 'mask'): Promise<void> {
  validateMaskShape(mask, images, fn);
  const b = images.shape[0];
  // The images' finiteness (one flag per image) joins the mask's values in the same single read.
  const packed = tf.tidy(() =>
    tf.concat([
      tf.reshape(tf.cast(mask, 'float32'), [-1]),
      tf.cast(tf.any(tf.reshape(tf.logicalNot(tf.isFinite(images)), [b, -1]), 1), 'float32'),
    ]),
  );
  let all: Float32Array;
  try {
    all = (await packed.data()) as Float32Array;
  } finally {
    packed.dispose();
  }
  const v = all.subarray(0, mask.size);
  const badImage = all.subarray(mask.size).findIndex((f) => f !== 0);
  if (badImage >= 0)
    throw new Error(`${fn}: image ${badImage} of ${b} holds NaN or Infinity; refusing non-finite images`);
  for (let i = 0; i < v.length; i++) {
    if (v[i] !== 0 && v[i] !== 1) {
      throw new Error(`${fn}: the mask must be binary (0 = known, 1 = missing), found ${v[i]} at flat index ${i}`);
    }
  }
}

/** Fraction of missing pixels per mask. */
export async function maskCoverage(mask: tf.Tensor4D): Promise<number[]> {
  const t = tf.tidy(() => tf.mean(mask, [1, 2, 3]));
  const v = Array.from(await t.data());
  t.dispose();
  return v;
}

/** The image with its missing pixels set to 0 (mid-grey in [-1, 1]): what the model is shown. */
export function maskImages(x: tf.Tensor4D, mask: tf.Tensor4D): tf.Tensor4D {
  return tf.tidy(() => tf.mul(x, tf.sub(1, mask)) as tf.Tensor4D);
}

/** Known pixels from `original`, missing ones from `filled`: the final inpainted image. */
export function composite(filled: tf.Tensor4D, original: tf.Tensor4D, mask: tf.Tensor4D): tf.Tensor4D {
  return tf.tidy(() => tf.add(tf.mul(mask, filled), tf.mul(tf.sub(1, mask), original)) as tf.Tensor4D);
}

/** Mean squared error over the missing pixels only, per image (NaN for an empty mask). */
export async function holeMse(pred: tf.Tensor4D, target: tf.Tensor4D, mask: tf.Tensor4D): Promise<number[]> {
  // Non-finite pixels anywhere are an error, not a number: the prediction with the mask (one read), the target.
  await validateMask(mask, pred, 'holeMse (prediction)');
  await assertFiniteTensor('holeMse', 'the target', target);
  const b = pred.shape[0];
  // Numerators and denominators in one read: [2, B].
  const both = tf.tidy(() => {
    const err = tf.mul(tf.squaredDifference(pred, target), mask);
    const c = pred.shape[3];
    return tf.stack([tf.sum(err, [1, 2, 3]), tf.mul(tf.sum(mask, [1, 2, 3]), c)]);
  });
  let v: Float32Array;
  try {
    v = (await both.data()) as Float32Array;
  } finally {
    both.dispose();
  }
  return Array.from(v.subarray(0, b), (num, i) => (v[b + i] > 0 ? num / v[b + i] : NaN));
}
