// Non-finite numbers (NaN, +-Infinity) never pass silently: a weight, an image or a timestep that is
// not a finite number is an error naming where it is, not a value that quietly turns into a black
// image or a clipped -1. These helpers find the first bad value and say what it is.
import * as tf from '@tensorflow/tfjs-core';

/** Index of the first NaN or +-Infinity in `values`, or -1 when all are finite. */
export function firstNonFinite(values: ArrayLike<number>): number {
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    // v - v is 0 for every finite v, NaN for NaN and +-Infinity: one comparison per value.
    if (v - v !== 0) return i;
  }
  return -1;
}

/** 'NaN at index 12 (3 non-finite values)': what a message says about `values`' bad entries. */
export function describeNonFinite(values: ArrayLike<number>, first = firstNonFinite(values)): string {
  let count = 0;
  for (let i = first; i < values.length; i++) if (values[i] - values[i] !== 0) count++;
  return `${values[first]} at index ${first} (${count} non-finite value${count === 1 ? '' : 's'} of ${values.length})`;
}

/** Throws `${who}: ${what} ...` when `values` hold a NaN or an Infinity. */
export function assertFiniteValues(who: string, what: string, values: ArrayLike<number>): void {
  const i = firstNonFinite(values);
  if (i >= 0) throw new Error(`${who}: ${what} holds ${describeNonFinite(values, i)}; refusing non-finite numbers`);
}

/**
 * Throws, naming the first batch element (axis 0) holding a NaN or an Infinity, unless every value of
 * `x` is finite. Reads one boolean per batch element (one asynchronous read): for inputs checked once
 * (an image to inpaint, images to score), never inside a per-step loop.
 */
export async function assertFiniteTensor(who: string, what: string, x: tf.Tensor): Promise<void> {
  if (x.dtype !== 'float32') return; // integer and bool tensors cannot hold NaN or Infinity
  const bad = tf.tidy(() => {
    const notFinite = tf.logicalNot(tf.isFinite(x));
    return x.rank <= 1 ? tf.reshape(tf.any(notFinite), [1]) : tf.any(tf.reshape(notFinite, [x.shape[0], -1]), 1);
  });
  let flags: ArrayLike<number>;
  try {
    flags = await bad.data();
  } finally {
    bad.dispose();
  }
  const i = Array.prototype.findIndex.call(flags, (f: number) => f !== 0);
  if (i < 0) return;
  const where = x.rank <= 1 ? '' : ` (first in element ${i} of ${x.shape[0]})`;
  throw new Error(`${who}: ${what} [${x.shape}] holds NaN or Infinity${where}; refusing non-finite numbers`);
}
