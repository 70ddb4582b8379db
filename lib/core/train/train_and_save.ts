// What every diffusion training command does around the Trainer: resume from the newest training
// state, train with a progress bar, then write the EMA weights (what lessons load) and say how long
// it took. Interrupting loses at most one checkpoint interval.
import * as fs from 'fs';
import * as path from 'path';
import { saveUNetWeights } from '../checkpoint/unet_checkpoint';
import { Prediction } from '../loss';
import { NoiseSchedule } from '../schedule';
import { Denoiser } from '../unet/denoiser';
import { BatchSource } from './batch_source';
import { ConditionOf, removeCheckpoints, Trainer, TrainerOptions } from './trainer';

export interface TrainAndSaveOptions {
  /** Output folder: train/ (resumable states) and model.safetensors (EMA weights + config). */
  out: string;
  trainer: Omit<TrainerOptions, 'checkpointDir'>;
  /** Delete existing training states first. */
  fresh?: boolean;
  /** Stored in model.safetensors' metadata (dataset, flags, ...). */
  metadata?: Record<string, string>;
}

/** The schedule flags the training commands share. */
export interface CosineRunFlags {
  steps: number;
  lr: number;
  warmup: number;
  minLr: number;
  ema: number;
  seed: number;
  every: number;
}

/** Linear warm-up, cosine decay to minLr, EMA weights, a resumable state every `every` steps (the last two kept). */
export function cosineTrainer(
  schedule: NoiseSchedule,
  prediction: Prediction,
  a: CosineRunFlags,
): TrainAndSaveOptions['trainer'] {
  return {
    schedule,
    prediction,
    totalSteps: a.steps,
    learningRate: a.lr,
    warmupSteps: a.warmup,
    decay: 'cosine',
    minLearningRate: Math.min(a.minLr, a.lr),
    emaDecay: a.ema,
    seed: a.seed,
    checkpointEvery: a.every,
    keepLast: 2,
  };
}

export interface TrainSummary {
  steps: number;
  stepsThisRun: number;
  seconds: number;
  meanLossLast100: number;
  modelFile: string;
}

// Denoiser<any>: the condition type is read off the model (ConditionOf), not given twice.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function trainAndSave<M extends Denoiser<any>>(
  model: M,
  data: BatchSource<ConditionOf<M>>,
  o: TrainAndSaveOptions,
): Promise<TrainSummary> {
  const trainDir = path.join(o.out, 'train');
  if (o.fresh) removeCheckpoints(trainDir);
  const trainer = new Trainer(model, { ...o.trainer, checkpointDir: trainDir });
  try {
    if (await trainer.resume()) console.log(`resumed from ${trainer.lastCheckpoint} at step ${trainer.step}`);
    const start = trainer.step;
    const t0 = Date.now();
    const history = await trainer.train(data);
    const seconds = (Date.now() - t0) / 1000;
    const tail = history.loss.slice(-100);
    const meanLossLast100 = tail.reduce((p, q) => p + q, 0) / Math.max(1, tail.length);
    const modelFile = path.join(o.out, 'model.safetensors');
    await saveUNetWeights(
      modelFile,
      trainer.samplingModel,
      { ...o.metadata, weights: trainer.emaModel ? 'ema' : 'raw', final_loss_mean100: String(meanLossLast100) },
      trainer.step,
    );
    const done = trainer.step - start;
    console.log(
      `${done} steps in ${seconds.toFixed(1)} s (${(done / Math.max(seconds, 1e-9)).toFixed(2)} it/s); mean loss of the last ${tail.length} steps ${meanLossLast100.toFixed(4)}`,
    );
    console.log(`wrote ${modelFile} and ${trainer.lastCheckpoint} (training state)`);
    return { steps: trainer.step, stepsThisRun: done, seconds, meanLossLast100, modelFile };
  } finally {
    trainer.dispose();
  }
}
