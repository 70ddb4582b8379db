// The one change video diffusion makes to the training loss: the noise level belongs to the clip. The
// F frames of a clip share one timestep t (each frame gets its own noise), because sampling denoises a
// clip's frames together, all at the same t. The image trainer's diffusionStepLoss draws a t per image,
// so on a batch of B*F frames it would train on clips whose frames sit at unrelated noise levels, a
// situation sampling never produces. Everything else is the core's diffusion loss.
import * as tf from '@tensorflow/tfjs-core';
import { LossWeighting, Prediction } from '../../core/loss';
import { Rng } from '../../core/random';
import { NoiseSchedule } from '../../core/schedule';
import { TrainBatch } from '../../core/train/batch_source';
import { LossFn } from '../../core/train/loss_trainer';
import { diffusionStepLoss } from '../../core/train/trainer';
import { clipCount } from './frames';

/**
 * One timestep per clip, drawn from `rng`, repeated for each of its `frames` frames (B*F entries).
 * `shift` > 1 draws more of them at high noise: a uniform u becomes s*u / (1 + (s-1)*u) (the timestep
 * shift of Stable Diffusion 3, Esser et al. 2024), so a share 1 - 1/(s+1) of the clips lands at t >= T/2
 * (3/4 at s = 3). Why: a clip's motion is coarse and spread over all its frames, so it survives noise
 * that erases a frame's detail and is decided at high t (docs/results.md, lesson 17). shift = 1 is the
 * uniform draw, value for value.
 */
export function clipTimesteps(rng: Rng, batch: number, frames: number, T: number, shift = 1): number[] {
  const clips = clipCount(batch, frames, 'clipTimesteps');
  if (!(shift > 0 && Number.isFinite(shift))) throw new Error(`clipTimesteps: shift must be > 0, got ${shift}`);
  const t: number[] = [];
  for (let b = 0; b < clips; b++) {
    const u = rng.uniform();
    const tb = Math.min(T - 1, Math.floor((T * shift * u) / (1 + (shift - 1) * u)));
    for (let f = 0; f < frames; f++) t.push(tb);
  }
  return t;
}

/**
 * The diffusion loss of a batch of B*F frames (batch.x, clip after clip) as a trainer's loss function:
 * the core's image loss with the clips' timesteps (drawn first, then the noise, as the image loss does),
 * `shift` as in clipTimesteps.
 */
export function videoStepLoss<C>(
  model: { apply(x: tf.Tensor4D, t: number[], cond?: C): tf.Tensor4D },
  schedule: NoiseSchedule,
  frames: number,
  prediction: Prediction = 'eps',
  weighting: LossWeighting = null,
  shift = 1,
): LossFn<TrainBatch<C>> {
  return diffusionStepLoss(model, schedule, prediction, weighting, (rng, n, T) =>
    clipTimesteps(rng, n, frames, T, shift),
  );
}
