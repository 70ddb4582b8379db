// Lesson 08's measurement, shared by the notebook and `npm run eval -- 08`: super-resolve n test
// images from their area down-sampling (7x7: 4x, or 14x14: 2x) with bicubic interpolation, the
// regression UNet and SR3, and score each against the originals with PSNR and SSIM (fidelity) and
// FID against real test images (realism), next to the real-vs-real floor and the originals' own FID.
import * as tf from '@tensorflow/tfjs-core';
import '../core/tfjs_setup';
import { loadFashionMnist } from '../../datasets/fashion-mnist';
import { toTensor } from '../../datasets/imageset';
import { upsampleBicubic } from '../core/resize';
import { FashionClassifier } from './metrics/classifier';
import { mean, psnr } from './metrics/psnr';
import { fidReport, FidReport } from './metrics/report';
import { fidsDiffer, formatFidWithSpread, pairedFidDifference } from './metrics/fid_bootstrap';
import { ssim } from './metrics/ssim';
import { Rng } from '../core/random';
import { lowRes } from '../methods/sr/condition';
import { repeatEach, SrModel, superResolve } from '../methods/sr/model';

export type SrMethod = 'bicubic' | 'regression' | 'sr3' | 'sr3-mean' | 'original';

/** n Fashion-MNIST test images in [-1, 1], picked by a seeded permutation (the same for every method). */
export function testImages(n: number, seed: number): tf.Tensor4D {
  const set = loadFashionMnist('test');
  if (!Number.isInteger(n) || n < 1 || n > set.count)
    throw new Error(`testImages: n must be an integer in [1, ${set.count}], got ${n}`);
  return toTensor(set, { indices: new Rng(7919 + seed).permutation(set.count).subarray(0, n) });
}

export interface SrEvalOptions {
  /** Test images (default 100). */
  n?: number;
  /** Picks the test images and the real images FID compares with (default 0). */
  seed?: number;
  /** Seeds SR3's sampling noise alone (default: seed), so several runs differ only in the sampling. */
  samplingSeed?: number;
  /** Low-resolution side (default 7: 4x to 28x28). */
  lrSize?: number;
  /** SR3's DDIM steps (default 50). */
  steps?: number;
  /** Images per network call (default 100). */
  batchSize?: number;
  /** FID (default true; needs n >= 2). */
  fid?: boolean;
  classifier?: FashionClassifier;
  /** How many of each method's outputs to return for grids (default 8). */
  keep?: number;
  /** > 1: also score 'sr3-mean', the pixel mean of this many SR3 samples per input (an estimate of the
   * posterior mean, i.e. what regression aims at); default 0 (off: it costs this many times SR3's time). */
  meanOf?: number;
}

export interface SrRow {
  method: SrMethod;
  psnr: number;
  ssim: number;
  fid: FidReport | null;
  /** Wall time of producing all n outputs (0 for the originals). */
  seconds: number;
}

export interface SrEvalResult {
  lrSize: number;
  factor: number;
  n: number;
  rows: SrRow[];
  /** The first `keep` images of each: originals, low-res inputs, and every method's outputs. */
  examples: {
    original: tf.Tensor4D;
    lowRes: tf.Tensor4D;
    bicubic: tf.Tensor4D;
    regression: tf.Tensor4D | null;
    sr3: tf.Tensor4D;
  };
}

/** Runs the comparison (regression may be null to skip it). */
export async function evaluateSuperResolution(
  sr3: SrModel,
  regression: SrModel | null,
  opts: SrEvalOptions = {},
): Promise<SrEvalResult> {
  const n = opts.n ?? 100;
  const seed = opts.seed ?? 0;
  const samplingSeed = opts.samplingSeed ?? seed;
  const lrSize = opts.lrSize ?? 7;
  const batch = opts.batchSize ?? 100;
  const keep = Math.min(opts.keep ?? 8, n);
  if (!Number.isInteger(batch) || batch < 1)
    throw new Error(`evaluateSuperResolution: batchSize must be a positive integer, got ${batch}`);
  const hr = testImages(n, seed);
  const lr = lowRes(hr, lrSize);
  const meanOf = opts.meanOf ?? 0;
  if (!Number.isInteger(meanOf) || meanOf < 0)
    throw new Error(`evaluateSuperResolution: meanOf must be an integer >= 0, got ${meanOf}`);
  const outputs: Record<'bicubic' | 'regression' | 'sr3' | 'sr3-mean', tf.Tensor4D[]> = {
    bicubic: [],
    regression: [],
    sr3: [],
    'sr3-mean': [],
  };
  const seconds = { bicubic: 0, regression: 0, sr3: 0, 'sr3-mean': 0 };
  const timed = async (m: keyof typeof seconds, f: () => tf.Tensor4D | Promise<tf.Tensor4D>) => {
    const t0 = Date.now();
    const y = await f();
    await y.data(); // the wall time covers the work, not just queued kernels
    seconds[m] += (Date.now() - t0) / 1000;
    outputs[m].push(y);
  };
  const all: Partial<Record<keyof typeof seconds, tf.Tensor4D>> = {};
  try {
    for (let b = 0; b * batch < n; b++) {
      const part = tf.slice(lr, b * batch, Math.min(batch, n - b * batch)) as tf.Tensor4D;
      try {
        // Bicubic overshoots at edges: clip to the valid pixel range like every saved image would be.
        await timed('bicubic', () =>
          tf.tidy(() => tf.clipByValue(upsampleBicubic(part, hr.shape[1]), -1, 1) as tf.Tensor4D),
        );
        if (regression) await timed('regression', () => superResolve(regression, part));
        await timed('sr3', () =>
          superResolve(sr3, part, { steps: opts.steps ?? 50, rng: new Rng(samplingSeed * 100003 + 31 * lrSize + b) }),
        );
        if (meanOf > 1) {
          await timed('sr3-mean', async () => {
            const rep = repeatEach(part, meanOf);
            const many = await superResolve(sr3, rep, {
              steps: opts.steps ?? 50,
              rng: new Rng(samplingSeed * 100003 + 31 * lrSize + b + 50021),
            });
            const avg = tf.tidy(
              () =>
                tf.mean(
                  tf.reshape(many, [part.shape[0], meanOf, hr.shape[1], hr.shape[2], part.shape[3]]),
                  1,
                ) as tf.Tensor4D,
            );
            tf.dispose([rep, many]);
            return avg;
          });
        }
      } finally {
        part.dispose();
      }
    }
    for (const m of ['bicubic', 'regression', 'sr3', 'sr3-mean'] as const) {
      if (outputs[m].length) all[m] = tf.concat(outputs[m], 0) as tf.Tensor4D;
      tf.dispose(outputs[m]);
    }
    const fidOf = (x: tf.Tensor4D) =>
      opts.fid === false || n < 2 ? null : fidReport(x, { n, seed, classifier: opts.classifier });
    const row = async (method: SrMethod, x: tf.Tensor4D, secs: number): Promise<SrRow> => ({
      method,
      psnr: mean(await psnr(x, hr)),
      ssim: mean(await ssim(x, hr)),
      fid: await fidOf(x),
      seconds: secs,
    });
    const rows: SrRow[] = [await row('bicubic', all.bicubic!, seconds.bicubic)];
    if (all.regression) rows.push(await row('regression', all.regression, seconds.regression));
    rows.push(await row('sr3', all.sr3!, seconds.sr3));
    if (all['sr3-mean']) rows.push(await row('sr3-mean', all['sr3-mean'], seconds['sr3-mean']));
    rows.push(await row('original', hr, 0));
    const head = (x: tf.Tensor4D) => tf.slice(x, 0, keep) as tf.Tensor4D;
    return {
      lrSize,
      factor: hr.shape[1] / lrSize,
      n,
      rows,
      examples: {
        original: head(hr),
        lowRes: head(lr),
        bicubic: head(all.bicubic!),
        regression: all.regression ? head(all.regression) : null,
        sr3: head(all.sr3!),
      },
    };
  } finally {
    tf.dispose([hr, lr, ...Object.values(all)]);
  }
}

export function disposeSrResult(r: SrEvalResult): void {
  const e = r.examples;
  tf.dispose([e.original, e.lowRes, e.bicubic, e.sr3, ...(e.regression ? [e.regression] : [])]);
}

/** A fixed-width table: one row per scale and method; FIDs ± their bootstrap standard deviation. */
export function formatSrTable(results: SrEvalResult[]): string {
  const head = ['input', 'method', 'n', 'PSNR dB', 'SSIM', 'FID', 'FID floor', 'seconds'];
  const rows = results.flatMap((r) =>
    r.rows.map((w) => [
      `${r.lrSize}x${r.lrSize} (${r.factor}x)`,
      w.method,
      String(r.n),
      w.method === 'original' ? '-' : w.psnr.toFixed(2),
      w.method === 'original' ? '-' : w.ssim.toFixed(4),
      w.fid ? formatFidWithSpread(w.fid.fid, w.fid.spread, 2) : '-',
      w.fid ? formatFidWithSpread(w.fid.floor, w.fid.floorSpread, 2) : '-',
      w.seconds.toFixed(1),
    ]),
  );
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i].length)));
  const line = (cells: string[]) =>
    cells.map((s, i) => (i < 2 ? s.padEnd(widths[i]) : s.padStart(widths[i]))).join('  ');
  return [line(head), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}

const round = (x: number, d: number) => (Number.isFinite(x) ? Math.round(x * 10 ** d) / 10 ** d : x);

/** The eval script's JSON record: PSNR/SSIM/FID per method, per scale, and the goals checked. */
export function srRecord(results: SrEvalResult[], extra: Record<string, unknown> = {}): Record<string, unknown> {
  const scales: Record<string, unknown> = {};
  for (const r of results) {
    const methods: Record<string, unknown> = {};
    for (const w of r.rows) {
      methods[w.method] = {
        ...(w.method === 'original' ? {} : { psnr: round(w.psnr, 3), ssim: round(w.ssim, 4) }),
        fid: w.fid ? round(w.fid.fid, 3) : null,
        ...(w.fid?.spread
          ? { fid_spread: round(w.fid.spread.std, 3), fid_ci: [round(w.fid.spread.lo, 3), round(w.fid.spread.hi, 3)] }
          : {}),
        seconds: round(w.seconds, 2),
      };
    }
    // Regression minus SR3 with the paired bootstrap: output i of both comes from test image i.
    const sr3 = r.rows.find((w) => w.method === 'sr3')?.fid;
    const reg = r.rows.find((w) => w.method === 'regression')?.fid;
    const gap = sr3?.spread && reg?.spread ? pairedFidDifference(reg, sr3) : null;
    scales[`${r.factor}x`] = {
      lr_size: r.lrSize,
      n: r.n,
      fid_floor: r.rows[0].fid ? round(r.rows[0].fid.floor, 3) : null,
      ...(r.rows[0].fid?.floorSpread ? { fid_floor_spread: round(r.rows[0].fid.floorSpread.std, 3) } : {}),
      ...methods,
      ...(gap
        ? {
            regression_minus_sr3_fid: {
              diff: round(gap.diff, 3),
              paired_spread: round(gap.std, 3),
              ci: [round(gap.lo, 3), round(gap.hi, 3)],
            },
          }
        : {}),
    };
  }
  const four = results.find((r) => r.factor === 4);
  const spreadOf = (w: { fid: FidReport | null } | undefined) =>
    w?.fid?.spread ? { fid: w.fid.fid, std: w.fid.spread.std } : null;
  const get = (m: SrMethod) => four?.rows.find((w) => w.method === m);
  const goals = four
    ? {
        sr3_psnr_gain_over_bicubic_db: round(get('sr3')!.psnr - get('bicubic')!.psnr, 3),
        sr3_beats_bicubic_by_2db: get('sr3')!.psnr - get('bicubic')!.psnr >= 2,
        sr3_fid_below_regression:
          get('regression') && get('sr3')!.fid && get('regression')!.fid
            ? get('sr3')!.fid!.fid < get('regression')!.fid!.fid
            : null,
        // The same, beyond 1.96 standard deviations of the difference (bootstrap spreads of both).
        sr3_fid_below_regression_beyond_spread:
          spreadOf(get('sr3')) && spreadOf(get('regression'))
            ? get('sr3')!.fid!.fid < get('regression')!.fid!.fid &&
              fidsDiffer(spreadOf(get('sr3'))!, spreadOf(get('regression'))!)
            : null,
      }
    : {};
  return { lesson: '08', ...scales, goals, ...extra };
}
