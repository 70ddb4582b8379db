// Non-learned fills: the baselines a learned inpainter has to beat.
//   mean:    every missing pixel takes the training set's mean image at that place.
//   nearest: every missing pixel copies the nearest known pixel of the same image (Euclidean
//            distance, ties to the first found), so edges are extended into the hole.
import * as tf from '@tensorflow/tfjs-core';
import '../../core/tfjs_setup';
import { composite, validateMask } from './masks';

export type FillMethod = 'mean' | 'nearest';
export const FILL_METHODS: readonly FillMethod[] = ['mean', 'nearest'];

/** The per-pixel mean of images [N, H, W, C] -> [1, H, W, C]. */
export function meanImage(images: tf.Tensor4D): tf.Tensor4D {
  return tf.tidy(() => tf.mean(images, 0, true) as tf.Tensor4D);
}

/** Missing pixels from `mean` ([1, H, W, C], e.g. meanImage of training images). */
export async function meanFill(x: tf.Tensor4D, mask: tf.Tensor4D, mean: tf.Tensor4D): Promise<tf.Tensor4D> {
  await validateMask(mask, x, 'meanFill');
  if (mean.rank !== 4 || mean.shape[0] !== 1 || mean.shape.slice(1).join() !== x.shape.slice(1).join()) {
    throw new Error(`meanFill: mean image must be [1, ${x.shape.slice(1)}], got [${mean.shape}]`);
  }
  return tf.tidy(() => composite(tf.broadcastTo(mean, x.shape) as tf.Tensor4D, x, mask));
}

/** Missing pixels copied from the nearest known pixel; an image with no known pixel is filled with 0. */
export async function nearestFill(x: tf.Tensor4D, mask: tf.Tensor4D): Promise<tf.Tensor4D> {
  await validateMask(mask, x, 'nearestFill');
  const [b, h, w, c] = x.shape;
  const [src, m] = await Promise.all([x.data(), mask.data()]);
  const out = Float32Array.from(src);
  const known: number[] = [];
  for (let i = 0; i < b; i++) {
    known.length = 0;
    for (let p = 0; p < h * w; p++) if (m[i * h * w + p] === 0) known.push(p);
    for (let p = 0; p < h * w; p++) {
      if (m[i * h * w + p] === 0) continue;
      const py = Math.floor(p / w);
      const px = p % w;
      let best = -1;
      let bestD = Infinity;
      for (const q of known) {
        const d = (Math.floor(q / w) - py) ** 2 + ((q % w) - px) ** 2;
        if (d < bestD) {
          bestD = d;
          best = q;
        }
      }
      for (let ch = 0; ch < c; ch++) out[(i * h * w + p) * c + ch] = best < 0 ? 0 : src[(i * h * w + best) * c + ch];
    }
  }
  return tf.tensor4d(out, [b, h, w, c]);
}
