// Classifier-free guidance (Ho & Salimans 2021): ONE network trained with condition dropout knows
// both the conditional prediction eps(x_t, y) and the unconditional eps(x_t, null), and sampling
// extrapolates from the second through the first:
//     eps_w = eps_u + w * (eps_c - eps_u)
// Convention here: w = 0 is the unconditional model, w = 1 the plain conditional one, w > 1 guided
// (Ho & Salimans write (1 + w') eps_c - w' eps_u, i.e. our w = 1 + w'). It is the same Bayes
// argument as classifier guidance, with the implicit classifier p(y | x_t) ∝ p(x_t | y) / p(x_t)
// whose score is -(eps_c - eps_u) / sqrt(1 - abar_t): no separate classifier, no gradient.
// Cost: two network passes per step, done as one batched pass over [x; x] with [y; null].
// The mix is linear in the network output, so it applies to eps, x0 and v predictions alike.
import * as tf from '@tensorflow/tfjs-core';
import '../tfjs_setup';
import { Prediction } from '../loss';
import { DiffusionModel } from '../samplers/types';
import { UNet } from '../unet/unet';
import { checkScale } from './classifier_guidance';
import { checkLabels } from './noisy_classifier';

export interface CfgCounter {
  /** Network calls and the images they processed (a guided step counts 2 images per sample). */
  calls: number;
  images: number;
}

/**
 * The class-conditional `unet` sampled towards `labels` (one per image of the batch) with guidance
 * scale w. w = 0 and w = 1 make one pass (unconditional / conditional) instead of two, so w = 0
 * samples exactly what the unconditional model (all-null labels) samples.
 */
export function cfgModel(unet: UNet, labels: ArrayLike<number>, scale: number, opts: { prediction?: Prediction; counter?: CfgCounter } = {}): DiffusionModel {
  const k = unet.config.numClasses;
  if (k === undefined) throw new Error('cfgModel: the UNet has no class conditioning (config.numClasses is not set)');
  checkScale(scale, 'cfgModel');
  const ids = Array.from(checkLabels(labels, k, 'cfgModel'));
  const nulls = new Array<number>(ids.length).fill(k);
  const count = (images: number) => {
    if (opts.counter) {
      opts.counter.calls++;
      opts.counter.images += images;
    }
  };
  return {
    prediction: opts.prediction ?? 'eps',
    predict(xt, t) {
      const b = xt.shape[0];
      if (b !== ids.length) throw new Error(`cfgModel: ${ids.length} labels for a batch of ${b}`);
      count(scale === 0 || scale === 1 ? b : 2 * b);
      if (scale === 0) return unet.apply(xt, t, { classLabels: nulls });
      if (scale === 1) return unet.apply(xt, t, { classLabels: ids });
      return tf.tidy(() => {
        const out = unet.apply(tf.concat([xt, xt], 0) as tf.Tensor4D, [...t, ...t], { classLabels: [...ids, ...nulls] });
        const [c, u] = tf.split(out, 2, 0);
        return tf.add(u, tf.mul(tf.sub(c, u), scale)) as tf.Tensor4D;
      });
    },
  };
}
