// Imagen's sampling pipeline: caption -> frozen text encoder -> base diffusion model (16x16) ->
// super-resolution diffusion model (16 -> 32), each stage guided by classifier-free guidance against
// the empty caption's context. Between the stages the base output is noise-augmented at a chosen
// level (noise_aug.ts) and that level is passed to the SR model, as in training.
import * as tf from '@tensorflow/tfjs-core';
import '../../core/tfjs_setup';
import { disposeCondition } from '../../core/condition';
import { CfgCounter, cfgConditionModel } from '../guidance/cfg';
import { Rng } from '../../core/random';
import { DDIMRun, DDIMSampler } from '../../core/samplers/ddim';
import { DiffusionModel } from '../../core/samplers/types';
import { X0Clip } from '../../core/samplers/threshold';
import { UNet } from '../../core/unet/unet';
import { BASE_SIZE, cascadeSchedule, SR_SIZE, STAGE_PREDICTION } from './configs';
import { FrozenTextEncoder } from './frozen_text';
import { NOISE_AUG_BUCKETS, srImageCondition } from './noise_aug';

export interface Cascade {
  encoder: FrozenTextEncoder;
  base: UNet;
  sr: UNet;
}

export interface CascadeOptions {
  /** DDIM steps of each stage. */
  baseSteps: number;
  srSteps: number;
  /** CFG scales (1 = plain conditional, 0 = unconditional). */
  guidance: number;
  srGuidance: number;
  /**
   * How the base stage keeps its guided x0 estimate in range (default true: static clip to [-1, 1]);
   * { percentile: 99.5 } is Imagen's dynamic thresholding, which matters at large guidance scales.
   */
  baseClip?: X0Clip;
  /** Noise-augmentation bucket the base output is corrupted at before the SR stage. */
  augBucket: number;
  /**
   * Where the SR stage starts: omitted, from pure noise at t = T-1 (Imagen); a timestep t0, from the
   * up-sampled condition noised to t0 (x_t0 = sqrt(abar) up + sqrt(1-abar) eps, as SDEdit does), with
   * srSteps DDIM steps from t0 to 0. The shipped SR model is undertrained: it denoises the last
   * stretch well but drifts when it has to build the image from pure noise (see the manifest).
   */
  srStart?: number;
  /** Counts network calls and images through each stage (a guided step processes 2 images per sample). */
  counters?: { base: CfgCounter; sr: CfgCounter };
}

export interface CascadeOutput {
  /** The base model's 16x16 samples and the SR stage's 32x32 ones, [-1, 1] (the caller disposes both). */
  base: tf.Tensor4D;
  final: tf.Tensor4D;
}

export function checkCascade(c: Cascade): void {
  const w = c.encoder.width;
  if (c.base.config.imageSize !== BASE_SIZE || c.base.config.contextDim !== w)
    throw new Error(
      `cascade: the base UNet must be ${BASE_SIZE}x${BASE_SIZE} with contextDim ${w}, got ${c.base.config.imageSize} and ${c.base.config.contextDim}`,
    );
  const s = c.sr.config;
  if (s.imageSize !== SR_SIZE || s.contextDim !== w || s.condChannels !== 3 || s.numClasses !== NOISE_AUG_BUCKETS) {
    throw new Error(
      `cascade: the SR UNet must be ${SR_SIZE}x${SR_SIZE} with contextDim ${w}, condChannels 3, numClasses ${NOISE_AUG_BUCKETS}`,
    );
  }
}

/** Stage 1: captions -> 16x16 images (seeded by `seed`). */
export function sampleBase(
  c: Cascade,
  captions: readonly string[],
  seed: number,
  o: Pick<CascadeOptions, 'baseSteps' | 'guidance' | 'baseClip' | 'counters'>,
): tf.Tensor4D {
  const { cond, uncond } = c.encoder.conditions(captions);
  try {
    const model = cfgConditionModel(c.base, cond, uncond, o.guidance, {
      prediction: STAGE_PREDICTION.base,
      counter: o.counters?.base,
    });
    return new DDIMSampler(cascadeSchedule()).sample(model, [captions.length, BASE_SIZE, BASE_SIZE, 3], {
      steps: o.baseSteps,
      rng: new Rng(seed),
      clipDenoised: o.baseClip ?? true,
    });
  } finally {
    disposeCondition(cond);
    disposeCondition(uncond);
  }
}

/** Stage 2: 16x16 images (+ their captions) -> 32x32, with the low-res input noise-augmented at `augBucket`. */
export function sampleSr(
  c: Cascade,
  lowres: tf.Tensor4D,
  captions: readonly string[],
  seed: number,
  o: Pick<CascadeOptions, 'srSteps' | 'srGuidance' | 'augBucket' | 'srStart' | 'counters'>,
): tf.Tensor4D {
  const b = captions.length;
  if (
    lowres.shape[0] !== b ||
    lowres.shape[1] !== BASE_SIZE ||
    lowres.shape[2] !== BASE_SIZE ||
    lowres.shape[3] !== 3
  ) {
    throw new Error(
      `sampleSr: lowres must be [${b}, ${BASE_SIZE}, ${BASE_SIZE}, 3] for ${b} captions, got [${lowres.shape}]`,
    );
  }
  const rng = new Rng(seed + 7919);
  const img = srImageCondition(lowres, new Array<number>(b).fill(o.augBucket), rng, SR_SIZE);
  const { cond, uncond } = c.encoder.conditions(captions);
  try {
    // Both halves of the guided pass see the same image condition; only the text differs.
    const model = cfgConditionModel(c.sr, { ...cond, ...img }, { ...uncond, ...img }, o.srGuidance, {
      prediction: STAGE_PREDICTION.sr,
      counter: o.counters?.sr,
    });
    if (o.srStart === undefined)
      return new DDIMSampler(cascadeSchedule()).sample(model, [b, SR_SIZE, SR_SIZE, 3], { steps: o.srSteps, rng });
    return truncatedDdim(model, img.concat, o.srStart, o.srSteps, rng);
  } finally {
    disposeCondition(img);
    disposeCondition(cond);
    disposeCondition(uncond);
  }
}

/**
 * Deterministic DDIM from `start` noised to t0 down to 0 in `steps` evenly spaced steps (x0 clipped to [-1, 1]).
 * Each step is DDIMSampler.step, so the clipped x0 also re-derives eps as in every other DDIM run here (a step
 * that kept the network's eps after clipping x0 moved x_t to a point inconsistent with its own x0 estimate).
 */
export function truncatedDdim(
  model: DiffusionModel,
  start: tf.Tensor4D,
  t0: number,
  steps: number,
  rng: Rng,
): tf.Tensor4D {
  const s = cascadeSchedule();
  if (!Number.isInteger(t0) || t0 < 1 || t0 >= s.T)
    throw new Error(`truncatedDdim: t0 must be an integer in [1, ${s.T - 1}], got ${t0}`);
  if (!Number.isInteger(steps) || steps < 1 || steps > t0)
    throw new Error(`truncatedDdim: steps must be an integer in [1, ${t0}], got ${steps}`);
  const ts = Array.from({ length: steps }, (_, i) => Math.round(t0 - (i * t0) / steps));
  const ab = s.alphasCumprod;
  const eps0 = rng.normalTensor(start.shape);
  let x = tf.tidy(() => tf.add(tf.mul(start, Math.sqrt(ab[t0])), tf.mul(eps0, Math.sqrt(1 - ab[t0])))) as tf.Tensor4D;
  eps0.dispose();
  const sampler = new DDIMSampler(s);
  const run: DDIMRun = { timesteps: ts, prediction: model.prediction, rng, clip: true, eta: 0 };
  ts.forEach((t, i) => {
    const next = tf.tidy(() => {
      const tt = new Array<number>(x.shape[0]).fill(t);
      return sampler.step(model.predict(x, tt), i, x, run).prev;
    });
    x.dispose();
    x = next;
  });
  return x;
}

/** The whole cascade for a batch of captions. */
export function sampleCascade(c: Cascade, captions: readonly string[], seed: number, o: CascadeOptions): CascadeOutput {
  checkCascade(c);
  if (!Number.isInteger(seed)) throw new Error(`sampleCascade: seed must be an integer, got ${seed}`);
  const base = sampleBase(c, captions, seed, o);
  try {
    return { base, final: sampleSr(c, base, captions, seed, o) };
  } catch (e) {
    base.dispose();
    throw e;
  }
}

/** Network evaluations per image of one cascade run: a guided step runs the UNet on 2 inputs. */
export function cascadeEvaluations(o: CascadeOptions): { base: number; sr: number } {
  const per = (w: number) => (w === 0 || w === 1 ? 1 : 2);
  return { base: o.baseSteps * per(o.guidance), sr: o.srSteps * per(o.srGuidance) };
}

export function disposeCascade(c: Cascade): void {
  c.base.dispose();
  c.sr.dispose();
  c.encoder.dispose();
}
