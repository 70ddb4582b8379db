// Training GLIGEN: the ordinary diffusion loss, but gradients and updates only for the new
// 'gligen.*' parameters (the trainer is given just that subset); the base model stays exactly as it
// was (the test checks it). Resumable: a checkpoint holds the GLIGEN parameters and their Adam state;
// the frozen base is rebuilt from its own file (groundedFromBase) before resuming.
import '../../core/tfjs_setup';
import { disposeCondition } from '../../core/condition';
import { NoiseSchedule } from '../../core/schedule';
import { BatchSource, TrainBatch } from '../../core/train/batch_source';
import { CheckpointOptions, checkpointOptions, LossTrainer, runTrainer } from '../../core/train/loss_trainer';
import { diffusionStepLoss } from '../../core/train/trainer';
import { Denoiser } from '../../core/unet/denoiser';
import { LATENT_PREDICTION } from '../latent/ldm';
import { GroundedCondition, groundingOf } from './grounding_hook';
import { gligenParams } from './model';

/** step -> batch of latents and their condition (the loop disposes every tensor in it). */
export type GroundedBatchSource = BatchSource<GroundedCondition>;

export interface GligenTrainOptions extends CheckpointOptions {
  schedule: NoiseSchedule;
  steps: number;
  /** Peak learning rate: linear warm-up over warmupSteps, then cosine down to 5% of it. */
  learningRate: number;
  warmupSteps: number;
  seed: number;
  progress?: boolean;
  /** Stop early (keeping the weights so far; a state is written there) once this much wall time has passed. */
  maxSeconds?: number;
}

export interface GligenHistory {
  /** Every step's loss (a resumed run's earlier steps included). */
  loss: number[];
  /** The step this run started from (0, or where it resumed). */
  resumedAt: number;
  /** This run's seconds. */
  seconds: number;
}

export async function trainGligen(
  unet: Denoiser<GroundedCondition>,
  data: GroundedBatchSource,
  o: GligenTrainOptions,
): Promise<GligenHistory> {
  const grounding = groundingOf(unet);
  if (!grounding) throw new Error('trainGligen: the UNet has no grounding layers (GLIGEN hook)');
  if (!Number.isInteger(o.steps) || o.steps < 1)
    throw new Error(`trainGligen: steps must be a positive integer, got ${o.steps}`);
  if (!(o.learningRate > 0)) throw new Error(`trainGligen: learningRate must be > 0, got ${o.learningRate}`);
  const trainer = new LossTrainer<TrainBatch<GroundedCondition>>(
    gligenParams(unet),
    diffusionStepLoss(unet, o.schedule, LATENT_PREDICTION),
    {
      learningRate: o.learningRate,
      // Clamped so a run shorter than its warm-up still has a schedule (a notebook's few demo steps).
      warmupSteps: Math.min(o.warmupSteps, o.steps - 1),
      decay: 'cosine',
      totalSteps: o.steps,
      minLearningRate: 0.05 * o.learningRate,
      seed: o.seed,
      config: { kind: 'gligen', grounding },
      mustMatch: { scheduleKind: o.schedule.kind, scheduleT: o.schedule.T, prediction: LATENT_PREDICTION },
      ...checkpointOptions(o),
      progress: o.progress === false ? false : { label: 'gligen' },
      disposeBatch: (b: TrainBatch<GroundedCondition>) => {
        b.x.dispose();
        disposeCondition(b.cond);
      },
    },
  );
  const t0 = Date.now();
  const { history, startStep, seconds } = await runTrainer(trainer, data, {
    stopWhen: o.maxSeconds === undefined ? undefined : () => (Date.now() - t0) / 1000 > (o.maxSeconds as number),
  });
  return { loss: [...history.loss], resumedAt: startStep, seconds };
}
