// PLMS, the pseudo linear multistep method of PNDM (Liu, Ren, Lin & Zhao 2022, "Pseudo Numerical
// Methods for Diffusion Models on Manifolds"): every step is DDIM's deterministic step (their
// "transfer part" phi, eq. 11, the same formula rearranged), but the eps it moves with is the
// 4th-order Adams-Bashforth combination of the last four network outputs instead of the last one:
//   eps' = (55 e_0 - 59 e_1 + 37 e_2 - 9 e_3) / 24          (e_0 newest)
//   x_next = sqrt(abarNext) x0_hat(x, eps') + sqrt(1 - abarNext) eps'    (= DDIM with eta = 0)
// With fewer outputs so far the order is lower: (3 e_0 - e_1) / 2, then (23 e_0 - 16 e_1 + 5 e_2) / 12.
// The start: the paper warms up with three pseudo Runge-Kutta steps (4 network calls each); here,
// as in the latent-diffusion PLMSSampler and diffusers' PNDMScheduler(skip_prk_steps=True), the
// first step is a pseudo improved Euler step: a DDIM step with e_0 to x_1 (predictor), the network
// at (x_1, t_1), then the step from x_T again with (e_0 + e(x_1)) / 2 (corrector). The plan
// therefore evaluates the network at t_0, t_1, t_1, t_2, ...: `steps` network calls walk steps - 1
// timesteps (diffusers' num_inference_steps = steps - 1). With steps <= 2 there is no corrector.
// Deterministic: the Rng only draws x_T. The history (earlier eps, x_T for the corrector) is the
// run's state, PLMSRun.eps and PLMSRun.xStart, as DPM-Solver++ keeps its previous x0.
import * as tf from '@tensorflow/tfjs-core';
import { Prediction, predictionToEpsX0 } from '../loss';
import { NoiseSchedule, respaceTimesteps, TimestepSpacing } from '../schedule';
import { sampleLoop } from './loop';
import { clipX0 } from './threshold';
import { DiffusionModel, SampleOptions, Sampler, SamplerRun, StepResult } from './types';

export interface PLMSOptions extends SampleOptions {
  spacing?: TimestepSpacing;
}

/** Adams-Bashforth weights for 1..4 outputs, newest first. */
export const PLMS_WEIGHTS: readonly (readonly number[])[] = [
  [1],
  [3 / 2, -1 / 2],
  [23 / 12, -16 / 12, 5 / 12],
  [55 / 24, -59 / 24, 37 / 24, -9 / 24],
];

export interface PLMSRun extends SamplerRun {
  /** Where the network is evaluated: grid[0], grid[1], grid[1], grid[2], ... (the repeat is the corrector). */
  readonly timesteps: readonly number[];
  /** The distinct timesteps the sample passes through, descending; the last step goes to clean. */
  readonly grid: readonly number[];
  /** Transitions 0 and 1 are the pseudo improved Euler start (predictor, corrector). */
  readonly warmup: boolean;
  /** Earlier network eps at the grid points, oldest first, at most 3 (owned by the run). */
  eps: tf.Tensor4D[];
  /** x at grid[0], kept from the predictor for the corrector (owned by the run). */
  xStart: tf.Tensor4D | null;
  dispose(): void;
}

export class PLMSSampler implements Sampler<PLMSOptions, PLMSRun> {
  readonly name = 'plms';

  constructor(
    readonly schedule: NoiseSchedule,
    readonly defaults: { spacing?: TimestepSpacing } = {},
  ) {}

  /** The distinct timesteps of a run of `steps` network calls (steps - 1 of them from 3 calls up). */
  grid(steps: number, spacing: TimestepSpacing = this.defaults.spacing ?? 'trailing'): number[] {
    return respaceTimesteps(this.schedule.T, steps >= 3 ? steps - 1 : steps, spacing);
  }

  /** Where a run of `steps` evaluates the network: the grid with its second timestep repeated. */
  timesteps(steps: number, spacing: TimestepSpacing = this.defaults.spacing ?? 'trailing'): number[] {
    const g = this.grid(steps, spacing);
    return steps >= 3 ? [g[0], g[1], ...g.slice(1)] : g;
  }

  start(opts: PLMSOptions, prediction: Prediction): PLMSRun {
    const timesteps = this.timesteps(opts.steps, opts.spacing);
    const run: PLMSRun = {
      timesteps,
      grid: this.grid(opts.steps, opts.spacing),
      warmup: opts.steps >= 3,
      prediction,
      rng: opts.rng,
      clip: opts.clipDenoised ?? true,
      eps: [],
      xStart: null,
      dispose: () => {
        tf.dispose(run.eps);
        run.eps = [];
        run.xStart?.dispose();
        run.xStart = null;
      },
    };
    return run;
  }

  /** Transition i, from the network output at (x, timesteps[i]); updates run.eps and run.xStart. */
  step(out: tf.Tensor4D, i: number, x: tf.Tensor4D, run: PLMSRun): StepResult {
    const s = this.schedule;
    const g = run.grid;
    const predictor = run.warmup && i === 0;
    const corrector = run.warmup && i === 1;
    // 1. The grid point this transition leaves (the corrector redoes the step from grid[0]) and the next one.
    const j = corrector ? 0 : run.warmup && i > 0 ? i - 1 : i;
    const abar = s.alphasCumprod[g[j]];
    const last = j + 1 === g.length;
    const abarNext = last ? 1 : s.alphasCumprod[g[j + 1]];
    const from = corrector ? run.xStart : x;
    if (!from) throw new Error('PLMS: the corrector step needs the predictor step first');
    return tf.tidy(() => {
      // 2. The network's eps at (x, timesteps[i]) (converted from an x0 or v output).
      const e = predictionToEpsX0(s, x, new Array<number>(x.shape[0]).fill(run.timesteps[i]), out, run.prediction).eps;
      // 3. The eps the step moves with: the corrector averages e_0 and e(x_1); otherwise Adams-Bashforth.
      let eps: tf.Tensor;
      if (corrector) eps = tf.div(tf.add(run.eps[0], e), 2);
      else {
        const hist = [e, ...[...run.eps].reverse()]; // newest first
        const w = PLMS_WEIGHTS[hist.length - 1];
        eps = hist.map((h, k) => tf.mul(w[k], h)).reduce((a, b) => tf.add(a, b));
      }
      // 4. DDIM's deterministic step with that eps, from `from` at abar to abarNext (x0 clipped as DDIM does).
      let x0 = tf.div(tf.sub(from, tf.mul(Math.sqrt(1 - abar), eps)), Math.sqrt(abar)) as tf.Tensor4D;
      if (run.clip) {
        x0 = clipX0(x0, run.clip);
        eps = tf.div(tf.sub(from, tf.mul(Math.sqrt(abar), x0)), Math.sqrt(1 - abar));
      }
      const prev = tf.add(tf.mul(Math.sqrt(abarNext), x0), tf.mul(Math.sqrt(1 - abarNext), eps));
      // 5. The run's state: the predictor keeps x_T; the corrector's e(x_1) is not history (the next
      //    call evaluates the network again at the corrected x_1); every other e joins the last three.
      if (predictor) run.xStart = tf.keep(x.clone());
      if (corrector) {
        run.xStart?.dispose();
        run.xStart = null;
      } else {
        run.eps.push(tf.keep(e.clone() as tf.Tensor4D));
        if (run.eps.length > 3 || last) {
          // Disposed while still listed, so that after a stop midway run.dispose() frees the rest.
          const drop = last ? run.eps.length : 1;
          tf.dispose(run.eps.slice(0, drop));
          run.eps.splice(0, drop);
        }
      }
      return { prev: prev as tf.Tensor4D, x0: x0 as tf.Tensor4D };
    });
  }

  sample(model: DiffusionModel, shape: [number, number, number, number], opts: PLMSOptions): tf.Tensor4D {
    return sampleLoop(this, model, shape, opts);
  }
}
