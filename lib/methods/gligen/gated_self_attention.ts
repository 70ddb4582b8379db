// GLIGEN's new layers (Li et al. 2023, "GLIGEN: Open-Set Grounded Text-to-Image Generation"):
// a frozen text-to-image model learns to obey boxes through layers inserted after its attention
// blocks. Each one is self-attention over the visual tokens AND the grounding tokens together, of
// which only the visual outputs are kept ("token selection"), added through a gate:
//     v <- v + tanh(gamma) * TS(SelfAttn([v, h]))
// gamma starts at 0, so at initialisation the grounded model IS the frozen model, and training moves
// away from it only as far as the grounding helps. The grounding tokens h come from a small MLP over
// [Fourier features of the box, the phrase's embedding], shared by all layers.
import * as tf from '@tensorflow/tfjs-core';
import { ParamStore } from '../../core/params';
import { multiHeadAttention } from '../../core/unet/attention';
import { GroupNorm } from '../../core/unet/group_norm';
import { Linear, silu } from '../../core/unet/layers';

/** Width of GLIGEN's raw grounding input per object, and of the tokens its MLP makes of it. */
export interface GroundingConfig {
  inputDim: number;
  tokenDim: number;
}

/** [B, G, inputDim] -> [B, G, tokenDim]: Linear-SiLU-Linear, GLIGEN's grounding tokenizer. */
export class GroundingTokenizer {
  readonly fc1: Linear;
  readonly fc2: Linear;

  constructor(
    store: ParamStore,
    name: string,
    readonly config: GroundingConfig,
  ) {
    [this.fc1, this.fc2] = store.scope(name, () => [
      new Linear(store, 'fc1', config.inputDim, 2 * config.tokenDim),
      new Linear(store, 'fc2', 2 * config.tokenDim, config.tokenDim),
    ]);
  }

  apply(inputs: tf.Tensor3D): tf.Tensor3D {
    const c = this.config;
    if (inputs.rank !== 3 || inputs.shape[2] !== c.inputDim)
      throw new Error(`GroundingTokenizer: inputs must be [B, G, ${c.inputDim}], got [${inputs.shape}]`);
    return tf.tidy(() => this.fc2.apply(silu(this.fc1.apply(inputs))) as tf.Tensor3D);
  }
}

export class GatedSelfAttention {
  readonly norm: GroupNorm;
  /** Grounding tokens -> this layer's width. */
  readonly tokenProj: Linear;
  readonly qkv: Linear;
  readonly proj: Linear;
  /** The gate's parameter; tanh(gamma) scales the layer's contribution. Starts at 0. */
  readonly gamma: tf.Variable;

  constructor(
    store: ParamStore,
    name: string,
    readonly channels: number,
    tokenDim: number,
    readonly heads: number,
    groups: number,
  ) {
    if (channels % heads !== 0)
      throw new Error(`GatedSelfAttention '${name}': ${channels} channels not divisible by ${heads} heads`);
    [this.norm, this.tokenProj, this.qkv, this.proj, this.gamma] = store.scope(name, () => [
      new GroupNorm(store, 'norm', groups, channels),
      new Linear(store, 'tokenProj', tokenDim, channels),
      new Linear(store, 'qkv', channels, 3 * channels),
      new Linear(store, 'proj', channels, channels),
      store.constant('gamma', [1], 0),
    ]);
  }

  /** x [B,H,W,C]; tokens [B,G,tokenDim]; mask [B,G] (1 real object, 0 padding). */
  apply(x: tf.Tensor4D, tokens: tf.Tensor3D, mask: tf.Tensor2D): tf.Tensor4D {
    const [b, h, w, c] = x.shape;
    if (tokens.rank !== 3 || tokens.shape[0] !== b)
      throw new Error(`GatedSelfAttention: tokens must be [${b}, G, D], got [${tokens.shape}]`);
    return tf.tidy(() => {
      const visual = tf.reshape(this.norm.apply(x), [b, h * w, c]) as tf.Tensor3D;
      const all = tf.concat([visual, this.tokenProj.apply(tokens) as tf.Tensor3D], 1);
      const [q, k, v] = tf.split(this.qkv.apply(all), 3, 2) as tf.Tensor3D[];
      // Visual tokens always attend to each other; padded grounding slots are masked out.
      const fullMask = tf.concat([tf.ones([b, h * w]), tf.cast(mask, 'float32')], 1) as tf.Tensor2D;
      const out = multiHeadAttention(q, k, v, this.heads, fullMask);
      // Token selection: keep the visual positions only.
      const sel = tf.slice(out, [0, 0, 0], [b, h * w, c]);
      const delta = tf.reshape(this.proj.apply(sel), [b, h, w, c]);
      return tf.add(x, tf.mul(tf.tanh(this.gamma), delta)) as tf.Tensor4D;
    });
  }
}
