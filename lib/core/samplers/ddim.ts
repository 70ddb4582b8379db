// DDIM (Song, Meng & Ermon 2021): a non-Markovian reverse process with the same marginals as DDPM,
// so a model trained on T steps can be sampled on any subset of them. eta = 0 is deterministic
// (an ODE solver: the same x_T always gives the same image); eta = 1 matches DDPM's variance.
// With abar = abar_t and abarPrev = abar of the plan's next timestep (1 after the last), eq. 12:
//   x_prev = sqrt(abarPrev) x0_hat + sqrt(1 - abarPrev - sigma^2) eps + sigma z
// ("predicted x0", "direction pointing to x_t", "random noise"), sigma from eq. 16.
import * as tf from '@tensorflow/tfjs-core';
import { Prediction, predictionToEpsX0 } from '../loss';
import { NoiseSchedule, respaceTimesteps, TimestepSpacing } from '../schedule';
import { sampleLoop } from './loop';
import { clipX0 } from './threshold';
import { DiffusionModel, SampleOptions, Sampler, SamplerRun, StepResult } from './types';

export interface DDIMOptions extends SampleOptions {
  /** Stochasticity, 0..1 (default the sampler's). */
  eta?: number;
  spacing?: TimestepSpacing;
}

export interface DDIMRun extends SamplerRun {
  readonly timesteps: readonly number[];
  readonly eta: number;
}

export class DDIMSampler implements Sampler<DDIMOptions, DDIMRun> {
  readonly name = 'ddim';

  constructor(
    readonly schedule: NoiseSchedule,
    readonly defaults: { eta?: number; spacing?: TimestepSpacing } = {},
  ) {}

  /** `steps` of the T timesteps, descending (default spacing 'trailing': starts at T-1). */
  timesteps(steps: number, spacing: TimestepSpacing = this.defaults.spacing ?? 'trailing'): number[] {
    return respaceTimesteps(this.schedule.T, steps, spacing);
  }

  start(opts: DDIMOptions, prediction: Prediction): DDIMRun {
    const eta = opts.eta ?? this.defaults.eta ?? 0;
    if (!(eta >= 0 && eta <= 1)) throw new Error(`DDIM: eta must be in [0, 1], got ${eta}`);
    const timesteps = this.timesteps(opts.steps, opts.spacing);
    return { timesteps, prediction, rng: opts.rng, clip: opts.clipDenoised ?? true, eta };
  }

  /** DDIM step i: x_t -> x_prev, t = ts[i], from the network output at x_t (as diffusers' DDIMScheduler.step). */
  step(out: tf.Tensor4D, i: number, x: tf.Tensor4D, run: DDIMRun): StepResult {
    const s = this.schedule;
    const ts = run.timesteps;
    const t = ts[i];
    // 1. abar_t and abar of the next timestep (1: the clean end, after the last step).
    const abar = s.alphasCumprod[t];
    const abarPrev = i + 1 < ts.length ? s.alphasCumprod[ts[i + 1]] : 1;
    // 2. sigma_t(eta) (eq. 16): eta scales between deterministic DDIM (0) and DDPM's posterior std (1).
    const sigma = run.eta * Math.sqrt(((1 - abarPrev) / (1 - abar)) * (1 - abar / abarPrev));
    const dirCoef = Math.sqrt(Math.max(1 - abarPrev - sigma * sigma, 0));
    return tf.tidy(() => {
      // 3. The "predicted x0" f_theta(x_t) = (x_t - sqrt(1 - abar) eps) / sqrt(abar) (eq. 9), and eps.
      let { eps, x0 } = predictionToEpsX0(s, x, new Array<number>(x.shape[0]).fill(t), out, run.prediction);
      if (run.clip) {
        // 4. Clip x0_hat (static or dynamic, threshold.ts), and re-derive eps so the step stays consistent with it.
        x0 = clipX0(x0 as tf.Tensor4D, run.clip);
        eps = tf.div(tf.sub(x, tf.mul(Math.sqrt(abar), x0)), Math.sqrt(1 - abar));
      }
      // 5. x_prev = sqrt(abarPrev) x0_hat + sqrt(1 - abarPrev - sigma^2) eps (eq. 12 without its noise) ...
      let prev = tf.add(tf.mul(Math.sqrt(abarPrev), x0), tf.mul(dirCoef, eps));
      // 6. ... + sigma z, z drawn from the run's Rng only when eta > 0 (eta = 0: the Rng only draws x_T).
      if (sigma > 0) prev = tf.add(prev, tf.mul(sigma, run.rng.normalTensor(x.shape)));
      return { prev: prev as tf.Tensor4D, x0: x0 as tf.Tensor4D };
    });
  }

  sample(model: DiffusionModel, shape: [number, number, number, number], opts: DDIMOptions): tf.Tensor4D {
    return sampleLoop(this, model, shape, opts);
  }
}
