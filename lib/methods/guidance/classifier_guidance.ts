// Classifier guidance (Dhariwal & Nichol 2021, "Diffusion Models Beat GANs"): steer an UNCONDITIONAL
// diffusion model towards class y with the gradient of a noisy classifier's log p(y | x_t).
// Bayes: grad log p(x_t | y) = grad log p(x_t) + grad log p(y | x_t), and the score of p(x_t) is
// -eps / sqrt(1 - abar_t), so the class-conditional noise prediction is
//     eps'(x_t) = eps(x_t) - s * sqrt(1 - abar_t) * grad_x log p(y | x_t)        (their Algorithm 2)
// with a scale s > 1 sharpening p(y | x)^s (more class-typical, less varied images). That form works
// with every sampler that reads eps (DDIM, DPM-Solver++, DDPM). For DDPM the paper's Algorithm 1
// shifts each step's Gaussian mean instead: mu + s * Sigma * grad log p(y | x_t), our meanShift hook.
// Cost: each step adds one classifier forward AND backward pass (tf.grad) to the UNet's forward pass.
import * as tf from '@tensorflow/tfjs-core';
import '../../core/tfjs_setup';
import { predictionToEpsX0 } from '../../core/loss';
import { DDPMSampler } from '../../core/samplers/ddpm';
import { makeSampler, SamplerName } from '../../core/samplers/index';
import { DiffusionModel, SampleOptions } from '../../core/samplers/types';
import { NoiseSchedule } from '../../core/schedule';
import { checkLabels, NoisyClassifier } from './noisy_classifier';

/** A guidance scale: a finite number >= 0 (0 = no guidance). */
export function checkScale(scale: number, who: string): void {
  if (typeof scale !== 'number' || !Number.isFinite(scale) || scale < 0)
    throw new Error(`${who}: guidance scale must be a finite number >= 0, got ${scale}`);
}

/** grad_x sum_i log p(y_i | x_i, t_i): one classifier forward and backward pass, [B, H, W, C]. */
export function classifierGradient(
  clf: NoisyClassifier,
  x: tf.Tensor4D,
  t: number[],
  labels: ArrayLike<number>,
): tf.Tensor4D {
  return tf.tidy(() => tf.grad((xx: tf.Tensor) => tf.sum(clf.logProb(xx as tf.Tensor4D, t, labels)))(x) as tf.Tensor4D);
}

/** Counts of the passes a guided sampler made (for the lessons' cost tables). */
export interface PassCounter {
  /** Diffusion-network calls and the images they processed. */
  unetCalls: number;
  unetImages: number;
  /** Classifier forward+backward passes and their images. */
  classifierCalls: number;
  classifierImages: number;
}

export function newPassCounter(): PassCounter {
  return { unetCalls: 0, unetImages: 0, classifierCalls: 0, classifierImages: 0 };
}

/**
 * The unconditional `model` guided towards `labels` (one per image of the batch it will sample) with
 * scale s, as an eps-predicting DiffusionModel (Algorithm 2). Scale 0 returns the model's own eps
 * without touching the classifier, so it samples exactly what the unguided model samples.
 */
export function classifierGuidedModel(
  model: DiffusionModel,
  clf: NoisyClassifier,
  schedule: NoiseSchedule,
  labels: ArrayLike<number>,
  scale: number,
  counter?: PassCounter,
): DiffusionModel {
  checkScale(scale, 'classifierGuidedModel');
  const ids = checkLabels(labels, clf.config.numClasses, 'classifierGuidedModel');
  return {
    prediction: 'eps',
    predict(xt, t) {
      if (t.length !== ids.length)
        throw new Error(`classifierGuidedModel: ${ids.length} labels for a batch of ${t.length}`);
      return tf.tidy(() => {
        const out = model.predict(xt, t);
        if (counter) {
          counter.unetCalls++;
          counter.unetImages += t.length;
        }
        const eps = model.prediction === 'eps' ? out : predictionToEpsX0(schedule, xt, t, out, model.prediction).eps;
        if (scale === 0) return eps as tf.Tensor4D;
        const g = classifierGradient(clf, xt, t, ids);
        if (counter) {
          counter.classifierCalls++;
          counter.classifierImages += t.length;
        }
        const s = schedule.coef(schedule.sqrtOneMinusAlphasCumprod, t, 4);
        return tf.sub(eps, tf.mul(tf.mul(s, scale), g)) as tf.Tensor4D;
      });
    },
  };
}

/** DDPM's Algorithm-1 hook: s * sigma^2 * grad log p(y | x_t), for DDPMOptions.meanShift. */
export function classifierMeanShift(
  clf: NoisyClassifier,
  labels: ArrayLike<number>,
  scale: number,
  counter?: PassCounter,
): (xt: tf.Tensor4D, t: number, variance: number) => tf.Tensor4D {
  checkScale(scale, 'classifierMeanShift');
  const ids = checkLabels(labels, clf.config.numClasses, 'classifierMeanShift');
  return (xt, t, variance) =>
    tf.tidy(() => {
      if (xt.shape[0] !== ids.length)
        throw new Error(`classifierMeanShift: ${ids.length} labels for a batch of ${xt.shape[0]}`);
      if (counter) {
        counter.classifierCalls++;
        counter.classifierImages += ids.length;
      }
      return tf.mul(
        classifierGradient(clf, xt, new Array<number>(ids.length).fill(t), ids),
        scale * variance,
      ) as tf.Tensor4D;
    });
}

export interface ClassifierGuidedSampleOptions extends SampleOptions {
  sampler: SamplerName;
  labels: ArrayLike<number>;
  scale: number;
  counter?: PassCounter;
}

/**
 * Samples `shape` images of the given labels with classifier guidance: DDPM with the mean shift
 * (Algorithm 1), DDIM and DPM-Solver++ with the guided eps (Algorithm 2). The caller disposes the result.
 */
export function classifierGuidedSample(
  model: DiffusionModel,
  clf: NoisyClassifier,
  schedule: NoiseSchedule,
  shape: [number, number, number, number],
  o: ClassifierGuidedSampleOptions,
): tf.Tensor4D {
  checkScale(o.scale, 'classifierGuidedSample');
  if (o.labels.length !== shape[0])
    throw new Error(`classifierGuidedSample: ${o.labels.length} labels for ${shape[0]} images`);
  const { sampler, labels, scale, counter, ...opts } = o;
  if (sampler === 'ddpm') {
    const counted: DiffusionModel = {
      prediction: model.prediction,
      predict: (x, t) => {
        if (counter) {
          counter.unetCalls++;
          counter.unetImages += t.length;
        }
        return model.predict(x, t);
      },
    };
    const meanShift = classifierMeanShift(clf, labels, scale, counter);
    // Scale 0: no hook at all, so the run is the unguided DDPM sampler's, step for step.
    return new DDPMSampler(schedule).sample(counted, shape, { ...opts, meanShift: scale > 0 ? meanShift : undefined });
  }
  return makeSampler(sampler, schedule).sample(
    classifierGuidedModel(model, clf, schedule, labels, scale, counter),
    shape,
    opts,
  );
}
