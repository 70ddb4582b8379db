// Classic image augmentation on uint8 image sets (seed 004's "data augmentation to add variety"):
// each new image is a random source image, mirrored left-right half of the time, shifted by up to
// `maxShift` pixels (the uncovered border is background 0) and its contrast scaled by 0.8-1.2.
// No new content: the same garments moved about, which is what the synthetic images are measured against.
import { ImageSet } from '../../../datasets/imageset';
import { Rng } from '../../core/random';

export interface AugmentParams {
  flip: boolean;
  dx: number;
  dy: number;
  contrast: number;
}

export function randomAugment(rng: Rng, maxShift = 2): AugmentParams {
  return {
    flip: rng.uniform() < 0.5,
    dx: rng.int(2 * maxShift + 1) - maxShift,
    dy: rng.int(2 * maxShift + 1) - maxShift,
    contrast: 0.8 + 0.4 * rng.uniform(),
  };
}

/** One augmented copy of an HWC uint8 image. */
export function augmentImage(src: Uint8Array, h: number, w: number, c: number, p: AugmentParams): Uint8Array {
  const out = new Uint8Array(h * w * c);
  for (let y = 0; y < h; y++) {
    const sy = y - p.dy;
    if (sy < 0 || sy >= h) continue;
    for (let x = 0; x < w; x++) {
      let sx = x - p.dx;
      if (sx < 0 || sx >= w) continue;
      if (p.flip) sx = w - 1 - sx;
      for (let k = 0; k < c; k++)
        out[(y * w + x) * c + k] = Math.min(255, Math.round(src[(sy * w + sx) * c + k] * p.contrast));
    }
  }
  return out;
}

/** `n` augmented images drawn (with replacement) from `set`, labels kept. */
export function augmentSet(set: ImageSet, n: number, rng: Rng, maxShift = 2): ImageSet {
  if (set.count === 0) throw new Error('augmentSet: the source set is empty');
  if (!Number.isInteger(n) || n < 0) throw new Error(`augmentSet: n must be a non-negative integer, got ${n}`);
  const per = set.height * set.width * set.channels;
  const images = new Uint8Array(n * per);
  const labels = new Uint8Array(n);
  for (let k = 0; k < n; k++) {
    const i = rng.int(set.count);
    images.set(
      augmentImage(
        set.images.subarray(i * per, (i + 1) * per),
        set.height,
        set.width,
        set.channels,
        randomAugment(rng, maxShift),
      ),
      k * per,
    );
    labels[k] = set.labels[i];
  }
  return { ...set, split: `${set.split}+augmented`, images, labels, count: n };
}
