// Structural similarity (Wang, Bovik, Sheikh & Simoncelli 2004), the second fidelity score of SR
// tables: it compares local means, contrasts and correlation in a Gaussian window (11x11,
// sigma 1.5) and averages the SSIM map over the window positions that fit in the image ('valid',
// as the authors' MATLAB code; 18x18 positions on 28x28 images):
//   SSIM = (2 mu_a mu_b + C1)(2 sigma_ab + C2) / ((mu_a^2 + mu_b^2 + C1)(sigma_a^2 + sigma_b^2 + C2)),
// C1 = (0.01 L)^2, C2 = (0.03 L)^2, L the data range (2 for images in [-1, 1]). Channels are
// scored separately and averaged. 1 means identical.
import * as tf from '@tensorflow/tfjs-core';
import '../../core/tfjs_setup';
import { checkPair, checkRange } from './psnr';

export interface SsimOptions {
  /** Span of valid values (default 2, for [-1, 1]). */
  dataRange?: number;
  /** Window side (default 11) and Gaussian sigma (default 1.5). */
  window?: number;
  sigma?: number;
}

/** Normalised 2-D Gaussian window as a [k, k, 1, 1] conv kernel. */
export function gaussianWindow(size = 11, sigma = 1.5): tf.Tensor4D {
  if (!Number.isInteger(size) || size < 1)
    throw new Error(`gaussianWindow: size must be a positive integer, got ${size}`);
  if (!(sigma > 0)) throw new Error(`gaussianWindow: sigma must be > 0, got ${sigma}`);
  const g = Array.from({ length: size }, (_, i) => Math.exp(-((i - (size - 1) / 2) ** 2) / (2 * sigma * sigma)));
  const s = g.reduce((p, q) => p + q, 0);
  const w = new Float32Array(size * size);
  for (let i = 0; i < size; i++) for (let j = 0; j < size; j++) w[i * size + j] = (g[i] * g[j]) / (s * s);
  return tf.tensor4d(w, [size, size, 1, 1]);
}

/** SSIM of each image of `a` against the same image of `b`. */
export async function ssim(a: tf.Tensor4D, b: tf.Tensor4D, opts: SsimOptions = {}): Promise<number[]> {
  await checkPair('ssim', a, b);
  const L = opts.dataRange ?? 2;
  checkRange('ssim', L);
  const k = opts.window ?? 11;
  const [n, h, w, c] = a.shape;
  if (h < k || w < k) throw new Error(`ssim: images of ${h}x${w} are smaller than the ${k}x${k} window`);
  const c1 = (0.01 * L) ** 2;
  const c2 = (0.03 * L) ** 2;
  const out = tf.tidy(() => {
    const win = gaussianWindow(k, opts.sigma ?? 1.5);
    // Channels to the batch axis: one single-channel filter serves all of them.
    const flat = (x: tf.Tensor4D) => tf.reshape(tf.transpose(x, [0, 3, 1, 2]), [n * c, h, w, 1]) as tf.Tensor4D;
    const x = flat(a);
    const y = flat(b);
    const blur = (t: tf.Tensor) => tf.conv2d(t as tf.Tensor4D, win, 1, 'valid');
    const mx = blur(x);
    const my = blur(y);
    const sxx = tf.sub(blur(tf.mul(x, x)), tf.mul(mx, mx));
    const syy = tf.sub(blur(tf.mul(y, y)), tf.mul(my, my));
    const sxy = tf.sub(blur(tf.mul(x, y)), tf.mul(mx, my));
    const num = tf.mul(tf.add(tf.mul(2, tf.mul(mx, my)), c1), tf.add(tf.mul(2, sxy), c2));
    const den = tf.mul(tf.add(tf.add(tf.mul(mx, mx), tf.mul(my, my)), c1), tf.add(tf.add(sxx, syy), c2));
    return tf.mean(tf.reshape(tf.div(num, den), [n, -1]), 1);
  });
  const v = Array.from(await out.data());
  out.dispose();
  return v;
}
