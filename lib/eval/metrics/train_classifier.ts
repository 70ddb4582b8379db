// Training loop for the FID/KID feature classifier: Adam on softmax cross-entropy over seeded
// mini-batches of Fashion-MNIST in [-1, 1]. Every step's tensors are released (tf.tidy inside
// optimizer.minimize), so memory stays flat over an epoch.
import * as tf from '@tensorflow/tfjs-core';
import '../../core/tfjs_setup';
import { batches, ImageSet } from '../../../datasets/imageset';
import { Rng } from '../../core/random';
import { FashionClassifier } from './classifier';

export interface ClassifierTrainOptions {
  epochs: number;
  batchSize?: number;
  learningRate?: number;
  rng: Rng;
  /** Called after every step with the step's loss. */
  onStep?: (step: number, loss: number) => void;
  /** Called after every epoch (e.g. to evaluate). */
  onEpoch?: (epoch: number) => void;
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

/** Trains `model` in place; returns the number of optimiser steps taken. */
export function trainClassifier(model: FashionClassifier, data: ImageSet, opts: ClassifierTrainOptions): number {
  const { epochs, batchSize = 128, learningRate = 1e-3, rng } = opts;
  if (!Number.isInteger(epochs) || epochs < 1) throw new Error(`trainClassifier: epochs must be a positive integer, got ${epochs}`);
  if (data.height !== 28 || data.width !== 28 || data.channels !== 1) {
    throw new Error(`trainClassifier: needs 28x28x1 images, got ${data.height}x${data.width}x${data.channels}`);
  }
  const optimizer = tf.train.adam(learningRate);
  const vars = [...model.params.values()];
  let step = 0;
  try {
    for (let e = 0; e < epochs; e++) {
      for (const b of batches(data, batchSize, rng, { dropLast: true })) {
        const loss = optimizer.minimize(() => crossEntropy(model.logits(b.x), b.labels), true, vars);
        b.x.dispose();
        if (!loss) throw new Error('trainClassifier: optimizer returned no loss');
        const v = loss.dataSync()[0];
        loss.dispose();
        opts.onStep?.(step++, v);
      }
      opts.onEpoch?.(e);
    }
  } finally {
    optimizer.dispose();
  }
  return step;
}
