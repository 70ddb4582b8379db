// The two parameterised primitives every block is built from: a 2-D convolution and a dense layer.
// Weights use tfjs layouts (conv [kh, kw, in, out], dense [in, out]); the PyTorch mirror transposes.
import * as tf from '@tensorflow/tfjs-core';
import { ParamStore } from '../params';

export class Conv2d {
  readonly weight: tf.Variable;
  readonly bias: tf.Variable;

  constructor(
    store: ParamStore,
    name: string,
    readonly inChannels: number,
    readonly outChannels: number,
    readonly kernel = 3,
    readonly stride = 1,
  ) {
    const fanIn = inChannels * kernel * kernel;
    [this.weight, this.bias] = store.scope(name, () => [
      store.fanInUniform('weight', [kernel, kernel, inChannels, outChannels], fanIn),
      store.fanInUniform('bias', [outChannels], fanIn),
    ]);
  }

  apply(x: tf.Tensor4D): tf.Tensor4D {
    if (x.shape[3] !== this.inChannels) {
      throw new Error(`Conv2d: expected ${this.inChannels} input channels, got ${x.shape[3]} (shape [${x.shape}])`);
    }
    // Symmetric padding (k-1)/2 as PyTorch's padding=1: TF's 'same' pads stride-2 convs asymmetrically.
    return tf.fused.conv2d({
      x,
      filter: this.weight as tf.Tensor4D,
      strides: this.stride,
      pad: (this.kernel - 1) / 2,
      bias: this.bias,
    });
  }
}

export class Linear {
  readonly weight: tf.Variable;
  readonly bias: tf.Variable;

  /**
   * init 'zero' starts weight and bias at 0 (guided-diffusion's zero_module): a layer added to a trained
   * network's residual path then leaves it unchanged until training moves it (lesson 17's temporal layers).
   */
  constructor(
    store: ParamStore,
    name: string,
    readonly inFeatures: number,
    readonly outFeatures: number,
    init: 'fanIn' | 'zero' = 'fanIn',
  ) {
    [this.weight, this.bias] = store.scope(name, () =>
      init === 'zero'
        ? [store.constant('weight', [inFeatures, outFeatures], 0), store.constant('bias', [outFeatures], 0)]
        : [
            store.fanInUniform('weight', [inFeatures, outFeatures], inFeatures),
            store.fanInUniform('bias', [outFeatures], inFeatures),
          ],
    );
  }

  /** Applies to the last axis of a tensor of any rank >= 2. */
  apply(x: tf.Tensor): tf.Tensor {
    const d = x.shape[x.rank - 1];
    if (d !== this.inFeatures)
      throw new Error(`Linear: expected last axis ${this.inFeatures}, got ${d} (shape [${x.shape}])`);
    const lead = x.shape.slice(0, -1);
    const y = tf.fused.matMul({
      a: tf.reshape(x, [-1, d]) as tf.Tensor2D,
      b: this.weight as tf.Tensor2D,
      bias: this.bias,
    });
    return tf.reshape(y, [...lead, this.outFeatures]);
  }
}

/** SiLU (swish): x * sigmoid(x). */
export function silu<T extends tf.Tensor>(x: T): T {
  return tf.mul(x, tf.sigmoid(x));
}
