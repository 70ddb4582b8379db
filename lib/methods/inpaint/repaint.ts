// RePaint (Lugmayr et al. 2022): inpainting with an UNCONDITIONAL diffusion model, no retraining.
// At every reverse step the known pixels are replaced by the original image noised to the same
// level (q_sample of x0 at the step's target time) and only the missing pixels come from the
// model's reverse (DDPM ancestral) step:
//   x_{t-1} = m * reverse(x_t) + (1 - m) * q_sample(x0_known, t-1)       (m = 1 where missing)
// Pasting alone leaves seams (the model never saw the known part when it made the rest), so
// RePaint also *resamples*: after every `jumpLength` reverse steps it noises the sample forward
// again by jumpLength steps and repeats them, `resamplings` times in all, which lets the generated
// region harmonise with the known one. It runs on a respaced grid of `steps` timesteps.
import * as tf from '@tensorflow/tfjs-core';
import { composite, validateMask } from './masks';
import { predictionToEpsX0 } from '../../core/loss';
import { NoiseSchedule, respaceTimesteps } from '../../core/schedule';
import { ddpmStepCoefs } from '../../core/samplers/ddpm';
import { DiffusionModel, SampleOptions, Sampler, startingNoise } from '../../core/samplers/types';

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
  for (const [name, v] of [['steps', steps], ['jumpLength', jumpLength], ['resamplings', resamplings]] as const) {
    if (!Number.isInteger(v) || v < 1) throw new Error(`RePaint: ${name} must be a positive integer, got ${v}`);
  }
  if (jumpLength >= steps && resamplings > 1) throw new Error(`RePaint: jumpLength ${jumpLength} must be smaller than steps ${steps} to resample`);
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

export class RePaintSampler implements Sampler<RePaintOptions> {
  readonly name = 'repaint';

  constructor(readonly schedule: NoiseSchedule, readonly defaults: { jumpLength?: number; resamplings?: number } = {}) {}

  sample(model: DiffusionModel, shape: [number, number, number, number], opts: RePaintOptions): tf.Tensor4D {
    const s = this.schedule;
    const { known, mask } = opts;
    if (!(known instanceof tf.Tensor) || known.shape.join() !== shape.join()) {
      throw new Error(`RePaint: known images must have the sample shape [${shape}], got [${known?.shape}]`);
    }
    validateMask(mask, known, 'RePaint');
    const jump = opts.jumpLength ?? this.defaults.jumpLength ?? 10;
    const r = opts.resamplings ?? this.defaults.resamplings ?? 10;
    const levels = repaintSchedule(opts.steps, jump, r);
    const ts = respaceTimesteps(s.T, opts.steps, 'trailing').reverse(); // level k -> timestep ts[k], ascending
    const abar = (k: number) => (k < 0 ? 1 : s.alphasCumprod[ts[k]]);
    const clip = opts.clipDenoised ?? true;
    const b = shape[0];
    let x = startingNoise('RePaint', shape, opts);
    let index = 0;
    for (let i = 1; i < levels.length; i++) {
      const from = levels[i - 1];
      const to = levels[i];
      if (to > from) {
        // Forward: x_to ~ q(x_to | x_from) = N(sqrt(abar_to / abar_from) x, (1 - abar_to / abar_from) I).
        const ratio = abar(to) / abar(from);
        const z = opts.rng.normalTensor(shape);
        const next = tf.tidy(() => tf.add(tf.mul(Math.sqrt(ratio), x), tf.mul(Math.sqrt(1 - ratio), z)) as tf.Tensor4D);
        z.dispose();
        x.dispose();
        x = next;
        continue;
      }
      const t = ts[from];
      const last = to < 0;
      const c = ddpmStepCoefs(abar(from), abar(to), 'posterior', last);
      const z = c.sigma > 0 ? opts.rng.normalTensor(shape) : null;
      const zKnown = last ? null : opts.rng.normalTensor(shape);
      const [next, x0] = tf.tidy(() => {
        const tBatch = new Array<number>(b).fill(t);
        let x0 = predictionToEpsX0(s, x, tBatch, model.predict(x, tBatch), model.prediction).x0;
        if (clip) x0 = tf.clipByValue(x0, -1, 1);
        let unknown = tf.add(tf.mul(c.cX0, x0), tf.mul(c.cXt, x));
        if (z) unknown = tf.add(unknown, tf.mul(c.sigma, z));
        // The known region at the target level: the original itself at the end, else noised to it.
        const knownAt = zKnown ? tf.add(tf.mul(Math.sqrt(abar(to)), known), tf.mul(Math.sqrt(1 - abar(to)), zKnown)) : known;
        return [composite(unknown as tf.Tensor4D, knownAt as tf.Tensor4D, mask), x0 as tf.Tensor4D];
      });
      tf.dispose([z, zKnown].filter((v): v is tf.Tensor => v !== null));
      x.dispose();
      x = next;
      opts.onStep?.({ index: index++, t, x, x0 });
      x0.dispose();
    }
    return x;
  }
}
