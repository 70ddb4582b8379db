// Training GLIGEN: the ordinary diffusion loss, but gradients and updates only for the new
// 'gligen.*' parameters; the base model stays exactly as it was (the test checks it).
import * as tf from '@tensorflow/tfjs-core';
import '../../core/tfjs_setup';
import { diffusionLoss } from '../../core/loss';
import { LATENT_PREDICTION } from '../latent/ldm';
import { ProgressBar } from '../../core/progress';
import { NoiseSchedule } from '../../core/schedule';
import { ScheduledAdam } from '../../core/train/scheduled_adam';
import { STREAM, stepRng } from '../../core/train/step_seed';
import { GroundedCondition, UNet } from '../../core/unet/unet';
import { gligenParams } from './model';

/** step -> batch of latents and their condition (the loop disposes every tensor in it). */
export type GroundedBatchSource = (step: number) => { x: tf.Tensor4D; cond: GroundedCondition };

export interface GligenTrainOptions {
  schedule: NoiseSchedule;
  steps: number;
  learningRate: number;
  warmupSteps: number;
  seed: number;
  progress?: boolean;
  /** Stop early (keeping the weights so far) once this much wall time has passed. */
  maxSeconds?: number;
}

export interface GligenHistory {
  loss: number[];
  seconds: number;
}

export async function trainGligen(unet: UNet, data: GroundedBatchSource, o: GligenTrainOptions): Promise<GligenHistory> {
  if (!unet.config.grounding) throw new Error('trainGligen: the UNet has no grounding layers (config.grounding)');
  if (!Number.isInteger(o.steps) || o.steps < 1) throw new Error(`trainGligen: steps must be a positive integer, got ${o.steps}`);
  if (!(o.learningRate > 0)) throw new Error(`trainGligen: learningRate must be > 0, got ${o.learningRate}`);
  const vars = [...gligenParams(unet).values()];
  const opt = new ScheduledAdam(o.learningRate, 0.9, 0.999, 1e-8);
  const h: GligenHistory = { loss: [], seconds: 0 };
  const bar = o.progress === false ? null : new ProgressBar<number>(undefined, { label: 'gligen', total: o.steps });
  const t0 = Date.now();
  let smooth = NaN;
  try {
    for (let k = 0; k < o.steps; k++) {
      if (o.maxSeconds !== undefined && (Date.now() - t0) / 1000 > o.maxSeconds) break;
      const warm = Math.min(1, (k + 1) / Math.max(1, o.warmupSteps));
      opt.setLearningRate(o.learningRate * warm * (0.05 + 0.95 * 0.5 * (1 + Math.cos((Math.PI * k) / o.steps))));
      const { x, cond } = data(k);
      const rng = stepRng(o.seed, k, STREAM.noise);
      const t = Array.from({ length: x.shape[0] }, () => rng.int(o.schedule.T));
      const noise = rng.normalTensor(x.shape) as tf.Tensor4D;
      try {
        const cost = opt.minimize(() => diffusionLoss((xt, tt) => unet.apply(xt, tt, cond), o.schedule, x, t, noise, LATENT_PREDICTION), true, vars);
        const [loss] = await cost!.data();
        cost!.dispose();
        if (!Number.isFinite(loss)) throw new Error(`trainGligen: loss is ${loss} at step ${k}; try a lower learning rate (now ${o.learningRate})`);
        h.loss.push(loss);
        smooth = Number.isNaN(smooth) ? loss : 0.95 * smooth + 0.05 * loss;
      } finally {
        tf.dispose([x, noise, cond.grounding, cond.groundingMask, cond.context, cond.contextMask]);
      }
      if (bar) {
        bar.set({ loss: smooth });
        bar.update(1);
      }
    }
  } finally {
    bar?.finish();
    opt.dispose();
  }
  h.seconds = (Date.now() - t0) / 1000;
  return h;
}
