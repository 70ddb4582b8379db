// How much an FID moves with the choice of the n generated images: a bootstrap over the sample set.
// Draw n of the generated features with replacement, B times (seeded), and score each draw against the
// SAME real statistics; the spread of those B FIDs is the sampling spread of the number at this n.
// It reuses the features (no image is sampled or classified again), and with the real side fixed
// each draw costs one covariance and one eigenvalue solve:
//   tr sqrt(S_gen S_real) = tr sqrt(R S_gen R), R = S_real^1/2 computed once, R S_gen R = cov(x R).
// The real set's own sampling noise is not in it (the comparisons share the real set at equal n).
// A draw with repeated rows scores higher on average than the set it came from (FID's small-sample
// bias grows), so the 95 % interval is the draws' 2.5-97.5 % range shifted by their mean onto the
// measured FID: the width and skew of the bootstrap, centred on the number being quoted.
// With n not far above the feature width, repeated rows leave the drawn covariance short of rank and the
// spread balloons (quick mode's n = 16 against 128 features): there it says that FID means little at that n.
import * as tf from '@tensorflow/tfjs-core';
import { assertFiniteValues } from '../../core/finite';
import { Rng } from '../../core/random';
import type { GaussianStats } from './fid';
import { sqrtmPsd, symmetricEigenvalues, trace } from './linalg';

export interface FidSpread {
  /** Standard deviation of the bootstrap FIDs. */
  std: number;
  /** 95 % interval [lo, hi] around the measured FID (see the file comment). */
  lo: number;
  hi: number;
  /** B, the number of bootstrap draws. */
  resamples: number;
  /** The seed of the draws: spreads with equal n, B and seed resampled the same rows (see pairedFidDifference). */
  seed: number;
  /** The B bootstrap FIDs, in the order of bootstrapIndices(n, B, seed). */
  draws: number[];
}

export interface FidBootstrapOptions {
  /** Bootstrap draws B (default 200). */
  resamples?: number;
  /** Draws the rows (default 0), so a report is reproducible. */
  seed?: number;
}

type Features = tf.Tensor2D | { data: ArrayLike<number>; n: number; dim: number };

/** B draws of n row indices with replacement: the resampling itself, exported so a test can replay it. */
export function bootstrapIndices(n: number, resamples: number, seed: number): Int32Array[] {
  if (!Number.isInteger(n) || n < 2) throw new Error(`bootstrapIndices: n must be an integer >= 2, got ${n}`);
  if (!Number.isInteger(resamples) || resamples < 2)
    throw new Error(`bootstrapIndices: resamples must be an integer >= 2, got ${resamples}`);
  const rng = new Rng(seed);
  return Array.from({ length: resamples }, () => Int32Array.from({ length: n }, () => rng.int(n)));
}

/**
 * FID of the rows counted by `counts` (row i taken counts[i] times) against the real side. With y = x R
 * (R = S_real^1/2), R S R is the covariance of the y rows, so no dim x dim product is needed per draw:
 * one weighted covariance of y and its eigenvalues give tr sqrt(S S_real); tr S comes from the x rows.
 */
function weightedFid(
  x: ArrayLike<number>,
  y: Float64Array,
  counts: Uint32Array,
  dim: number,
  real: GaussianStats,
  realTrace: number,
): number {
  const n = counts.length;
  const mx = new Float64Array(dim);
  const my = new Float64Array(dim);
  for (let i = 0; i < n; i++) {
    const c = counts[i];
    if (c === 0) continue;
    for (let j = 0; j < dim; j++) {
      mx[j] += c * x[i * dim + j];
      my[j] += c * y[i * dim + j];
    }
  }
  for (let j = 0; j < dim; j++) {
    mx[j] /= n;
    my[j] /= n;
  }
  // Unbiased (n - 1, as featureStats) covariance of the drawn y rows: upper triangle, then mirrored.
  const m = new Float64Array(dim * dim);
  const row = new Float64Array(dim);
  let trS = 0;
  for (let i = 0; i < n; i++) {
    const c = counts[i];
    if (c === 0) continue;
    for (let j = 0; j < dim; j++) trS += c * (x[i * dim + j] - mx[j]) ** 2;
    for (let j = 0; j < dim; j++) row[j] = y[i * dim + j] - my[j];
    for (let j = 0; j < dim; j++) {
      const rj = c * row[j];
      for (let k = j; k < dim; k++) m[j * dim + k] += rj * row[k];
    }
  }
  for (let j = 0; j < dim; j++)
    for (let k = j; k < dim; k++) {
      const v = m[j * dim + k] / (n - 1);
      m[j * dim + k] = v;
      m[k * dim + j] = v;
    }
  let trSqrt = 0;
  for (const v of symmetricEigenvalues(m, dim)) trSqrt += Math.sqrt(Math.max(v, 0));
  let dm = 0;
  for (let j = 0; j < dim; j++) dm += (mx[j] - real.mean[j]) ** 2;
  return Math.max(dm + trS / (n - 1) + realTrace - 2 * trSqrt, 0);
}

/**
 * The bootstrap FIDs of a generated feature set [n, dim] against fixed real statistics, one per draw
 * of `bootstrapIndices(n, resamples, seed)`, in that order.
 */
export async function bootstrapFids(
  features: Features,
  real: GaussianStats,
  opts: FidBootstrapOptions = {},
): Promise<number[]> {
  const { data, n, dim } =
    features instanceof tf.Tensor
      ? { data: await features.data(), n: features.shape[0], dim: features.shape[1] }
      : features;
  if (data.length !== n * dim) throw new Error(`bootstrapFids: ${data.length} values for ${n} x ${dim}`);
  if (dim !== real.dim) throw new Error(`bootstrapFids: feature widths differ (${dim} vs ${real.dim})`);
  assertFiniteValues('bootstrapFids', 'the features', data);
  const root = sqrtmPsd(real.cov, dim);
  const y = new Float64Array(n * dim);
  for (let i = 0; i < n; i++)
    for (let k = 0; k < dim; k++) {
      const xik = data[i * dim + k];
      if (xik === 0) continue; // ReLU features are often exactly 0
      for (let j = 0; j < dim; j++) y[i * dim + j] += xik * root[k * dim + j];
    }
  const realTrace = trace(real.cov, dim);
  const counts = new Uint32Array(n);
  return bootstrapIndices(n, opts.resamples ?? 200, opts.seed ?? 0).map((idx) => {
    counts.fill(0);
    for (const i of idx) counts[i]++;
    return weightedFid(data, y, counts, dim, real, realTrace);
  });
}

/**
 * Standard deviation (n - 1) of bootstrap draws and their 2.5-97.5 % range moved by their mean onto
 * `value` (linear interpolation between order statistics, numpy's default percentile).
 */
function spreadAround(value: number, draws: readonly number[]): { std: number; lo: number; hi: number } {
  const b = draws.length;
  if (b < 2) throw new Error(`summariseBootstrap: need at least 2 bootstrap FIDs, got ${b}`);
  const mean = draws.reduce((s, v) => s + v, 0) / b;
  const std = Math.sqrt(draws.reduce((s, v) => s + (v - mean) ** 2, 0) / (b - 1));
  const sorted = [...draws].sort((x, y) => x - y);
  const q = (p: number) => {
    const pos = p * (b - 1);
    const i = Math.floor(pos);
    return i + 1 < b ? sorted[i] + (pos - i) * (sorted[i + 1] - sorted[i]) : sorted[i];
  };
  return { std, lo: value + q(0.025) - mean, hi: value + q(0.975) - mean };
}

/** The spread of bootstrap FIDs `fids` (drawn with `seed`) around the measured `fid`. */
export function summariseBootstrap(fid: number, fids: readonly number[], seed = 0): FidSpread {
  const { std, lo, hi } = spreadAround(fid, fids);
  return { std, lo: Math.max(0, lo), hi, resamples: fids.length, seed, draws: [...fids] };
}

/** The bootstrap spread of the FID `fid` measured between `features` and `real`. */
export async function fidSpread(
  features: Features,
  real: GaussianStats,
  fid: number,
  opts: FidBootstrapOptions = {},
): Promise<FidSpread> {
  return summariseBootstrap(fid, await bootstrapFids(features, real, opts), opts.seed ?? 0);
}

/** '14.6 ± 0.4' (the bootstrap standard deviation); just the FID when there is no spread. */
export function formatFidWithSpread(fid: number, spread: FidSpread | null | undefined, digits = 1): string {
  return spread ? `${fid.toFixed(digits)} ± ${spread.std.toFixed(digits)}` : fid.toFixed(digits);
}

/**
 * Whether two FIDs from independent sample sets (at the same n, against the same real set) are told
 * apart: their difference beyond 1.96 standard deviations of a difference, sqrt(sa^2 + sb^2).
 */
export function fidsDiffer(a: { fid: number; std: number }, b: { fid: number; std: number }): boolean {
  return Math.abs(a.fid - b.fid) > 1.96 * Math.hypot(a.std, b.std);
}

/**
 * The difference a.fid - b.fid with its bootstrap spread when both sets are paired row by row (row i of
 * each comes from the same test image or the same starting noise) and were resampled with the same rows
 * (equal n, B and seed): the spread of the per-draw differences. What the pair shares (the choice of
 * images or of noise) cancels, so this is tighter, and the right one, for such comparisons.
 */
export function pairedFidDifference(
  a: { fid: number; spread: FidSpread | null },
  b: { fid: number; spread: FidSpread | null },
): { diff: number; std: number; lo: number; hi: number } {
  const sa = a.spread;
  const sb = b.spread;
  if (!sa || !sb) throw new Error('pairedFidDifference: both FIDs need a bootstrap spread');
  if (sa.seed !== sb.seed || sa.draws.length !== sb.draws.length)
    throw new Error('pairedFidDifference: the spreads were drawn with different seeds or counts, so not paired');
  const diff = a.fid - b.fid;
  return {
    diff,
    ...spreadAround(
      diff,
      sa.draws.map((v, i) => v - sb.draws[i]),
    ),
  };
}
