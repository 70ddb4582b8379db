// Trains the models of lessons 08 (super-resolution) and 09 (inpainting) and writes their checkpoints.
//
//   npm run train:sr-inpaint -- <task> [flags]
//
// Tasks (all on the Fashion-MNIST training split, images in [-1, 1], small UNets without attention):
//   sr3            SR3 (lesson 08): eps-prediction diffusion on the 28x28 image, conditioned on the
//                  bicubic up-sampling of its 7x7 and 14x14 area down-samplings (condChannels 1)
//                  -> checkpoints/08/sr3.safetensors
//   sr-regression  the regression baseline of lesson 08: the same UNet size, up-sampled input -> image,
//                  pixel MSE -> checkpoints/08/regression.safetensors
//   inpaint        the mask-conditioned inpainting model of lesson 09 (그림17): condition = [masked
//                  image, mask] (condChannels 2), random center/half/strokes/box masks
//                  -> checkpoints/09/inpaint.safetensors
// Each run also records its facts (config, command, steps, seed, backend, wall time, final loss) under
// models.<task> in the folder's manifest.json (evaluation numbers are added by hand after npm run eval).
// Every task keeps a resumable training state in <out>/train/<task>/ (not shipped); re-running
// resumes from it unless --fresh.
//
// Flags (defaults in brackets):
//   --steps N          optimisation steps [3000]
//   --batch N          batch size [64]
//   --lr X             peak learning rate [1e-3]
//   --warmup N         warm-up steps [200]
//   --min-lr X         floor of the cosine decay [2e-5]
//   --ema X            EMA decay; 0 for none [0.995]
//   --seed N           initial weights, batches, masks, timesteps, noise [0]
//   --base N           UNet baseChannels [32]
//   --mults LIST       UNet channelMults [1,2,2]
//   --lr-sizes LIST    SR input sizes [7,14]
//   --every N          checkpoint every N steps [250]
//   --max-minutes X    stop (and still write the model) after this much wall time [none]
//   --subset N         first N training images only (quick checks) [all 60000]
//   --out DIR          output folder [checkpoints/08 or checkpoints/09]
//   --fresh            ignore an existing training state
import * as fs from 'fs';
import * as path from 'path';
import { formatBackendReport, initBackend } from '../lib/runtime/backend';
import { pretrainedPath } from '../lib/course/models';
import { jsonField, readJsonFile } from '../lib/core/checkpoint/read_file';
import { saveUNetWeights } from '../lib/core/checkpoint/unet_checkpoint';
import { inpaintBatches, inpaintSchedule, TRAIN_MASK_KINDS } from '../lib/methods/inpaint/conditional';
import { srBatches } from '../lib/methods/sr/batches';
import { SrSpec } from '../lib/methods/sr/condition';
import { srMetadata, srSchedule, SrTask } from '../lib/methods/sr/model';
import { trainRegression } from '../lib/methods/sr/regression';
import { removeCheckpoints, Trainer } from '../lib/core/train/trainer';
import { resolveUNetConfig, UNetConfig } from '../lib/core/unet/config';
import { UNet } from '../lib/core/unet/unet';
import { loadFashionMnist, subset } from '../datasets/index';
import { exitStatus, intValue, numValue, SEED_MAX } from './flags';
import { stopTrainingOnCtrlC } from '../lib/core/cancel';

const TASKS = ['sr3', 'sr-regression', 'inpaint'] as const;
type Task = (typeof TASKS)[number];

interface Args {
  task: Task;
  steps: number;
  batch: number;
  lr: number;
  warmup: number;
  minLr: number;
  ema: number;
  seed: number;
  base: number;
  mults: number[];
  lrSizes: number[];
  every: number;
  maxMinutes: number | null;
  subset: number | null;
  out: string | null;
  fresh: boolean;
}

function usage(msg: string): never {
  console.error(
    `train-sr-inpaint: ${msg}\nusage: npm run train:sr-inpaint -- <${TASKS.join('|')}> [--steps N] [--batch N] [--lr X] [--warmup N] [--min-lr X] [--ema X] [--seed N] [--base N] [--mults 1,2,2] [--lr-sizes 7,14] [--every N] [--max-minutes X] [--subset N] [--out DIR] [--fresh]  (see the file's header)`,
  );
  process.exit(2);
}

function parseArgs(argv: string[]): Args {
  const a: Args = {
    task: '' as Task,
    steps: 3000,
    batch: 64,
    lr: 1e-3,
    warmup: 200,
    minLr: 2e-5,
    ema: 0.995,
    seed: 0,
    base: 32,
    mults: [1, 2, 2],
    lrSizes: [7, 14],
    every: 250,
    maxMinutes: null,
    subset: null,
    out: null,
    fresh: false,
  };
  // Safe integers only ('--steps 1e99' is an error); --seed within its documented range.
  const num = (flag: string, v: string | undefined, int: boolean, min = -Infinity, max = Infinity): number => {
    try {
      return (int ? intValue : numValue)(flag, v, min, max);
    } catch (e) {
      return usage((e as Error).message);
    }
  };
  const list = (flag: string, v: string | undefined): number[] => {
    const xs = (v ?? '').split(',').map(Number);
    if (!v || xs.some((x) => !Number.isSafeInteger(x) || x < 1))
      usage(`${flag} needs a list of positive integers such as 1,2,2, got '${v ?? ''}'`);
    return xs;
  };
  for (let i = 0; i < argv.length; i++) {
    const f = argv[i];
    const next = () => argv[++i];
    switch (f) {
      case '--steps':
        a.steps = num(f, next(), true, 1);
        break;
      case '--batch':
        a.batch = num(f, next(), true, 1);
        break;
      case '--lr':
        a.lr = num(f, next(), false);
        break;
      case '--warmup':
        a.warmup = num(f, next(), true, 0);
        break;
      case '--min-lr':
        a.minLr = num(f, next(), false);
        break;
      case '--ema':
        a.ema = num(f, next(), false);
        break;
      case '--seed':
        a.seed = num(f, next(), true, 0, SEED_MAX);
        break;
      case '--base':
        a.base = num(f, next(), true, 1);
        break;
      case '--mults':
        a.mults = list(f, next());
        break;
      case '--lr-sizes':
        a.lrSizes = list(f, next());
        break;
      case '--every':
        a.every = num(f, next(), true, 1);
        break;
      case '--max-minutes':
        a.maxMinutes = num(f, next(), false);
        break;
      case '--subset':
        a.subset = num(f, next(), true, 1);
        break;
      case '--out': {
        const d = next();
        if (!d) usage('--out needs a folder');
        a.out = d;
        break;
      }
      case '--fresh':
        a.fresh = true;
        break;
      default:
        if (f.startsWith('-')) usage(`unknown flag '${f}'`);
        if (a.task) usage(`one task at a time, got '${a.task}' and '${f}'`);
        if (!(TASKS as readonly string[]).includes(f)) usage(`unknown task '${f}' (have: ${TASKS.join(', ')})`);
        a.task = f as Task;
    }
  }
  if (!a.task) usage('which task?');
  if (a.steps < 1 || a.batch < 1 || a.every < 1) usage('--steps, --batch and --every must be >= 1');
  if (a.warmup >= a.steps) usage(`--warmup (${a.warmup}) must be smaller than --steps (${a.steps})`);
  if (!(a.ema >= 0 && a.ema < 1)) usage(`--ema must be in [0, 1), got ${a.ema}`);
  return a;
}

/** The small UNet of these lessons: no attention (28x28 is small and CPU time is short). */
function modelConfig(a: Args): UNetConfig {
  const common = {
    imageSize: 28,
    outChannels: 1,
    baseChannels: a.base,
    channelMults: a.mults,
    numResBlocks: 1,
    attentionResolutions: [],
    midAttention: false,
    groups: 8,
  };
  if (a.task === 'sr3') return resolveUNetConfig({ ...common, inChannels: 1, condChannels: 1 });
  if (a.task === 'sr-regression') return resolveUNetConfig({ ...common, inChannels: 1 });
  return resolveUNetConfig({ ...common, inChannels: 1, condChannels: 2 });
}

/** Merges this run's facts into <out>/manifest.json under models.<task>. */
function recordRun(out: string, task: Task, facts: Record<string, unknown>): void {
  const file = path.join(out, 'manifest.json');
  const m = fs.existsSync(file) ? (readJsonFile(file, 'manifest') as Record<string, unknown>) : {};
  const models = m.models === undefined ? {} : jsonField<Record<string, unknown>>(file, m, 'models', 'object');
  models[task] = facts;
  m.models = models;
  fs.writeFileSync(file, JSON.stringify(m, null, 2) + '\n');
}

async function main(): Promise<void> {
  stopTrainingOnCtrlC();
  const a = parseArgs(process.argv.slice(2));
  // The shipped model's place (lib/course/models.ts); --out moves the folder, not the file name.
  const shipped = pretrainedPath(a.task === 'inpaint' ? '09/inpaint' : a.task === 'sr3' ? '08/sr3' : '08/regression');
  const out = a.out ?? path.dirname(shipped);
  fs.mkdirSync(out, { recursive: true });
  const report = await initBackend();
  console.log(formatBackendReport(report));
  let set = loadFashionMnist('train');
  if (a.subset !== null) {
    if (!(a.subset >= a.batch && a.subset <= set.count))
      usage(`--subset must be between --batch (${a.batch}) and ${set.count}`);
    set = subset(
      set,
      Array.from({ length: a.subset }, (_, i) => i),
    );
  }
  const config = modelConfig(a);
  const model = new UNet(config, { seed: a.seed });
  const spec: SrSpec = { hrSize: 28, lrSizes: a.lrSizes };
  const file = path.join(out, path.basename(shipped));
  const data = a.task === 'inpaint' ? inpaintBatches(set, a.batch, a.seed) : srBatches(set, a.batch, a.seed, spec);
  const lrOpts = {
    learningRate: a.lr,
    warmupSteps: a.warmup,
    decay: 'cosine' as const,
    minLearningRate: Math.min(a.minLr, a.lr),
    totalSteps: a.steps,
  };
  console.log(
    `${a.task}: ${model.paramCount.toLocaleString('en')} parameters, ${set.count} images, batch ${a.batch}, ${a.steps} steps -> ${file}`,
  );
  const t0 = Date.now();
  const deadline = a.maxMinutes === null ? Infinity : t0 + a.maxMinutes * 60_000;
  // Steady-state speed: the first steps also pay for kernel set-up, so time is also taken after step 5.
  const WARM = 5;
  let tWarm: number | null = null;
  let stepsDone = 0;
  let startStep = 0;
  let losses: number[] = [];
  const metadata: Record<string, string> =
    a.task === 'inpaint'
      ? { task: 'inpaint', mask_kinds: TRAIN_MASK_KINDS.join(',') }
      : srMetadata(a.task as SrTask, spec);
  metadata.dataset = `fashion-mnist/train (${set.count} images)`;
  metadata.args = JSON.stringify(a);

  const trainDir = path.join(out, 'train', a.task);
  if (a.fresh) removeCheckpoints(trainDir);
  if (a.task === 'sr-regression') {
    // Pausable by time: stops between two steps once the deadline passes (a state is written there).
    let asked = 0;
    const r = await trainRegression(model, (k) => data(k), {
      ...lrOpts,
      totalSteps: a.steps,
      emaDecay: a.ema > 0 ? a.ema : null,
      seed: a.seed,
      progress: { label: 'sr-regression' },
      checkpointDir: trainDir,
      checkpointEvery: a.every,
      keepLast: 1,
      stopWhen: () => {
        if (asked++ === WARM) tWarm = Date.now();
        return Date.now() > deadline;
      },
    });
    stepsDone = r.loss.length;
    startStep = r.resumedAt;
    losses = r.loss;
    await saveUNetWeights(file, r.model, { ...metadata, weights: a.ema > 0 ? 'ema' : 'raw' }, stepsDone);
    if (r.model !== model) r.model.dispose();
  } else {
    const trainer = new Trainer(model, {
      schedule: a.task === 'sr3' ? srSchedule() : inpaintSchedule(),
      ...lrOpts,
      emaDecay: a.ema > 0 ? a.ema : null,
      clipGradNorm: 1,
      seed: a.seed,
      checkpointDir: trainDir,
      checkpointEvery: a.every,
      keepLast: 1,
      progress: { label: a.task },
    });
    if (await trainer.resume()) console.log(`resumed from ${trainer.lastCheckpoint} at step ${trainer.step}`);
    startStep = trainer.step;
    await trainer.train(data, { stopAt: Math.min(a.steps, startStep + WARM) });
    tWarm = Date.now();
    while (trainer.step < a.steps && Date.now() < deadline)
      await trainer.train(data, { stopAt: Math.min(a.steps, trainer.step + a.every) });
    stepsDone = trainer.step;
    losses = trainer.history.loss;
    await saveUNetWeights(
      file,
      trainer.samplingModel,
      { ...metadata, weights: a.ema > 0 ? 'ema' : 'raw', ema_decay: String(a.ema) },
      trainer.step,
    );
    trainer.dispose();
  }
  const secs = (Date.now() - t0) / 1000;
  const tail = losses.slice(-100);
  const meanLoss = tail.reduce((p, q) => p + q, 0) / Math.max(1, tail.length);
  const ran = stepsDone - startStep;
  const steady = tWarm !== null && ran > WARM ? (Date.now() - tWarm) / 1000 / (ran - WARM) : null;
  console.log(
    `${ran} steps in ${secs.toFixed(1)} s (${(secs / Math.max(ran, 1)).toFixed(3)} s/step; ${steady === null ? '-' : steady.toFixed(3)} s/step after step ${WARM}); mean loss of the last ${tail.length} steps ${meanLoss.toFixed(4)}`,
  );
  console.log(`wrote ${file}`);
  recordRun(out, a.task, {
    file: path.basename(file),
    config,
    params: model.paramCount,
    trainedWith: `npm run train:sr-inpaint -- ${process.argv.slice(2).join(' ')}`,
    stepsPlanned: a.steps,
    stepsDone,
    seed: a.seed,
    schedule: a.task === 'sr-regression' ? null : 'linear, T = 1000',
    weights: a.ema > 0 ? `EMA (decay ${a.ema})` : 'raw',
    dataset: `fashion-mnist train split (${set.count} images)`,
    backend: report.backend,
    wallSeconds: Math.round(secs),
    secondsPerStep: Number((secs / Math.max(ran, 1)).toFixed(3)),
    secondsPerStepSteady: steady === null ? null : Number(steady.toFixed(3)),
    finalLossMean100: Number(meanLoss.toFixed(5)),
  });
  model.dispose();
}

main().catch((e: Error) => {
  console.error(`train-sr-inpaint: ${e.message}`);
  process.exit(exitStatus(e));
});
