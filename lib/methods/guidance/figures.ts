// The tensors behind lessons 06 and 07's figures (그림13, 그림14), computed with the real networks:
// what the guidance term looks like for each target class at one noisy image x_t, and what it does
// to the model's clean-image estimate x̂0; and per-class sample grids from shared starting noise.
import * as tf from '@tensorflow/tfjs-core';
import '../../core/tfjs_setup';
import { predictionToEpsX0 } from '../../core/loss';
import { Rng } from '../../core/random';
import { makeSampler, SamplerName } from '../../core/samplers/index';
import { unetModel } from '../../core/samplers/types';
import { NoiseSchedule } from '../../core/schedule';
import { UNet } from '../../core/unet/unet';
import { cfgModel } from './cfg';
import { classifierGradient, classifierGuidedModel, classifierGuidedSample } from './classifier_guidance';
import { NoisyClassifier } from './noisy_classifier';

/** One guided step taken apart, for each of K target classes at the same x_t (all [K, H, W, C] unless noted). */
export interface GuidanceAnatomy {
  t: number;
  /** The unguided model's x̂0 at x_t, [1, H, W, C]. */
  x0Plain: tf.Tensor4D;
  /**
   * The direction guidance pushes x_t in, scaled to [-1, 1] per image for display:
   * classifier guidance: grad log p(y | x_t); CFG: -(eps_c - eps_u), the implicit classifier's gradient up to 1/sqrt(1 - abar).
   */
  direction: tf.Tensor4D;
  /** x̂0 after guidance towards each class. */
  x0Guided: tf.Tensor4D;
}

export function disposeAnatomy(a: GuidanceAnatomy): void {
  tf.dispose([a.x0Plain, a.direction, a.x0Guided]);
}

function perImageUnit(x: tf.Tensor4D): tf.Tensor4D {
  return tf.tidy(() => tf.div(x, tf.add(tf.max(tf.abs(x), [1, 2, 3], true), 1e-12)) as tf.Tensor4D);
}

function checkOne(xt: tf.Tensor4D, who: string): void {
  if (xt.shape[0] !== 1) throw new Error(`${who}: pass one noisy image x_t [1, H, W, C], got [${xt.shape}]`);
}

/** Classifier guidance at x_t (one image), towards each class 0..K-1, with an unconditional UNet. */
export function classifierGuidanceAnatomy(
  unet: UNet,
  clf: NoisyClassifier,
  schedule: NoiseSchedule,
  xt: tf.Tensor4D,
  t: number,
  scale: number,
): GuidanceAnatomy {
  checkOne(xt, 'classifierGuidanceAnatomy');
  const k = clf.config.numClasses;
  const labels = Array.from({ length: k }, (_, i) => i);
  return tf.tidy(() => {
    const xs = tf.tile(xt, [k, 1, 1, 1]) as tf.Tensor4D;
    const ts = new Array<number>(k).fill(t);
    const base = unetModel(unet);
    const x0Plain = tf.clipByValue(
      predictionToEpsX0(schedule, xt, [t], base.predict(xt, [t]), 'eps').x0,
      -1,
      1,
    ) as tf.Tensor4D;
    const direction = perImageUnit(classifierGradient(clf, xs, ts, labels));
    const guided = classifierGuidedModel(base, clf, schedule, labels, scale).predict(xs, ts);
    const x0Guided = tf.clipByValue(predictionToEpsX0(schedule, xs, ts, guided, 'eps').x0, -1, 1) as tf.Tensor4D;
    return { t, x0Plain, direction, x0Guided };
  });
}

/** Classifier-free guidance at x_t (one image), towards each class, with a class-conditional UNet. */
export function cfgAnatomy(
  unet: UNet,
  schedule: NoiseSchedule,
  xt: tf.Tensor4D,
  t: number,
  scale: number,
): GuidanceAnatomy {
  checkOne(xt, 'cfgAnatomy');
  const k = unet.config.numClasses;
  if (k === undefined) throw new Error('cfgAnatomy: the UNet has no class conditioning');
  const labels = Array.from({ length: k }, (_, i) => i);
  return tf.tidy(() => {
    const xs = tf.tile(xt, [k, 1, 1, 1]) as tf.Tensor4D;
    const ts = new Array<number>(k).fill(t);
    const x0Plain = tf.clipByValue(
      predictionToEpsX0(schedule, xt, [t], cfgModel(unet, [0], 0).predict(xt, [t]), 'eps').x0,
      -1,
      1,
    ) as tf.Tensor4D;
    const epsC = cfgModel(unet, labels, 1).predict(xs, ts);
    const epsU = cfgModel(unet, labels, 0).predict(xs, ts);
    const direction = perImageUnit(tf.neg(tf.sub(epsC, epsU)) as tf.Tensor4D);
    const guided = cfgModel(unet, labels, scale).predict(xs, ts);
    const x0Guided = tf.clipByValue(predictionToEpsX0(schedule, xs, ts, guided, 'eps').x0, -1, 1) as tf.Tensor4D;
    return { t, x0Plain, direction, x0Guided };
  });
}

export interface ClassGridOptions {
  perClass: number;
  steps: number;
  sampler?: SamplerName;
  seed?: number;
  classes?: number;
}

/**
 * Samples a [classes * perClass] grid, row = class, column j starting from the same noise in every
 * row (and for every scale given the same seed), so rows differ only by the class asked for.
 * `sample(labels, xT, rng)` runs the guided sampler for those labels from xT.
 */
export function classGrid(
  sample: (labels: number[], xT: tf.Tensor4D, rng: Rng) => tf.Tensor4D,
  o: ClassGridOptions,
  imageShape: [number, number, number] = [28, 28, 1],
): tf.Tensor4D {
  const classes = o.classes ?? 10;
  if (!Number.isInteger(o.perClass) || o.perClass < 1)
    throw new Error(`classGrid: perClass must be a positive integer, got ${o.perClass}`);
  const labels = Array.from({ length: classes * o.perClass }, (_, i) => Math.floor(i / o.perClass));
  const rng = new Rng(o.seed ?? 0);
  const cols = rng.normalTensor([o.perClass, ...imageShape]);
  const xT = tf.tidy(() => tf.tile(cols, [classes, 1, 1, 1])) as tf.Tensor4D;
  cols.dispose();
  try {
    return sample(labels, xT, rng);
  } finally {
    xT.dispose();
  }
}

/** classGrid for classifier-free guidance at scale w. */
export function cfgClassGrid(unet: UNet, schedule: NoiseSchedule, scale: number, o: ClassGridOptions): tf.Tensor4D {
  return classGrid(
    (labels, xT, rng) =>
      makeSampler(o.sampler ?? 'ddim', schedule).sample(
        cfgModel(unet, labels, scale),
        xT.shape as [number, number, number, number],
        { steps: o.steps, rng, xT },
      ),
    o,
  );
}

/** classGrid for classifier guidance at scale s (DDPM: Algorithm 1; DDIM / DPM-Solver++: Algorithm 2). */
export function classifierClassGrid(
  unet: UNet,
  clf: NoisyClassifier,
  schedule: NoiseSchedule,
  scale: number,
  o: ClassGridOptions,
): tf.Tensor4D {
  return classGrid(
    (labels, xT, rng) =>
      classifierGuidedSample(unetModel(unet), clf, schedule, xT.shape as [number, number, number, number], {
        sampler: o.sampler ?? 'ddim',
        labels,
        scale,
        steps: o.steps,
        rng,
        xT,
      }),
    o,
  );
}
