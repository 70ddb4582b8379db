// Training the noisy classifier: each step corrupts a labelled batch to x_t = q_sample(x0, t) at a
// random t per image (uniform over the schedule's T, as the diffusion model is trained) and takes
// an Adam step on the cross-entropy of p(y | x_t, t). Batches, t and noise come from (seed, step)
// like the diffusion trainer's, so a run is reproducible from its seed.
// Optionally (smallT) a share of each batch draws t from [0, below) instead: under uniform t only
// ~10 % of the images are nearly clean, which starves the low-noise end, where the classes are
// actually distinguishable; the rest of the batch keeps uniform coverage of every t.
import * as tf from '@tensorflow/tfjs-core';
import '../../core/tfjs_setup';
import { crossEntropy } from '../../eval/metrics/train_classifier';
import { ProgressOptions } from '../../core/progress';
import { Rng } from '../../core/random';
import { NoiseSchedule } from '../../core/schedule';
import { BatchSource, TrainBatch } from '../../core/train/batch_source';
import { CheckpointOptions, LossTrainer, runTrainer } from '../../core/train/loss_trainer';
import { LrScheduleOptions } from '../../core/train/lr_schedule';
import { STREAM, stepRng } from '../../core/train/step_seed';
import { NoisyClassifier } from './noisy_classifier';

export interface NoisyClassifierTrainOptions extends LrScheduleOptions, CheckpointOptions {
  schedule: NoiseSchedule;
  totalSteps: number;
  seed?: number;
  /** Called after each step (e.g. for a progress bar of one's own). */
  onStep?: (step: number, loss: number, lr: number) => void;
  /** A progress bar (default none). */
  progress?: false | ProgressOptions;
  /** Extra weight at low noise (see SmallTOptions). Default none: every t uniform over [0, T). */
  smallT?: SmallTOptions;
}

/** Each image's t is uniform in [0, below) with probability `fraction`, else uniform over [0, T). */
export interface SmallTOptions {
  fraction: number;
  below: number;
}

/**
 * n timesteps from `rng`: uniform over [0, T), or with smallT a mixture (see SmallTOptions). Without
 * smallT (or with fraction 0) the draws are exactly the uniform ones, so older runs resume unchanged.
 */
export function drawTimesteps(rng: Rng, n: number, T: number, smallT?: SmallTOptions): number[] {
  if (smallT === undefined || smallT.fraction === 0) return Array.from({ length: n }, () => rng.int(T));
  const { fraction, below } = smallT;
  if (!(fraction >= 0 && fraction <= 1)) throw new Error(`smallT.fraction must be in [0, 1], got ${fraction}`);
  if (!Number.isInteger(below) || below < 1 || below > T)
    throw new Error(`smallT.below must be an integer in [1, ${T}], got ${below}`);
  return Array.from({ length: n }, () => (rng.uniform() < fraction ? rng.int(below) : rng.int(T)));
}

/**
 * Trains `model` in place on batches from `data` (which must carry cond.classLabels: imageBatches
 * with withLabels). Returns every step's loss. With checkpointDir, continues from the newest state there.
 */
export async function trainNoisyClassifier(
  model: NoisyClassifier,
  data: BatchSource,
  o: NoisyClassifierTrainOptions,
): Promise<number[]> {
  // Step k's rng: timesteps, then noise, as the diffusion model is trained.
  const loss = (batch: TrainBatch, rng: Rng) => {
    const labels = batch.cond?.classLabels;
    if (labels === undefined || labels instanceof tf.Tensor)
      throw new Error(
        'trainNoisyClassifier: batches need class labels as an array (imageBatches with withLabels: true)',
      );
    const t = drawTimesteps(rng, batch.x.shape[0], o.schedule.T, o.smallT);
    const noise = rng.normalTensor(batch.x.shape);
    return crossEntropy(model.logits(o.schedule.qSample(batch.x, t, noise) as tf.Tensor4D, t), Array.from(labels));
  };
  drawTimesteps(new Rng(0), 1, o.schedule.T, o.smallT); // a bad smallT fails here, not at step 0's tape
  const { schedule, onStep, progress, smallT, ...rest } = o;
  const trainer = new LossTrainer(model.params, loss, {
    ...rest,
    config: { kind: 'noisy-classifier', ...model.config },
    mustMatch: { scheduleKind: schedule.kind, scheduleT: schedule.T },
    // A resume with another t mixture warns (LossTrainer.resume lists the options that differ).
    ...(smallT && smallT.fraction > 0
      ? { describe: { smallTFraction: smallT.fraction, smallTBelow: smallT.below } }
      : {}),
    progress: progress ?? false,
  });
  const { history } = await runTrainer(trainer, data, { onStep: onStep && ((r) => onStep(r.step, r.loss, r.lr)) });
  return [...history.loss];
}

/** Accuracy of the noisy classifier on labelled images noised to each of `ts` (seeded noise). */
export async function noisyAccuracy(
  model: NoisyClassifier,
  schedule: NoiseSchedule,
  x0: tf.Tensor4D,
  labels: ArrayLike<number>,
  ts: number[],
  seed = 0,
  batchSize = 500,
): Promise<number[]> {
  const n = x0.shape[0];
  if (labels.length !== n) throw new Error(`noisyAccuracy: ${labels.length} labels for ${n} images`);
  // Every prediction (all t, all batches) stays on the device until one read at the end.
  const preds: tf.Tensor[] = [];
  ts.forEach((t, j) => {
    for (let s = 0; s < n; s += batchSize) {
      const size = Math.min(batchSize, n - s);
      const pred = tf.tidy(() => {
        const xb = tf.slice(x0, [s, 0, 0, 0], [size, -1, -1, -1]);
        const noise = stepRng(seed, j * 1000003 + s, STREAM.noise).normalTensor(xb.shape);
        const tt = new Array<number>(size).fill(t);
        return tf.argMax(model.logits(schedule.qSample(xb, tt, noise) as tf.Tensor4D, tt), 1);
      });
      preds.push(pred);
    }
  });
  if (!preds.length) return ts.map(() => NaN);
  let p: ArrayLike<number>;
  try {
    const all = tf.concat(preds);
    p = await all.data();
    all.dispose();
  } finally {
    tf.dispose(preds);
  }
  return ts.map((_, j) => {
    let ok = 0;
    for (let i = 0; i < n; i++) if (p[j * n + i] === labels[i]) ok++;
    return ok / n;
  });
}
