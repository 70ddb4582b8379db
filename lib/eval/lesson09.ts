// Lesson 09's measurement, shared by the notebook and `npm run eval -- 09`: n test images, a mask of
// each kind (centre box, half, strokes) drawn per image from a seed, and four ways to fill the hole:
//   mean        the training set's mean image (non-learned)
//   nearest     the nearest known pixel (non-learned)
//   conditional the article's way: a model trained with [masked image, mask] as condition (DDIM)
//   repaint     RePaint with lesson 05's unconditional model, no retraining
// Each is scored by the squared error inside the hole against the original (fidelity: a blurry
// average scores well here) and FID of the completed images against real test images (realism),
// with the wall time of producing them.
import * as tf from '@tensorflow/tfjs-core';
import '../core/tfjs_setup';
import { loadFashionMnist } from '../../datasets/fashion-mnist';
import { inpaintWithModel } from '../methods/inpaint/conditional';
import { meanFill, nearestFill } from '../methods/inpaint/fill';
import { holeMse, makeMasks, MASK_KINDS, MaskKind } from '../methods/inpaint/masks';
import { FashionClassifier } from './metrics/classifier';
import { mean } from './metrics/psnr';
import { fidReport, FidReport } from './metrics/report';
import { formatFidWithSpread } from './metrics/fid_bootstrap';
import { Rng } from '../core/random';
import { RePaintSampler } from '../methods/inpaint/repaint';
import { unetModel } from '../core/samplers/types';
import { NoiseSchedule } from '../core/schedule';
import { UNet } from '../core/unet/unet';
import { testImages } from './lesson08';

export type InpaintMethod = 'mean' | 'nearest' | 'conditional' | 'repaint';
export const INPAINT_METHODS: readonly InpaintMethod[] = ['mean', 'nearest', 'conditional', 'repaint'];

/** The per-pixel mean of Fashion-MNIST's training images in [-1, 1], [1, 28, 28, 1]. */
export function trainingMeanImage(): tf.Tensor4D {
  const set = loadFashionMnist('train');
  const per = set.height * set.width * set.channels;
  const sum = new Float64Array(per);
  for (let i = 0; i < set.count; i++) for (let p = 0; p < per; p++) sum[p] += set.images[i * per + p];
  return tf.tensor4d(
    Float32Array.from(sum, (s) => (2 * s) / (255 * set.count) - 1),
    [1, set.height, set.width, set.channels],
  );
}

export interface InpaintModels {
  /** The mask-conditioned model (condChannels 2); null skips 'conditional'. */
  conditional: UNet | null;
  /** An unconditional eps model and its schedule for RePaint; null skips 'repaint'. */
  unconditional: { unet: UNet; schedule: NoiseSchedule } | null;
}

export interface InpaintEvalOptions {
  n?: number;
  /** Picks the test images, the masks and the real images FID compares with (default 0). */
  seed?: number;
  /** Seeds the samplers' noise alone (default: seed), so several runs differ only in the sampling. */
  samplingSeed?: number;
  /** Mask kinds (default all three). A kind's masks are drawn from its position in this list: compare runs with the same list. */
  kinds?: readonly MaskKind[];
  /** Methods to run (default all four; 'conditional' and 'repaint' also need their models). */
  methods?: readonly InpaintMethod[];
  /** DDIM steps of the conditional model (default 50). */
  steps?: number;
  /** RePaint's grid, jump length and passes (default 50, 5, 2). */
  repaint?: { steps: number; jumpLength: number; resamplings: number };
  batchSize?: number;
  fid?: boolean;
  classifier?: FashionClassifier;
  keep?: number;
  /** Called after each (kind, method), e.g. to print it. */
  onRow?: (r: InpaintRow) => void;
}

export interface InpaintRow {
  kind: MaskKind;
  method: InpaintMethod;
  n: number;
  holeMse: number;
  fid: FidReport | null;
  seconds: number;
}

export interface InpaintEvalResult {
  rows: InpaintRow[];
  /** FID of the untouched originals at the same n (what perfect inpainting would score). */
  originalFid: FidReport | null;
  /** The first `keep` images: originals, and per kind its masks and every method's completions. */
  examples: {
    original: tf.Tensor4D;
    byKind: Record<string, { mask: tf.Tensor4D } & Partial<Record<InpaintMethod, tf.Tensor4D>>>;
  };
}

export async function evaluateInpainting(
  models: InpaintModels,
  opts: InpaintEvalOptions = {},
): Promise<InpaintEvalResult> {
  const n = opts.n ?? 100;
  const seed = opts.seed ?? 0;
  const kinds = opts.kinds ?? MASK_KINDS;
  const batch = opts.batchSize ?? 100;
  const keep = Math.min(opts.keep ?? 8, n);
  const rp = opts.repaint ?? { steps: 50, jumpLength: 5, resamplings: 2 };
  const samplingSeed = opts.samplingSeed ?? seed;
  const methods = (opts.methods ?? INPAINT_METHODS).filter((m) =>
    m === 'conditional' ? models.conditional : m === 'repaint' ? models.unconditional : true,
  );
  const x = testImages(n, seed);
  const meanImg = trainingMeanImage();
  const fidOf = (y: tf.Tensor4D) =>
    opts.fid === false || n < 2 ? null : fidReport(y, { n, seed, classifier: opts.classifier });
  const rows: InpaintRow[] = [];
  const examples: InpaintEvalResult['examples'] = { original: tf.slice(x, 0, keep) as tf.Tensor4D, byKind: {} };
  try {
    for (const [ki, kind] of kinds.entries()) {
      // One mask per image, from (seed, kind): every method fills the same holes.
      const mask = makeMasks(kind, n, x.shape[1], new Rng(seed * 1009 + ki + 1));
      examples.byKind[kind] = { mask: tf.slice(mask, 0, keep) as tf.Tensor4D };
      try {
        for (const method of methods) {
          const parts: tf.Tensor4D[] = [];
          const t0 = Date.now();
          for (let b = 0; b * batch < n; b++) {
            const size = Math.min(batch, n - b * batch);
            const xb = tf.slice(x, b * batch, size) as tf.Tensor4D;
            const mb = tf.slice(mask, b * batch, size) as tf.Tensor4D;
            const rng = new Rng(samplingSeed * 100003 + 7 * ki + b);
            try {
              let y: tf.Tensor4D;
              if (method === 'mean') y = await meanFill(xb, mb, meanImg);
              else if (method === 'nearest') y = await nearestFill(xb, mb);
              else if (method === 'conditional')
                y = await inpaintWithModel(models.conditional!, xb, mb, { steps: opts.steps ?? 50, rng });
              else {
                const u = models.unconditional!;
                y = new RePaintSampler(u.schedule).sample(unetModel(u.unet, 'eps'), xb.shape, {
                  ...rp,
                  rng,
                  known: xb,
                  mask: mb,
                });
              }
              parts.push(y);
              await y.data(); // the wall time covers the work, not just queued kernels
            } finally {
              tf.dispose([xb, mb]);
            }
          }
          const seconds = (Date.now() - t0) / 1000;
          const all = tf.concat(parts, 0) as tf.Tensor4D;
          tf.dispose(parts);
          try {
            const holes = mean(await holeMse(all, x, mask));
            const row: InpaintRow = { kind, method, n, holeMse: holes, fid: await fidOf(all), seconds };
            rows.push(row);
            opts.onRow?.(row);
            examples.byKind[kind][method] = tf.slice(all, 0, keep) as tf.Tensor4D;
          } finally {
            all.dispose();
          }
        }
      } finally {
        mask.dispose();
      }
    }
    return { rows, originalFid: await fidOf(x), examples };
  } catch (e) {
    disposeInpaintResult({ rows, originalFid: null, examples });
    throw e;
  } finally {
    tf.dispose([x, meanImg]);
  }
}

export function disposeInpaintResult(r: InpaintEvalResult): void {
  r.examples.original.dispose();
  for (const k of Object.values(r.examples.byKind))
    tf.dispose(Object.values(k).filter((t): t is tf.Tensor4D => t instanceof tf.Tensor));
}

export function formatInpaintTable(r: InpaintEvalResult): string {
  const head = ['mask', 'method', 'n', 'hole MSE', 'FID', 'FID floor', 'seconds'];
  const rows = r.rows.map((w) => [
    w.kind,
    w.method,
    String(w.n),
    w.holeMse.toFixed(4),
    w.fid ? formatFidWithSpread(w.fid.fid, w.fid.spread, 2) : '-',
    w.fid ? formatFidWithSpread(w.fid.floor, w.fid.floorSpread, 2) : '-',
    w.seconds.toFixed(1),
  ]);
  if (r.originalFid)
    rows.push([
      '-',
      'original',
      String(r.originalFid.n),
      '-',
      r.originalFid.fid.toFixed(2),
      r.originalFid.floor.toFixed(2),
      '-',
    ]);
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i].length)));
  const line = (cells: string[]) =>
    cells.map((s, i) => (i < 2 ? s.padEnd(widths[i]) : s.padStart(widths[i]))).join('  ');
  return [line(head), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}

const round = (x: number, d: number) => Math.round(x * 10 ** d) / 10 ** d;

/** The eval script's JSON record: hole MSE, FID and seconds per mask kind and method, and the goal checked. */
export function inpaintRecord(r: InpaintEvalResult, extra: Record<string, unknown> = {}): Record<string, unknown> {
  const byKind: Record<string, Record<string, unknown>> = {};
  for (const w of r.rows) {
    byKind[w.kind] = byKind[w.kind] ?? {};
    byKind[w.kind][w.method] = {
      hole_mse: round(w.holeMse, 5),
      fid: w.fid ? round(w.fid.fid, 3) : null,
      ...(w.fid?.spread ? { fid_spread: round(w.fid.spread.std, 3) } : {}),
      seconds: round(w.seconds, 2),
    };
  }
  // Goal: each learned method's FID below the better non-learned fill's, on every mask kind.
  const goal: Record<string, boolean | null> = {};
  for (const m of ['conditional', 'repaint'] as const) {
    const kinds = Object.keys(byKind).filter((k) => r.rows.some((w) => w.kind === k && w.method === m));
    if (kinds.length === 0) continue;
    goal[`${m}_fid_below_nonlearned_all_masks`] = kinds.every((k) => {
      const fid = (mm: InpaintMethod) => r.rows.find((w) => w.kind === k && w.method === mm)?.fid?.fid ?? NaN;
      return fid(m) < Math.min(fid('mean'), fid('nearest'));
    });
  }
  return {
    lesson: '09',
    n: r.rows[0]?.n ?? 0,
    fid_floor: r.originalFid ? round(r.originalFid.floor, 3) : null,
    ...(r.originalFid?.floorSpread ? { fid_floor_spread: round(r.originalFid.floorSpread.std, 3) } : {}),
    original_fid: r.originalFid ? round(r.originalFid.fid, 3) : null,
    ...byKind,
    goals: goal,
    ...extra,
  };
}

export interface FidSpreadRow {
  kind: MaskKind;
  method: InpaintMethod;
  /** FID of each sampling seed, in the order given. */
  fids: number[];
  mean: number;
  /** Sample standard deviation over the seeds (n - 1). */
  sd: number;
}

/**
 * The spread of FID that comes from sampling alone: the same n images, masks and real features,
 * evaluated once per sampling seed. Two methods whose FIDs differ by less than about two of these
 * spreads are not told apart at this n. (A bootstrap over the n images would also mix in the
 * choice of images, which both methods share here, and overstate the spread of the comparison.)
 */
export async function inpaintFidSpread(
  models: InpaintModels,
  samplingSeeds: readonly number[],
  opts: InpaintEvalOptions = {},
): Promise<{ rows: FidSpreadRow[]; originalFid: FidReport | null }> {
  if (samplingSeeds.length < 2)
    throw new Error(`inpaintFidSpread: need at least 2 sampling seeds, got ${samplingSeeds.length}`);
  const fids = new Map<string, { kind: MaskKind; method: InpaintMethod; fids: number[] }>();
  let originalFid: FidReport | null = null;
  for (const s of samplingSeeds) {
    const r = await evaluateInpainting(models, { ...opts, samplingSeed: s, keep: 1, fid: true });
    disposeInpaintResult(r);
    originalFid = r.originalFid;
    for (const w of r.rows) {
      const key = `${w.kind}/${w.method}`;
      if (!fids.has(key)) fids.set(key, { kind: w.kind, method: w.method, fids: [] });
      fids.get(key)!.fids.push(w.fid!.fid);
    }
  }
  const rows = [...fids.values()].map((r) => {
    const mean = r.fids.reduce((a, b) => a + b, 0) / r.fids.length;
    const sd = Math.sqrt(r.fids.reduce((a, b) => a + (b - mean) ** 2, 0) / (r.fids.length - 1));
    return { ...r, mean, sd };
  });
  return { rows, originalFid };
}

export function formatFidSpread(rows: FidSpreadRow[]): string {
  return rows
    .map(
      (r) =>
        `${r.kind.padEnd(8)} ${r.method.padEnd(12)} FID ${r.mean.toFixed(2)} ± ${r.sd.toFixed(2)} ` +
        `(sd over ${r.fids.length} sampling seeds: ${r.fids.map((f) => f.toFixed(2)).join(', ')})`,
    )
    .join('\n');
}
