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
import '../../core/tfjs_setup';
import { concatConditions, Condition, conditionBatchSize, conditionFields } from '../../core/condition';
import { Prediction } from '../../core/loss';
import { DiffusionModel } from '../../core/samplers/types';
import { Denoiser } from '../../core/unet/denoiser';
import { UNetCondition } from '../../core/unet/unet';
import { checkScale } from './classifier_guidance';
import { checkLabels } from './noisy_classifier';

export { concatConditions };

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
export function cfgModel(
  unet: Denoiser<UNetCondition>,
  labels: ArrayLike<number>,
  scale: number,
  opts: { prediction?: Prediction; counter?: CfgCounter } = {},
): DiffusionModel {
  const k = unet.config.numClasses;
  if (k === undefined) throw new Error('cfgModel: the UNet has no class conditioning (config.numClasses is not set)');
  checkScale(scale, 'cfgModel');
  const ids = Array.from(checkLabels(labels, k, 'cfgModel'));
  return cfgConditionModel(
    unet,
    { classLabels: ids },
    { classLabels: new Array<number>(ids.length).fill(k) },
    scale,
    opts,
  );
}

/**
 * Classifier-free guidance for any condition: `cond` (class labels, captions, a context) against
 * `uncond` (the same fields with the null class, '' captions, a null context), mixed with scale w in
 * one batched pass over [x; x] with [cond; uncond] stacked field by field (lib/core/condition.ts).
 * w = 0 and w = 1 make one pass.
 */
export function cfgConditionModel<C extends Condition>(
  unet: Denoiser<C>,
  cond: C,
  uncond: C,
  scale: number,
  opts: { prediction?: Prediction; counter?: CfgCounter } = {},
): DiffusionModel {
  checkScale(scale, 'cfgConditionModel');
  const guided = scale !== 0 && scale !== 1;
  const [fc, fu] = [conditionFields(cond), conditionFields(uncond)];
  if (fc.join() !== fu.join()) throw new Error(`cfgConditionModel: cond and uncond differ in kind (${fc} vs ${fu})`);
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
      // One entry per image of the caller's batch: the error names the field, not the doubled batch.
      conditionBatchSize(cond, 'cfgConditionModel (cond)', b);
      conditionBatchSize(uncond, 'cfgConditionModel (uncond)', b);
      count(guided ? 2 * b : b);
      if (scale === 0) return unet.apply(xt, t, uncond);
      if (scale === 1) return unet.apply(xt, t, cond);
      return tf.tidy(() => {
        const out = unet.apply(
          tf.concat([xt, xt], 0) as tf.Tensor4D,
          [...t, ...t],
          concatConditions(cond, uncond, 'cfgConditionModel'),
        );
        const [c, u] = tf.split(out, 2, 0);
        return tf.add(u, tf.mul(tf.sub(c, u), scale)) as tf.Tensor4D;
      });
    },
  };
}
