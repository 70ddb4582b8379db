// Training for the FID/KID feature classifier: Adam on softmax cross-entropy over seeded
// mini-batches of Fashion-MNIST in [-1, 1], through the course's one training loop (so it resumes
// from a checkpoint folder and reads each step's loss once, asynchronously).
import * as tf from '@tensorflow/tfjs-core';
import '../../core/tfjs_setup';
import { ProgressOptions } from '../../core/progress';
import { ImageData, imageBatches, TrainBatch } from '../../core/train/batch_source';
import { CheckpointOptions, LossTrainer, runTrainer } from '../../core/train/loss_trainer';
import { FashionClassifier } from './classifier';

export interface ClassifierTrainOptions extends CheckpointOptions {
  epochs: number;
  batchSize?: number;
  learningRate?: number;
  /** Fixes the batch order (epoch e's from (seed, e)). */
  seed: number;
  /** A progress bar (default none). */
  progress?: false | ProgressOptions;
  /** Called after every step with the step's loss. */
  onStep?: (step: number, loss: number) => void;
  /** Called after every epoch (e.g. to evaluate). */
  onEpoch?: (epoch: number) => unknown;
}

/** Mean softmax cross-entropy of logits [B, K] against integer labels. */
export function crossEntropy(logits: tf.Tensor2D, labels: Int32Array | number[]): tf.Scalar {
  return tf.tidy(() => {
    const k = logits.shape[1];
    const onehot = tf.oneHot(tf.tensor1d(Array.from(labels), 'int32'), k);
    const logp = tf.logSoftmax(logits);
    return tf.neg(tf.mean(tf.sum(tf.mul(onehot, logp), 1))) as tf.Scalar;
  });
}

/**
 * Trains `model` in place; returns the number of optimiser steps taken (epochs x full batches).
 * Adam at a constant rate (epsilon 1e-7, tfjs's default on float32 backends), no clipping. With
 * checkpointDir, continues from the newest state there.
 */
export async function trainClassifier(
  model: FashionClassifier,
  data: ImageData,
  opts: ClassifierTrainOptions,
): Promise<number> {
  const { epochs, batchSize = 128, learningRate = 1e-3 } = opts;
  if (!Number.isInteger(epochs) || epochs < 1)
    throw new Error(`trainClassifier: epochs must be a positive integer, got ${epochs}`);
  if (data.height !== 28 || data.width !== 28 || data.channels !== 1) {
    throw new Error(`trainClassifier: needs 28x28x1 images, got ${data.height}x${data.width}x${data.channels}`);
  }
  const perEpoch = Math.floor(data.count / batchSize);
  if (perEpoch < 1) throw new Error(`trainClassifier: ${data.count} images are fewer than one batch of ${batchSize}`);
  const loss = (b: TrainBatch) => crossEntropy(model.logits(b.x), b.cond!.classLabels as number[]);
  const trainer = new LossTrainer(model.params, loss, {
    learningRate,
    totalSteps: epochs * perEpoch,
    epsilon: 1e-7,
    seed: opts.seed,
    config: { kind: 'fashion-classifier' },
    describe: { batchSize, images: data.count },
    checkpointDir: opts.checkpointDir,
    checkpointEvery: opts.checkpointEvery ?? perEpoch,
    keepLast: opts.keepLast,
    progress: opts.progress ?? false,
  });
  const { history } = await runTrainer(trainer, imageBatches(data, batchSize, opts.seed, { withLabels: true }), {
    onStep: async (r) => {
      opts.onStep?.(r.step, r.loss);
      if ((r.step + 1) % perEpoch === 0) await opts.onEpoch?.((r.step + 1) / perEpoch - 1);
    },
  });
  return history.loss.length;
}
