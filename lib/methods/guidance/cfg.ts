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
import { Prediction } from '../../core/loss';
import { DiffusionModel } from '../../core/samplers/types';
import { GroundedCondition, UNet } from '../../core/unet/unet';
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
  return cfgConditionModel(unet, { classLabels: ids }, { classLabels: new Array<number>(ids.length).fill(k) }, scale, opts);
}

/**
 * Classifier-free guidance for any condition: `cond` (class labels, captions, a context) against
 * `uncond` (the same with the null class, '' captions, a null context), mixed with scale w in one
 * batched pass over [x; x]. w = 0 and w = 1 make one pass.
 */
export function cfgConditionModel(unet: UNet, cond: GroundedCondition, uncond: GroundedCondition, scale: number, opts: { prediction?: Prediction; counter?: CfgCounter } = {}): DiffusionModel {
  checkScale(scale, 'cfgConditionModel');
  const guided = scale !== 0 && scale !== 1;
  if (conditionKinds(cond) !== conditionKinds(uncond)) throw new Error(`cfgConditionModel: cond and uncond differ in kind (${conditionKinds(cond)} vs ${conditionKinds(uncond)})`);
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
      checkConditionBatch(cond, b);
      count(guided ? 2 * b : b);
      if (scale === 0) return unet.apply(xt, t, uncond);
      if (scale === 1) return unet.apply(xt, t, cond);
      return tf.tidy(() => {
        const out = unet.apply(tf.concat([xt, xt], 0) as tf.Tensor4D, [...t, ...t], concatConditions(cond, uncond));
        const [c, u] = tf.split(out, 2, 0);
        return tf.add(u, tf.mul(tf.sub(c, u), scale)) as tf.Tensor4D;
      });
    },
  };
}

/** Two conditions of the same kind stacked along the batch: the guided pass's [cond; uncond]. */
export function concatConditions(a: GroundedCondition, b: GroundedCondition): GroundedCondition {
  if (conditionKinds(a) !== conditionKinds(b)) throw new Error(`concatConditions: the conditions differ in kind (${conditionKinds(a)} vs ${conditionKinds(b)})`);
  const out: GroundedCondition = {};
  const list = (v: ArrayLike<number> | tf.Tensor1D) => (v instanceof tf.Tensor ? Array.from(v.dataSync()) : Array.from(v));
  if (a.classLabels !== undefined) out.classLabels = [...list(a.classLabels), ...list(b.classLabels!)];
  // New tensors: call inside tf.tidy (the guided model does).
  if (a.concat) out.concat = tf.concat([a.concat, b.concat!], 0);
  if (a.context) out.context = tf.concat([a.context, b.context!], 0);
  if (a.contextMask) out.contextMask = tf.concat([a.contextMask, b.contextMask!], 0);
  if (a.vector) out.vector = tf.concat([a.vector, b.vector!], 0);
  if (a.grounding) out.grounding = tf.concat([a.grounding, b.grounding!], 0);
  if (a.groundingMask) out.groundingMask = tf.concat([a.groundingMask, b.groundingMask!], 0);
  if (a.text !== undefined) {
    if (!Array.isArray(a.text) || !Array.isArray(b.text)) throw new Error('concatConditions: pass captions as string arrays');
    out.text = [...a.text, ...b.text];
  }
  return out;
}

/** The condition must hold one entry per image: the error names the caller's counts, not the doubled batch. */
function checkConditionBatch(c: GroundedCondition, b: number): void {
  const sizes: [string, number | undefined][] = [
    ['labels', c.classLabels instanceof tf.Tensor ? c.classLabels.shape[0] : c.classLabels?.length],
    ['captions', Array.isArray(c.text) ? c.text.length : undefined],
    ['context rows', c.context?.shape[0]],
    ['concat images', c.concat?.shape[0]],
    ['vectors', c.vector?.shape[0]],
  ];
  for (const [what, n] of sizes) if (n !== undefined && n !== b) throw new Error(`cfgConditionModel: ${n} ${what} for a batch of ${b}`);
}

function conditionKinds(c: GroundedCondition): string {
  return (Object.keys(c) as (keyof GroundedCondition)[]).filter((k) => c[k] !== undefined).sort().join();
}
