// The training objective: corrupt x0 to x_t with q(x_t|x_0), ask the network for one of three
// equivalent targets, and take the mean squared error. 'eps' (DDPM's noise prediction) is the
// default; 'x0' predicts the clean image; 'v' = sqrt(abar) eps - sqrt(1-abar) x0 (Salimans & Ho
// 2022) stays well-scaled at both ends of the schedule.
import * as tf from '@tensorflow/tfjs-core';
import { NoiseSchedule, TimestepsLike } from './schedule';

export type Prediction = 'eps' | 'x0' | 'v';
export const PREDICTIONS: readonly Prediction[] = ['eps', 'x0', 'v'];

function checkPrediction(p: string): asserts p is Prediction {
  if (!(PREDICTIONS as readonly string[]).includes(p)) throw new Error(`Unknown prediction '${p}': use eps, x0 or v`);
}

/** What the network should output for (x0, noise, t) under the given parameterisation. */
export function predictionTarget(
  schedule: NoiseSchedule,
  x0: tf.Tensor,
  noise: tf.Tensor,
  t: TimestepsLike,
  prediction: Prediction,
): tf.Tensor {
  checkPrediction(prediction);
  if (prediction === 'eps') return noise.clone();
  if (prediction === 'x0') return x0.clone();
  return tf.tidy(() => {
    const a = schedule.coef(schedule.sqrtAlphasCumprod, t, x0.rank);
    const s = schedule.coef(schedule.sqrtOneMinusAlphasCumprod, t, x0.rank);
    return tf.sub(tf.mul(a, noise), tf.mul(s, x0));
  });
}

/** Converts a network output to both the noise and the clean-image estimates (what samplers need). */
export function predictionToEpsX0(
  schedule: NoiseSchedule,
  xt: tf.Tensor,
  t: TimestepsLike,
  out: tf.Tensor,
  prediction: Prediction,
): { eps: tf.Tensor; x0: tf.Tensor } {
  checkPrediction(prediction);
  return tf.tidy(() => {
    const a = schedule.coef(schedule.sqrtAlphasCumprod, t, xt.rank);
    const s = schedule.coef(schedule.sqrtOneMinusAlphasCumprod, t, xt.rank);
    if (prediction === 'eps') return { eps: out.clone(), x0: tf.div(tf.sub(xt, tf.mul(s, out)), a) };
    if (prediction === 'x0') return { x0: out.clone(), eps: tf.div(tf.sub(xt, tf.mul(a, out)), s) };
    // v: x0 = a x_t - s v, eps = s x_t + a v (since a^2 + s^2 = 1).
    return { x0: tf.sub(tf.mul(a, xt), tf.mul(s, out)), eps: tf.add(tf.mul(s, xt), tf.mul(a, out)) };
  });
}

export type DenoiseFn = (xt: tf.Tensor4D, t: number[]) => tf.Tensor4D;

/**
 * Min-SNR-γ loss weight of timestep t (Hang et al. 2023): the x0-space error weighted by
 * min(SNR_t, γ), written in the prediction's own units. Every timestep's loss then counts at most
 * γ times its x0 error, so the low-noise steps, which are easy, stop dominating the gradient:
 *   eps: min(SNR, γ) / SNR      v: min(SNR, γ) / (SNR + 1)      x0: min(SNR, γ)
 */
export function minSnrWeight(schedule: NoiseSchedule, t: number, gamma: number, prediction: Prediction): number {
  if (!(gamma > 0) || !Number.isFinite(gamma)) throw new Error(`min-SNR gamma must be a positive number, got ${gamma}`);
  checkPrediction(prediction);
  const snr = schedule.snr(t);
  const clipped = Math.min(snr, gamma);
  return prediction === 'eps' ? clipped / snr : prediction === 'v' ? clipped / (snr + 1) : clipped;
}

/** How each timestep's squared error counts: equally (the DDPM 'simple' loss) or min-SNR-γ. */
export type LossWeighting = { minSnrGamma: number } | null;

/**
 * The scalar diffusion loss for a batch: MSE between model(q_sample(x0, t, noise), t) and the target,
 * each image's mean squared error optionally weighted by its timestep (min-SNR-γ).
 * t and noise are inputs (drawn by the caller's Rng) so the loss itself is deterministic.
 */
export function diffusionLoss(
  model: DenoiseFn,
  schedule: NoiseSchedule,
  x0: tf.Tensor4D,
  t: number[],
  noise: tf.Tensor4D,
  prediction: Prediction = 'eps',
  weighting: LossWeighting = null,
): tf.Scalar {
  return tf.tidy(() => {
    const xt = schedule.qSample(x0, t, noise) as tf.Tensor4D;
    const out = model(xt, t);
    if (out.shape.join() !== x0.shape.join()) {
      throw new Error(`diffusionLoss: model output [${out.shape}] does not match x0 [${x0.shape}]`);
    }
    const sq = tf.squaredDifference(out, predictionTarget(schedule, x0, noise, t, prediction));
    if (weighting === null) return tf.mean(sq) as tf.Scalar;
    const w = Float32Array.from(t, (ti) => minSnrWeight(schedule, ti, weighting.minSnrGamma, prediction));
    return tf.mean(tf.mul(tf.mean(sq, [1, 2, 3]), tf.tensor1d(w))) as tf.Scalar;
  });
}
