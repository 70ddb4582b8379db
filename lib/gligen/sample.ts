// Sampling a GLIGEN model: captions AND boxes at once (the article's point: several conditions
// together). Classifier-free guidance acts on the caption ('' in the unconditional half); the
// grounding tokens are given to both halves, so guidance sharpens what the text asks for while the
// boxes say where. Without grounding the gated layers are skipped: exactly the frozen base model.
import * as tf from '@tensorflow/tfjs-core';
import '../tfjs_setup';
import { checkScale } from '../guidance/classifier_guidance';
import { CfgCounter } from '../guidance/cfg';
import { LATENT_PREDICTION, LoadedAutoencoder, sampleLatents, LatentSampleOptions } from '../latent/ldm';
import { DiffusionModel } from '../samplers/types';
import { UNet } from '../unet/unet';
import { DEFAULT_MAX_GROUNDING, GroundedObject, groundingInputs, PhraseEmbedder } from './grounding';

/** A text-guided model with optional grounding (null: none, the frozen base's prediction). */
export function groundedModel(unet: UNet, captions: string[], grounding: { grounding: tf.Tensor3D; groundingMask: tf.Tensor2D } | null, scale: number, counter?: CfgCounter): DiffusionModel {
  if (!unet.text) throw new Error('groundedModel: the UNet has no text encoder (config.text)');
  checkScale(scale, 'groundedModel');
  const b = captions.length;
  return {
    prediction: LATENT_PREDICTION,
    predict(xt, t) {
      if (counter) {
        counter.calls++;
        counter.images += scale === 1 ? b : 2 * b;
      }
      if (scale === 1) return unet.apply(xt, t, { text: captions, ...(grounding ?? {}) });
      return tf.tidy(() => {
        const g = grounding ? { grounding: tf.concat([grounding.grounding, grounding.grounding], 0) as tf.Tensor3D, groundingMask: tf.concat([grounding.groundingMask, grounding.groundingMask], 0) as tf.Tensor2D } : {};
        const out = unet.apply(tf.concat([xt, xt], 0) as tf.Tensor4D, [...t, ...t], { text: [...captions, ...captions.map(() => '')], ...g });
        const [c, u] = tf.split(out, 2, 0);
        return tf.add(u, tf.mul(tf.sub(c, u), scale)) as tf.Tensor4D;
      });
    },
  };
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
