// How a sampler keeps its clean-image estimate x0_hat in the data range [-1, 1] before using it.
// Static clipping (DDPM's) cuts every value to [-1, 1]. At a large guidance scale w the guided
// x0_hat overshoots far beyond the range and static clipping flattens those pixels to +-1: saturated,
// over-bright images. Imagen's dynamic thresholding (Saharia et al. 2022, sec. 2.3) instead takes,
// per sample, s = the p-th percentile of |x0_hat|, and if s > 1 clips to [-s, s] and divides by s:
// the image is scaled back into range rather than cut, so it keeps its contrast.
//   s = max(1, percentile(|x0_hat|, p)),   x0_hat <- clip(x0_hat, -s, s) / s
// (s = 1 is exactly the static clip.) Percentiles interpolate linearly between the sorted values,
// as numpy.percentile's default does.
import * as tf from '@tensorflow/tfjs-core';

/** Imagen's dynamic thresholding at percentile p (Imagen uses 99.5). */
export interface DynamicThreshold {
  percentile: number;
}

/** true: static clip to [-1, 1]; false: none; { percentile }: dynamic thresholding. */
export type X0Clip = boolean | DynamicThreshold;

function checkPercentile(p: number): void {
  if (!(p > 0 && p <= 100)) throw new Error(`dynamic thresholding: percentile must be in (0, 100], got ${p}`);
}

/** Per sample, the p-th percentile of |x| over all its pixels and channels: [B]. */
export function absPercentile(x: tf.Tensor4D, p: number): tf.Tensor1D {
  checkPercentile(p);
  return tf.tidy(() => {
    const [b, h, w, c] = x.shape;
    const d = h * w * c;
    // topk sorts descending; ascending position q = p/100 (d - 1) is descending index d - 1 - q.
    const sorted = tf.topk(tf.reshape(tf.abs(x), [b, d]), d).values;
    const q = (p / 100) * (d - 1);
    const lo = Math.floor(q);
    const frac = q - lo;
    const at = (k: number) => tf.reshape(tf.slice(sorted, [0, d - 1 - k], [b, 1]), [b]);
    return (frac === 0 ? at(lo) : tf.add(tf.mul(at(lo), 1 - frac), tf.mul(at(lo + 1), frac))) as tf.Tensor1D;
  });
}

/** Imagen's dynamic thresholding of x0_hat [B, H, W, C]: s = max(1, percentile(|x0|, p)), clip(x0, -s, s) / s. */
export function dynamicThreshold(x0: tf.Tensor4D, p: number): tf.Tensor4D {
  return tf.tidy(() => {
    const s = tf.reshape(tf.maximum(absPercentile(x0, p), 1), [-1, 1, 1, 1]);
    return tf.div(tf.minimum(tf.maximum(x0, tf.neg(s)), s), s) as tf.Tensor4D;
  });
}

/** x0_hat as the sampler uses it under `clip` (a new tensor; the caller still owns x0). */
export function clipX0(x0: tf.Tensor4D, clip: X0Clip): tf.Tensor4D {
  if (clip === false) return x0.clone();
  if (clip === true) return tf.clipByValue(x0, -1, 1);
  return dynamicThreshold(x0, clip.percentile);
}
