// Training the noisy classifier: each step corrupts a labelled batch to x_t = q_sample(x0, t) at a
// random t per image (uniform over the schedule's T, as the diffusion model is trained) and takes
// an Adam step on the cross-entropy of p(y | x_t, t). Batches, t and noise come from (seed, step)
// like the diffusion trainer's, so a run is reproducible from its seed.
import * as tf from '@tensorflow/tfjs-core';
import '../../core/tfjs_setup';
import { crossEntropy } from '../../eval/metrics/train_classifier';
import { NoiseSchedule } from '../../core/schedule';
import { BatchSource } from '../../core/train/batch_source';
import { learningRateAt, LrScheduleOptions, validateLrSchedule } from '../../core/train/lr_schedule';
import { STREAM, stepRng } from '../../core/train/step_seed';
import { NoisyClassifier } from './noisy_classifier';
import { ScheduledAdam } from '../../core/train/scheduled_adam';

export interface NoisyClassifierTrainOptions extends LrScheduleOptions {
  schedule: NoiseSchedule;
  totalSteps: number;
  seed?: number;
  /** Called after each step (e.g. for a progress bar). */
  onStep?: (step: number, loss: number, lr: number) => void;
}

/**
 * Trains `model` in place on batches from `data` (which must carry cond.classLabels: imageBatches
 * with withLabels). Returns the per-step losses.
 */
export function trainNoisyClassifier(model: NoisyClassifier, data: BatchSource, o: NoisyClassifierTrainOptions): number[] {
  if (!Number.isInteger(o.totalSteps) || o.totalSteps < 1) throw new Error(`trainNoisyClassifier: totalSteps must be a positive integer, got ${o.totalSteps}`);
  validateLrSchedule(o);
  const seed = o.seed ?? 0;
  const adam = new ScheduledAdam(learningRateAt(0, o), 0.9, 0.999, 1e-8);
  const vars = [...model.params.values()];
  const losses: number[] = [];
  try {
    for (let k = 0; k < o.totalSteps; k++) {
      const lr = learningRateAt(k, o);
      adam.setLearningRate(lr);
      const batch = data(k);
      try {
        const labels = batch.cond?.classLabels;
        if (labels === undefined || labels instanceof tf.Tensor) throw new Error('trainNoisyClassifier: batches need class labels as an array (imageBatches with withLabels: true)');
        const b = batch.x.shape[0];
        const rng = stepRng(seed, k, STREAM.noise);
        const t = Array.from({ length: b }, () => rng.int(o.schedule.T));
        const noise = rng.normalTensor(batch.x.shape);
        const loss = adam.minimize(
          () => tf.tidy(() => crossEntropy(model.logits(o.schedule.qSample(batch.x, t, noise) as tf.Tensor4D, t), Array.from(labels))),
          true,
          vars,
        );
        noise.dispose();
        if (!loss) throw new Error('trainNoisyClassifier: optimizer returned no loss');
        const v = loss.dataSync()[0];
        loss.dispose();
        if (!Number.isFinite(v)) throw new Error(`trainNoisyClassifier: loss is ${v} at step ${k}; try a lower learning rate (now ${lr})`);
        losses.push(v);
        o.onStep?.(k, v, lr);
      } finally {
        batch.x.dispose();
      }
    }
  } finally {
    adam.dispose();
  }
  return losses;
}

/** Accuracy of the noisy classifier on labelled images noised to each of `ts` (seeded noise). */
export function noisyAccuracy(model: NoisyClassifier, schedule: NoiseSchedule, x0: tf.Tensor4D, labels: ArrayLike<number>, ts: number[], seed = 0, batchSize = 500): number[] {
  const n = x0.shape[0];
  if (labels.length !== n) throw new Error(`noisyAccuracy: ${labels.length} labels for ${n} images`);
  return ts.map((t, j) => {
    let ok = 0;
    for (let s = 0; s < n; s += batchSize) {
      const size = Math.min(batchSize, n - s);
      const pred = tf.tidy(() => {
        const xb = tf.slice(x0, [s, 0, 0, 0], [size, -1, -1, -1]);
        const noise = stepRng(seed, j * 1000003 + s, STREAM.noise).normalTensor(xb.shape);
        const tt = new Array<number>(size).fill(t);
        return tf.argMax(model.logits(schedule.qSample(xb, tt, noise) as tf.Tensor4D, tt), 1);
      });
      const p = pred.dataSync();
      pred.dispose();
      for (let i = 0; i < size; i++) if (p[i] === labels[s + i]) ok++;
    }
    return ok / n;
  });
}
