// Image resizing for super-resolution: area down-sampling (how the low-resolution inputs are made)
// and bicubic up-sampling (the classic baseline, and how SR3 feeds the low-resolution image to a
// network that works at the high resolution).
// tfjs has no bicubic resize, so it is written here as a separable fixed-weight filter with Keys'
// cubic kernel (a = -0.5, as PIL and MATLAB): each output row/column is a weighted sum of 4 input
// ones. The weights depend only on the sizes, so they form a small [out, in] matrix per axis, with
// the replicated border pixels folded into it; the resize is then two matrix products.
import * as tf from '@tensorflow/tfjs-core';
import './tfjs_setup';

/** Keys' cubic convolution kernel; a = -0.5 reproduces constants, ramps and quadratics exactly. */
export function keysCubic(x: number, a = -0.5): number {
  const t = Math.abs(x);
  if (t <= 1) return (a + 2) * t ** 3 - (a + 3) * t ** 2 + 1;
  if (t < 2) return a * t ** 3 - 5 * a * t ** 2 + 8 * a * t - 4 * a;
  return 0;
}

/**
 * The [outSize, inSize] bicubic interpolation matrix (row i: the weights of output pixel i).
 * Pixel centres are aligned as in PIL/OpenCV (align_corners = false): output i samples input
 * coordinate (i + 0.5) * in / out - 0.5; taps outside the image take the nearest border pixel.
 */
export function bicubicMatrix(inSize: number, outSize: number, a = -0.5): Float32Array {
  posInt('inSize', inSize);
  posInt('outSize', outSize);
  const m = new Float32Array(outSize * inSize);
  for (let i = 0; i < outSize; i++) {
    const u = ((i + 0.5) * inSize) / outSize - 0.5;
    const i0 = Math.floor(u);
    for (let k = -1; k <= 2; k++) {
      const src = Math.min(inSize - 1, Math.max(0, i0 + k));
      m[i * inSize + src] += keysCubic(u - (i0 + k), a);
    }
  }
  return m;
}

/** Bicubic resize of [B, H, W, C] images to [B, outSize, outSize, C] (square outputs). */
export function upsampleBicubic(x: tf.Tensor4D, outSize: number): tf.Tensor4D {
  checkImages('upsampleBicubic', x);
  posInt('outSize', outSize);
  const [b, h, w, c] = x.shape;
  return tf.tidy(() => {
    const mh = tf.tensor2d(bicubicMatrix(h, outSize), [outSize, h]);
    const mw = tf.tensor2d(bicubicMatrix(w, outSize), [outSize, w]);
    // Rows first: [B*C*H, W] x Mw^T, then columns: [B*C*W', H] x Mh^T.
    const rows = tf.matMul(tf.reshape(tf.transpose(x, [0, 3, 1, 2]), [b * c * h, w]), mw, false, true);
    const cols = tf.reshape(tf.transpose(tf.reshape(rows, [b * c, h, outSize]), [0, 2, 1]), [b * c * outSize, h]);
    const out = tf.reshape(tf.matMul(cols, mh, false, true), [b, c, outSize, outSize]); // [b, c, w', h']
    return tf.transpose(out, [0, 3, 2, 1]) as tf.Tensor4D;
  });
}

/**
 * Area (box-filter) down-sampling by an integer factor: each output pixel is the mean of a
 * factor x factor block, what a camera sensor with bigger pixels would record.
 */
export function downsampleArea(x: tf.Tensor4D, factor: number): tf.Tensor4D {
  checkImages('downsampleArea', x);
  posInt('factor', factor);
  const [, h, w] = x.shape;
  if (h % factor !== 0 || w % factor !== 0) {
    throw new Error(`downsampleArea: image size ${h}x${w} is not divisible by factor ${factor}`);
  }
  return factor === 1 ? x.clone() : (tf.avgPool(x, factor, factor, 'valid') as tf.Tensor4D);
}

function checkImages(fn: string, x: tf.Tensor): void {
  if (!(x instanceof tf.Tensor) || x.rank !== 4)
    throw new Error(`${fn}: x must be a [B, H, W, C] tensor, got shape [${x?.shape}]`);
}

function posInt(name: string, v: number): void {
  if (!Number.isInteger(v) || v < 1) throw new Error(`${name} must be a positive integer, got ${v}`);
}
