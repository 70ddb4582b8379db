// Attention alone does not know the order of what it attends to: permute the frames and every output is
// permuted the same way. A video model must know which frame comes first, so Ho et al. (2022, "Video
// Diffusion Models") give their temporal attention relative position embeddings. Here, as in T5, a learned
// number per head and per frame distance j - i is added to the score of frame i looking at frame j. It
// starts at 0 (no preference) and, being relative, serves any clip length up to maxFrames.
import * as tf from '@tensorflow/tfjs-core';
import { ParamStore } from '../../core/params';

export class RelativePositionBias {
  /** [heads, 2 * maxFrames - 1]: column d + maxFrames - 1 holds the bias for distance d = j - i. */
  readonly table: tf.Variable;

  constructor(
    store: ParamStore,
    name: string,
    readonly heads: number,
    readonly maxFrames: number,
  ) {
    if (!Number.isInteger(maxFrames) || maxFrames < 1)
      throw new Error(`RelativePositionBias '${name}': maxFrames must be a positive integer, got ${maxFrames}`);
    this.table = store.scope(name, () => store.constant('table', [heads, 2 * maxFrames - 1], 0));
  }

  /** [1, heads, F, F]: entry (h, i, j) = table[h, j - i + maxFrames - 1]. */
  apply(frames: number): tf.Tensor4D {
    const M = this.maxFrames;
    if (!Number.isInteger(frames) || frames < 1 || frames > M)
      throw new Error(`RelativePositionBias: frames must be an integer from 1 to ${M} (maxFrames), got ${frames}`);
    const R = 2 * M - 1;
    const FF = frames * frames;
    // A one-hot matrix product instead of a gather: its gradient needs no scatter kernel (wasm has none).
    const pick = new Float32Array(R * FF);
    for (let i = 0; i < frames; i++) for (let j = 0; j < frames; j++) pick[(j - i + M - 1) * FF + i * frames + j] = 1;
    return tf.tidy(
      () =>
        tf.reshape(tf.matMul(this.table, tf.tensor2d(pick, [R, FF])), [1, this.heads, frames, frames]) as tf.Tensor4D,
    );
  }
}
