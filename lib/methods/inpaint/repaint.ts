// RePaint (Lugmayr et al. 2022): inpainting with an UNCONDITIONAL diffusion model, no retraining.
// At every reverse step the known pixels are replaced by the original image noised to the same
// level (q_sample of x0 at the step's target time) and only the missing pixels come from the
// model's reverse (DDPM ancestral) step:
//   x_{t-1} = m * reverse(x_t) + (1 - m) * q_sample(x0_known, t-1)       (m = 1 where missing)
// Pasting alone leaves seams (the model never saw the known part when it made the rest), so
// RePaint also *resamples*: after every `jumpLength` reverse steps it noises the sample forward
// again by jumpLength steps and repeats them, `resamplings` times in all, which lets the generated
// region harmonise with the known one. It runs on a respaced grid of `steps` timesteps.
// As a sampler: the plan is the walk through the levels (repaintSchedule), one transition per
// move; a move down runs the network (timestep of the level it leaves), a move up does not (its
// timestep in the plan is null), so the one sampling loop drives both kinds. The line numbers in
// step() are those of the paper's Algorithm 1.
import * as tf from '@tensorflow/tfjs-core';
import { composite, validateMaskShape } from './masks';
import { Prediction, predictionToEpsX0 } from '../../core/loss';
import { NoiseSchedule, respaceTimesteps } from '../../core/schedule';
import { ddpmStepCoefs } from '../../core/samplers/ddpm';
import { sampleLoop } from '../../core/samplers/loop';
import { clipX0 } from '../../core/samplers/threshold';
import { DiffusionModel, SampleOptions, Sampler, SamplerRun, StepResult } from '../../core/samplers/types';

export interface RePaintOptions extends SampleOptions {
  /** Images whose known pixels are kept, [B, H, W, C] in [-1, 1] (missing pixels may hold anything). */
  known: tf.Tensor4D;
  /** [B, H, W, 1]: 1 = missing (generated), 0 = known (kept). */
  mask: tf.Tensor4D;
  /** Reverse steps between two jumps back (default 10, RePaint's). */
  jumpLength?: number;
  /** Times each stretch of jumpLength steps is walked (1: no resampling, plain "paste" inpainting; default 10, RePaint's). */
  resamplings?: number;
}

/**
 * RePaint's time schedule on a grid of `steps` levels: the levels visited in order, starting at
 * steps-1 (pure noise) and ending at -1 (the clean image). A drop by one is a reverse step; a rise
 * by one is a forward (re-noising) step.
 */
export function repaintSchedule(steps: number, jumpLength: number, resamplings: number): number[] {
  for (const [name, v] of [
    ['steps', steps],
    ['jumpLength', jumpLength],
    ['resamplings', resamplings],
  ] as const) {
    if (!Number.isInteger(v) || v < 1) throw new Error(`RePaint: ${name} must be a positive integer, got ${v}`);
  }
  if (jumpLength >= steps && resamplings > 1)
    throw new Error(`RePaint: jumpLength ${jumpLength} must be smaller than steps ${steps} to resample`);
  const jumps = new Map<number, number>();
  for (let j = 0; j < steps - jumpLength; j += jumpLength) jumps.set(j, resamplings - 1);
  const out: number[] = [steps - 1];
  let t = steps - 1;
  while (t >= 1) {
    t -= 1;
    out.push(t);
    const left = jumps.get(t) ?? 0;
    if (left > 0) {
      jumps.set(t, left - 1);
      for (let i = 0; i < jumpLength; i++) out.push(++t);
    }
  }
  out.push(-1);
  return out;
}

/** Network evaluations of one RePaint run (the reverse steps of its schedule). */
export function repaintEvaluations(steps: number, jumpLength: number, resamplings: number): number {
  const s = repaintSchedule(steps, jumpLength, resamplings);
  let n = 0;
  for (let i = 1; i < s.length; i++) if (s[i] < s[i - 1]) n++;
  return n;
}

export interface RePaintRun extends SamplerRun {
  /** The levels visited (repaintSchedule): transition i moves from levels[i] to levels[i + 1]. */
  readonly levels: readonly number[];
  /** Level k -> its timestep, ascending (level 0 is the least noisy; level -1 is the clean image). */
  readonly grid: readonly number[];
  readonly known: tf.Tensor4D;
  readonly mask: tf.Tensor4D;
}

export class RePaintSampler implements Sampler<RePaintOptions, RePaintRun> {
  readonly name = 'repaint';

  constructor(
    readonly schedule: NoiseSchedule,
    readonly defaults: { jumpLength?: number; resamplings?: number } = {},
  ) {}

  /** The plan on a grid of `steps` levels: each transition's network timestep, null for a move back up. */
  timesteps(steps: number, jumpLength?: number, resamplings?: number): (number | null)[] {
    return this.plan(steps, jumpLength, resamplings).timesteps;
  }

  private plan(
    steps: number,
    jumpLength = this.defaults.jumpLength ?? 10,
    resamplings = this.defaults.resamplings ?? 10,
  ): { levels: number[]; grid: number[]; timesteps: (number | null)[] } {
    const levels = repaintSchedule(steps, jumpLength, resamplings);
    const grid = respaceTimesteps(this.schedule.T, steps, 'trailing').reverse(); // level k -> timestep grid[k], ascending
    const timesteps = levels.slice(1).map((to, i) => (to < levels[i] ? grid[levels[i]] : null));
    return { levels, grid, timesteps };
  }

  start(opts: RePaintOptions, prediction: Prediction): RePaintRun {
    const { known, mask } = opts;
    if (!(known instanceof tf.Tensor)) throw new Error(`RePaint: known images must be a tensor, got ${String(known)}`);
    // Shape only: sample() is synchronous and reads nothing; validateMask checks a user's mask values once.
    validateMaskShape(mask, known, 'RePaint');
    const plan = this.plan(opts.steps, opts.jumpLength, opts.resamplings);
    return { ...plan, prediction, rng: opts.rng, clip: opts.clipDenoised ?? true, known, mask };
  }

  /** Transition i: a reverse step with pasting (out: the network output at x), or a move back up (out: null). */
  step(out: tf.Tensor4D | null, i: number, x: tf.Tensor4D, run: RePaintRun): StepResult {
    const s = this.schedule;
    const from = run.levels[i];
    const to = run.levels[i + 1];
    const abar = (k: number) => (k < 0 ? 1 : s.alphasCumprod[run.grid[k]]);
    const misuse = (what: string) => new Error(`RePaint: transition ${i} (level ${from} -> ${to}) ${what}`);
    if (to > from) {
      if (out !== null) throw misuse('takes no network output');
      // Algorithm 1, line 10 (one level of a jump back up): x_to ~ q(x_to | x_from) =
      // N(sqrt(abar_to / abar_from) x, (1 - abar_to / abar_from) I).
      const ratio = abar(to) / abar(from);
      return tf.tidy(() => ({
        prev: tf.add(
          tf.mul(Math.sqrt(ratio), x),
          tf.mul(Math.sqrt(1 - ratio), run.rng.normalTensor(x.shape)),
        ) as tf.Tensor4D,
      }));
    }
    if (out === null) throw misuse('needs the network output');
    const t = run.grid[from];
    const last = to < 0;
    const c = ddpmStepCoefs(abar(from), abar(to), 'posterior', last);
    return tf.tidy(() => {
      // Noise for line 7, then for line 5: the order this sampler has always drawn them in (the paper's is the reverse).
      const z = c.sigma > 0 ? run.rng.normalTensor(x.shape) : null;
      const zKnown = last ? null : run.rng.normalTensor(x.shape);
      // Line 7: the missing region from the model's DDPM ancestral step (the posterior mean via x0_hat, plus sigma z).
      let x0 = predictionToEpsX0(s, x, new Array<number>(x.shape[0]).fill(t), out, run.prediction).x0;
      if (run.clip) x0 = clipX0(x0 as tf.Tensor4D, run.clip);
      let unknown = tf.add(tf.mul(c.cX0, x0), tf.mul(c.cXt, x));
      if (z) unknown = tf.add(unknown, tf.mul(c.sigma, z));
      // Line 5: the known region at the target level: the original itself at the end, else noised to it.
      const knownAt = zKnown
        ? tf.add(tf.mul(Math.sqrt(abar(to)), run.known), tf.mul(Math.sqrt(1 - abar(to)), zKnown))
        : run.known;
      // Line 8: paste. Our mask (1 = missing) is the paper's 1 - m: composite keeps `unknown` where it is 1.
      return { prev: composite(unknown as tf.Tensor4D, knownAt as tf.Tensor4D, run.mask), x0: x0 as tf.Tensor4D };
    });
  }

  sample(model: DiffusionModel, shape: [number, number, number, number], opts: RePaintOptions): tf.Tensor4D {
    const { known } = opts;
    if (!(known instanceof tf.Tensor) || known.shape.join() !== shape.join()) {
      throw new Error(`RePaint: known images must have the sample shape [${shape}], got [${known?.shape}]`);
    }
    return sampleLoop(this, model, shape, opts);
  }
}
