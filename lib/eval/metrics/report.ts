// One call that scores generated Fashion-MNIST images the way the course always quotes them:
// FID and KID against n real test images, next to the same numbers for n real *training* images
// (the real-vs-real floor: what a perfect generator would score at this n, since FID's small-sample
// bias alone is far from 0). Features come from the committed classifier (checkpoints/classifier).
import * as tf from '@tensorflow/tfjs-core';
import { loadFashionMnist, FashionSplit } from '../../../datasets/fashion-mnist';
import { toTensor } from '../../../datasets/imageset';
import { assertFiniteTensor } from '../../core/finite';
import { Rng } from '../../core/random';
import { loadPretrained } from '../../course/models';
import { FashionClassifier } from './classifier';
import { frechetDistance, featureStats, GaussianStats } from './fid';
import { fidSpread, FidSpread, formatFidWithSpread } from './fid_bootstrap';
import { kid } from './kid';

let shared: FashionClassifier | null = null;

/**
 * The committed classifier (the pretrained table's 'classifier'), loaded once per process. Here, not
 * in classifier.ts, because the table imports classifier.ts's loader (no import cycle).
 */
export function sharedClassifier(): FashionClassifier {
  if (!shared) shared = loadPretrained('classifier');
  return shared;
}

export interface FidReportOptions {
  /** Images compared (default: all generated ones; at most 10,000, the test split's size). */
  n?: number;
  /** Picks the real images and the KID subsets (default 0). */
  seed?: number;
  /** KID subsets (default 10). */
  kidSubsets?: number;
  /** Feature network (default: the committed classifier). */
  classifier?: FashionClassifier;
  /** Bootstrap draws for the spreads of FID and of the floor (default 200; 0: none). */
  bootstrap?: number;
}

export interface FidReport {
  fid: number;
  kid: number;
  /** Spread of KID over subsets; 0 when n <= 1000 (one subset holds everything). */
  kidStd: number;
  /** FID between n real test and n real training images. */
  floor: number;
  floorKid: number;
  n: number;
  /** Bootstrap spread of `fid` over the n generated images (fid_bootstrap.ts); null with bootstrap 0. */
  spread: FidSpread | null;
  /** The same for the floor (its n training images resampled against the same test statistics). */
  floorSpread: FidSpread | null;
}

interface RealFeatures {
  features: tf.Tensor2D;
  stats: GaussianStats;
  /** The floor's bootstrap spread per number of draws (train sets only), computed once. */
  floorSpreads: Map<number, FidSpread>;
}

// Real features per classifier and (split, n, seed): computing them is most of a report's cost.
let realCache = new WeakMap<FashionClassifier, Map<string, RealFeatures>>();
const cached: RealFeatures[] = [];

async function realFeatures(
  split: FashionSplit,
  n: number,
  seed: number,
  clf: FashionClassifier,
): Promise<RealFeatures> {
  const key = `${split}:${n}:${seed}`;
  let byKey = realCache.get(clf);
  if (!byKey) realCache.set(clf, (byKey = new Map()));
  const hit = byKey.get(key);
  if (hit) return hit;
  const set = loadFashionMnist(split);
  // Split-specific streams so test and train picks are independent draws.
  const idx = new Rng(seed * 2 + (split === 'test' ? 0 : 1)).permutation(set.count).subarray(0, n);
  const x = toTensor(set, { indices: idx });
  const features = clf.batched(x, (b) => clf.features(b));
  x.dispose();
  const r = { features, stats: await featureStats(features), floorSpreads: new Map<number, FidSpread>() };
  byKey.set(key, r);
  cached.push(r);
  return r;
}

/** Frees the cached features of real images. */
export function clearFidCache(): void {
  for (const r of cached) r.features.dispose();
  cached.length = 0;
  realCache = new WeakMap();
}

/** FID/KID of generated images [N, 28, 28, 1] in [-1, 1], with the real-vs-real floor at the same n. */
export async function fidReport(generated: tf.Tensor4D, opts: FidReportOptions = {}): Promise<FidReport> {
  const total = generated.shape[0];
  const n = opts.n ?? total;
  if (!Number.isInteger(n) || n < 2 || n > total)
    throw new Error(`fidReport: n must be an integer in [2, ${total}] (the generated images), got ${n}`);
  if (n > 10000) throw new Error(`fidReport: n = ${n} exceeds the 10,000 real test images`);
  // NaN images would score as some class's features (black images: FID ~500), not as an error.
  await assertFiniteTensor('fidReport', 'the generated images', generated);
  const seed = opts.seed ?? 0;
  const clf = opts.classifier ?? sharedClassifier();
  const test = await realFeatures('test', n, seed, clf);
  const train = await realFeatures('train', n, seed, clf);
  const gen = tf.tidy(() => clf.batched(n === total ? generated : tf.slice(generated, 0, n), (b) => clf.features(b)));
  try {
    const kidOpts = { subsets: opts.kidSubsets ?? 10 };
    const k = await kid(gen, test.features, { ...kidOpts, rng: new Rng(seed) });
    const kf = await kid(train.features, test.features, { ...kidOpts, rng: new Rng(seed) });
    const fid = frechetDistance(await featureStats(gen), test.stats);
    const floor = frechetDistance(train.stats, test.stats);
    const resamples = opts.bootstrap ?? 200;
    if (!Number.isInteger(resamples) || resamples < 0 || resamples === 1)
      throw new Error(`fidReport: bootstrap must be 0 or an integer >= 2, got ${resamples}`);
    const boot = { resamples, seed };
    // The floor and its spread depend only on (n, seed): the cached training features keep the spread.
    if (resamples > 0 && !train.floorSpreads.has(resamples))
      train.floorSpreads.set(resamples, await fidSpread(train.features, test.stats, floor, boot));
    return {
      fid,
      kid: k.kid,
      kidStd: k.std,
      floor,
      floorKid: kf.kid,
      n,
      spread: resamples > 0 ? await fidSpread(gen, test.stats, fid, boot) : null,
      floorSpread: resamples > 0 ? train.floorSpreads.get(resamples)! : null,
    };
  } finally {
    gen.dispose();
  }
}

/** One line for a notebook or a log. */
export function formatFidReport(r: FidReport): string {
  return (
    `FID ${formatFidWithSpread(r.fid, r.spread, 2)} ` +
    `(real-vs-real floor ${formatFidWithSpread(r.floor, r.floorSpread, 2)}), ` +
    `KID ${r.kid.toFixed(4)}${r.kidStd > 0 ? ` ± ${r.kidStd.toFixed(4)}` : ''} (floor ${r.floorKid.toFixed(4)}), n = ${r.n}`
  );
}

/** The spread fields of an eval script's JSON record: `fid_spread` (std) and `fid_ci` [lo, hi], and the floor's. */
export function fidSpreadRecord(r: FidReport | null): Record<string, unknown> {
  if (!r?.spread || !r.floorSpread) return {};
  const round3 = (x: number) => Math.round(x * 1000) / 1000;
  return {
    fid_spread: round3(r.spread.std),
    fid_ci: [round3(r.spread.lo), round3(r.spread.hi)],
    fid_floor_spread: round3(r.floorSpread.std),
    fid_bootstrap: r.spread.resamples,
  };
}
