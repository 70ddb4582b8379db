// How well the autoencoder keeps the images: encode to the posterior mean, decode, compare (PSNR in
// dB on the [-1, 1] scale, the same number as 0-255 PSNR). Latent diffusion can never be sharper
// than this ceiling.
import * as tf from '@tensorflow/tfjs-core';
import '../../core/tfjs_setup';
import { psnr } from '../../eval/metrics/psnr';
import { ImageData } from '../../core/train/batch_source';
import { Autoencoder } from './autoencoder';

/** x [B,S,S,C] in [-1, 1] -> decode(mean of q(z|x)), clipped to [-1, 1]. */
export function reconstruct(ae: Autoencoder, x: tf.Tensor4D): tf.Tensor4D {
  return tf.tidy(() => tf.clipByValue(ae.decode(ae.encode(x).mean), -1, 1) as tf.Tensor4D);
}

/** The first `count` images of a uint8 set as a [-1, 1] tensor. */
export function imagesToTensor(set: ImageData, count = set.count, start = 0): tf.Tensor4D {
  if (!Number.isInteger(count) || count < 1 || start + count > set.count)
    throw new Error(`imagesToTensor: images ${start}..${start + count - 1} are not in a set of ${set.count}`);
  const per = set.height * set.width * set.channels;
  const px = new Float32Array(count * per);
  for (let p = 0; p < count * per; p++) px[p] = set.images[start * per + p] / 127.5 - 1;
  return tf.tensor4d(px, [count, set.height, set.width, set.channels]);
}

/** Per-image and mean reconstruction PSNR over a set, in chunks. */
export async function reconstructionPsnr(
  ae: Autoencoder,
  set: ImageData,
  chunk = 250,
): Promise<{ mean: number; values: number[] }> {
  const values: number[] = [];
  for (let i = 0; i < set.count; i += chunk) {
    const n = Math.min(chunk, set.count - i);
    const x = imagesToTensor(set, n, i);
    const r = reconstruct(ae, x);
    try {
      values.push(...(await psnr(r, x)).map((v) => Math.min(v, 100)));
    } finally {
      tf.dispose([x, r]);
    }
  }
  return { mean: values.reduce((s, v) => s + v, 0) / values.length, values };
}
