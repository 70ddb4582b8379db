// Latent diffusion (Rombach et al. 2022): the UNet denoises the autoencoder's 8x8x4 latents instead of
// 32x32x3 pixels, and the decoder turns the final latent into an image. Two conditionings, as the
// article shows: text (a text transformer trained with the UNet, config.text, like LDM's text-to-image
// model) and layout (box tokens from layout.ts as cross-attention context, cond.context).
import * as fs from 'fs';
import * as tf from '@tensorflow/tfjs-core';
import '../../core/tfjs_setup';
import { cfgConditionModel, CfgCounter } from '../guidance/cfg';
import { Prediction } from '../../core/loss';
import { Rng } from '../../core/random';
import { makeSampler } from '../../core/samplers/index';
import { DiffusionModel } from '../../core/samplers/types';
import { linearSchedule, NoiseSchedule } from '../../core/schedule';
import { loadDenoiserCheckpoint } from '../text/checkpoint';
import { shapesTextUNetConfig } from '../text/shapes_text';
import { TextEncoderConfig } from '../text/text_transformer';
import { isTextUNetConfig, TextCondition, TextUNet, TextUNetConfig } from '../text/text_unet';
import { UNetConfig } from '../../core/unet/config';
import { Denoiser } from '../../core/unet/denoiser';
import { UNet, UNetCondition } from '../../core/unet/unet';
import { Autoencoder, latentSide } from './autoencoder';
import { DEFAULT_MAX_OBJECTS, LAYOUT_TOKEN_DIM, layoutContext, LayoutObject } from './layout';
import { loadAutoencoder, LoadedAutoencoder } from './train_autoencoder';

/**
 * What the latent UNets (and GLIGEN's layers on them) predict. v, as in lesson 10: with eps the loss
 * barely weighs the high-noise steps where the layout of the scene is decided (ε-trained models here
 * put objects anywhere).
 */
export const LATENT_PREDICTION: Prediction = 'v';

/** The schedule the latent models train and sample with (LDM uses a linear one, T = 1000). */
export function latentSchedule(): NoiseSchedule {
  return linearSchedule(1000);
}

/**
 * The latent UNet: 8x8x4 in and out, levels 8 -> 4 with 64/128 channels, attention (self + cross)
 * at 8x8 and in the 4x4 middle, CoordConv position channels. No level runs at 32x32: that is where
 * the pixel-space model spends most of its time.
 */
export function latentUNetConfig(overrides: Partial<UNetConfig> & { text: TextEncoderConfig }): TextUNetConfig;
export function latentUNetConfig(overrides?: Partial<UNetConfig>): UNetConfig;
export function latentUNetConfig(
  overrides: Partial<UNetConfig> & { text?: TextEncoderConfig } = {},
): UNetConfig | TextUNetConfig {
  const { text, ...core } = overrides;
  const c = { imageSize: 8, inChannels: 4, outChannels: 4, baseChannels: 64, channelMults: [1, 2], ...core };
  return text === undefined ? shapesTextUNetConfig(c) : shapesTextUNetConfig({ ...c, text });
}

/** The layout model's config: cross-attention to layout tokens. */
export function layoutUNetConfig(overrides: Partial<UNetConfig> = {}): UNetConfig {
  return latentUNetConfig({ contextDim: LAYOUT_TOKEN_DIM, ...overrides });
}

export function loadLatentUNet(file: string, kind: 'text'): TextUNet;
export function loadLatentUNet(file: string, kind: 'layout'): UNet;
export function loadLatentUNet(file: string, kind: 'text' | 'layout'): UNet | TextUNet;
export function loadLatentUNet(file: string, kind: 'text' | 'layout'): UNet | TextUNet {
  if (!fs.existsSync(file))
    throw new Error(`latent ${kind} model not found at ${file}: train it with \`npm run train:latent -- ldm-${kind}\``);
  const m = loadDenoiserCheckpoint(file);
  const ok =
    kind === 'text' ? m instanceof TextUNet : m.config.contextDim === LAYOUT_TOKEN_DIM && !(m instanceof TextUNet);
  if (!ok) {
    m.dispose();
    throw new Error(`${file} is not a latent ${kind} model`);
  }
  return m;
}

export { loadAutoencoder };
export type { LoadedAutoencoder };

export interface LatentSampleOptions {
  /** Guidance scale w (0: unconditional, 1: conditional, > 1: guided). */
  guidance: number;
  steps: number;
  seed: number;
  counter?: CfgCounter;
  /** Starting latent noise [B, 8, 8, 4]; default drawn from the seed. */
  zT?: tf.Tensor4D;
}

/** DDIM in latent space (no clipping: latents are not confined to [-1, 1]), then decode to [-1, 1] images. */
export function sampleLatents(
  model: DiffusionModel,
  auto: LoadedAutoencoder,
  batch: number,
  o: LatentSampleOptions,
): tf.Tensor4D {
  const s = latentSide(auto.ae.config);
  const sampler = makeSampler('ddim', latentSchedule());
  const z = sampler.sample(model, [batch, s, s, auto.ae.config.latentChannels], {
    steps: o.steps,
    rng: new Rng(o.seed),
    xT: o.zT,
    clipDenoised: false,
  });
  const x = decodeLatents(auto, z);
  z.dispose();
  return x;
}

/** Scaled latents -> images in [-1, 1]. */
export function decodeLatents(auto: LoadedAutoencoder, z: tf.Tensor4D): tf.Tensor4D {
  return tf.tidy(
    () => tf.clipByValue(auto.ae.decode(tf.div(z, auto.scaleFactor) as tf.Tensor4D), -1, 1) as tf.Tensor4D,
  );
}

/** Images -> scaled latents (posterior means), what the diffusion model works on. */
export function encodeImages(auto: LoadedAutoencoder, x: tf.Tensor4D): tf.Tensor4D {
  return tf.tidy(() => tf.mul(auto.ae.encode(x).mean, auto.scaleFactor) as tf.Tensor4D);
}

/** Text -> image with the latent text model and classifier-free guidance on the captions. */
export function sampleLatentFromText(
  unet: Denoiser<TextCondition>,
  auto: LoadedAutoencoder,
  captions: string[],
  o: LatentSampleOptions,
): tf.Tensor4D {
  if (!isTextUNetConfig(unet.config))
    throw new Error('sampleLatentFromText: the UNet has no text encoder (config.text)');
  if (captions.length === 0) throw new Error('sampleLatentFromText: no captions');
  const model = cfgConditionModel(unet, { text: captions }, { text: captions.map(() => '') }, o.guidance, {
    prediction: LATENT_PREDICTION,
    counter: o.counter,
  });
  return sampleLatents(model, auto, captions.length, o);
}

/** Layout -> image with the latent layout model and classifier-free guidance on the layout. */
export function sampleLatentFromLayout(
  unet: Denoiser<UNetCondition>,
  auto: LoadedAutoencoder,
  layouts: LayoutObject[][],
  o: LatentSampleOptions,
  maxObjects = DEFAULT_MAX_OBJECTS,
): tf.Tensor4D {
  if (unet.config.contextDim !== LAYOUT_TOKEN_DIM)
    throw new Error(
      `sampleLatentFromLayout: the UNet's contextDim is ${unet.config.contextDim}, layout tokens are ${LAYOUT_TOKEN_DIM} wide`,
    );
  if (layouts.length === 0) throw new Error('sampleLatentFromLayout: no layouts');
  const c = layoutContext(layouts, maxObjects);
  const u = layoutContext(
    layouts.map(() => []),
    maxObjects,
  );
  try {
    const model = cfgConditionModel(
      unet,
      { context: c.context, contextMask: c.mask },
      { context: u.context, contextMask: u.mask },
      o.guidance,
      { prediction: LATENT_PREDICTION, counter: o.counter },
    );
    return sampleLatents(model, auto, layouts.length, o);
  } finally {
    tf.dispose([c.context, c.mask, u.context, u.mask]);
  }
}

export type { Autoencoder };
