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

/** One timestep per clip, drawn from `rng`, repeated for each of its `frames` frames (B*F entries). */
export function clipTimesteps(rng: Rng, batch: number, frames: number, T: number): number[] {
  const clips = clipCount(batch, frames, 'clipTimesteps');
  const t: number[] = [];
  for (let b = 0; b < clips; b++) {
    const tb = rng.int(T);
    for (let f = 0; f < frames; f++) t.push(tb);
  }
  return t;
}

/**
 * The diffusion loss of a batch of B*F frames (batch.x, clip after clip) as a trainer's loss function:
 * the core's image loss with the clips' timesteps (drawn first, then the noise, as the image loss does).
 */
export function videoStepLoss<C>(
  model: { apply(x: tf.Tensor4D, t: number[], cond?: C): tf.Tensor4D },
  schedule: NoiseSchedule,
  frames: number,
  prediction: Prediction = 'eps',
  weighting: LossWeighting = null,
): LossFn<TrainBatch<C>> {
  return diffusionStepLoss(model, schedule, prediction, weighting, (rng, n, T) => clipTimesteps(rng, n, frames, T));
}
