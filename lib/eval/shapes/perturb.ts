// Degraded copies of shapes images, standing in for what a generator produces (noisy colours, soft
// edges), to measure how robust the detector is. All work on float HWC images in [-1, 1].
import { Rng } from '../../core/random';
import { SHAPES_SIZE } from '../../../datasets/shapes';

/** uint8 0-255 -> float32 in [-1, 1] (the models' range). */
export function toSigned(image: Uint8Array): Float32Array {
  const out = new Float32Array(image.length);
  for (let i = 0; i < image.length; i++) out[i] = image[i] / 127.5 - 1;
  return out;
}

/** A copy with independent Gaussian noise of this std (in [-1, 1] units) on every value; not clipped. */
export function addGaussianNoise(image: Float32Array, std: number, rng: Rng): Float32Array {
  if (!(std >= 0)) throw new Error(`addGaussianNoise: std must be >= 0, got ${std}`);
  const out = new Float32Array(image.length);
  for (let i = 0; i < image.length; i++) out[i] = image[i] + std * rng.normal();
  return out;
}

/**
 * A 1-pixel blur of a 32x32x3 HWC image: the binomial kernel [1, 2, 1] / 4 along x then y, with black
 * (-1) beyond the border. A straight edge pixel keeps 3/4 of its brightness, a square's corner 9/16.
 */
export function blur1px(image: Float32Array): Float32Array {
  const W = SHAPES_SIZE;
  if (image.length !== W * W * 3) throw new Error(`blur1px: image must hold ${W}x${W}x3 values, got ${image.length}`);
  // Blur brightness above black (value + 1) so that zero padding means a black surround.
  const at = (a: Float32Array, x: number, y: number, c: number): number =>
    x < 0 || y < 0 || x >= W || y >= W ? 0 : a[(y * W + x) * 3 + c];
  const lifted = new Float32Array(image.length);
  for (let i = 0; i < image.length; i++) lifted[i] = image[i] + 1;
  const tmp = new Float32Array(image.length);
  const out = new Float32Array(image.length);
  for (let y = 0; y < W; y++)
    for (let x = 0; x < W; x++)
      for (let c = 0; c < 3; c++) {
        tmp[(y * W + x) * 3 + c] = (at(lifted, x - 1, y, c) + 2 * at(lifted, x, y, c) + at(lifted, x + 1, y, c)) / 4;
      }
  for (let y = 0; y < W; y++)
    for (let x = 0; x < W; x++)
      for (let c = 0; c < 3; c++) {
        out[(y * W + x) * 3 + c] = (at(tmp, x, y - 1, c) + 2 * at(tmp, x, y, c) + at(tmp, x, y + 1, c)) / 4 - 1;
      }
  return out;
}
