// GLIDE (Nichol et al. 2021) in the course's size: one UNet whose text transformer is trained with
// it (TextUNet, text_unet.ts), sampled with classifier-free guidance on text: '' is the "no caption"
// input that caption dropout taught the same network.
import * as tf from '@tensorflow/tfjs-core';
import '../../core/tfjs_setup';
import { cfgConditionModel, CfgCounter } from '../guidance/cfg';
import { Rng } from '../../core/random';
import { makeSampler } from '../../core/samplers/index';
import { linearSchedule, NoiseSchedule } from '../../core/schedule';
import { Denoiser } from '../../core/unet/denoiser';
import { isTextUNetConfig, TextCondition, TextUNet } from './text_unet';
import { Prediction } from '../../core/loss';

/**
 * What lesson 10's network predicts: v = sqrt(abar) eps - sqrt(1 - abar) x0 (GLIDE itself predicts eps
 * and learns the variance). With eps prediction a wrong layout at high noise costs almost nothing (the
 * x0 error is weighted by abar / (1 - abar), 0.0015 at t = 800 on the linear schedule), yet that is
 * where a caption decides colour and place; a first eps-trained model followed its captions' colours
 * but hardly their positions. v weighs the x0 error by 1 / (1 - abar), near 1 there.
 */
export const GLIDE_PREDICTION: Prediction = 'v';

/** The schedule lesson 10's model was trained with (scripts/train-text.ts). */
export function glideSchedule(): NoiseSchedule {
  return linearSchedule(1000);
}

export interface TextSampleOptions {
  /** Guidance scale w (0: ignore the text, 1: plain conditional, > 1: guided). */
  guidance: number;
  steps: number;
  seed: number;
  schedule?: NoiseSchedule;
  counter?: CfgCounter;
  /** Starting noise [B, S, S, C]; default drawn from the seed. */
  xT?: tf.Tensor4D;
  /** What the network predicts (default GLIDE_PREDICTION, lesson 10's). */
  prediction?: Prediction;
}

/** Images for `captions` from a text UNet, DDIM with classifier-free guidance on the text. */
export function sampleFromText(unet: Denoiser<TextCondition>, captions: string[], o: TextSampleOptions): tf.Tensor4D {
  if (!isTextUNetConfig(unet.config)) throw new Error('sampleFromText: the UNet has no text encoder (config.text)');
  if (captions.length === 0) throw new Error('sampleFromText: no captions');
  const c = unet.config;
  const model = cfgConditionModel(unet, { text: captions }, { text: captions.map(() => '') }, o.guidance, {
    counter: o.counter,
    prediction: o.prediction ?? GLIDE_PREDICTION,
  });
  const sampler = makeSampler('ddim', o.schedule ?? glideSchedule());
  return sampler.sample(model, [captions.length, c.imageSize, c.imageSize, c.outChannels], {
    steps: o.steps,
    rng: new Rng(o.seed),
    xT: o.xT,
  });
}
