// The decoder's training batches: shapes images with their own CLIP image embedding as the context
// token (and with `vector`, for a decoder built with vectorDim, as cond.vector too), dropped to the
// null (zero) embedding with probability p for classifier-free guidance. The CLIP model is frozen:
// its embedding is computed here, outside the gradient.
import * as tf from '@tensorflow/tfjs-core';
import '../../core/tfjs_setup';
import { Clip } from '../clip/clip';
import { BatchSource, ImageData, imageBatches } from '../../core/train/batch_source';
import { STREAM, stepRng } from '../../core/train/step_seed';
import { embeddingContext } from './embedding_space';

export function decoderBatches(
  set: ImageData,
  clip: Clip,
  batchSize: number,
  seed: number,
  embeddingDropout = 0.1,
  vector = false,
): BatchSource {
  if (!(embeddingDropout >= 0 && embeddingDropout <= 1))
    throw new Error(`decoderBatches: embeddingDropout must be in [0, 1], got ${embeddingDropout}`);
  const images = imageBatches(set, batchSize, seed);
  return (step) => {
    const { x } = images(step);
    const rng = stepRng(seed, step, STREAM.dropout);
    const keep = Array.from({ length: x.shape[0] }, () => (rng.uniform() < embeddingDropout ? 0 : 1));
    const cond = tf.tidy(() => embeddingContext(clip.encodeImages(x), keep, vector));
    return { x, cond };
  };
}
