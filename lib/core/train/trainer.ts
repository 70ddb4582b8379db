// The training loop for the course's diffusion models: the one loop of loss_trainer.ts with the
// diffusion loss on a Denoiser (any network that maps (x_t, t, condition) to its prediction), EMA
// weights held in a second network of the same config (what sampling uses) and the defaults the
// diffusion recipes share (clip at norm 1, EMA 0.999).
// Reproducible resume: step k's timesteps and noise come from (seed, k) and its batch from the
// BatchSource's (seed, k), so training 20 steps straight or 10 + resume + 10 gives the same weights.
// A NaN/Inf loss or gradient stops training before the update, naming the step; the checkpoints
// already on disk (all written atomically) are left as they are.
import * as tf from '@tensorflow/tfjs-core';
import '../tfjs_setup';
import { Condition, disposeCondition } from '../condition';
import { diffusionLoss, LossWeighting, Prediction } from '../loss';
import { Rng } from '../random';
import { NoiseSchedule } from '../schedule';
import { Denoiser } from '../unet/denoiser';
import { TrainBatch } from './batch_source';
import { LossFn, LossTrainer, LossTrainerOptions } from './loss_trainer';

export {
  checkpointName,
  latestCheckpoint,
  listCheckpoints,
  removeCheckpoints,
  TrainingDivergedError,
} from './loss_trainer';
export type { StepResult, TrainHistory, TrainRunOptions } from './loss_trainer';

export interface TrainerOptions extends Omit<
  LossTrainerOptions,
  'config' | 'emaTarget' | 'mustMatch' | 'disposeBatch'
> {
  schedule: NoiseSchedule;
  prediction?: Prediction;
  /** Clip gradients to this global norm; null: no clipping. Default 1. */
  clipGradNorm?: number | null;
  /** EMA decay; null: no EMA (sampling then uses the raw weights). Default 0.999. */
  emaDecay?: number | null;
  /** Weight each timestep's error by min-SNR-γ (loss.ts minSnrWeight); null (default): all equally. */
  minSnrGamma?: number | null;
}

/** Draws a batch's n timesteps in [0, T) (default: one uniform draw per image). */
export type TimestepDraw = (rng: Rng, n: number, T: number) => number[];

const uniformTimesteps: TimestepDraw = (rng, n, T) => Array.from({ length: n }, () => rng.int(T));

/**
 * The diffusion loss of a batch {x, cond} as a trainer's loss function. Step k's rng draws the
 * timesteps first, then the noise: the order every checkpoint of the course was trained with.
 */
export function diffusionStepLoss<C>(
  model: { apply(x: tf.Tensor4D, t: number[], cond?: C): tf.Tensor4D },
  schedule: NoiseSchedule,
  prediction: Prediction = 'eps',
  weighting: LossWeighting = null,
  drawTimesteps: TimestepDraw = uniformTimesteps,
): LossFn<TrainBatch<C>> {
  return (batch: TrainBatch<C>, rng: Rng) => {
    const t = drawTimesteps(rng, batch.x.shape[0], schedule.T);
    const noise = rng.normalTensor(batch.x.shape) as tf.Tensor4D;
    return diffusionLoss(
      (xt, tt) => model.apply(xt, tt, batch.cond),
      schedule,
      batch.x,
      t,
      noise,
      prediction,
      weighting,
    );
  };
}

/** The condition a denoiser takes (what its batches carry). */
export type ConditionOf<M> = M extends Denoiser<infer C> ? C : Condition;

// Denoiser<any>: the condition type is read off the model (ConditionOf), not given twice.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export class Trainer<M extends Denoiser<any> = Denoiser> extends LossTrainer<
  TrainBatch<ConditionOf<M>>,
  LossTrainerOptions<TrainBatch<ConditionOf<M>>> & TrainerOptions
> {
  readonly model: M;
  /** A network of the same config holding the EMA weights (null when emaDecay is null). */
  readonly emaModel: M | null;

  constructor(model: M, options: TrainerOptions) {
    const decay = options.emaDecay === undefined ? 0.999 : options.emaDecay;
    if (decay !== null && !(decay >= 0 && decay < 1))
      throw new Error(`Trainer: EMA decay must be in [0, 1), got ${decay}`);
    // A second network whose weights are the average: samplers take it as is.
    const emaModel = decay === null ? null : (model.emptyCopy() as M);
    const { schedule } = options;
    const prediction = options.prediction ?? 'eps';
    const gamma = options.minSnrGamma ?? null;
    try {
      super(
        model.params,
        diffusionStepLoss<ConditionOf<M>>(model, schedule, prediction, gamma === null ? null : { minSnrGamma: gamma }),
        {
          ...options,
          clipGradNorm: options.clipGradNorm === undefined ? 1 : options.clipGradNorm,
          emaDecay: decay,
          emaTarget: emaModel?.params,
          config: model.config,
          mustMatch: { scheduleKind: schedule.kind, scheduleT: schedule.T, prediction },
          disposeBatch: disposeCond,
        },
      );
    } catch (e) {
      emaModel?.dispose();
      throw e;
    }
    this.model = model;
    this.emaModel = emaModel;
  }

  /** The model sampling should use: the EMA one when there is one. */
  get samplingModel(): M {
    return this.emaModel ?? this.model;
  }

  /** Releases the optimizer's moments and the EMA model (not the trained model itself). */
  override dispose(): void {
    super.dispose();
    this.emaModel?.dispose();
  }
}

function disposeCond(batch: TrainBatch<Condition>): void {
  batch.x.dispose();
  disposeCondition(batch.cond);
}
