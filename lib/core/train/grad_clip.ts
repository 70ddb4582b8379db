// Gradient clipping by global norm: if the norm of all gradients together exceeds maxNorm, scale
// every gradient by maxNorm / norm. The direction is kept; only rare huge steps (a bad batch, a
// large t early in training) are shortened.
import * as tf from '@tensorflow/tfjs-core';
import '../tfjs_setup';

/** sqrt(sum over all gradients of their squared entries), as a scalar tensor. */
export function globalNorm(grads: tf.Tensor[]): tf.Scalar {
  if (grads.length === 0) throw new Error('globalNorm: no gradients');
  return tf.tidy(() => tf.sqrt(tf.addN(grads.map((g) => tf.sum(tf.square(g))))) as tf.Scalar);
}

/** The factor clipping multiplies every gradient by: maxNorm / norm when above the limit, else 1. */
export function clipScale(norm: number, maxNorm: number | null): number {
  // A non-finite norm is passed on unscaled: the trainer stops on it rather than hide it.
  return Number.isFinite(norm) && norm > (maxNorm ?? Infinity) ? (maxNorm as number) / norm : 1;
}

/** New tensors (the caller disposes them and the inputs): clones when scale is 1. */
export function scaleGrads(grads: tf.Tensor[], scale: number): tf.Tensor[] {
  return grads.map((g) => (scale === 1 ? g.clone() : tf.tidy(() => tf.mul(g, scale))));
}

/**
 * Returns the clipped gradients (new tensors; the caller disposes them and the inputs) and the norm
 * before clipping. maxNorm null or Infinity: no clipping, gradients are returned as clones. (The
 * trainer reads the norm together with the loss instead, in its one read per step.)
 */
export async function clipByGlobalNorm(
  grads: tf.Tensor[],
  maxNorm: number | null,
): Promise<{ grads: tf.Tensor[]; norm: number }> {
  if (maxNorm !== null && !(maxNorm > 0))
    throw new Error(`clipByGlobalNorm: maxNorm must be > 0 (or null for no clipping), got ${maxNorm}`);
  const normT = globalNorm(grads);
  const norm = (await normT.data())[0];
  normT.dispose();
  return { grads: scaleGrads(grads, clipScale(norm, maxNorm)), norm };
}
