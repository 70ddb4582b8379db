// Sampling a clip: DDIM with classifier-free guidance on the text, as lesson 10 samples images, on the
// B*F frames of B clips at once. Every frame of every clip is at the same step t (the loop gives all
// images one t), which is what the video loss trained for; the temporal layers make the frames agree.
import * as tf from '@tensorflow/tfjs-core';
import '../../core/tfjs_setup';
import { Rng } from '../../core/random';
import { makeSampler } from '../../core/samplers/index';
import { DiffusionModel } from '../../core/samplers/types';
import { Denoiser } from '../../core/unet/denoiser';
import { cfgConditionModel } from '../guidance/cfg';
import { GLIDE_PREDICTION, glideSchedule, TextSampleOptions } from '../text/glide';
import { isTextUNetConfig } from '../text/text_unet';
import { VideoCondition, videoCondition } from './temporal_hook';

/** The model guided by the captions (classifier-free: each clip's caption against '' for all its frames). */
export function videoGuidedModel(
  model: Denoiser<VideoCondition>,
  captions: string[],
  frames: number,
  o: Pick<TextSampleOptions, 'guidance' | 'counter' | 'prediction'>,
): DiffusionModel {
  const empty = captions.map(() => '');
  return cfgConditionModel(model, videoCondition(captions, frames), videoCondition(empty, frames), o.guidance, {
    counter: o.counter,
    prediction: o.prediction ?? GLIDE_PREDICTION,
  });
}

/** Clips for `captions` (one per clip), [B*F, S, S, C]: clip after clip, frame after frame. */
export function sampleVideo(
  model: Denoiser<VideoCondition>,
  captions: string[],
  frames: number,
  o: TextSampleOptions,
): tf.Tensor4D {
  if (!isTextUNetConfig(model.config)) throw new Error('sampleVideo: the model has no text encoder (config.text)');
  if (captions.length === 0) throw new Error('sampleVideo: no captions');
  const c = model.config;
  const cfg = videoGuidedModel(model, captions, frames, o);
  const sampler = makeSampler('ddim', o.schedule ?? glideSchedule());
  return sampler.sample(cfg, [captions.length * frames, c.imageSize, c.imageSize, c.outChannels], {
    steps: o.steps,
    rng: new Rng(o.seed),
    xT: o.xT,
  });
}
