// Kernel Inception Distance (Bińkowski et al. 2018): the unbiased estimate of the squared maximum
// mean discrepancy with the cubic polynomial kernel k(x, y) = (x.y / d + 1)^3, averaged over random
// subsets of equal size. Unlike FID it is unbiased, so its expectation is 0 for two samples of one
// distribution at any n (single values can be slightly negative), which makes small-n numbers
// comparable. Gram matrices come from tf.matMul (float32); the sums are taken in float64.
import * as tf from '@tensorflow/tfjs-core';
import { assertFiniteValues } from '../../core/finite';
import { Rng } from '../../core/random';

export interface KIDOptions {
  /** Number of random subsets averaged (default 10). */
  subsets?: number;
  /** Rows per subset (default min(1000, n1, n2)). */
  subsetSize?: number;
  /** Draws the subsets (default new Rng(0), so KID is reproducible). */
  rng?: Rng;
}

export interface KIDResult {
  /** Mean of the per-subset unbiased MMD^2. */
  kid: number;
  /** Standard deviation over subsets (0 when one subset held all of both sets). */
  std: number;
  /** Subsets actually used (1 when subsetSize equals both set sizes). */
  subsets: number;
  subsetSize: number;
}

/** Unbiased MMD^2 with the cubic kernel between two equal-size feature sets [m, d]. */
export async function mmd2Unbiased(x: tf.Tensor2D, y: tf.Tensor2D): Promise<number> {
  const [m, d] = x.shape;
  if (y.shape[0] !== m || y.shape[1] !== d)
    throw new Error(`mmd2Unbiased: shapes [${x.shape}] and [${y.shape}] differ`);
  if (m < 2) throw new Error(`mmd2Unbiased: need at least 2 rows, got ${m}`);
  // The three Gram matrices in one asynchronous read.
  const grams = tf.tidy(() =>
    tf.stack([tf.matMul(x, x, false, true), tf.matMul(y, y, false, true), tf.matMul(x, y, false, true)]),
  );
  let all: Float32Array;
  try {
    all = (await grams.data()) as Float32Array;
  } finally {
    grams.dispose();
  }
  const k = (g: number) => (g / d + 1) ** 3;
  const kxx = all.subarray(0, m * m);
  const kyy = all.subarray(m * m, 2 * m * m);
  const kxy = all.subarray(2 * m * m);
  // A NaN or Infinity feature spreads into its Gram rows: checked on values read anyway.
  for (const [g, what] of [
    [kxx, 'the first features'],
    [kyy, 'the second features'],
    [kxy, 'the features'],
  ] as const)
    assertFiniteValues('kid', `${what}' Gram matrix`, g);
  let sxx = 0;
  let syy = 0;
  let sxy = 0;
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < m; j++) {
      if (i !== j) {
        sxx += k(kxx[i * m + j]);
        syy += k(kyy[i * m + j]);
      }
      sxy += k(kxy[i * m + j]);
    }
  }
  return (sxx + syy) / (m * (m - 1)) - (2 * sxy) / (m * m);
}

/** KID between feature sets [n1, d] and [n2, d]. */
export async function kid(a: tf.Tensor2D, b: tf.Tensor2D, opts: KIDOptions = {}): Promise<KIDResult> {
  if (a.shape[1] !== b.shape[1]) throw new Error(`kid: feature widths differ (${a.shape[1]} vs ${b.shape[1]})`);
  const subsets = opts.subsets ?? 10;
  const size = opts.subsetSize ?? Math.min(1000, a.shape[0], b.shape[0]);
  if (!Number.isInteger(subsets) || subsets < 1)
    throw new Error(`kid: subsets must be a positive integer, got ${subsets}`);
  if (!Number.isInteger(size) || size < 2 || size > a.shape[0] || size > b.shape[0]) {
    throw new Error(`kid: subsetSize must be an integer in [2, ${Math.min(a.shape[0], b.shape[0])}], got ${size}`);
  }
  const rng = opts.rng ?? new Rng(0);
  // When a subset is the whole of both sets every subset gives the same value: compute it once.
  const runs = size === a.shape[0] && size === b.shape[0] ? 1 : subsets;
  const vals: number[] = [];
  for (let s = 0; s < runs; s++) {
    const ia = Array.from(rng.permutation(a.shape[0]).subarray(0, size));
    const ib = Array.from(rng.permutation(b.shape[0]).subarray(0, size));
    const xa = tf.gather(a, ia);
    const xb = tf.gather(b, ib);
    try {
      vals.push(await mmd2Unbiased(xa as tf.Tensor2D, xb as tf.Tensor2D));
    } finally {
      tf.dispose([xa, xb]);
    }
  }
  const mean = vals.reduce((p, v) => p + v, 0) / vals.length;
  const std = Math.sqrt(vals.reduce((p, v) => p + (v - mean) ** 2, 0) / vals.length);
  return { kid: mean, std, subsets: runs, subsetSize: size };
}
