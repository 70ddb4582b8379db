// Starting a class-conditional UNet from a trained unconditional one: copy every weight and set the
// class-embedding table to ZERO. The class embedding is added to the time embedding, so at step 0
// the conditional network computes exactly the unconditional one for every label (null included),
// and fine-tuning with condition dropout only has to learn what the classes add. On a 2-core CPU
// that is the difference between a fine-tune of minutes and a training run of hours.
import * as tf from '@tensorflow/tfjs-core';
import '../../core/tfjs_setup';
import { loadUNetCheckpoint } from '../../core/checkpoint/unet_checkpoint';
import { UNet } from '../../core/unet/unet';

export const CLASS_EMBEDDING = 'classEmb.weight';

/** A new UNet with `numClasses` (+1 null) class rows, the unconditional model's weights, zero class rows. */
export function conditionalFromUnconditional(base: UNet, numClasses: number): UNet {
  if (!Number.isInteger(numClasses) || numClasses < 1)
    throw new Error(`conditionalFromUnconditional: numClasses must be a positive integer, got ${numClasses}`);
  if (base.config.numClasses !== undefined)
    throw new Error(
      `conditionalFromUnconditional: the base UNet is already class-conditional (numClasses ${base.config.numClasses})`,
    );
  const model = new UNet({ ...base.config, numClasses });
  try {
    for (const [name, v] of model.params) {
      if (name === CLASS_EMBEDDING) {
        tf.tidy(() => v.assign(tf.zerosLike(v)));
        continue;
      }
      const src = base.params.get(name);
      if (!src) throw new Error(`conditionalFromUnconditional: the base UNet has no parameter '${name}'`);
      v.assign(src);
    }
  } catch (e) {
    model.dispose();
    throw e;
  }
  return model;
}

/** Loads a UNet checkpoint that must be class-conditional: classifier-free guidance needs the labels (and the null class). */
export function loadClassConditionalUNet(file: string): UNet {
  const unet = loadUNetCheckpoint(file);
  if (unet.config.numClasses === undefined) {
    unet.dispose();
    throw new Error(`${file} holds an unconditional UNet; classifier-free guidance needs a class-conditional one`);
  }
  return unet;
}
