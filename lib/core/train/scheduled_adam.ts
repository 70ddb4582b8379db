// tfjs's Adam with a settable learning rate (the base class keeps it protected), so a warm-up/cosine
// schedule can change it every step without rebuilding the optimizer and losing its moments.
// It also makes resuming exact: tfjs keeps beta^t for the bias correction as a running float32
// product, but restores it after setWeights as pow(beta, t + 1), which can differ in the last bit,
// so a resumed run would drift from the uninterrupted one. Here it is set from the iteration count
// before every update, the same way in both runs.
import * as tf from '@tensorflow/tfjs-core';
import '../tfjs_setup';

interface AdamInternals {
  accBeta1: tf.Variable;
  accBeta2: tf.Variable;
}

export class ScheduledAdam extends tf.AdamOptimizer {
  setLearningRate(lr: number): void {
    this.learningRate = lr;
  }

  get currentLearningRate(): number {
    return this.learningRate;
  }

  override applyGradients(variableGradients: Parameters<tf.AdamOptimizer['applyGradients']>[0]): void {
    const self = this as unknown as AdamInternals;
    const t = this.iterations + 1;
    tf.tidy(() => {
      self.accBeta1.assign(tf.scalar(Math.pow(this.beta1, t)));
      self.accBeta2.assign(tf.scalar(Math.pow(this.beta2, t)));
    });
    super.applyGradients(variableGradients);
  }
}
