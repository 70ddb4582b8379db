// The article's inpainting model (그림17): a diffusion UNet that gets, besides the noisy image, the
// masked image and the mask as extra input channels (UNetConfig.condChannels = 2), trained on
// random masks so that it learns to fill what is missing in a way consistent with what is kept.
// At sampling time the known pixels are pasted back at the end (they are known exactly).
import * as fs from 'fs';
import * as tf from '@tensorflow/tfjs-core';
import '../../core/tfjs_setup';
import { readCheckpoint } from '../../core/checkpoint/checkpoint';
import { loadUNetCheckpoint } from '../../core/checkpoint/unet_checkpoint';
import { Rng } from '../../core/random';
import { DDIMSampler } from '../../core/samplers/ddim';
import { unetModel } from '../../core/samplers/types';
import { linearSchedule, NoiseSchedule } from '../../core/schedule';
import { BatchSource, ImageData, imageBatches } from '../../core/train/batch_source';
import { stepRng } from '../../core/train/step_seed';
import { UNet } from '../../core/unet/unet';
import { composite, makeMasks, MaskKind, maskImages, validateMask, validateMaskShape } from './masks';

/** Masks of a training step come from their own stream (the trainer's ids are 1-3). */
const MASK_STREAM = 11;
/** Training mixes these kinds, each mask's kind drawn at random. */
export const TRAIN_MASK_KINDS: readonly MaskKind[] = ['center', 'half', 'strokes', 'box'];

/** The schedule the inpainting model is trained and sampled with: linear, T = 1000. */
export function inpaintSchedule(): NoiseSchedule {
  return linearSchedule(1000);
}

/** The model's condition: [masked image, mask] along channels, [B, H, W, C + 1]. */
export function inpaintCondition(x: tf.Tensor4D, mask: tf.Tensor4D): tf.Tensor4D {
  // Shape only (no read): training calls this every step with masks binary by construction (makeMasks);
  // inpaintWithModel checks a user's mask's values once.
  validateMaskShape(mask, x, 'inpaintCondition');
  return tf.tidy(() => tf.concat([maskImages(x, mask), mask], 3) as tf.Tensor4D);
}

/** Training batches: images as x and, as cond.concat, their masked version and a random mask each. */
export function inpaintBatches(
  set: ImageData,
  batchSize: number,
  seed: number,
  kinds: readonly MaskKind[] = TRAIN_MASK_KINDS,
): BatchSource {
  const images = imageBatches(set, batchSize, seed);
  return (step) => {
    const { x } = images(step);
    const mask = makeMasks(kinds, batchSize, set.height, stepRng(seed, step, MASK_STREAM));
    const concat = inpaintCondition(x, mask);
    mask.dispose();
    return { x, cond: { concat } };
  };
}

export interface InpaintOptions {
  steps: number;
  rng: Rng;
  /** DDIM eta (default 0). */
  eta?: number;
}

/** Fills the missing pixels of x (mask 1) with the conditional model; known pixels are kept exactly. */
export async function inpaintWithModel(
  unet: UNet,
  x: tf.Tensor4D,
  mask: tf.Tensor4D,
  opts: InpaintOptions,
): Promise<tf.Tensor4D> {
  const c = x.shape[3];
  if (unet.config.condChannels !== c + 1)
    throw new Error(
      `inpaintWithModel: the UNet has condChannels ${unet.config.condChannels}, an inpainting model for ${c}-channel images needs ${c + 1}`,
    );
  await validateMask(mask, x, 'inpaintWithModel');
  const cond = inpaintCondition(x, mask);
  try {
    const sampler = new DDIMSampler(inpaintSchedule(), { eta: opts.eta ?? 0 });
    const out = sampler.sample(unetModel(unet, 'eps', { concat: cond }), x.shape, { steps: opts.steps, rng: opts.rng });
    const done = composite(out, x, mask);
    out.dispose();
    return done;
  } finally {
    cond.dispose();
  }
}

/** Loads an inpainting checkpoint (metadata task 'inpaint'). */
export function loadInpaintModel(file: string): UNet {
  if (!fs.existsSync(file))
    throw new Error(
      `inpainting checkpoint ${file} not found: run npm run train:sr-inpaint -- inpaint (it writes that file)`,
    );
  const meta = readCheckpoint(file).metadata;
  if (meta.task !== 'inpaint')
    throw new Error(`checkpoint ${file} is not an inpainting model (metadata task '${meta.task ?? ''}')`);
  return loadUNetCheckpoint(file);
}
