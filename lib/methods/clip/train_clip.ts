// Contrastive training of the CLIP-like model: each batch of B captioned images gives a B x B matrix
// of scaled cosines; the symmetric InfoNCE loss (cross-entropy along rows and along columns) pulls
// each image towards its own caption and away from the B - 1 others. Optional hard negatives add one
// one-word-off caption per image (plus one per focus attribute) as extra columns of the image -> text
// softmax.
import * as tf from '@tensorflow/tfjs-core';
import '../../core/tfjs_setup';
import type { ShapesSet } from '../../../datasets/shapes';
import { ProgressOptions } from '../../core/progress';
import { epochOrder } from '../../core/train/batch_source';
import { CheckpointOptions, trainParams } from '../../core/train/loss_trainer';
import { STREAM, stepRng } from '../../core/train/step_seed';
import { Clip } from './clip';
import { HardNegativeAttribute, hardNegativeCaption } from './hard_negatives';

export interface TrainClipOptions extends CheckpointOptions {
  steps: number;
  batch: number;
  learningRate: number;
  warmupSteps?: number;
  seed?: number;
  /** Add one hard negative caption per image (default true). */
  hardNegatives?: boolean;
  /**
   * Per image, one more hard negative for each attribute listed, always changing that attribute:
   * for what in-batch negatives almost never separate (two captions that differ only in shape).
   */
  focusNegatives?: readonly HardNegativeAttribute[];
  /** Called after every step with the loss. */
  onStep?: (step: number, loss: number) => void;
  /** A progress bar (default none). */
  progress?: false | ProgressOptions;
}

export interface ClipTrainHistory {
  /** Every step's loss (a resumed run's earlier steps included). */
  loss: number[];
  /** The logit scale (exp of the learned log-temperature) at every step. */
  scale: number[];
  /** This run's seconds. */
  seconds: number;
}

/** One CLIP batch: the images, their captions, then the hard negatives (extra text columns). */
interface ClipBatch {
  x: tf.Tensor4D;
  texts: string[];
}

/** uint8 HWC images idx of `set` -> float [n, S, S, 3] in [-1, 1]. */
export function shapesImages(
  set: Pick<ShapesSet, 'images' | 'height' | 'width' | 'channels'>,
  idx: ArrayLike<number>,
): tf.Tensor4D {
  const per = set.height * set.width * set.channels;
  const out = new Float32Array(idx.length * per);
  for (let b = 0; b < idx.length; b++) {
    const src = idx[b] * per;
    for (let p = 0; p < per; p++) out[b * per + p] = set.images[src + p] / 127.5 - 1;
  }
  return tf.tensor4d(out, [idx.length, set.height, set.width, set.channels]);
}

/** Symmetric InfoNCE; logits [B, B + extra], column j < B is image j's own caption. */
export function clipLoss(logits: tf.Tensor2D): tf.Scalar {
  const b = logits.shape[0];
  if (logits.shape[1] < b) throw new Error(`clipLoss: logits must be [B, >= B], got [${logits.shape}]`);
  return tf.tidy(() => {
    const labels = tf.range(0, b, 1, 'int32');
    const i2t = tf.neg(tf.mean(tf.sum(tf.mul(tf.oneHot(labels, logits.shape[1]), tf.logSoftmax(logits)), 1)));
    const square = tf.slice(logits, [0, 0], [b, b]);
    const t2i = tf.neg(tf.mean(tf.sum(tf.mul(tf.oneHot(labels, b), tf.logSoftmax(tf.transpose(square))), 1)));
    return tf.div(tf.add(i2t, t2i), 2) as tf.Scalar;
  });
}

/**
 * Trains `clip` in place. Batches: full batches of an epoch order from (seed, epoch), hard negatives
 * from (seed, step), so a run resumed from checkpointDir draws what the uninterrupted one drew.
 * Adam (beta2 0.98, epsilon 1e-6: CLIP's), warm-up then cosine to 1/20 of the peak, no clipping.
 */
export async function trainClip(clip: Clip, set: ShapesSet, o: TrainClipOptions): Promise<ClipTrainHistory> {
  const { steps, batch, learningRate } = o;
  if (!Number.isInteger(steps) || steps < 1)
    throw new Error(`trainClip: steps must be a positive integer, got ${steps}`);
  if (!Number.isInteger(batch) || batch < 2) throw new Error(`trainClip: batch must be an integer >= 2, got ${batch}`);
  if (set.count < batch) throw new Error(`trainClip: ${set.count} images are fewer than one batch of ${batch}`);
  if (!(learningRate > 0)) throw new Error(`trainClip: learningRate must be > 0, got ${learningRate}`);
  const seed = o.seed ?? 0;
  const hard = o.hardNegatives ?? true;
  const pick = epochOrder(set.count, batch, seed);
  const data = (step: number): ClipBatch => {
    const idx = pick(step);
    const rng = stepRng(seed, step, STREAM.dropout);
    const negs = hard ? Array.from(idx, (i) => hardNegativeCaption(set.objects[i], rng)) : [];
    for (const attr of o.focusNegatives ?? [])
      negs.push(...Array.from(idx, (i) => hardNegativeCaption(set.objects[i], rng, attr)));
    return { x: shapesImages(set, idx), texts: [...Array.from(idx, (i) => set.captions[i]), ...negs] };
  };
  // The learned temperature is logged with the loss (same read): it shows how sharp the matching got.
  const loss = (b: ClipBatch) => {
    const img = clip.encodeImages(b.x);
    const txt = clip.encodeText(b.texts);
    const scale = clip.scale();
    return {
      loss: clipLoss(tf.mul(scale, tf.matMul(img, txt, false, true)) as tf.Tensor2D),
      metrics: { scale: tf.reshape(scale, []) as tf.Scalar },
    };
  };
  const { history, seconds } = await trainParams(
    clip.params,
    loss,
    {
      learningRate,
      warmupSteps: o.warmupSteps ?? Math.min(100, Math.floor(steps / 10)),
      decay: 'cosine',
      totalSteps: steps,
      minLearningRate: learningRate / 20,
      beta1: 0.9,
      beta2: 0.98,
      epsilon: 1e-6,
      seed,
      config: { kind: 'clip', ...clip.config },
      describe: { batch, hardNegatives: hard, focusNegatives: (o.focusNegatives ?? []).join(',') },
      progress: o.progress ?? false,
    },
    data,
    o,
  );
  return { loss: [...history.loss], scale: [...(history.metrics.scale ?? [])], seconds };
}
