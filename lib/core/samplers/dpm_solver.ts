// DPM-Solver++(2M) (Lu et al. 2022, "DPM-Solver++", Algorithm 2): a second-order multistep ODE
// solver for the probability-flow ODE in its data-prediction (x0) form, as diffusers'
// DPMSolverMultistepScheduler with algorithm_type 'dpmsolver++', solver_order 2, solver_type
// 'midpoint'. With alpha_t = sqrt(abar_t), sigma_t = sqrt(1 - abar_t), lambda_t = log(alpha_t / sigma_t)
// and h = lambda_next - lambda_cur:
//   first order (= DDIM):  x' = (sigma'/sigma) x - alpha' (e^-h - 1) D0
//   second order:          x' = (sigma'/sigma) x - alpha' (e^-h - 1) (D0 + D1 / 2),
//                          D0 = x0_cur, D1 = (x0_cur - x0_prev) / r, r = h_prev / h.
// The first step has no history and the last (to sigma = 0, where x' = x0_cur) is first order.
// Deterministic: the Rng only draws x_T. 10-20 steps reach what DDPM needs hundreds for.
// Timesteps default to 'logsnr': uniform in lambda from t = T-1 down to t = 0 (Lu et al.'s
// recommendation for low-resolution pixel models). With uniform-in-t spacings the steps in lambda
// are very uneven and the multistep extrapolation suffers: on Gaussian data with the exact
// denoiser, 10 steps give a spread of 0.52 (logsnr), 0.40 ('trailing', which ends by jumping
// from t = 99 straight to clean) or 0.69 ('linspace') instead of 0.5 (tests/samplers.spec.ts).
import * as tf from '@tensorflow/tfjs-core';
import { predictionToEpsX0 } from '../loss';
import { NoiseSchedule, respaceTimesteps, TimestepSpacing } from '../schedule';
import { DiffusionModel, SampleOptions, Sampler, startingNoise } from './types';

export type DPMSpacing = TimestepSpacing | 'logsnr';

export interface DPMSolverOptions extends SampleOptions {
  spacing?: DPMSpacing;
}

/** log(alpha/sigma) = log SNR / 2 at abar; +Infinity for abar = 1 (the clean end). */
function lambda(abar: number): number {
  return abar >= 1 ? Infinity : 0.5 * Math.log(abar) - 0.5 * Math.log(1 - abar);
}

/**
 * `steps` distinct timesteps, descending from T-1 to 0, each the one whose lambda is nearest to a
 * grid uniform in lambda. Where the schedule's lambda is too steep for distinct nearest steps
 * (cosine near t = T-1), later steps are pushed down by one so all stay distinct.
 */
export function logSnrTimesteps(schedule: NoiseSchedule, steps: number): number[] {
  const T = schedule.T;
  if (!Number.isInteger(steps) || steps <= 0 || steps > T) throw new Error(`logSnrTimesteps: steps must be an integer in [1, ${T}], got ${steps}`);
  const lam = Array.from(schedule.alphasCumprod, lambda);
  const hi = lam[T - 1];
  const lo = lam[0];
  const ts: number[] = [];
  let t = T - 1; // lambda increases as t decreases: walk down once
  for (let i = 0; i < steps; i++) {
    const target = steps === 1 ? hi : hi + ((lo - hi) * i) / (steps - 1);
    while (t > 0 && Math.abs(lam[t - 1] - target) <= Math.abs(lam[t] - target)) t--;
    let pick = t;
    if (i > 0 && pick >= ts[i - 1]) pick = ts[i - 1] - 1;
    pick = Math.max(pick, steps - 1 - i); // leave room for the remaining steps
    ts.push(pick);
    t = Math.min(t, pick);
  }
  return ts;
}

function dpmTimesteps(schedule: NoiseSchedule, steps: number, spacing: DPMSpacing): number[] {
  return spacing === 'logsnr' ? logSnrTimesteps(schedule, steps) : respaceTimesteps(schedule.T, steps, spacing);
}

export interface DPMStepCoefs {
  /** x' = cX * x + cD0 * x0_cur + cD1 * x0_prev. */
  cX: number;
  cD0: number;
  cD1: number;
}

/**
 * Coefficients of the step from abar to abarNext; abarPrevStep is the step before (for the
 * second-order term), or null for a first-order step.
 */
export function dpmSolverStepCoefs(abar: number, abarNext: number, abarPrevStep: number | null): DPMStepCoefs {
  const sigma = Math.sqrt(1 - abar);
  const sigmaN = Math.sqrt(1 - abarNext);
  const alphaN = Math.sqrt(abarNext);
  const h = lambda(abarNext) - lambda(abar);
  // -(e^-h - 1) = 1 - e^-h; expm1 keeps it accurate for small h. At sigma' = 0 (h = inf) it is 1.
  const phi = Number.isFinite(h) ? -Math.expm1(-h) : 1;
  const cX = sigmaN / sigma;
  if (abarPrevStep === null) return { cX, cD0: alphaN * phi, cD1: 0 };
  const r = (lambda(abar) - lambda(abarPrevStep)) / h;
  // D0 + D1/2 with D1 = (x0_cur - x0_prev)/r: x0_cur gets 1 + 1/(2r), x0_prev gets -1/(2r).
  return { cX, cD0: alphaN * phi * (1 + 1 / (2 * r)), cD1: (-alphaN * phi) / (2 * r) };
}

export class DPMSolverSampler implements Sampler<DPMSolverOptions> {
  readonly name = 'dpm++2m';

  constructor(readonly schedule: NoiseSchedule, readonly defaults: { spacing?: DPMSpacing } = {}) {}

  sample(model: DiffusionModel, shape: [number, number, number, number], opts: DPMSolverOptions): tf.Tensor4D {
    const s = this.schedule;
    const ts = dpmTimesteps(s, opts.steps, opts.spacing ?? this.defaults.spacing ?? 'logsnr');
    const clip = opts.clipDenoised ?? true;
    let x = startingNoise('DPM-Solver++', shape, opts);
    let prevX0: tf.Tensor4D | null = null;
    try {
      for (let i = 0; i < ts.length; i++) {
        const t = ts[i];
        const last = i + 1 === ts.length;
        const abarNext = last ? 1 : s.alphasCumprod[ts[i + 1]];
        const secondOrder = prevX0 !== null && !last;
        const c = dpmSolverStepCoefs(s.alphasCumprod[t], abarNext, secondOrder ? s.alphasCumprod[ts[i - 1]] : null);
        const p0 = prevX0;
        const [next, x0] = tf.tidy(() => {
          const tBatch = new Array<number>(shape[0]).fill(t);
          let x0 = predictionToEpsX0(s, x, tBatch, model.predict(x, tBatch), model.prediction).x0;
          if (clip) x0 = tf.clipByValue(x0, -1, 1);
          let xn = tf.add(tf.mul(c.cX, x), tf.mul(c.cD0, x0));
          if (secondOrder && p0) xn = tf.add(xn, tf.mul(c.cD1, p0));
          return [xn as tf.Tensor4D, x0 as tf.Tensor4D];
        });
        x.dispose();
        x = next;
        opts.onStep?.({ index: i, t, x, x0 });
        prevX0?.dispose();
        prevX0 = x0;
      }
    } finally {
      prevX0?.dispose();
    }
    return x;
  }
}
