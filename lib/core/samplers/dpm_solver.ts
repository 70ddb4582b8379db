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
// The multistep history (the previous step's x0) is the run's state, DPMSolverRun.prevX0.
import * as tf from '@tensorflow/tfjs-core';
import { Prediction, predictionToEpsX0 } from '../loss';
import { NoiseSchedule, respaceTimesteps, TimestepSpacing } from '../schedule';
import { sampleLoop } from './loop';
import { clipX0 } from './threshold';
import { DiffusionModel, SampleOptions, Sampler, SamplerRun, StepResult } from './types';

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
  if (!Number.isInteger(steps) || steps <= 0 || steps > T)
    throw new Error(`logSnrTimesteps: steps must be an integer in [1, ${T}], got ${steps}`);
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

export interface DPMSolverRun extends SamplerRun {
  readonly timesteps: readonly number[];
  /**
   * The state a multistep method carries: the previous step's x0 estimate (null before the first
   * step and after the last). Owned by the run: step replaces it, dispose() frees it.
   */
  prevX0: tf.Tensor4D | null;
  dispose(): void;
}

export class DPMSolverSampler implements Sampler<DPMSolverOptions, DPMSolverRun> {
  readonly name = 'dpm++2m';

  constructor(
    readonly schedule: NoiseSchedule,
    readonly defaults: { spacing?: DPMSpacing } = {},
  ) {}

  /** `steps` timesteps, descending to 0 (default spacing 'logsnr', see the header). */
  timesteps(steps: number, spacing: DPMSpacing = this.defaults.spacing ?? 'logsnr'): number[] {
    return dpmTimesteps(this.schedule, steps, spacing);
  }

  start(opts: DPMSolverOptions, prediction: Prediction): DPMSolverRun {
    const timesteps = this.timesteps(opts.steps, opts.spacing);
    const run: DPMSolverRun = {
      timesteps,
      prediction,
      rng: opts.rng,
      clip: opts.clipDenoised ?? true,
      prevX0: null,
      dispose: () => {
        run.prevX0?.dispose();
        run.prevX0 = null;
      },
    };
    return run;
  }

  /** Step i: x at t = ts[i] -> x at ts[i + 1] (clean after the last), from the network output at x; updates run.prevX0. */
  step(out: tf.Tensor4D, i: number, x: tf.Tensor4D, run: DPMSolverRun): StepResult {
    const s = this.schedule;
    const ts = run.timesteps;
    const t = ts[i];
    const last = i + 1 === ts.length;
    const abarNext = last ? 1 : s.alphasCumprod[ts[i + 1]];
    // 1. Second order where there is history and the step does not end at sigma = 0 (Algorithm 2's
    //    first step, and diffusers' lower_order_final for the last).
    const p0 = run.prevX0;
    const secondOrder = p0 !== null && !last;
    // 2. The coefficients from h = lambda_next - lambda_t and r = h_prev / h (dpmSolverStepCoefs).
    const c = dpmSolverStepCoefs(s.alphasCumprod[t], abarNext, secondOrder ? s.alphasCumprod[ts[i - 1]] : null);
    return tf.tidy(() => {
      // 3. D0 = x0_hat, the data prediction x_theta(x_t, t), clipped to the data range.
      let x0 = predictionToEpsX0(s, x, new Array<number>(x.shape[0]).fill(t), out, run.prediction).x0;
      if (run.clip) x0 = clipX0(x0 as tf.Tensor4D, run.clip);
      // 4. x' = (sigma'/sigma) x - alpha' (e^-h - 1) D0 (first order) ...
      let prev = tf.add(tf.mul(c.cX, x), tf.mul(c.cD0, x0));
      // 5. ... - alpha' (e^-h - 1) D1 / 2, D1 = (x0_hat - prevX0) / r, folded into cD0 and cD1 (second order).
      if (secondOrder && p0) prev = tf.add(prev, tf.mul(c.cD1, p0));
      // 6. Keep this x0 as the next step's history (a copy the run owns; none after the last step).
      p0?.dispose();
      run.prevX0 = last ? null : tf.keep(x0.clone() as tf.Tensor4D);
      return { prev: prev as tf.Tensor4D, x0: x0 as tf.Tensor4D };
    });
  }

  sample(model: DiffusionModel, shape: [number, number, number, number], opts: DPMSolverOptions): tf.Tensor4D {
    return sampleLoop(this, model, shape, opts);
  }
}
