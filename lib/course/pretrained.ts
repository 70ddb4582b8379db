// The Fashion-MNIST denoiser that lessons 03 and 05 sample from. In standard mode it is the shipped
// checkpoint ('05/unet' in the table of pretrained models, lib/course/models.ts) when that file
// exists; otherwise, and always in quick mode (tests, CI) and full mode (everything from scratch), a
// UNet is trained here with the Trainer, at a size that fits the mode's time budget. The result says
// which of the two happened, so a lesson can tell the reader what its samples come from.
import * as fs from 'fs';
import { byMode, LessonMode, lessonMode } from './mode';
import { loadPretrained, pretrainedPath } from './models';
import { ProgressOptions } from '../core/progress';
import { linearSchedule, NoiseSchedule } from '../core/schedule';
import { ImageData, imageBatches } from '../core/train/batch_source';
import { Trainer, TrainHistory } from '../core/train/trainer';
import { referenceUNetConfig, UNetConfig } from '../core/unet/config';
import { UNet } from '../core/unet/unet';
import { loadFashionMnist } from '../../datasets/index';

/** T and schedule of scripts/train.ts's lesson-05 recipe; the shipped weights only fit this schedule. */
export const PRETRAINED_T = 1000;

export type PretrainedSource = 'shipped checkpoint' | `trained here (${number} steps)`;

export interface PretrainedUNet {
  /** Sampling weights (the EMA copy when training used one). The caller disposes it. */
  unet: UNet;
  schedule: NoiseSchedule;
  source: PretrainedSource;
  /** The checkpoint file loaded, or null when trained here. */
  file: string | null;
  /** Per-step training curves when trained here, else null. */
  history: TrainHistory | null;
  /** Wall time spent loading or training. */
  seconds: number;
}

export interface PretrainedOptions {
  /** Default: lessonMode() (LESSON_MODE). */
  mode?: LessonMode;
  /** Checkpoint to load in standard mode; default the shipped one, pretrainedPath('05/unet'). */
  checkpoint?: string;
  /** Training steps when training here (default by mode: quick 30, standard 200, full 4000). */
  steps?: number;
  batchSize?: number;
  /** Overrides of the mode's UNet size when training here. */
  config?: Partial<UNetConfig>;
  /** Training images (default: Fashion-MNIST's training split). */
  data?: ImageData;
  seed?: number;
  progress?: false | ProgressOptions;
}

interface Recipe {
  config: Partial<UNetConfig>;
  steps: number;
  batch: number;
  lr: number;
  warmup: number;
  /** EMA only pays off over many steps: over 30 steps a 0.999 average would still be the initial weights. */
  ema: number | null;
}

// quick: seconds. standard: a few CPU minutes on 2 cores (about 0.5-1 s a step). full: the reference
// model trained for real (hours on a CPU; `npm run train -- 05` is the resumable way to do that).
const RECIPES: Record<LessonMode, Recipe> = {
  quick: {
    config: { baseChannels: 16, channelMults: [1, 2], numResBlocks: 1, attentionResolutions: [], midAttention: false },
    steps: 30,
    batch: 16,
    lr: 2e-3,
    warmup: 5,
    ema: null,
  },
  standard: {
    config: {
      baseChannels: 16,
      channelMults: [1, 2, 2],
      numResBlocks: 1,
      attentionResolutions: [],
      midAttention: true,
    },
    steps: 200,
    batch: 32,
    lr: 2e-3,
    warmup: 20,
    ema: 0.98,
  },
  full: { config: {}, steps: 4000, batch: 64, lr: 5e-4, warmup: 200, ema: 0.999 },
};

/** The lesson's denoiser: loaded (standard mode, file present) or trained here (see the file comment). */
export async function pretrainedUNet(opts: PretrainedOptions = {}): Promise<PretrainedUNet> {
  const mode = opts.mode ?? lessonMode();
  const t0 = Date.now();
  const schedule = linearSchedule(PRETRAINED_T);
  const file = opts.checkpoint ?? pretrainedPath('05/unet');
  if (mode === 'standard' && fs.existsSync(file)) {
    const unet = loadPretrained('05/unet', file);
    return { unet, schedule, source: 'shipped checkpoint', file, history: null, seconds: (Date.now() - t0) / 1000 };
  }
  const r = byMode(RECIPES, mode);
  const steps = opts.steps ?? r.steps;
  const batch = opts.batchSize ?? r.batch;
  if (!Number.isInteger(steps) || steps < 1)
    throw new Error(`pretrainedUNet: steps must be a positive integer, got ${steps}`);
  const data = opts.data ?? loadFashionMnist('train');
  const config = referenceUNetConfig({
    ...r.config,
    ...opts.config,
    imageSize: data.height,
    inChannels: data.channels,
    outChannels: data.channels,
  });
  const seed = opts.seed ?? 0;
  const model = new UNet(config, { seed });
  const trainer = new Trainer(model, {
    schedule,
    totalSteps: steps,
    learningRate: r.lr,
    warmupSteps: Math.min(r.warmup, steps - 1),
    decay: steps > r.warmup + 1 ? 'cosine' : 'constant',
    minLearningRate: r.lr / 10,
    emaDecay: r.ema,
    seed,
    progress: opts.progress ?? { label: `training a ${mode}-size UNet` },
  });
  try {
    await trainer.train(imageBatches(data, batch, seed));
  } catch (e) {
    trainer.dispose();
    model.dispose();
    throw e;
  }
  // Keep the sampling weights; free the optimizer's moments and the other copy.
  const unet = trainer.samplingModel;
  trainer.optimizer.dispose();
  if (unet !== model) model.dispose();
  return {
    unet,
    schedule,
    source: `trained here (${steps} steps)`,
    file: null,
    history: trainer.history,
    seconds: (Date.now() - t0) / 1000,
  };
}
