// One pre-norm transformer block: x + attention(LN(x)), then x + MLP(LN(x)). Attention is
// bidirectional (every token sees every real token), which masked-language-model pretraining needs;
// padding is masked out of the keys.
import * as tf from '@tensorflow/tfjs-core';
import { ParamStore } from '../../core/params';
import { multiHeadAttention } from '../../core/unet/attention';
import { Linear } from '../../core/unet/layers';
import { LayerNorm } from './layer_norm';

export class TransformerBlock {
  readonly ln1: LayerNorm;
  readonly qkv: Linear;
  readonly proj: Linear;
  readonly ln2: LayerNorm;
  readonly fc1: Linear;
  readonly fc2: Linear;

  constructor(
    store: ParamStore,
    name: string,
    readonly width: number,
    readonly heads: number,
  ) {
    if (width % heads !== 0)
      throw new Error(`TransformerBlock '${name}': width ${width} is not divisible by ${heads} heads`);
    [this.ln1, this.qkv, this.proj, this.ln2, this.fc1, this.fc2] = store.scope(name, () => [
      new LayerNorm(store, 'ln1', width),
      new Linear(store, 'qkv', width, 3 * width),
      new Linear(store, 'proj', width, width),
      new LayerNorm(store, 'ln2', width),
      new Linear(store, 'fc1', width, 4 * width),
      new Linear(store, 'fc2', 4 * width, width),
    ]);
  }

  /** x [B, L, width], mask [B, L] (1 real, 0 padding) -> [B, L, width]. */
  apply(x: tf.Tensor3D, mask: tf.Tensor2D): tf.Tensor3D {
    return tf.tidy(() => {
      const [q, k, v] = tf.split(this.qkv.apply(this.ln1.apply(x)), 3, 2) as tf.Tensor3D[];
      const h = tf.add(x, this.proj.apply(multiHeadAttention(q, k, v, this.heads, mask))) as tf.Tensor3D;
      const m = this.fc2.apply(tf.relu(this.fc1.apply(this.ln2.apply(h))));
      return tf.add(h, m) as tf.Tensor3D;
    });
  }
}
