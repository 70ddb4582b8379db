// Contrastive training of the CLIP-like model: each batch of B captioned images gives a B x B matrix
// of scaled cosines; the symmetric InfoNCE loss (cross-entropy along rows and along columns) pulls
// each image towards its own caption and away from the B - 1 others. Optional hard negatives add one
// one-word-off caption per image (plus one per focus attribute) as extra columns of the image -> text
// softmax.
import * as tf from '@tensorflow/tfjs-core';
import '../../core/tfjs_setup';
import type { ShapesSet } from '../../../datasets/shapes';
import { Rng } from '../../core/random';
import { ScheduledAdam } from '../../core/train/scheduled_adam';
import { learningRateAt } from '../../core/train/lr_schedule';
import { STREAM, stepRng } from '../../core/train/step_seed';
import { Clip } from './clip';
import { HardNegativeAttribute, hardNegativeCaption } from './hard_negatives';

export interface TrainClipOptions {
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
}

export interface ClipTrainHistory {
  loss: number[];
  seconds: number;
}

/** uint8 HWC images idx of `set` -> float [n, S, S, 3] in [-1, 1]. */
export function shapesImages(set: Pick<ShapesSet, 'images' | 'height' | 'width' | 'channels'>, idx: ArrayLike<number>): tf.Tensor4D {
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

export async function trainClip(clip: Clip, set: ShapesSet, o: TrainClipOptions): Promise<ClipTrainHistory> {
  const { steps, batch, learningRate } = o;
  if (!Number.isInteger(steps) || steps < 1) throw new Error(`trainClip: steps must be a positive integer, got ${steps}`);
  if (!Number.isInteger(batch) || batch < 2) throw new Error(`trainClip: batch must be an integer >= 2, got ${batch}`);
  if (set.count < batch) throw new Error(`trainClip: ${set.count} images are fewer than one batch of ${batch}`);
  if (!(learningRate > 0)) throw new Error(`trainClip: learningRate must be > 0, got ${learningRate}`);
  const seed = o.seed ?? 0;
  const hard = o.hardNegatives ?? true;
  const schedule = { learningRate, warmupSteps: o.warmupSteps ?? Math.min(100, Math.floor(steps / 10)), decay: 'cosine' as const, totalSteps: steps, minLearningRate: learningRate / 20 };
  const opt = new ScheduledAdam(learningRate, 0.9, 0.98, 1e-6);
  const vars = [...clip.params.values()];
  const perEpoch = Math.floor(set.count / batch);
  let order = new Int32Array(0);
  const loss: number[] = [];
  const t0 = Date.now();
  try {
    for (let step = 0; step < steps; step++) {
      const epoch = Math.floor(step / perEpoch);
      if (step % perEpoch === 0) order = stepRng(seed, epoch, STREAM.data).permutation(set.count);
      const idx = order.subarray((step % perEpoch) * batch, (step % perEpoch + 1) * batch);
      const rng: Rng = stepRng(seed, step, STREAM.dropout);
      const caps = Array.from(idx, (i) => set.captions[i]);
      const negs = hard ? Array.from(idx, (i) => hardNegativeCaption(set.objects[i], rng)) : [];
      for (const attr of o.focusNegatives ?? []) negs.push(...Array.from(idx, (i) => hardNegativeCaption(set.objects[i], rng, attr)));
      const x = shapesImages(set, idx);
      opt.setLearningRate(learningRateAt(step, schedule));
      const l = opt.minimize(
        () => {
          const img = clip.encodeImages(x);
          const txt = clip.encodeText([...caps, ...negs]);
          return clipLoss(tf.mul(clip.scale(), tf.matMul(img, txt, false, true)) as tf.Tensor2D);
        },
        true,
        vars,
      );
      x.dispose();
      const v = l!.dataSync()[0];
      l!.dispose();
      if (!Number.isFinite(v)) throw new Error(`trainClip: loss is ${v} at step ${step}`);
      loss.push(v);
      o.onStep?.(step, v);
      if (step % 10 === 9) await new Promise((r) => setImmediate(r)); // let progress output through
    }
  } finally {
    opt.dispose();
  }
  return { loss, seconds: (Date.now() - t0) / 1000 };
}
