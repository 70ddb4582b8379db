// Peak signal-to-noise ratio, the pixel-fidelity score super-resolution papers quote:
//   PSNR = 10 log10(dataRange^2 / MSE), per image, in dB.
// dataRange is the span of valid pixel values: 2 for the course's images in [-1, 1] (the same
// number as 255-scale PSNR of the 0-255 images). Identical images give +Infinity.
import * as tf from '@tensorflow/tfjs-core';
import '../../core/tfjs_setup';
import { assertFiniteTensor } from '../../core/finite';

export async function checkPair(fn: string, a: tf.Tensor4D, b: tf.Tensor4D): Promise<void> {
  if (!(a instanceof tf.Tensor) || !(b instanceof tf.Tensor) || a.rank !== 4 || b.rank !== 4) {
    throw new Error(`${fn}: images must be [B, H, W, C] tensors, got shapes [${a?.shape}] and [${b?.shape}]`);
  }
  if (a.shape.join() !== b.shape.join()) throw new Error(`${fn}: image shapes differ: [${a.shape}] vs [${b.shape}]`);
  // A NaN or Infinity pixel is an error, not a score (it would read as 0 dB or a perfect match).
  await assertFiniteTensor(fn, 'the first images', a);
  await assertFiniteTensor(fn, 'the second images', b);
}

export function checkRange(fn: string, dataRange: number): void {
  if (!(dataRange > 0) || !Number.isFinite(dataRange))
    throw new Error(`${fn}: dataRange must be a positive number, got ${dataRange}`);
}

/** PSNR of each image of `a` against the same image of `b`, in dB. */
export async function psnr(a: tf.Tensor4D, b: tf.Tensor4D, dataRange = 2): Promise<number[]> {
  await checkPair('psnr', a, b);
  checkRange('psnr', dataRange);
  const mse = tf.tidy(() => tf.mean(tf.squaredDifference(a, b), [1, 2, 3]));
  const v = Array.from(await mse.data());
  mse.dispose();
  return v.map((m) => (m === 0 ? Infinity : 10 * Math.log10((dataRange * dataRange) / m)));
}

/** Mean of per-image values (PSNR, SSIM): what tables quote. */
export function mean(values: number[]): number {
  if (values.length === 0) throw new Error('mean: no values');
  return values.reduce((p, q) => p + q, 0) / values.length;
}
