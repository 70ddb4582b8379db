// Training the noisy classifier: each step corrupts a labelled batch to x_t = q_sample(x0, t) at a
// random t per image (uniform over the schedule's T, as the diffusion model is trained) and takes
// an Adam step on the cross-entropy of p(y | x_t, t). Batches, t and noise come from (seed, step)
// like the diffusion trainer's, so a run is reproducible from its seed.
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
    const t = Array.from({ length: batch.x.shape[0] }, () => rng.int(o.schedule.T));
    const noise = rng.normalTensor(batch.x.shape);
    return crossEntropy(model.logits(o.schedule.qSample(batch.x, t, noise) as tf.Tensor4D, t), Array.from(labels));
  };
  const { schedule, onStep, progress, ...rest } = o;
  const trainer = new LossTrainer(model.params, loss, {
    ...rest,
    config: { kind: 'noisy-classifier', ...model.config },
    mustMatch: { scheduleKind: schedule.kind, scheduleT: schedule.T },
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
