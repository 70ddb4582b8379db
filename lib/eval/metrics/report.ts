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
}

interface RealFeatures {
  features: tf.Tensor2D;
  stats: GaussianStats;
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
  const r = { features, stats: await featureStats(features) };
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
    return {
      fid: frechetDistance(await featureStats(gen), test.stats),
      kid: k.kid,
      kidStd: k.std,
      floor: frechetDistance(train.stats, test.stats),
      floorKid: kf.kid,
      n,
    };
  } finally {
    gen.dispose();
  }
}

/** One line for a notebook or a log. */
export function formatFidReport(r: FidReport): string {
  return (
    `FID ${r.fid.toFixed(2)} (real-vs-real floor ${r.floor.toFixed(2)}), ` +
    `KID ${r.kid.toFixed(4)}${r.kidStd > 0 ? ` ± ${r.kidStd.toFixed(4)}` : ''} (floor ${r.floorKid.toFixed(4)}), n = ${r.n}`
  );
}
