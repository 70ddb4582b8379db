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
import { ProgressOptions } from '../../core/progress';
import { Rng } from '../../core/random';
import { NoiseSchedule } from '../../core/schedule';
import { BatchSource, TrainBatch } from '../../core/train/batch_source';
import { CheckpointOptions, trainParams } from '../../core/train/loss_trainer';
import { diffusionStepLoss } from '../../core/train/trainer';
import { UNet } from '../../core/unet/unet';
import { CLASS_EMBEDDING } from './conditional_init';

export interface FitEmbeddingOptions extends CheckpointOptions {
  schedule: NoiseSchedule;
  steps: number;
  learningRate: number;
  /** Fixes t and noise per step (with the BatchSource's own seed, the whole run). Default 0. */
  seed?: number;
  onStep?: (step: number, loss: number) => void;
  /** A progress bar (default none: onStep is there for one's own). */
  progress?: false | ProgressOptions;
}

/**
 * Trains model's class-embedding rows in place (the rest frozen: only that one parameter is given to
 * the trainer); returns every step's loss. Constant learning rate, no clipping, Adam. With
 * checkpointDir, continues from the newest state there (which holds the embedding only: rebuild the
 * rest of the model the same way first).
 */
export async function fitClassEmbedding(model: UNet, data: BatchSource, o: FitEmbeddingOptions): Promise<number[]> {
  const emb = model.params.get(CLASS_EMBEDDING);
  if (!emb) throw new Error('fitClassEmbedding: the UNet has no class embedding (config.numClasses is not set)');
  if (!Number.isInteger(o.steps) || o.steps < 1)
    throw new Error(`fitClassEmbedding: steps must be a positive integer, got ${o.steps}`);
  if (!(o.learningRate > 0)) throw new Error(`fitClassEmbedding: learningRate must be > 0, got ${o.learningRate}`);
  // The diffusion trainer's loss (step k's rng: timesteps, then noise), on the labels only.
  const diffusion = diffusionStepLoss(model, o.schedule);
  const loss = (batch: TrainBatch, rng: Rng, step: number) => {
    const labels = batch.cond?.classLabels;
    if (labels === undefined)
      throw new Error('fitClassEmbedding: batches need class labels (imageBatches with withLabels: true)');
    return diffusion({ x: batch.x, cond: { classLabels: labels } }, rng, step);
  };
  const { history } = await trainParams(
    new Map([[CLASS_EMBEDDING, emb]]),
    loss,
    {
      learningRate: o.learningRate,
      totalSteps: o.steps,
      seed: o.seed ?? 0,
      config: { kind: 'class-embedding', unet: model.config },
      mustMatch: { scheduleKind: o.schedule.kind, scheduleT: o.schedule.T },
      progress: o.progress ?? false,
    },
    data,
    o,
  );
  return [...history.loss];
}

/** Euclidean norm of each class-embedding row (the last is the null class). */
export async function classEmbeddingNorms(model: UNet): Promise<number[]> {
  const emb = model.params.get(CLASS_EMBEDDING);
  if (!emb) throw new Error('classEmbeddingNorms: the UNet has no class embedding');
  const n = tf.tidy(() => tf.sqrt(tf.sum(tf.square(emb), 1)));
  const out = Array.from(await n.data());
  n.dispose();
  return out;
}
