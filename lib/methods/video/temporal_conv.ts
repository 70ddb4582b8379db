// A 3-D convolution across frames (3 frames x 3 x 3 pixels), the local half of a space-time UNet: where
// temporal attention (temporal_attention.ts) lets a pixel see the *same* pixel in every frame, this layer
// sees the 3x3 neighbourhood in the frames just before and after, so "the object one pixel to the left in
// the previous frame" is one weight away: small motions are what it can express directly.
//     x <- x + Conv3d(SiLU(GN(x)))
// computed as one 2-D convolution over each frame stacked with its neighbours along the channels,
// [h_{f-1}, h_f, h_{f+1}] (zeros beyond the clip's ends), which is exactly a 3x3x3 convolution with
// zero padding and keeps the work in the backend's fast 2-D kernel. Weight and bias start at zero, so
// the layer starts as the identity, as the attention layers do.
import * as tf from '@tensorflow/tfjs-core';
import { ParamStore } from '../../core/params';
import { GroupNorm } from '../../core/unet/group_norm';
import { clipCount } from './frames';

export class TemporalConv {
  readonly norm: GroupNorm;
  /** [3, 3, 3C, C]: input channels are (previous frame, this frame, next frame) x C; zero at first. */
  readonly weight: tf.Variable;
  readonly bias: tf.Variable;

  constructor(
    store: ParamStore,
    name: string,
    readonly channels: number,
    groups: number,
  ) {
    [this.norm, this.weight, this.bias] = store.scope(name, () => [
      new GroupNorm(store, 'norm', groups, channels),
      store.constant('weight', [3, 3, 3 * channels, channels], 0),
      store.constant('bias', [channels], 0),
    ]);
  }

  /** x [B*F, H, W, C] (the F frames of each clip together) -> the same shape. */
  apply(x: tf.Tensor4D, frames: number): tf.Tensor4D {
    if (x.rank !== 4 || x.shape[3] !== this.channels)
      throw new Error(`TemporalConv: x must be [B*F, H, W, ${this.channels}], got [${x.shape}]`);
    const [bf, hh, ww, c] = x.shape;
    const b = clipCount(bf, frames, 'TemporalConv');
    return tf.tidy(() => {
      const h = this.norm.apply(x, true);
      // Shifted by a frame within each clip, as [B, F, H*W*C]: this backend slices rank-3 tensors fast, rank 5 not.
      const seq = tf.reshape(h, [b, frames, hh * ww * c]);
      const zero = tf.zeros([b, 1, hh * ww * c]);
      const shifted = (from: number) => tf.slice(seq, [0, from, 0], [b, frames - 1, hh * ww * c]);
      const asFrames = (t: tf.Tensor) => tf.reshape(t, [bf, hh, ww, c]);
      const prev = frames > 1 ? asFrames(tf.concat([zero, shifted(0)], 1)) : tf.zerosLike(h);
      const next = frames > 1 ? asFrames(tf.concat([shifted(1), zero], 1)) : tf.zerosLike(h);
      const stacked = tf.concat([prev, h, next], 3) as tf.Tensor4D;
      const out = tf.fused.conv2d({
        x: stacked,
        filter: this.weight as tf.Tensor4D,
        strides: 1,
        pad: 1,
        bias: this.bias,
      });
      return tf.add(x, out) as tf.Tensor4D;
    });
  }
}
