// Seeded training batches of whole clips: step k takes clips by the core's epoch order (epochOrder), lays
// them out as B*F frames (frames.ts) and gives each frame its clip's caption, or '' for every frame of a
// clip dropped for classifier-free guidance (one draw per clip, from (seed, step) as imageBatches draws).
import * as tf from '@tensorflow/tfjs-core';
import { VideoSet, videoClipsTensor } from '../../../datasets/video_shapes';
import { BatchSource, epochOrder } from '../../core/train/batch_source';
import { STREAM, stepRng } from '../../core/train/step_seed';
import { clipsToFrames } from './frames';
import { VideoCondition, videoCondition } from './temporal_hook';

export interface VideoBatchOptions {
  /** Probability that a clip's caption becomes '' (no text), for classifier-free guidance. Default 0. */
  captionDropout?: number;
}

/** step -> { x: [clipsPerBatch * F, H, W, 3] in [-1, 1], cond: { text, frames } }. */
export function videoBatches(
  set: VideoSet,
  clipsPerBatch: number,
  seed: number,
  opts: VideoBatchOptions = {},
): BatchSource<VideoCondition> {
  const p = opts.captionDropout ?? 0;
  if (!(p >= 0 && p <= 1)) throw new Error(`videoBatches: captionDropout must be in [0, 1], got ${p}`);
  const pick = epochOrder(set.count, clipsPerBatch, seed);
  return (step) => {
    const idx = pick(step);
    const rng = stepRng(seed, step, STREAM.dropout);
    const text = Array.from(idx, (i) => (p > 0 && rng.uniform() < p ? '' : set.captions[i]));
    const x = tf.tidy(() => clipsToFrames(videoClipsTensor(set, idx)));
    return { x, cond: videoCondition(text, set.frames) };
  };
}
