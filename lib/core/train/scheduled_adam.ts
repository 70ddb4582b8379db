// tfjs's Adam with a settable learning rate (the base class keeps it protected), so a warm-up/cosine
// schedule can change it every step without rebuilding the optimizer and losing its moments.
import * as tf from '@tensorflow/tfjs-core';
import '../tfjs_setup';

export class ScheduledAdam extends tf.AdamOptimizer {
  setLearningRate(lr: number): void {
    this.learningRate = lr;
  }
}
