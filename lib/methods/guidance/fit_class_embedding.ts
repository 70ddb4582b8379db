// Phase 1 of turning an unconditional UNet into a class-conditional one (after
// conditionalFromUnconditional): fit ONLY the class-embedding rows of the real classes, with every
// other weight frozen and a large learning rate, on the ordinary eps loss with labels.
// Why: the class vector is added to the time embedding, whose norm is 3-9 for this model, while Adam
// moves a weight by at most about the learning rate per step. Measured on the lesson-07 fine-tune:
// after 300 joint steps at lr 3e-4 the class rows had norm 0.05 and CFG at w = 3 gave 9% class
// accuracy (chance). With the network frozen a learning rate of 1e-2 is safe, and the null row is
// never used here (no condition dropout), so it stays zero: the unconditional model is untouched.
// This is the idea of textual inversion (Gal et al. 2022): learn a condition's embedding against a
// frozen denoiser. Phase 2 then fine-tunes everything with condition dropout (the Trainer).
import * as tf from '@tensorflow/tfjs-core';
import '../../core/tfjs_setup';
import { diffusionLoss } from '../../core/loss';
import { NoiseSchedule } from '../../core/schedule';
import { BatchSource } from '../../core/train/batch_source';
import { STREAM, stepRng } from '../../core/train/step_seed';
import { UNet } from '../../core/unet/unet';
import { CLASS_EMBEDDING } from './conditional_init';

export interface FitEmbeddingOptions {
  schedule: NoiseSchedule;
  steps: number;
  learningRate: number;
  /** Fixes t and noise per step (with the BatchSource's own seed, the whole run). Default 0. */
  seed?: number;
  onStep?: (step: number, loss: number) => void;
}

/** Trains model's class-embedding rows in place (the rest frozen); returns the per-step losses. */
export function fitClassEmbedding(model: UNet, data: BatchSource, o: FitEmbeddingOptions): number[] {
  const emb = model.params.get(CLASS_EMBEDDING);
  if (!emb) throw new Error('fitClassEmbedding: the UNet has no class embedding (config.numClasses is not set)');
  if (!Number.isInteger(o.steps) || o.steps < 1) throw new Error(`fitClassEmbedding: steps must be a positive integer, got ${o.steps}`);
  if (!(o.learningRate > 0)) throw new Error(`fitClassEmbedding: learningRate must be > 0, got ${o.learningRate}`);
  const seed = o.seed ?? 0;
  const adam = tf.train.adam(o.learningRate, 0.9, 0.999, 1e-8);
  const losses: number[] = [];
  try {
    for (let k = 0; k < o.steps; k++) {
      const batch = data(k);
      try {
        const labels = batch.cond?.classLabels;
        if (labels === undefined) throw new Error('fitClassEmbedding: batches need class labels (imageBatches with withLabels: true)');
        const b = batch.x.shape[0];
        const rng = stepRng(seed, k, STREAM.noise);
        const t = Array.from({ length: b }, () => rng.int(o.schedule.T));
        const noise = rng.normalTensor(batch.x.shape) as tf.Tensor4D;
        const loss = adam.minimize(() => diffusionLoss((xt, tt) => model.apply(xt, tt, { classLabels: labels }), o.schedule, batch.x, t, noise), true, [emb]);
        noise.dispose();
        if (!loss) throw new Error('fitClassEmbedding: optimizer returned no loss');
        const v = loss.dataSync()[0];
        loss.dispose();
        if (!Number.isFinite(v)) throw new Error(`fitClassEmbedding: loss is ${v} at step ${k}; try a lower learning rate (now ${o.learningRate})`);
        losses.push(v);
        o.onStep?.(k, v);
      } finally {
        batch.x.dispose();
      }
    }
  } finally {
    adam.dispose();
  }
  return losses;
}

/** Euclidean norm of each class-embedding row (the last is the null class). */
export function classEmbeddingNorms(model: UNet): number[] {
  const emb = model.params.get(CLASS_EMBEDDING);
  if (!emb) throw new Error('classEmbeddingNorms: the UNet has no class embedding');
  const n = tf.tidy(() => tf.sqrt(tf.sum(tf.square(emb), 1)));
  const out = Array.from(n.dataSync());
  n.dispose();
  return out;
}
