// DDIM (Song, Meng & Ermon 2021): a non-Markovian reverse process with the same marginals as DDPM,
// so a model trained on T steps can be sampled on any subset of them. eta = 0 is deterministic
// (an ODE solver: the same x_T always gives the same image); eta = 1 matches DDPM's variance.
import * as tf from '@tensorflow/tfjs-core';
import { predictionToEpsX0 } from '../loss';
import { NoiseSchedule, respaceTimesteps, TimestepSpacing } from '../schedule';
import { DiffusionModel, SampleOptions, Sampler, startingNoise } from './types';

export interface DDIMOptions extends SampleOptions {
  /** Stochasticity, 0..1 (default the sampler's). */
  eta?: number;
  spacing?: TimestepSpacing;
}

export class DDIMSampler implements Sampler<DDIMOptions> {
  readonly name = 'ddim';

  constructor(readonly schedule: NoiseSchedule, readonly defaults: { eta?: number; spacing?: TimestepSpacing } = {}) {}

  sample(model: DiffusionModel, shape: [number, number, number, number], opts: DDIMOptions): tf.Tensor4D {
    const s = this.schedule;
    const eta = opts.eta ?? this.defaults.eta ?? 0;
    if (!(eta >= 0 && eta <= 1)) throw new Error(`DDIM: eta must be in [0, 1], got ${eta}`);
    const ts = respaceTimesteps(s.T, opts.steps, opts.spacing ?? this.defaults.spacing ?? 'trailing');
    const clip = opts.clipDenoised ?? true;
    const b = shape[0];
    let x = startingNoise('DDIM', shape, opts);
    for (let i = 0; i < ts.length; i++) {
      const t = ts[i];
      const abar = s.alphasCumprod[t];
      const abarPrev = i + 1 < ts.length ? s.alphasCumprod[ts[i + 1]] : 1;
      // sigma_t of eq. 16: eta scales between deterministic DDIM (0) and DDPM's posterior std (1).
      const sigma = eta * Math.sqrt(((1 - abarPrev) / (1 - abar)) * (1 - abar / abarPrev));
      const dirCoef = Math.sqrt(Math.max(1 - abarPrev - sigma * sigma, 0));
      const z = sigma > 0 ? (opts.rng.normalTensor(shape) as tf.Tensor4D) : null;
      const [next, x0] = tf.tidy(() => {
        const tBatch = new Array<number>(b).fill(t);
        const out = model.predict(x, tBatch);
        let { eps, x0 } = predictionToEpsX0(s, x, tBatch, out, model.prediction);
        if (clip) {
          x0 = tf.clipByValue(x0, -1, 1);
          // Re-derive eps from the clipped x0 so the step stays consistent with it.
          eps = tf.div(tf.sub(x, tf.mul(Math.sqrt(abar), x0)), Math.sqrt(1 - abar));
        }
        let xn = tf.add(tf.mul(Math.sqrt(abarPrev), x0), tf.mul(dirCoef, eps));
        if (z) xn = tf.add(xn, tf.mul(sigma, z));
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
