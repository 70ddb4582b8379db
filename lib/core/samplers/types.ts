// The interface every sampler implements, after diffusers' schedulers: a sampler is a timestep
// plan plus a `step` that maps the network's output at x_t to the next sample. The network is
// called by the loop that drives the steps (loop.ts for every sampler's sample(); a lesson's own
// cell for teaching), never by the sampler, so one loop serves DDPM, DDIM, DPM-Solver++ and
// RePaint, and guidance composes as a model wrapper. All randomness comes from the caller's Rng
// (x_T first, then whatever the steps draw, in plan order), so one seed fixes the samples.
import * as tf from '@tensorflow/tfjs-core';
import { Prediction } from '../loss';
import { Rng } from '../random';
import { NoiseSchedule } from '../schedule';
import { Condition } from '../condition';
import { Denoiser } from '../unet/denoiser';
import { X0Clip } from './threshold';

/** A trained network as samplers see it: what it predicts, and a function of (x_t, t). */
export interface DiffusionModel {
  prediction: Prediction;
  /** x_t [B,H,W,C] and one timestep per batch element -> the network output, same shape. */
  predict(xt: tf.Tensor4D, t: number[]): tf.Tensor4D;
}

/** What onStep sees after each step that ran the network (RePaint's jumps back up report nothing). */
export interface StepInfo {
  /** 0-based count of network evaluations so far (equals the transition index except in RePaint). */
  index: number;
  /** The timestep the network was evaluated at. */
  t: number;
  /** The sample after this step, and the model's clean-image estimate at this step (both owned by the loop: clone to keep). */
  x: tf.Tensor4D;
  x0: tf.Tensor4D;
}

export interface SampleOptions {
  /** Number of network evaluations (respaced timesteps). */
  steps: number;
  rng: Rng;
  /** Starting noise; default rng.normalTensor(shape). */
  xT?: tf.Tensor4D;
  /**
   * Keep the x0 estimate in the data range [-1, 1] each step (default true: static clip); false: no
   * clip; { percentile: p }: Imagen's dynamic thresholding (threshold.ts).
   */
  clipDenoised?: X0Clip;
  onStep?: (info: StepInfo) => void;
}

/**
 * What one step returns, both new tensors the caller owns (the sampler keeps neither).
 * A plain type, not an interface, so that tf.tidy accepts it as a return value.
 */
export type StepResult = {
  /** The sample at the plan's next point: x_{t-1} in the papers' notation (diffusers' prev_sample). */
  prev: tf.Tensor4D;
  /** The clean-image estimate x0_hat from this step's network output (diffusers' pred_original_sample); absent on a transition that takes no network output (RePaint's jumps back up). */
  x0?: tf.Tensor4D;
};

/**
 * One sampling run: its plan, the options it was started with, and any state a multistep method
 * carries from one step to the next (DPM-Solver++'s previous x0), all in the open rather than in
 * the sampler's fields, so one sampler can drive several runs and a lesson can inspect them.
 */
export interface SamplerRun {
  /**
   * The plan: transition i evaluates the network at timestep timesteps[i] and hands its output to
   * step(out, i, ...); null marks a transition that takes no network output (RePaint's jumps back
   * up), for which step gets null.
   */
  readonly timesteps: readonly (number | null)[];
  /** How step reads the network output (from the model: DiffusionModel.prediction). */
  readonly prediction: Prediction;
  /** Where the steps draw their noise. */
  readonly rng: Rng;
  /** How x0_hat is kept in [-1, 1] (SampleOptions.clipDenoised; applied with clipX0 in threshold.ts). */
  readonly clip: X0Clip;
  /** Frees tensors the run holds as state, if any; a run that reached its last step holds none. */
  dispose?(): void;
}

export interface Sampler<O extends SampleOptions = SampleOptions, R extends SamplerRun = SamplerRun> {
  readonly name: string;
  readonly schedule: NoiseSchedule;
  /** The plan of a run of `steps` with this sampler's defaults (SamplerRun.timesteps). */
  timesteps(steps: number): readonly (number | null)[];
  /** Checks the options and returns a run: the plan, the resolved options, fresh state. */
  start(opts: O, prediction: Prediction): R;
  /**
   * Transition i of `run`, from the sample x to the next: `out` is the network output at
   * (x, run.timesteps[i]), or null where that timestep is null. Returns new tensors; the caller
   * still owns x and out. Intermediates are freed (the step runs in its own tf.tidy).
   */
  step(out: tf.Tensor4D | null, i: number, x: tf.Tensor4D, run: R): StepResult;
  /** The whole run (loop.ts: x_T, every step, onStep). Returns a new tensor of `shape`; the caller disposes it. */
  sample(model: DiffusionModel, shape: [number, number, number, number], opts: O): tf.Tensor4D;
}

/** Wraps a denoiser (and a fixed condition) as a DiffusionModel. */
export function unetModel<C extends Condition>(
  unet: Denoiser<C>,
  prediction: Prediction = 'eps',
  cond?: C,
): DiffusionModel {
  return { prediction, predict: (xt, t) => unet.apply(xt, t, cond) };
}

/** The starting noise x_T: a copy of opts.xT (checked against shape) or fresh noise from opts.rng. */
export function startingNoise(
  sampler: string,
  shape: [number, number, number, number],
  opts: SampleOptions,
): tf.Tensor4D {
  if (opts.xT && opts.xT.shape.join() !== shape.join()) {
    throw new Error(`${sampler}: xT shape [${opts.xT.shape}] differs from the requested [${shape}]`);
  }
  return opts.xT ? opts.xT.clone() : (opts.rng.normalTensor(shape) as tf.Tensor4D);
}
