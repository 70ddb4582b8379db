// How good is the CLIP-like model on its own: zero-shot retrieval (for each test image, is its own
// caption the best of K candidates?) and the mean CLIP-like score of real images with their own captions
// against shuffled ones (the gap is the score's dynamic range for judging generated images).
import * as tf from '@tensorflow/tfjs-core';
import type { ShapesSet } from '../../../datasets/shapes';
import { Rng } from '../../core/random';
import { Clip } from './clip';
import { meanClipScore } from './score';
import { shapesImages } from './train_clip';

export interface ClipRetrieval {
  /** Images scored. */
  n: number;
  /** Candidate captions per image (its own + K - 1 other test captions). */
  candidates: number;
  /** Fraction of images whose own caption scores highest among the candidates. */
  imageToText: number;
  /** Fraction of captions whose own image scores highest among K images. */
  textToImage: number;
  /** Mean 100 * cosine of each image with its own caption, and with another image's caption. */
  scoreOwn: number;
  scoreShuffled: number;
}

/** Groups of K consecutive test items: each image against the K captions of its group. */
export async function clipRetrieval(
  clip: Clip,
  set: ShapesSet,
  o: { n: number; candidates: number; seed?: number },
): Promise<ClipRetrieval> {
  const K = o.candidates;
  if (!Number.isInteger(K) || K < 2) throw new Error(`clipRetrieval: candidates must be an integer >= 2, got ${K}`);
  const groups = Math.floor(Math.min(o.n, set.count) / K);
  if (groups < 1) throw new Error(`clipRetrieval: need at least ${K} images (n=${o.n}, set holds ${set.count})`);
  let i2t = 0;
  let t2i = 0;
  for (let g = 0; g < groups; g++) {
    const idx = Int32Array.from({ length: K }, (_, k) => g * K + k);
    const hits = tf.tidy(() => {
      const sim = tf.matMul(
        clip.encodeImages(shapesImages(set, idx)),
        clip.encodeText(Array.from(idx, (i) => set.captions[i])),
        false,
        true,
      );
      const diag = tf.range(0, K, 1, 'int32');
      return tf.stack([
        tf.sum(tf.cast(tf.equal(tf.argMax(sim, 1), diag), 'float32')),
        tf.sum(tf.cast(tf.equal(tf.argMax(sim, 0), diag), 'float32')),
      ]);
    });
    const [a, b] = await hits.data();
    hits.dispose();
    i2t += a;
    t2i += b;
  }
  const n = groups * K;
  const all = Int32Array.from({ length: n }, (_, i) => i);
  const x = shapesImages(set, all);
  const own = all.length ? Array.from(all, (i) => set.captions[i]) : [];
  // A derangement-free shuffle is enough: a rare self-match barely moves a mean over hundreds.
  const perm = new Rng(o.seed ?? 0).permutation(n);
  const shuffled = Array.from(perm, (i) => set.captions[i]);
  let scoreOwn: number, scoreShuffled: number;
  try {
    scoreOwn = await meanClipScore(clip, x, own);
    scoreShuffled = await meanClipScore(clip, x, shuffled);
  } finally {
    x.dispose();
  }
  return { n, candidates: K, imageToText: i2t / n, textToImage: t2i / n, scoreOwn, scoreShuffled };
}
