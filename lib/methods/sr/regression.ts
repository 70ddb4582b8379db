// The regression baseline for super-resolution: a UNet of the same size as SR3's that maps the
// bicubic up-sampling straight to the high-resolution image in one pass, trained with the plain
// pixel MSE. It is what "a network trained for PSNR" means: its output is the conditional MEAN of
// all plausible high-resolution images, which scores well on PSNR but is blurry (SR3's point).
// The UNet is reused as is: the up-sampled image is its input x and the timestep is fixed at 0,
// so the time embedding is just a learned bias.
import * as tf from '@tensorflow/tfjs-core';
import '../../core/tfjs_setup';
import { ProgressOptions } from '../../core/progress';
import { BatchSource, TrainBatch } from '../../core/train/batch_source';
import { CheckpointOptions, LossTrainer, runTrainer } from '../../core/train/loss_trainer';
import { LrScheduleOptions } from '../../core/train/lr_schedule';
import { UNet } from '../../core/unet/unet';

/** The regression model's output for bicubic up-sampled inputs [B, S, S, C]. */
export function regressionPredict(unet: UNet, upsampled: tf.Tensor4D): tf.Tensor4D {
  if (unet.config.condChannels !== undefined)
    throw new Error(
      'regressionPredict: this UNet has condChannels; a regression UNet takes the up-sampled image as its only input',
    );
  return tf.tidy(() => unet.apply(upsampled, new Array<number>(upsampled.shape[0]).fill(0)));
}

export interface RegressionTrainOptions extends LrScheduleOptions, CheckpointOptions {
  totalSteps: number;
  /** Clip gradients to this global norm (default 1; null: none). */
  clipGradNorm?: number | null;
  /** EMA decay of the returned weights (default null: the raw weights). */
  emaDecay?: number | null;
  /** Fixes nothing random in this loss (it has no noise); recorded so a resumed run checks it. Default 0. */
  seed?: number;
  progress?: false | ProgressOptions;
  /** Called before step k (0-based): true stops training there (e.g. a wall-time budget). */
  stopWhen?: (step: number) => boolean;
}

export interface RegressionResult {
  /** The model to predict with: an EMA copy (caller disposes it) or the trained UNet itself. */
  model: UNet;
  /** Every step's loss (a resumed run's earlier steps included). */
  loss: number[];
  /** The step this run started from (0, or where it resumed). */
  resumedAt: number;
  /** This run's seconds. */
  seconds: number;
}

/**
 * Trains `unet` on batches {x: high-res, cond.concat: up-sampled low-res} (lib/methods/sr/batches.ts) to
 * minimise mean((unet(up) - x)^2), with Adam, warm-up/cosine learning rate and clipping. With
 * checkpointDir, continues from the newest training state there.
 */
export async function trainRegression(
  unet: UNet,
  data: BatchSource,
  o: RegressionTrainOptions,
): Promise<RegressionResult> {
  const emaModel = o.emaDecay === undefined || o.emaDecay === null ? null : unet.emptyCopy();
  const loss = (batch: TrainBatch) => {
    const up = batch.cond?.concat;
    if (!up)
      throw new Error(
        'trainRegression: batches must carry the up-sampled input as cond.concat (lib/methods/sr/batches.ts)',
      );
    return tf.mean(tf.squaredDifference(regressionPredict(unet, up), batch.x)) as tf.Scalar;
  };
  try {
    const { stopWhen, progress, ...rest } = o;
    const trainer = new LossTrainer(unet.params, loss, {
      ...rest,
      clipGradNorm: o.clipGradNorm === undefined ? 1 : o.clipGradNorm,
      emaTarget: emaModel?.params,
      config: { kind: 'sr-regression', unet: unet.config },
      progress: progress === false ? false : { label: 'regression', ...progress },
    });
    const { history, seconds, startStep } = await runTrainer(trainer, data, { stopWhen });
    return { model: emaModel ?? unet, loss: [...history.loss], resumedAt: startStep, seconds };
  } catch (e) {
    emaModel?.dispose();
    throw e;
  }
}
