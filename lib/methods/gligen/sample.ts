// Sampling a GLIGEN model: captions AND boxes at once (the article's point: several conditions
// together). Classifier-free guidance acts on the caption ('' in the unconditional half); the
// grounding tokens are given to both halves, so guidance sharpens what the text asks for while the
// boxes say where. Without grounding the gated layers are skipped: exactly the frozen base model.
import * as tf from '@tensorflow/tfjs-core';
import '../../core/tfjs_setup';
import { CfgCounter, cfgConditionModel } from '../guidance/cfg';
import { LATENT_PREDICTION, LoadedAutoencoder, sampleLatents, LatentSampleOptions } from '../latent/ldm';
import { DiffusionModel } from '../../core/samplers/types';
import { UNet } from '../../core/unet/unet';
import { DEFAULT_MAX_GROUNDING, GroundedObject, groundingInputs, PhraseEmbedder } from './grounding';

/** A text-guided model with optional grounding (null: none, the frozen base's prediction). */
export function groundedModel(unet: UNet, captions: string[], grounding: { grounding: tf.Tensor3D; groundingMask: tf.Tensor2D } | null, scale: number, counter?: CfgCounter): DiffusionModel {
  if (!unet.text) throw new Error('groundedModel: the UNet has no text encoder (config.text)');
  const g = grounding ?? {};
  return cfgConditionModel(unet, { text: captions, ...g }, { text: captions.map(() => ''), ...g }, scale, { prediction: LATENT_PREDICTION, counter });
}

/**
 * Images for captions plus (optionally) grounded boxes per image. scenes null: no grounding (the
 * base model). Same seed, same starting noise: the with/without comparison differs only in grounding.
 */
export function sampleGrounded(
  unet: UNet,
  auto: LoadedAutoencoder,
  embedder: PhraseEmbedder,
  captions: string[],
  scenes: GroundedObject[][] | null,
  o: LatentSampleOptions,
  maxObjects = DEFAULT_MAX_GROUNDING,
): tf.Tensor4D {
  if (captions.length === 0) throw new Error('sampleGrounded: no captions');
  if (scenes && scenes.length !== captions.length) throw new Error(`sampleGrounded: ${scenes.length} layouts for ${captions.length} captions`);
  if (scenes && !unet.config.grounding) throw new Error('sampleGrounded: boxes given but the UNet has no grounding layers');
  const g = scenes ? groundingInputs(embedder, scenes, maxObjects) : null;
  try {
    return sampleLatents(groundedModel(unet, captions, g, o.guidance, o.counter), auto, captions.length, o);
  } finally {
    if (g) tf.dispose([g.grounding, g.groundingMask]);
  }
}
