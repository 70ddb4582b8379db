// Trains lesson 17's text-to-video model. The shipped model is five runs, each going on from the one before
// (--init): the defaults, then --conv (3-D convolutions added at every block) for the other four, the last
// with --t-shift 3; the exact commands are in checkpoints/17/manifest.json and lib/course/models.ts.
//
//   npm run train -- 17 [flags]        (or: npm run train:video -- [flags])
//
// Starts from lesson 10's text UNet (--init, default the shipped checkpoint): its weights fill every 2-D
// parameter, temporal attention layers (zero output projection, a frame-index embedding) follow its
// attention blocks, and the motion words are appended to its vocabulary (from_image_model.ts). Trains
// every parameter on the seeded clips (datasets/video_shapes.ts) with one timestep per clip (video_loss.ts),
// captions dropped per clip for classifier-free guidance, lesson 10's schedule and v prediction.
// Writes <out>/train/ (resumable states; re-running resumes unless --fresh) and <out>/model.safetensors
// (EMA weights + the config that rebuilds the model: loadVideoModel).
import * as path from 'path';
import { formatBackendReport, initBackend } from '../lib/runtime/backend';
import { disposeCondition } from '../lib/core/condition';
import { LossTrainer, removeCheckpoints } from '../lib/core/train/loss_trainer';
import { TrainBatch } from '../lib/core/train/batch_source';
import { GLIDE_PREDICTION, glideSchedule } from '../lib/methods/text/glide';
import { loadVideoShapes } from '../datasets/video_shapes';
import {
  saveVideoModel,
  videoBatches,
  VideoCondition,
  videoFromImageModel,
  videoModelConfig,
  videoStepLoss,
} from '../lib/methods/video/index';
import { exitStatus, FlagSpec, parseFlags, UsageError, usageText } from './flags';
import { stopTrainingOnCtrlC } from '../lib/core/cancel';

const FLAGS = {
  steps: { kind: 'int', default: 1500, help: 'optimisation steps', min: 1 },
  batch: { kind: 'int', default: 4, help: 'clips per batch (each clip is --frames images)', min: 1 },
  frames: { kind: 'int', default: 8, help: 'frames per clip', min: 2, max: 16 },
  clips: { kind: 'int', default: 2000, help: 'training clips generated', min: 1 },
  lr: { kind: 'num', default: 5e-4, help: 'peak learning rate', min: 0 },
  warmup: { kind: 'int', default: 100, help: 'linear warm-up steps', min: 0 },
  minLr: { kind: 'num', default: 2e-5, help: 'floor of the cosine decay', min: 0 },
  ema: { kind: 'num', default: 0.995, help: 'EMA decay', min: 0, max: 0.999999 },
  captionDropout: { kind: 'num', default: 0.1, help: "probability a clip's caption becomes '' (CFG)", min: 0, max: 1 },
  tShift: {
    kind: 'num',
    default: 1,
    help: 'timestep shift: > 1 draws more clips at high noise, where motion is decided (1: uniform)',
    min: 0.01,
  },
  seed: { kind: 'int', default: 0, help: 'new weights, batches, timesteps, noise' },
  every: { kind: 'int', default: 250, help: 'checkpoint every N steps', min: 1 },
  init: {
    kind: 'str',
    default: 'checkpoints/10/model.safetensors',
    help: "the image model (lesson 10's text UNet), or a video model to go on from",
  },
  out: { kind: 'str', default: 'checkpoints/17', help: 'output folder' },
  everyBlock: { kind: 'bool', default: false, help: 'temporal layers after every block, not only attention blocks' },
  conv: { kind: 'bool', default: false, help: 'a 3-D convolution across frames after every block' },
  fresh: { kind: 'bool', default: false, help: 'ignore existing training states' },
} satisfies FlagSpec;

async function main(): Promise<void> {
  stopTrainingOnCtrlC();
  const { positional, values: a } = parseFlags(process.argv.slice(2), FLAGS);
  if (positional.length) throw new UsageError(`no positional arguments, got '${positional.join(' ')}'`);
  console.log(formatBackendReport(await initBackend()));
  const set = loadVideoShapes('train', { count: a.clips, frames: a.frames });
  const model = videoFromImageModel(a.init, {
    maxFrames: 16,
    seed: a.seed,
    everyBlock: a.everyBlock,
    conv: a.conv,
  });
  const ema = model.emptyCopy();
  const schedule = glideSchedule();
  const trainDir = path.join(a.out, 'train');
  if (a.fresh) removeCheckpoints(trainDir);
  const trainer = new LossTrainer<TrainBatch<VideoCondition>>(
    model.params,
    videoStepLoss(model, schedule, a.frames, GLIDE_PREDICTION, null, a.tShift),
    {
      totalSteps: a.steps,
      learningRate: a.lr,
      warmupSteps: a.warmup,
      decay: 'cosine',
      minLearningRate: Math.min(a.minLr, a.lr),
      clipGradNorm: 1,
      emaDecay: a.ema,
      emaTarget: ema.params,
      seed: a.seed,
      checkpointDir: trainDir,
      checkpointEvery: a.every,
      keepLast: 2,
      config: videoModelConfig(model),
      mustMatch: { scheduleKind: schedule.kind, scheduleT: schedule.T, prediction: GLIDE_PREDICTION, frames: a.frames },
      describe: { batch: a.batch, clips: a.clips, captionDropout: a.captionDropout, init: a.init, tShift: a.tShift },
      disposeBatch: (b) => {
        b.x.dispose();
        disposeCondition(b.cond);
      },
    },
  );
  try {
    if (await trainer.resume()) console.log(`resumed from ${trainer.lastCheckpoint} at step ${trainer.step}`);
    console.log(
      `lesson 17: ${model.paramCount.toLocaleString('en')} parameters, ${set.count} clips of ${a.frames} frames, ` +
        `${a.batch} clips (${a.batch * a.frames} frames) a step, ${a.steps} steps -> ${a.out}`,
    );
    const t0 = Date.now();
    await trainer.train(videoBatches(set, a.batch, a.seed, { captionDropout: a.captionDropout }));
    const file = path.join(a.out, 'model.safetensors');
    await saveVideoModel(file, ema, {
      lesson: '17',
      dataset: `video-shapes/train (${set.count} clips of ${a.frames} frames)`,
      args: JSON.stringify(a),
    });
    console.log(`wrote ${file} (EMA weights) after ${((Date.now() - t0) / 1000).toFixed(0)} s`);
  } finally {
    trainer.dispose();
    ema.dispose();
    model.dispose();
  }
}

main().catch((e: Error) => {
  console.error(
    `train-video: ${e.message}` +
      (e instanceof UsageError ? `\nusage: npm run train:video -- [flags]\n${usageText(FLAGS)}` : ''),
  );
  process.exit(exitStatus(e));
});
