// DDPM ancestral sampling (Ho et al. 2020, Algorithm 2), on any respaced subset of the T timesteps
// (Nichol & Dhariwal 2021, sec. 4): between consecutive kept steps t -> s the effective
// beta' = 1 - abar_t / abar_s, and each step draws x_s from the Gaussian posterior
// q(x_s | x_t, x0_hat) with x0_hat the model's clean-image estimate. The variance is the posterior's
// beta~ = (1 - abar_s) / (1 - abar_t) * beta' (default; DDIM with eta = 1 is the same process) or
// the larger beta' itself (Ho et al.'s other choice). The last step returns the mean, without noise.
import * as tf from '@tensorflow/tfjs-core';
import { predictionToEpsX0 } from '../loss';
import { NoiseSchedule, respaceTimesteps, TimestepSpacing } from '../schedule';
import { DiffusionModel, SampleOptions, Sampler, startingNoise } from './types';

export type DDPMVariance = 'posterior' | 'beta';

export interface DDPMOptions extends SampleOptions {
  /** 'posterior' (beta~, default) or 'beta'. */
  variance?: DDPMVariance;
  spacing?: TimestepSpacing;
  /**
   * Optional shift of each step's mean, given x_t, t and the step's variance sigma^2; what it returns
   * is added to the mean. Classifier guidance (Dhariwal & Nichol, Algorithm 1) passes
   * s * sigma^2 * grad log p(y | x_t). Not called on the last step, which adds no noise (sigma = 0).
   */
  meanShift?: (xt: tf.Tensor4D, t: number, variance: number) => tf.Tensor4D;
}

/** The coefficients of one respaced ancestral step t -> s (abarPrev = 1 after the last step). */
export interface DDPMStepCoefs {
  /** x_s mean = cX0 * x0_hat + cXt * x_t. */
  cX0: number;
  cXt: number;
  /** Standard deviation of the added noise (0 on the last step). */
  sigma: number;
}

export function ddpmStepCoefs(abar: number, abarPrev: number, variance: DDPMVariance, last: boolean): DDPMStepCoefs {
  const beta = 1 - abar / abarPrev;
  const cX0 = (Math.sqrt(abarPrev) * beta) / (1 - abar);
  const cXt = (Math.sqrt(1 - beta) * (1 - abarPrev)) / (1 - abar);
  const v = variance === 'beta' ? beta : ((1 - abarPrev) / (1 - abar)) * beta;
  return { cX0, cXt, sigma: last ? 0 : Math.sqrt(v) };
}

export class DDPMSampler implements Sampler<DDPMOptions> {
  readonly name = 'ddpm';

  constructor(readonly schedule: NoiseSchedule, readonly defaults: { variance?: DDPMVariance; spacing?: TimestepSpacing } = {}) {}

  sample(model: DiffusionModel, shape: [number, number, number, number], opts: DDPMOptions): tf.Tensor4D {
    const s = this.schedule;
    const variance = opts.variance ?? this.defaults.variance ?? 'posterior';
    if (variance !== 'posterior' && variance !== 'beta') throw new Error(`DDPM: variance must be 'posterior' or 'beta', got '${variance as string}'`);
    const ts = respaceTimesteps(s.T, opts.steps, opts.spacing ?? this.defaults.spacing ?? 'trailing');
    const clip = opts.clipDenoised ?? true;
    let x = startingNoise('DDPM', shape, opts);
    for (let i = 0; i < ts.length; i++) {
      const t = ts[i];
      const last = i + 1 === ts.length;
      const c = ddpmStepCoefs(s.alphasCumprod[t], last ? 1 : s.alphasCumprod[ts[i + 1]], variance, last);
      // Noise is drawn before the network runs, in the same order as DDIMSampler, so DDIM(eta=1) and
      // DDPM(posterior) given one seed produce the same samples, not just the same distribution.
      const z = c.sigma > 0 ? (opts.rng.normalTensor(shape) as tf.Tensor4D) : null;
      const [next, x0] = tf.tidy(() => {
        const tBatch = new Array<number>(shape[0]).fill(t);
        let x0 = predictionToEpsX0(s, x, tBatch, model.predict(x, tBatch), model.prediction).x0;
        if (clip) x0 = tf.clipByValue(x0, -1, 1);
        let xn = tf.add(tf.mul(c.cX0, x0), tf.mul(c.cXt, x));
        if (opts.meanShift && c.sigma > 0) xn = tf.add(xn, opts.meanShift(x, t, c.sigma * c.sigma));
        if (z) xn = tf.add(xn, tf.mul(c.sigma, z));
        return [xn as tf.Tensor4D, x0 as tf.Tensor4D];
      });
      z?.dispose();
      x.dispose();
      x = next;
      opts.onStep?.({ index: i, t, x, x0 });
      x0.dispose();
    }
    return x;
  }
}
