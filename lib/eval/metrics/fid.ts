// Fréchet Inception Distance (Heusel et al. 2017) on the project's own classifier features: fit a
// Gaussian (mean, covariance) to each feature set and take the Fréchet (2-Wasserstein) distance
//   FID = |m1 - m2|^2 + tr(S1) + tr(S2) - 2 tr sqrt(S1 S2),
// all in float64 (lib/eval/metrics/linalg.ts). FID is biased upward for small sets, so it is only
// comparable at equal n, and always read next to the real-vs-real floor (fidReport in report.ts).
import * as tf from '@tensorflow/tfjs-core';
import { assertFiniteValues } from '../../core/finite';
import { trace, traceSqrtProduct } from './linalg';

export interface GaussianStats {
  n: number;
  dim: number;
  mean: Float64Array;
  /** dim x dim, row-major, unbiased (divides by n - 1, as numpy.cov). */
  cov: Float64Array;
}

/** Mean and covariance of the rows of a [n, dim] feature matrix (tensor or flat row-major array). */
export async function featureStats(
  features: tf.Tensor2D | { data: ArrayLike<number>; n: number; dim: number },
): Promise<GaussianStats> {
  const { data, n, dim } =
    features instanceof tf.Tensor
      ? { data: await features.data(), n: features.shape[0], dim: features.shape[1] }
      : features;
  if (data.length !== n * dim) throw new Error(`featureStats: ${data.length} values for ${n} x ${dim}`);
  assertFiniteValues('featureStats', 'the features', data);
  if (n < 2) throw new Error(`featureStats: need at least 2 feature vectors for a covariance, got ${n}`);
  const mean = new Float64Array(dim);
  for (let i = 0; i < n; i++) for (let j = 0; j < dim; j++) mean[j] += data[i * dim + j];
  for (let j = 0; j < dim; j++) mean[j] /= n;
  const cov = new Float64Array(dim * dim);
  const row = new Float64Array(dim);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < dim; j++) row[j] = data[i * dim + j] - mean[j];
    for (let j = 0; j < dim; j++) {
      const rj = row[j];
      if (rj === 0) continue; // ReLU features are often exactly 0
      for (let k = j; k < dim; k++) cov[j * dim + k] += rj * row[k];
    }
  }
  for (let j = 0; j < dim; j++) {
    for (let k = j; k < dim; k++) {
      const v = cov[j * dim + k] / (n - 1);
      cov[j * dim + k] = v;
      cov[k * dim + j] = v;
    }
  }
  return { n, dim, mean, cov };
}

/** The Fréchet distance between two Gaussians. */
export function frechetDistance(a: GaussianStats, b: GaussianStats): number {
  if (a.dim !== b.dim) throw new Error(`frechetDistance: feature widths differ (${a.dim} vs ${b.dim})`);
  const d = a.dim;
  let dm = 0;
  for (let j = 0; j < d; j++) dm += (a.mean[j] - b.mean[j]) ** 2;
  const fid = dm + trace(a.cov, d) + trace(b.cov, d) - 2 * traceSqrtProduct(a.cov, b.cov, d);
  // Round-off can leave a tiny negative value for identical sets.
  return Math.max(fid, 0);
}

/** FID between two feature sets [n1, dim] and [n2, dim]. */
export async function fid(a: tf.Tensor2D, b: tf.Tensor2D): Promise<number> {
  return frechetDistance(await featureStats(a), await featureStats(b));
}
