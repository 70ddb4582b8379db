// The small interface every sampler (DDIM here; DDPM ancestral, DPM-Solver, guided ones later)
// implements: start from noise of a given shape and return images, drawing all randomness from the
// caller's Rng so one seed fixes the samples.
import * as tf from '@tensorflow/tfjs-core';
import { Prediction } from '../loss';
import { Rng } from '../random';
import { NoiseSchedule } from '../schedule';
import { UNet, UNetCondition } from '../unet/unet';

/** A trained network as samplers see it: what it predicts, and a function of (x_t, t). */
export interface DiffusionModel {
  prediction: Prediction;
  /** x_t [B,H,W,C] and one timestep per batch element -> the network output, same shape. */
  predict(xt: tf.Tensor4D, t: number[]): tf.Tensor4D;
}

export interface StepInfo {
  /** 0-based index into the sampling loop. */
  index: number;
  t: number;
  /** The sample after this step, and the model's clean-image estimate at this step (both owned by the sampler: clone to keep). */
  x: tf.Tensor4D;
  x0: tf.Tensor4D;
}

export interface SampleOptions {
  /** Number of network evaluations (respaced timesteps). */
  steps: number;
  rng: Rng;
  /** Starting noise; default rng.normalTensor(shape). */
  xT?: tf.Tensor4D;
  /** Clip the x0 estimate to [-1, 1] each step (default true: data lives in [-1, 1]). */
  clipDenoised?: boolean;
  onStep?: (info: StepInfo) => void;
}

export interface Sampler<O extends SampleOptions = SampleOptions> {
  readonly name: string;
  readonly schedule: NoiseSchedule;
  /** Returns a new tensor of `shape`; the caller disposes it. */
  sample(model: DiffusionModel, shape: [number, number, number, number], opts: O): tf.Tensor4D;
}

/** Wraps a UNet (and a fixed condition) as a DiffusionModel. */
export function unetModel(unet: UNet, prediction: Prediction = 'eps', cond: UNetCondition = {}): DiffusionModel {
  return { prediction, predict: (xt, t) => unet.apply(xt, t, cond) };
}

/** The starting noise x_T: a copy of opts.xT (checked against shape) or fresh noise from opts.rng. */
export function startingNoise(sampler: string, shape: [number, number, number, number], opts: SampleOptions): tf.Tensor4D {
  if (opts.xT && opts.xT.shape.join() !== shape.join()) {
    throw new Error(`${sampler}: xT shape [${opts.xT.shape}] differs from the requested [${shape}]`);
  }
  return opts.xT ? opts.xT.clone() : (opts.rng.normalTensor(shape) as tf.Tensor4D);
}
