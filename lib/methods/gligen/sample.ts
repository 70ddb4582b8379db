// Sampling a GLIGEN model: captions AND boxes at once (the article's point: several conditions
// together). Classifier-free guidance acts on the caption ('' in the unconditional half); the
// grounding tokens are given to both halves, so guidance sharpens what the text asks for while the
// boxes say where. Without grounding the gated layers are skipped: exactly the frozen base model.
import * as tf from '@tensorflow/tfjs-core';
import '../../core/tfjs_setup';
import { disposeCondition } from '../../core/condition';
import { CfgCounter, cfgConditionModel } from '../guidance/cfg';
import { LATENT_PREDICTION, LoadedAutoencoder, sampleLatents, LatentSampleOptions } from '../latent/ldm';
import { DiffusionModel } from '../../core/samplers/types';
import { Denoiser } from '../../core/unet/denoiser';
import { isTextUNetConfig } from '../text/text_unet';
import { DEFAULT_MAX_GROUNDING, GroundedObject, GroundingInputs, groundingInputs, PhraseEmbedder } from './grounding';
import { GroundedCondition, groundingOf } from './grounding_hook';

/** A text-guided model with optional grounding (null: none, the frozen base's prediction). */
export function groundedModel(
  unet: Denoiser<GroundedCondition>,
  captions: string[],
  grounding: GroundingInputs | null,
  scale: number,
  counter?: CfgCounter,
): DiffusionModel {
  if (!isTextUNetConfig(unet.config)) throw new Error('groundedModel: the UNet has no text encoder (config.text)');
  const g = grounding ?? {};
  const cond: GroundedCondition = { text: captions, ...g };
  const uncond: GroundedCondition = { text: captions.map(() => ''), ...g };
  return cfgConditionModel(unet, cond, uncond, scale, { prediction: LATENT_PREDICTION, counter });
}

/**
 * Images for captions plus (optionally) grounded boxes per image. scenes null: no grounding (the
 * base model). Same seed, same starting noise: the with/without comparison differs only in grounding.
 */
export async function sampleGrounded(
  unet: Denoiser<GroundedCondition>,
  auto: LoadedAutoencoder,
  embedder: PhraseEmbedder,
  captions: string[],
  scenes: GroundedObject[][] | null,
  o: LatentSampleOptions,
  maxObjects = DEFAULT_MAX_GROUNDING,
): Promise<tf.Tensor4D> {
  if (captions.length === 0) throw new Error('sampleGrounded: no captions');
  if (scenes && scenes.length !== captions.length)
    throw new Error(`sampleGrounded: ${scenes.length} layouts for ${captions.length} captions`);
  if (scenes && !groundingOf(unet))
    throw new Error('sampleGrounded: boxes given but the UNet has no grounding layers (GLIGEN hook)');
  const g = scenes ? await groundingInputs(embedder, scenes, maxObjects) : null;
  try {
    return sampleLatents(groundedModel(unet, captions, g, o.guidance, o.counter), auto, captions.length, o);
  } finally {
    disposeCondition(g ?? undefined);
  }
}
