// The cascade's base stage works at 16x16: every 32x32 training image is area down-sampled 2x (the
// mean of each 2x2 block, what lib/core/resize.ts downsampleArea computes on tensors), done once on
// the uint8 pixels so the usual imageBatches can serve the small images.
import { ImageData } from '../../core/train/batch_source';

export function downsampleSet(set: ImageData, factor: number): ImageData {
  if (!Number.isInteger(factor) || factor < 1)
    throw new Error(`downsampleSet: factor must be a positive integer, got ${factor}`);
  const { height: h, width: w, channels: c, count } = set;
  if (h % factor !== 0 || w % factor !== 0)
    throw new Error(`downsampleSet: ${h}x${w} images are not divisible by factor ${factor}`);
  const oh = h / factor;
  const ow = w / factor;
  const out = new Uint8Array(count * oh * ow * c);
  const area = factor * factor;
  for (let n = 0; n < count; n++) {
    const src = n * h * w * c;
    const dst = n * oh * ow * c;
    for (let y = 0; y < oh; y++) {
      for (let x = 0; x < ow; x++) {
        for (let ch = 0; ch < c; ch++) {
          let s = 0;
          for (let dy = 0; dy < factor; dy++)
            for (let dx = 0; dx < factor; dx++)
              s += set.images[src + ((y * factor + dy) * w + x * factor + dx) * c + ch];
          out[dst + (y * ow + x) * c + ch] = Math.round(s / area);
        }
      }
    }
  }
  return { images: out, labels: set.labels, count, height: oh, width: ow, channels: c };
}
