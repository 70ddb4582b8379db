// One optimisation step of a diffusion model: draw t and noise from the seeded Rng, compute the
// loss, apply Adam. Resolves to the loss (one asynchronous read); every intermediate tensor is released.
import * as tf from '@tensorflow/tfjs-core';
import '../tfjs_setup';
import { diffusionLoss, Prediction } from '../loss';
import { Rng } from '../random';
import { NoiseSchedule } from '../schedule';
import { ParamMap } from '../params';
import { UNetCondition } from '../unet/unet';

/** What a step trains: the parameters and the network's prediction (a UNet, or any 4-D denoiser). */
export interface TrainableDenoiser<C> {
  readonly params: ParamMap;
  apply(x: tf.Tensor4D, t: number[], cond?: C): tf.Tensor4D;
}

export interface TrainStepOptions {
  schedule: NoiseSchedule;
  rng: Rng;
  prediction?: Prediction;
  /** Default: Adam with learningRate. */
  optimizer?: tf.Optimizer;
  learningRate?: number;
}

export interface TrainStep<C = UNetCondition> {
  (x0: tf.Tensor4D, cond?: C): Promise<number>;
  readonly optimizer: tf.Optimizer;
  /** Releases the optimizer's moment estimates. */
  dispose(): void;
}

export function makeTrainStep<C = UNetCondition>(model: TrainableDenoiser<C>, opts: TrainStepOptions): TrainStep<C> {
  const { schedule, rng, prediction = 'eps', learningRate = 5e-4 } = opts;
  if (!(learningRate > 0)) throw new Error(`makeTrainStep: learningRate must be > 0, got ${learningRate}`);
  const optimizer = opts.optimizer ?? tf.train.adam(learningRate);
  const vars = [...model.params.values()];
  const step = async (x0: tf.Tensor4D, cond?: C): Promise<number> => {
    const b = x0.shape[0];
    const t = Array.from({ length: b }, () => rng.int(schedule.T));
    const noise = rng.normalTensor(x0.shape) as tf.Tensor4D;
    try {
      const loss = optimizer.minimize(
        () => diffusionLoss((xt, tt) => model.apply(xt, tt, cond), schedule, x0, t, noise, prediction),
        true,
        vars,
      );
      if (!loss) throw new Error('makeTrainStep: optimizer returned no loss');
      try {
        return (await loss.data())[0];
      } finally {
        loss.dispose();
      }
    } finally {
      noise.dispose();
    }
  };
  return Object.assign(step, { optimizer, dispose: () => optimizer.dispose() });
}
