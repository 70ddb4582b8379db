// Quality and diversity of generated 2-D points against a known mixture (the usual GAN-literature
// protocol for 8/25 Gaussians, e.g. VEEGAN, PacGAN): a point is "high quality" when it lies within
// 3 standard deviations of some mode centre; a mode is "covered" when it receives at least a given
// share of the samples. MMD with a Gaussian kernel compares whole distributions without knowing modes.
import { nearestMode, ToyModes } from '../../../datasets/toy2d';

export interface ModeReport {
  /** Number of points evaluated. */
  n: number;
  /** Points nearest to each mode (within 3 std), one entry per mode. */
  counts: number[];
  /** Modes that got at least minShare of all points. */
  modesCovered: number;
  /** modesCovered / number of modes, in [0, 1]. */
  coverage: number;
  /** Share of points within 3 std of some mode, in [0, 1]. */
  quality: number;
  /** Share threshold used for coverage. */
  minShare: number;
  /**
   * KL(observed mode histogram || uniform) over the high-quality points, in nats: 0 when every mode
   * gets the same number, log K when one mode gets everything.
   */
  modeKL: number;
}

/**
 * Mode coverage and sample quality of points [x0, y0, ...]. minShare defaults to a quarter of the
 * uniform share, 1/(4K): a model that drops a mode scores far below it, sampling noise does not.
 */
export function modeReport(
  points: Float32Array,
  modes: ToyModes,
  opts: { minShare?: number; maxDist?: number } = {},
): ModeReport {
  if (points.length % 2 !== 0) throw new Error(`modeReport: need an even number of coordinates, got ${points.length}`);
  const n = points.length / 2;
  if (n === 0) throw new Error('modeReport: no points');
  const k = modes.centres.length / 2;
  const minShare = opts.minShare ?? 1 / (4 * k);
  if (!(minShare > 0 && minShare <= 1)) throw new Error(`modeReport: minShare must be in (0, 1], got ${minShare}`);
  const nearest = nearestMode(points, modes, opts.maxDist ?? 3 * modes.std);
  const counts = new Array<number>(k).fill(0);
  let good = 0;
  for (const m of nearest) {
    if (m >= 0) {
      counts[m]++;
      good++;
    }
  }
  const modesCovered = counts.filter((c) => c >= minShare * n).length;
  let modeKL = NaN;
  if (good > 0) {
    modeKL = 0;
    for (const c of counts) if (c > 0) modeKL += (c / good) * Math.log((c / good) * k);
  }
  return { n, counts, modesCovered, coverage: modesCovered / k, quality: good / n, minShare, modeKL };
}

/**
 * Squared maximum mean discrepancy between two point sets with the Gaussian kernel
 * k(x, y) = exp(-|x - y|^2 / (2 h^2)), averaged over the bandwidths h (a mixture of kernels sees
 * both fine and coarse differences). Biased (V-statistic) estimator: exactly 0 for identical sets,
 * always >= 0. Cost O(n m): subsample to a few thousand points.
 */
export function mmd2(a: Float32Array, b: Float32Array, bandwidths: number[] = [0.05, 0.2, 1]): number {
  if (a.length % 2 !== 0 || b.length % 2 !== 0)
    throw new Error('mmd2: point arrays need an even number of coordinates');
  if (a.length === 0 || b.length === 0) throw new Error('mmd2: both point sets must be non-empty');
  if (bandwidths.length === 0 || bandwidths.some((h) => !(h > 0)))
    throw new Error(`mmd2: bandwidths must be positive, got [${bandwidths}]`);
  const gammas = bandwidths.map((h) => 1 / (2 * h * h));
  const meanKernel = (p: Float32Array, q: Float32Array): number => {
    let s = 0;
    for (let i = 0; i < p.length; i += 2) {
      for (let j = 0; j < q.length; j += 2) {
        const dx = p[i] - q[j];
        const dy = p[i + 1] - q[j + 1];
        const d = dx * dx + dy * dy;
        for (const g of gammas) s += Math.exp(-g * d);
      }
    }
    return s / ((p.length / 2) * (q.length / 2) * gammas.length);
  };
  return Math.max(0, meanKernel(a, a) + meanKernel(b, b) - 2 * meanKernel(a, b));
}
