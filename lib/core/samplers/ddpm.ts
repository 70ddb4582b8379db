// DDPM ancestral sampling (Ho et al. 2020, Algorithm 2), on any respaced subset of the T timesteps
// (Nichol & Dhariwal 2021, sec. 4): between consecutive kept steps t -> s the effective
// beta' = 1 - abar_t / abar_s, and each step draws x_s from the Gaussian posterior
// q(x_s | x_t, x0_hat) with x0_hat the model's clean-image estimate. The variance is the posterior's
// beta~ = (1 - abar_s) / (1 - abar_t) * beta' (default; DDIM with eta = 1 is the same process) or
// the larger beta' itself (Ho et al.'s other choice). The last step returns the mean, without noise.
// The plan is the respaced timesteps, descending; step i goes from ts[i] to ts[i + 1] (or to clean).
import * as tf from '@tensorflow/tfjs-core';
import { Prediction, predictionToEpsX0 } from '../loss';
import { NoiseSchedule, respaceTimesteps, TimestepSpacing } from '../schedule';
import { sampleLoop } from './loop';
import { clipX0 } from './threshold';
import { DiffusionModel, SampleOptions, Sampler, SamplerRun, StepResult } from './types';

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

export interface DDPMRun extends SamplerRun {
  readonly timesteps: readonly number[];
  readonly variance: DDPMVariance;
  readonly meanShift?: DDPMOptions['meanShift'];
}

export class DDPMSampler implements Sampler<DDPMOptions, DDPMRun> {
  readonly name = 'ddpm';

  constructor(
    readonly schedule: NoiseSchedule,
    readonly defaults: { variance?: DDPMVariance; spacing?: TimestepSpacing } = {},
  ) {}

  /** `steps` of the T timesteps, descending (default spacing 'trailing': starts at T-1). */
  timesteps(steps: number, spacing: TimestepSpacing = this.defaults.spacing ?? 'trailing'): number[] {
    return respaceTimesteps(this.schedule.T, steps, spacing);
  }

  start(opts: DDPMOptions, prediction: Prediction): DDPMRun {
    const variance = opts.variance ?? this.defaults.variance ?? 'posterior';
    if (variance !== 'posterior' && variance !== 'beta')
      throw new Error(`DDPM: variance must be 'posterior' or 'beta', got '${variance as string}'`);
    const timesteps = this.timesteps(opts.steps, opts.spacing);
    return {
      timesteps,
      prediction,
      rng: opts.rng,
      clip: opts.clipDenoised ?? true,
      variance,
      meanShift: opts.meanShift,
    };
  }

  /** Ancestral step i: x_t -> x_s, t = ts[i], from the network output at x_t. */
  step(out: tf.Tensor4D, i: number, x: tf.Tensor4D, run: DDPMRun): StepResult {
    const s = this.schedule;
    const ts = run.timesteps;
    const t = ts[i];
    const last = i + 1 === ts.length;
    const c = ddpmStepCoefs(s.alphasCumprod[t], last ? 1 : s.alphasCumprod[ts[i + 1]], run.variance, last);
    return tf.tidy(() => {
      // 1. x0_hat = (x_t - sqrt(1 - abar_t) eps) / sqrt(abar_t) (Ho et al. eq. 15, or the v / x0
      //    equivalent), clipped to the data range.
      let x0 = predictionToEpsX0(s, x, new Array<number>(x.shape[0]).fill(t), out, run.prediction).x0;
      if (run.clip) x0 = clipX0(x0 as tf.Tensor4D, run.clip);
      // 2. The posterior mean mu~(x_t, x0_hat) = cX0 x0_hat + cXt x_t (eq. 7).
      let prev = tf.add(tf.mul(c.cX0, x0), tf.mul(c.cXt, x));
      // 3. Classifier guidance moves the mean by s sigma^2 grad log p(y | x_t) (Dhariwal & Nichol, Algorithm 1).
      if (run.meanShift && c.sigma > 0) prev = tf.add(prev, run.meanShift(x, t, c.sigma * c.sigma));
      // 4. x_s = mu~ + sigma z (Algorithm 2, line 4). One draw per noisy step, in plan order, as
      //    DDIMSampler draws: DDIM(eta=1) and DDPM(posterior) given one seed give the same samples.
      if (c.sigma > 0) prev = tf.add(prev, tf.mul(c.sigma, run.rng.normalTensor(x.shape)));
      return { prev: prev as tf.Tensor4D, x0: x0 as tf.Tensor4D };
    });
  }

  sample(model: DiffusionModel, shape: [number, number, number, number], opts: DDPMOptions): tf.Tensor4D {
    return sampleLoop(this, model, shape, opts);
  }
}
