// Timestep embedding: sinusoidal features of t (as in Transformers' positions) followed by a
// two-layer MLP, so the network can learn which noise levels matter.
import * as tf from '@tensorflow/tfjs-core';
import { ParamStore } from '../params';
import { Linear, silu } from './layers';

/** [B] timesteps -> [B, dim] = [sin(t f_i), cos(t f_i)], f_i = 10000^(-i/(dim/2)). */
export function sinusoidalEmbedding(t: tf.Tensor1D, dim: number): tf.Tensor2D {
  if (dim % 2 !== 0 || dim <= 0) throw new Error(`sinusoidalEmbedding: dim must be a positive even number, got ${dim}`);
  return tf.tidy(() => {
    const half = dim / 2;
    const freqs = new Float32Array(half);
    for (let i = 0; i < half; i++) freqs[i] = Math.exp((-Math.log(10000) * i) / half);
    const args = tf.mul(tf.reshape(tf.cast(t, 'float32'), [-1, 1]), tf.tensor2d(freqs, [1, half]));
    return tf.concat([tf.sin(args), tf.cos(args)], 1) as tf.Tensor2D;
  });
}

export class TimeEmbedding {
  readonly lin1: Linear;
  readonly lin2: Linear;

  constructor(
    store: ParamStore,
    name: string,
    readonly sinDim: number,
    readonly outDim: number,
  ) {
    [this.lin1, this.lin2] = store.scope(name, () => [
      new Linear(store, 'lin1', sinDim, outDim),
      new Linear(store, 'lin2', outDim, outDim),
    ]);
  }

  apply(t: tf.Tensor1D): tf.Tensor2D {
    return tf.tidy(() => this.lin2.apply(silu(this.lin1.apply(sinusoidalEmbedding(t, this.sinDim)))) as tf.Tensor2D);
  }
}
