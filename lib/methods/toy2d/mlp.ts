// A plain multi-layer perceptron on [B, features] tensors: the building block of every 2-D toy model
// (diffusion denoiser, GAN generator and discriminator, VAE encoder and decoder). It reuses the
// UNet's Linear layer so initialisation (PyTorch's fan-in uniform) and naming match the rest of the lib.
import * as tf from '@tensorflow/tfjs-core';
import { ParamStore } from '../../core/params';
import { Linear, silu } from '../../core/unet/layers';

export type Activation = 'silu' | 'relu' | 'leaky_relu' | 'tanh';
export const ACTIVATIONS: readonly Activation[] = ['silu', 'relu', 'leaky_relu', 'tanh'];

export interface MLPConfig {
  inDim: number;
  /** Width of each hidden layer, e.g. [128, 128, 128]; [] gives a single linear map. */
  hidden: number[];
  outDim: number;
  /** Non-linearity between layers (default silu); none after the last layer. */
  activation?: Activation;
}

export function activate(x: tf.Tensor, a: Activation): tf.Tensor {
  switch (a) {
    case 'silu':
      return silu(x);
    case 'relu':
      return tf.relu(x);
    case 'leaky_relu':
      return tf.leakyRelu(x, 0.2);
    case 'tanh':
      return tf.tanh(x);
    default:
      throw new Error(`Unknown activation '${a as string}': use ${ACTIVATIONS.join(', ')}`);
  }
}

export class MLP {
  readonly layers: Linear[];
  readonly activation: Activation;

  constructor(
    store: ParamStore,
    name: string,
    readonly config: MLPConfig,
  ) {
    const { inDim, hidden, outDim } = config;
    for (const [k, v] of Object.entries({ inDim, outDim })) {
      if (!Number.isInteger(v) || v <= 0) throw new Error(`MLP: ${k} must be a positive integer, got ${v}`);
    }
    if (!Array.isArray(hidden) || hidden.some((h) => !Number.isInteger(h) || h <= 0)) {
      throw new Error(`MLP: hidden must be an array of positive integers, got ${JSON.stringify(hidden)}`);
    }
    this.activation = config.activation ?? 'silu';
    if (!ACTIVATIONS.includes(this.activation))
      throw new Error(`MLP: unknown activation '${this.activation}': use ${ACTIVATIONS.join(', ')}`);
    const dims = [inDim, ...hidden, outDim];
    this.layers = store.scope(name, () => dims.slice(1).map((d, i) => new Linear(store, String(i), dims[i], d)));
  }

  /** [B, inDim] -> [B, outDim]. */
  apply(x: tf.Tensor2D): tf.Tensor2D {
    if (x.rank !== 2 || x.shape[1] !== this.config.inDim) {
      throw new Error(`MLP: expected input [batch, ${this.config.inDim}], got [${x.shape}]`);
    }
    return tf.tidy(() => {
      let h: tf.Tensor = x;
      this.layers.forEach((layer, i) => {
        h = layer.apply(h);
        if (i < this.layers.length - 1) h = activate(h, this.activation);
      });
      return h as tf.Tensor2D;
    });
  }

  /** The trainable variables, for an optimizer's var list. */
  variables(): tf.Variable[] {
    return this.layers.flatMap((l) => [l.weight, l.bias]);
  }
}

/** Points as [x0, y0, x1, y1, ...] -> a [n, 2] tensor (the caller disposes it). */
export function pointsTensor(points: Float32Array): tf.Tensor2D {
  if (points.length % 2 !== 0)
    throw new Error(`pointsTensor: need an even number of coordinates, got ${points.length}`);
  return tf.tensor2d(points, [points.length / 2, 2], 'float32');
}

/** A [n, 2] (or [n, 1, 1, 2]) tensor -> [x0, y0, x1, y1, ...]. */
export async function tensorPoints(t: tf.Tensor): Promise<Float32Array> {
  if (t.size % 2 !== 0 || t.shape[t.rank - 1] !== 2)
    throw new Error(`tensorPoints: last axis must be 2, got shape [${t.shape}]`);
  return Float32Array.from(await t.data());
}
