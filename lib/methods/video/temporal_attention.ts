// Temporal attention (Ho et al. 2022, "Video Diffusion Models"): after a 2-D block has mixed the pixels of
// each frame, every pixel position attends to the same position in the other frames of its clip:
//     x <- x + proj(Attn(qkv(GN(x)) over the F frames, + relative position bias))
// on [B*F, H, W, C] reshaped to [B*H*W, F, C] (frames.ts). The output projection starts at zero, so a
// trained 2-D UNet given these layers computes exactly what it did before, and video training starts from
// a working image model (what Ho et al.'s joint image-video training and later video models build on).
// Optionally (frameEmbedding) a learned vector per frame index is added to the normalised sequence before
// qkv: the relative bias alone tells a frame how far the others are, not where it sits in the clip. (A
// 1,500-step run with the bias alone learnt clips whose frames agree but do not move; with the embedding
// the shipped model still moves its object on few clips: docs/results.md.)
import * as tf from '@tensorflow/tfjs-core';
import { ParamStore } from '../../core/params';
import { multiHeadAttention } from '../../core/unet/attention';
import { GroupNorm } from '../../core/unet/group_norm';
import { Linear } from '../../core/unet/layers';
import { framesToSequences, sequencesToFrames } from './frames';
import { RelativePositionBias } from './relative_position';

export interface TemporalAttentionOptions {
  heads: number;
  groups: number;
  /** Longest clip the position bias covers. */
  maxFrames: number;
  /** Add a learned embedding of the frame index (0..maxFrames-1) to the sequence (default false). */
  frameEmbedding?: boolean;
}

export class TemporalAttention {
  readonly norm: GroupNorm;
  readonly qkv: Linear;
  readonly position: RelativePositionBias;
  /** Zero-initialised: the layer starts as the identity. */
  readonly proj: Linear;
  /** [maxFrames, C], zero at first; null without frameEmbedding. */
  readonly frameTable: tf.Variable | null;
  readonly heads: number;

  constructor(
    store: ParamStore,
    name: string,
    readonly channels: number,
    opts: TemporalAttentionOptions,
  ) {
    if (channels % opts.heads !== 0)
      throw new Error(`TemporalAttention '${name}': ${channels} channels not divisible by ${opts.heads} heads`);
    this.heads = opts.heads;
    [this.norm, this.qkv, this.position, this.proj, this.frameTable] = store.scope(name, () => [
      new GroupNorm(store, 'norm', opts.groups, channels),
      new Linear(store, 'qkv', channels, 3 * channels),
      new RelativePositionBias(store, 'position', opts.heads, opts.maxFrames),
      new Linear(store, 'proj', channels, channels, 'zero'),
      opts.frameEmbedding ? store.constant('frame_embedding', [opts.maxFrames, channels], 0) : null,
    ]);
  }

  /** x [B*F, H, W, C] (the F frames of each clip together) -> the same shape. */
  apply(x: tf.Tensor4D, frames: number): tf.Tensor4D {
    if (x.rank !== 4 || x.shape[3] !== this.channels)
      throw new Error(`TemporalAttention: x must be [B*F, H, W, ${this.channels}], got [${x.shape}]`);
    const M = this.position.maxFrames;
    if (!Number.isInteger(frames) || frames < 1 || frames > M)
      throw new Error(`TemporalAttention: frames must be an integer from 1 to ${M} (maxFrames), got ${frames}`);
    const [, h, w] = x.shape;
    return tf.tidy(() => {
      let seq = framesToSequences(this.norm.apply(x), frames);
      if (this.frameTable) seq = tf.add(seq, tf.slice(this.frameTable, [0, 0], [frames, this.channels]).expandDims(0));
      const [q, k, v] = tf.split(this.qkv.apply(seq), 3, 2) as tf.Tensor3D[];
      const out = multiHeadAttention(q, k, v, this.heads, undefined, this.position.apply(frames));
      return tf.add(x, sequencesToFrames(this.proj.apply(out) as tf.Tensor3D, h, w)) as tf.Tensor4D;
    });
  }
}
