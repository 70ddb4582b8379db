// Trains a lesson's model with lib/train/trainer.ts and writes its checkpoints.
//
//   npm run train -- 05 [flags]          (or: npx tsx scripts/train.ts 05 [flags])
//
// Lesson 05: the reference UNet (lib/unet/config.ts referenceUNetConfig), unconditional, on the
// Fashion-MNIST training split, eps prediction, linear schedule with T = 1000.
// Writes to checkpoints/05/ (or --out):
//   train/step-NNNNNNNN.safetensors   full training state (weights, EMA, Adam, history); resumable
//   model.safetensors                 the EMA weights + config only: what lessons load to sample
// Re-running continues from the newest train/ checkpoint unless --fresh is given; interrupting it
// (Ctrl-C) loses at most --every steps.
//
// Flags (defaults in brackets):
//   --steps N          total optimisation steps [20000]
//   --batch N          batch size [64]
//   --lr X             peak learning rate [2e-4]
//   --warmup N         linear warm-up steps [500]
//   --decay D          'constant' or 'cosine' after warm-up [cosine]
//   --min-lr X         floor of the cosine decay [1e-5]
//   --ema X            EMA decay [0.999]
//   --clip X           clip gradients to this global norm; 0 for none [1]
//   --seed N           fixes initial weights, batches, timesteps and noise [0]
//   --every N          checkpoint every N steps [500]
//   --keep N           checkpoints to keep in train/ [2]
//   --subset N         train on the first N images only (quick checks) [all 60000]
//   --classes          class-conditional (numClasses 10, labels as condition) [off]
//   --out DIR          output folder [checkpoints/<lesson>]
//   --fresh            ignore existing checkpoints in DIR/train and start over
import * as fs from 'fs';
import * as path from 'path';
import { formatBackendReport, initBackend } from '../lib/backend';
import { saveUNetWeights } from '../lib/checkpoint/unet_checkpoint';
import { linearSchedule } from '../lib/schedule';
import { imageBatches } from '../lib/train/batch_source';
import { listCheckpoints, Trainer } from '../lib/train/trainer';
import { referenceUNetConfig } from '../lib/unet/config';
import { UNet } from '../lib/unet/unet';
import { loadFashionMnist, subset } from '../datasets/index';

const LESSONS = ['05'];

interface Args {
  lesson: string;
  steps: number;
  batch: number;
  lr: number;
  warmup: number;
  decay: 'constant' | 'cosine';
  minLr: number;
  ema: number;
  clip: number;
  seed: number;
  every: number;
  keep: number;
  subset: number | null;
  classes: boolean;
  out: string | null;
  fresh: boolean;
}

function usage(msg: string): never {
  console.error(`train: ${msg}\nusage: npm run train -- <lesson: ${LESSONS.join('|')}> [--steps N] [--batch N] [--lr X] [--warmup N] [--decay constant|cosine] [--min-lr X] [--ema X] [--clip X] [--seed N] [--every N] [--keep N] [--subset N] [--classes] [--out DIR] [--fresh]  (see scripts/train.ts)`);
  process.exit(2);
}

function parseArgs(argv: string[]): Args {
  const a: Args = { lesson: '', steps: 20000, batch: 64, lr: 2e-4, warmup: 500, decay: 'cosine', minLr: 1e-5, ema: 0.999, clip: 1, seed: 0, every: 500, keep: 2, subset: null, classes: false, out: null, fresh: false };
  const num = (flag: string, v: string | undefined, int: boolean): number => {
    const x = Number(v);
    if (v === undefined || !Number.isFinite(x) || (int && !Number.isInteger(x))) usage(`${flag} needs ${int ? 'an integer' : 'a number'}, got '${v ?? ''}'`);
    return x;
  };
  for (let i = 0; i < argv.length; i++) {
    const f = argv[i];
    const next = () => argv[++i];
    switch (f) {
      case '--steps': a.steps = num(f, next(), true); break;
      case '--batch': a.batch = num(f, next(), true); break;
      case '--lr': a.lr = num(f, next(), false); break;
      case '--warmup': a.warmup = num(f, next(), true); break;
      case '--decay': { const d = next(); if (d !== 'constant' && d !== 'cosine') usage(`--decay must be constant or cosine, got '${d ?? ''}'`); a.decay = d; break; }
      case '--min-lr': a.minLr = num(f, next(), false); break;
      case '--ema': a.ema = num(f, next(), false); break;
      case '--clip': a.clip = num(f, next(), false); break;
      case '--seed': a.seed = num(f, next(), true); break;
      case '--every': a.every = num(f, next(), true); break;
      case '--keep': a.keep = num(f, next(), true); break;
      case '--subset': a.subset = num(f, next(), true); break;
      case '--classes': a.classes = true; break;
      case '--out': { const d = next(); if (!d) usage('--out needs a folder'); a.out = d; break; }
      case '--fresh': a.fresh = true; break;
      default:
        if (f.startsWith('-')) usage(`unknown flag '${f}'`);
        if (a.lesson) usage(`one lesson at a time, got '${a.lesson}' and '${f}'`);
        a.lesson = f;
    }
  }
  if (!a.lesson) usage('which lesson?');
  if (!LESSONS.includes(a.lesson)) usage(`no training recipe for lesson '${a.lesson}' (have: ${LESSONS.join(', ')})`);
  return a;
}

async function main(): Promise<void> {
  const a = parseArgs(process.argv.slice(2));
  const out = a.out ?? path.join('checkpoints', a.lesson);
  const trainDir = path.join(out, 'train');
  console.log(formatBackendReport(await initBackend()));
  let set = loadFashionMnist('train');
  if (a.subset !== null) {
    if (!(a.subset >= a.batch && a.subset <= set.count)) usage(`--subset must be between --batch (${a.batch}) and ${set.count}`);
    set = subset(set, Array.from({ length: a.subset }, (_, i) => i));
  }
  const config = referenceUNetConfig(a.classes ? { numClasses: 10 } : {});
  const model = new UNet(config, { seed: a.seed });
  const trainer = new Trainer(model, {
    schedule: linearSchedule(1000),
    totalSteps: a.steps,
    learningRate: a.lr,
    warmupSteps: a.warmup,
    decay: a.decay,
    minLearningRate: Math.min(a.minLr, a.lr),
    emaDecay: a.ema,
    clipGradNorm: a.clip > 0 ? a.clip : null,
    seed: a.seed,
    checkpointDir: trainDir,
    checkpointEvery: a.every,
    keepLast: a.keep,
  });
  if (a.fresh) for (const c of listCheckpoints(trainDir)) fs.rmSync(c.file);
  if (await trainer.resume()) console.log(`resumed from ${trainer.lastCheckpoint} at step ${trainer.step}`);
  console.log(`lesson ${a.lesson}: ${model.paramCount.toLocaleString('en')} parameters, ${set.count} images, batch ${a.batch}, ${a.steps} steps -> ${out}`);
  const t0 = Date.now();
  const startStep = trainer.step;
  const history = await trainer.train(imageBatches(set, a.batch, a.seed, { withLabels: a.classes }));
  const secs = (Date.now() - t0) / 1000;
  const tail = history.loss.slice(-100);
  const meanLoss = tail.reduce((p, q) => p + q, 0) / Math.max(1, tail.length);
  const model_file = path.join(out, 'model.safetensors');
  await saveUNetWeights(model_file, trainer.samplingModel, {
    lesson: a.lesson,
    dataset: `fashion-mnist/train (${set.count} images)`,
    weights: 'ema',
    ema_decay: String(a.ema),
    final_loss_mean100: String(meanLoss),
    args: JSON.stringify(a),
  }, trainer.step);
  console.log(`${trainer.step - startStep} steps in ${secs.toFixed(1)} s (${((trainer.step - startStep) / Math.max(secs, 1e-9)).toFixed(2)} it/s); mean loss of the last ${tail.length} steps ${meanLoss.toFixed(4)}`);
  console.log(`wrote ${model_file} (EMA weights) and ${trainer.lastCheckpoint} (training state)`);
  trainer.dispose();
  model.dispose();
}

main().catch((e: Error) => {
  console.error(`train: ${e.message}`);
  process.exit(1);
});
