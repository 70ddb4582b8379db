// Where a clip's frames sit in the tensors of lesson 17's video model. The 2-D UNet sees the frames as a
// batch of images, [B*F, H, W, C], the F frames of a clip next to each other (clip b's frame f is image
// b*F + f). The temporal layers see, for every pixel of every clip, the sequence of its F values:
// [B*H*W, F, C]. Space-time factorised: 2-D layers mix within a frame, temporal layers across frames.
import * as tf from '@tensorflow/tfjs-core';

/** Clips in a batch of `batch` frames of `frames`-frame clips; a batch that splits no whole clip is an error. */
export function clipCount(batch: number, frames: number, who: string): number {
  if (!Number.isInteger(frames) || frames < 1)
    throw new Error(`${who}: frames must be a positive integer, got ${frames}`);
  if (batch % frames !== 0)
    throw new Error(`${who}: a batch of ${batch} frames is not a whole number of ${frames}-frame clips`);
  return batch / frames;
}

/** [B, F, H, W, C] clips -> [B*F, H, W, C] frames. */
export function clipsToFrames(x: tf.Tensor5D): tf.Tensor4D {
  if (x.rank !== 5) throw new Error(`clipsToFrames: clips must be [B, F, H, W, C], got [${x.shape}]`);
  const [b, f, h, w, c] = x.shape;
  return tf.reshape(x, [b * f, h, w, c]) as tf.Tensor4D;
}

/** [B*F, H, W, C] frames -> [B, F, H, W, C] clips. */
export function framesToClips(x: tf.Tensor4D, frames: number): tf.Tensor5D {
  const [bf, h, w, c] = x.shape;
  return tf.reshape(x, [clipCount(bf, frames, 'framesToClips'), frames, h, w, c]) as tf.Tensor5D;
}

/** [B*F, H, W, C] -> [B*H*W, F, C]: each pixel's values over the frames of its clip (sequence b*H*W + y*W + x). */
export function framesToSequences(x: tf.Tensor4D, frames: number): tf.Tensor3D {
  const [bf, h, w, c] = x.shape;
  const b = clipCount(bf, frames, 'framesToSequences');
  return tf.tidy(
    () =>
      tf.reshape(tf.transpose(tf.reshape(x, [b, frames, h * w, c]), [0, 2, 1, 3]), [
        b * h * w,
        frames,
        c,
      ]) as tf.Tensor3D,
  );
}

/** [B*H*W, F, C] -> [B*F, H, W, C]: the inverse of framesToSequences for frames of height x width. */
export function sequencesToFrames(x: tf.Tensor3D, height: number, width: number): tf.Tensor4D {
  const [bhw, f, c] = x.shape;
  const b = clipCount(bhw, height * width, 'sequencesToFrames');
  return tf.tidy(
    () =>
      tf.reshape(tf.transpose(tf.reshape(x, [b, height * width, f, c]), [0, 2, 1, 3]), [
        b * f,
        height,
        width,
        c,
      ]) as tf.Tensor4D,
  );
}
