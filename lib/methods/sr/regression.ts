// The regression baseline for super-resolution: a UNet of the same size as SR3's that maps the
// bicubic up-sampling straight to the high-resolution image in one pass, trained with the plain
// pixel MSE. It is what "a network trained for PSNR" means: its output is the conditional MEAN of
// all plausible high-resolution images, which scores well on PSNR but is blurry (SR3's point).
// The UNet is reused as is: the up-sampled image is its input x and the timestep is fixed at 0,
// so the time embedding is just a learned bias.
import * as tf from '@tensorflow/tfjs-core';
import '../../core/tfjs_setup';
import { ProgressBar, ProgressOptions } from '../../core/progress';
import { BatchSource } from '../../core/train/batch_source';
import { Ema } from '../../core/train/ema';
import { clipByGlobalNorm } from '../../core/train/grad_clip';
import { learningRateAt, LrScheduleOptions, validateLrSchedule } from '../../core/train/lr_schedule';
import { UNet } from '../../core/unet/unet';
import { ScheduledAdam } from '../../core/train/scheduled_adam';

/** The regression model's output for bicubic up-sampled inputs [B, S, S, C]. */
export function regressionPredict(unet: UNet, upsampled: tf.Tensor4D): tf.Tensor4D {
  if (unet.config.condChannels !== undefined) throw new Error('regressionPredict: this UNet has condChannels; a regression UNet takes the up-sampled image as its only input');
  return tf.tidy(() => unet.apply(upsampled, new Array<number>(upsampled.shape[0]).fill(0)));
}

export interface RegressionTrainOptions extends LrScheduleOptions {
  totalSteps: number;
  /** Clip gradients to this global norm (default 1; null: none). */
  clipGradNorm?: number | null;
  /** EMA decay of the returned weights (default null: the raw weights). */
  emaDecay?: number | null;
  progress?: false | ProgressOptions;
  /** Called before step k (0-based): true stops training there (e.g. a wall-time budget). */
  stopWhen?: (step: number) => boolean;
}

export interface RegressionResult {
  /** The model to predict with: an EMA copy (caller disposes it) or the trained UNet itself. */
  model: UNet;
  loss: number[];
  seconds: number;
}

/**
 * Trains `unet` on batches {x: high-res, cond.concat: up-sampled low-res} (lib/methods/sr/batches.ts) to
 * minimise mean((unet(up) - x)^2), with Adam, warm-up/cosine learning rate and clipping.
 */
export async function trainRegression(unet: UNet, data: BatchSource, o: RegressionTrainOptions): Promise<RegressionResult> {
  if (!Number.isInteger(o.totalSteps) || o.totalSteps < 1) throw new Error(`trainRegression: totalSteps must be a positive integer, got ${o.totalSteps}`);
  validateLrSchedule({ ...o });
  const vars = [...unet.params.values()];
  const adam = new ScheduledAdam(learningRateAt(0, o), 0.9, 0.999, 1e-8);
  const emaModel = o.emaDecay === undefined || o.emaDecay === null ? null : new UNet(unet.config);
  const ema = emaModel ? new Ema(unet.params, emaModel.params, o.emaDecay as number) : null;
  const bar = o.progress === false ? null : new ProgressBar<number>(undefined, { label: 'regression', ...o.progress, total: o.totalSteps });
  const loss: number[] = [];
  const t0 = Date.now();
  try {
    for (let k = 0; k < o.totalSteps; k++) {
      if (o.stopWhen?.(k)) break;
      const batch = data(k);
      const up = batch.cond?.concat;
      if (!up) throw new Error('trainRegression: batches must carry the up-sampled input as cond.concat (lib/methods/sr/batches.ts)');
      adam.setLearningRate(learningRateAt(k, o));
      const { value, grads } = tf.variableGrads(() => tf.mean(tf.squaredDifference(regressionPredict(unet, up), batch.x)) as tf.Scalar, vars);
      const l = value.dataSync()[0];
      value.dispose();
      tf.dispose([batch.x, up]);
      const clipped = clipByGlobalNorm(vars.map((v) => grads[v.name]), o.clipGradNorm === undefined ? 1 : o.clipGradNorm);
      tf.dispose(grads);
      if (!Number.isFinite(l) || !Number.isFinite(clipped.norm)) {
        tf.dispose(clipped.grads);
        throw new Error(`trainRegression: step ${k}: loss ${l}, gradient norm ${clipped.norm}; try a lower learning rate`);
      }
      adam.applyGradients(vars.map((v, i) => ({ name: v.name, tensor: clipped.grads[i] })));
      tf.dispose(clipped.grads);
      ema?.update();
      loss.push(l);
      bar?.set({ loss: l });
      bar?.update(1);
    }
  } catch (e) {
    emaModel?.dispose();
    throw e;
  } finally {
    bar?.finish();
    adam.dispose();
  }
  return { model: emaModel ?? unet, loss, seconds: (Date.now() - t0) / 1000 };
}
