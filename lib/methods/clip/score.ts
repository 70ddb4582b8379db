// The CLIP-like score: 100 * cosine between an image's and its caption's embeddings, per pair.
// It measures agreement in the course's own contrastive space (not OpenAI's CLIP), so compare numbers
// only against real images scored by the same checkpoint (see clipScoreBaseline in the lesson).
import * as tf from '@tensorflow/tfjs-core';
import { Clip } from './clip';

/** images [B, S, S, 3] in [-1, 1], one caption each -> B scores in [-100, 100]. */
export async function clipScore(clip: Clip, images: tf.Tensor4D, captions: readonly string[]): Promise<number[]> {
  if (images.shape[0] !== captions.length)
    throw new Error(`clipScore: ${images.shape[0]} images but ${captions.length} captions`);
  const s = tf.tidy(() => tf.mul(tf.sum(tf.mul(clip.encodeImages(images), clip.encodeText(captions)), 1), 100));
  const out = Array.from(await s.data());
  s.dispose();
  return out;
}

/** Mean of clipScore over many pairs, encoding `batch` at a time (keeps memory bounded). */
export async function meanClipScore(
  clip: Clip,
  images: tf.Tensor4D,
  captions: readonly string[],
  batch = 100,
): Promise<number> {
  if (images.shape[0] !== captions.length)
    throw new Error(`meanClipScore: ${images.shape[0]} images but ${captions.length} captions`);
  let sum = 0;
  for (let i = 0; i < captions.length; i += batch) {
    const n = Math.min(batch, captions.length - i);
    const part = tf.slice(images, [i, 0, 0, 0], [n, -1, -1, -1]);
    try {
      sum += (await clipScore(clip, part, captions.slice(i, i + n))).reduce((a, b) => a + b, 0);
    } finally {
      part.dispose();
    }
  }
  return sum / Math.max(1, captions.length);
}
