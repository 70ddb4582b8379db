// Layer normalisation over the last axis (the transformer's norm: per token, not per channel group).
import * as tf from '@tensorflow/tfjs-core';
import { ParamStore } from '../../core/params';

export class LayerNorm {
  readonly gamma: tf.Variable;
  readonly beta: tf.Variable;

  constructor(
    store: ParamStore,
    name: string,
    readonly dim: number,
    readonly eps = 1e-5,
  ) {
    [this.gamma, this.beta] = store.scope(name, () => [
      store.constant('gamma', [dim], 1),
      store.constant('beta', [dim], 0),
    ]);
  }

  apply<T extends tf.Tensor>(x: T): T {
    const d = x.shape[x.rank - 1];
    if (d !== this.dim) throw new Error(`LayerNorm: expected last axis ${this.dim}, got ${d} (shape [${x.shape}])`);
    return tf.tidy(() => {
      const { mean, variance } = tf.moments(x, -1, true);
      return tf.add(tf.mul(tf.div(tf.sub(x, mean), tf.sqrt(tf.add(variance, this.eps))), this.gamma), this.beta) as T;
    });
  }
}
