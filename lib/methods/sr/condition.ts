// SR3's conditioning (Saharia et al. 2021): the low-resolution image is up-sampled to the output
// size with bicubic interpolation and concatenated to the noisy high-resolution image as extra
// input channels, so the UNet sees both at every step (UNetConfig.condChannels = image channels).
// A model is trained for given input sizes (e.g. 7x7 and 14x14 for 28x28 outputs: 4x and 2x);
// any other size is refused with an error that names the sizes it knows.
import * as tf from '@tensorflow/tfjs-core';
import '../../core/tfjs_setup';
import { downsampleArea, upsampleBicubic } from '../../core/resize';

export interface SrSpec {
  /** Output side (e.g. 28). */
  hrSize: number;
  /** Low-resolution input sides the model was trained on (each must divide hrSize). */
  lrSizes: number[];
}

export function validateSrSpec(spec: SrSpec): void {
  if (!Number.isInteger(spec.hrSize) || spec.hrSize < 2)
    throw new Error(`SrSpec.hrSize must be an integer >= 2, got ${spec.hrSize}`);
  if (!Array.isArray(spec.lrSizes) || spec.lrSizes.length === 0)
    throw new Error('SrSpec.lrSizes must list at least one input size');
  for (const s of spec.lrSizes) {
    if (!Number.isInteger(s) || s < 1 || s >= spec.hrSize || spec.hrSize % s !== 0) {
      throw new Error(`SrSpec.lrSizes: ${s} is not an integer divisor of hrSize ${spec.hrSize} smaller than it`);
    }
  }
}

/** The low-resolution version of high-resolution images: area down-sampling to lrSize. */
export function lowRes(hr: tf.Tensor4D, lrSize: number): tf.Tensor4D {
  const [, h, w] = hr.shape;
  if (h !== w) throw new Error(`lowRes: square images expected, got ${h}x${w}`);
  if (!Number.isInteger(lrSize) || lrSize < 1 || h % lrSize !== 0)
    throw new Error(`lowRes: lrSize ${lrSize} does not divide the image side ${h}`);
  return downsampleArea(hr, h / lrSize);
}

/** Throws unless `lr` is [B, s, s, C] with s one of the sizes the model was trained on. */
export function checkLowRes(lr: tf.Tensor4D, spec: SrSpec): void {
  if (!(lr instanceof tf.Tensor) || lr.rank !== 4)
    throw new Error(`super-resolution: the low-resolution input must be [B, H, W, C], got shape [${lr?.shape}]`);
  const [, h, w] = lr.shape;
  if (h !== w || !spec.lrSizes.includes(h)) {
    const known = spec.lrSizes.map((s) => `${s}x${s}`).join(' and ');
    throw new Error(
      `super-resolution: this model was trained on ${known} inputs (to ${spec.hrSize}x${spec.hrSize}); got a ${h}x${w} input`,
    );
  }
}

/** The bicubic up-sampling of `lr` to the output size, checked against the spec: SR3's condition. */
export function srCondition(lr: tf.Tensor4D, spec: SrSpec): tf.Tensor4D {
  checkLowRes(lr, spec);
  return upsampleBicubic(lr, spec.hrSize);
}
