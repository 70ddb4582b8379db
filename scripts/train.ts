// Trains a lesson's model with lib/core/train/trainer.ts and writes its checkpoints.
//
//   npm run train -- 05 [flags]
//   npm run train -- 06 [flags]          the noisy classifier for classifier guidance
//   npm run train -- 07 --init checkpoints/05/model.safetensors [flags]
//   npm run train -- 01|08|09|10|...|17 [task] [flags]   runs that lesson's own script (scripts/train_routes.ts)
//
// Lesson 05: the reference UNet (lib/core/unet/config.ts referenceUNetConfig), unconditional, on the
// Fashion-MNIST training split, eps prediction, linear schedule with T = 1000.
// Writes to checkpoints/05/ (or --out):
//   train/step-NNNNNNNN.safetensors   full training state (weights, EMA, Adam, history); resumable
//   model.safetensors                 the EMA weights + config only: what lessons load to sample
// Re-running continues from the newest train/ checkpoint unless --fresh is given. Ctrl-C stops it after
// the step in progress and writes a checkpoint there (a second Ctrl-C quits at once, losing at most
// --every steps); so does every training script run with `npm run train…` (not through `npx tsx`, whose
// launcher kills a script that does not answer a signal within 30 ms).
//
// Lesson 07: the same reference UNet with 10 classes (+1 null class) for classifier-free guidance,
// trained with condition dropout (--cond-dropout, default 0.15 for 07). With --init FILE it starts
// from an unconditional model's weights (lesson 05's) with a zero class embedding, so step 0 is that
// model; without --init it starts from random weights. Writes checkpoints/07/ like lesson 05.
// With --init, a first phase fits only the class-embedding rows against the frozen network
// (--fit-emb-steps, --fit-emb-lr; lib/methods/guidance/fit_class_embedding.ts says why), then the Trainer
// fine-tunes everything with condition dropout; that phase resumes too, from train/class-embedding/.
// --init may also name a class-conditional model
// (checkpoints/07/model.safetensors) to train it further: no embedding phase, fresh Adam state.
// Its defaults differ from 05's (a fine-tune): --steps 2000 --lr 2e-4 --warmup 100 --ema 0.995 --every 250.
//
// Lesson 06: the noisy classifier p(y | x_t, t) (lib/methods/guidance/noisy_classifier.ts), cross-entropy on
// x_t = q_sample(x0, t) at uniform random t of the same linear T = 1000 schedule. Writes
// checkpoints/06/noisy_classifier.safetensors and checkpoints/06/train-summary.json (test accuracy
// per t). Uses --steps [3000] --batch [128] --lr [1e-3] --warmup [100] --decay --min-lr --seed
// --subset --out --every --keep --fresh; resumes from checkpoints/06/train/ like the others. Its own:
//   --small-t P        draw each image's t from [0, --small-t-below) with probability P, else uniform
//                      over all T: more nearly clean images, where the classes are told apart [0: uniform]
//   --small-t-below N  [100]
//   --init FILE        train this noisy classifier further (fresh Adam state, a new cosine schedule)
//   --channels A,B,C   channels per level of a new classifier [32,64,128]; wider sees more on clean images
// The shipped classifier's commands are in checkpoints/06/manifest.json (trainedWith).
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
//   --seed N           fixes initial weights, batches, timesteps and noise; 0 to 2^31 - 1 [0]
//   --every N          checkpoint every N steps [500]
//   --keep N           checkpoints to keep in train/ [2]
//   --subset N         train on the first N images only (quick checks) [all 60000]
//   --classes          class-conditional (numClasses 10, labels as condition) [off; always on for 07]
//   --cond-dropout P   replace a label by the null class with probability P [0; 0.15 for 07]
//   --init FILE        07: start from this unconditional model (zero class embedding), or from a
//                      conditional one to train it further; 05, 06: train this model further [none]
//   --ema-warmup       ramp the EMA decay as min(ema, (1 + k) / (10 + k)) [off]
//   --fit-emb-steps N  07 with --init: steps of the embedding-only phase [300]
//   --fit-emb-lr X     07 with --init: its learning rate [1e-2]
//   --out DIR          output folder [checkpoints/<lesson>]
//   --fresh            ignore existing checkpoints in DIR/train and start over
import * as fs from 'fs';
import * as path from 'path';
import { formatBackendReport, initBackend } from '../lib/runtime/backend';
import { loadUNetCheckpoint, saveUNetWeights } from '../lib/core/checkpoint/unet_checkpoint';
import { conditionalFromUnconditional } from '../lib/methods/guidance/conditional_init';
import { classEmbeddingNorms, fitClassEmbedding } from '../lib/methods/guidance/fit_class_embedding';
import { loadNoisyClassifier, NoisyClassifier, saveNoisyClassifier } from '../lib/methods/guidance/noisy_classifier';
import { noisyAccuracy, trainNoisyClassifier } from '../lib/methods/guidance/train_noisy_classifier';
import { linearSchedule } from '../lib/core/schedule';
import { imageBatches } from '../lib/core/train/batch_source';
import { listCheckpoints, removeCheckpoints, Trainer } from '../lib/core/train/trainer';
import { referenceUNetConfig } from '../lib/core/unet/config';
import { UNet } from '../lib/core/unet/unet';
import { loadFashionMnist, subset, toTensor } from '../datasets/index';
import { exitStatus, intValue, numValue, SEED_MAX } from './flags';
import { routeArgs, runRoute, TRAIN_ROUTES } from './train_routes';
import { stopTrainingOnCtrlC } from '../lib/core/cancel';

const LESSONS = ['05', '06', '07'];

/** Per-lesson defaults that differ from the global ones (applied before the flags). */
const LESSON_DEFAULTS: Record<string, Partial<Args>> = {
  '06': { steps: 3000, batch: 128, lr: 1e-3, warmup: 100, minLr: 1e-5 },
  '07': {
    steps: 2000,
    lr: 2e-4,
    warmup: 100,
    ema: 0.995,
    every: 250,
    classes: true,
    condDropout: 0.15,
    fitEmbSteps: 300,
  },
};

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
  condDropout: number;
  init: string | null;
  fitEmbSteps: number;
  fitEmbLr: number;
  out: string | null;
  fresh: boolean;
  emaWarmup: boolean;
  smallT: number;
  smallTBelow: number;
  channels: number[] | null;
}

function usage(msg: string): never {
  console.error(
    `train: ${msg}\nusage: npm run train -- <lesson: ${LESSONS.join('|')}> [--steps N] [--batch N] [--lr X] [--warmup N] [--decay constant|cosine] [--min-lr X] [--ema X] [--clip X] [--seed N] [--every N] [--keep N] [--subset N] [--classes] [--cond-dropout P] [--init FILE] [--fit-emb-steps N] [--fit-emb-lr X] [--out DIR] [--fresh] [--ema-warmup] [06: --small-t P --small-t-below N --channels A,B,C]  (see scripts/train.ts)`,
  );
  process.exit(2);
}

function parseArgs(argv: string[]): Args {
  // The flags given; the lesson's own defaults, then the global ones, fill in the rest.
  const g: Partial<Args> = {};
  // Safe integers only ('--steps 1e99' is an error, not 1e99 steps); ranges where a value has one.
  const num = (flag: string, v: string | undefined, int: boolean, min = -Infinity, max = Infinity): number => {
    try {
      return (int ? intValue : numValue)(flag, v, min, max);
    } catch (e) {
      return usage((e as Error).message);
    }
  };
  for (let i = 0; i < argv.length; i++) {
    const f = argv[i];
    const next = () => argv[++i];
    switch (f) {
      case '--steps':
        g.steps = num(f, next(), true, 1);
        break;
      case '--batch':
        g.batch = num(f, next(), true, 1);
        break;
      case '--lr':
        g.lr = num(f, next(), false);
        break;
      case '--warmup':
        g.warmup = num(f, next(), true, 0);
        break;
      case '--decay': {
        const d = next();
        if (d !== 'constant' && d !== 'cosine') usage(`--decay must be constant or cosine, got '${d ?? ''}'`);
        g.decay = d;
        break;
      }
      case '--min-lr':
        g.minLr = num(f, next(), false);
        break;
      case '--ema':
        g.ema = num(f, next(), false);
        break;
      case '--clip':
        g.clip = num(f, next(), false, 0); // 0: no clipping; a negative norm means nothing
        break;
      case '--seed':
        g.seed = num(f, next(), true, 0, SEED_MAX);
        break;
      case '--every':
        g.every = num(f, next(), true, 1);
        break;
      case '--keep':
        g.keep = num(f, next(), true, 1);
        break;
      case '--subset':
        g.subset = num(f, next(), true, 1);
        break;
      case '--classes':
        g.classes = true;
        break;
      case '--cond-dropout':
        g.condDropout = num(f, next(), false);
        break;
      case '--init': {
        const d = next();
        if (!d) usage('--init needs a file');
        g.init = d;
        break;
      }
      case '--fit-emb-steps':
        g.fitEmbSteps = num(f, next(), true, 0);
        break;
      case '--fit-emb-lr':
        g.fitEmbLr = num(f, next(), false);
        break;
      case '--out': {
        const d = next();
        if (!d) usage('--out needs a folder');
        g.out = d;
        break;
      }
      case '--fresh':
        g.fresh = true;
        break;
      case '--ema-warmup':
        g.emaWarmup = true;
        break;
      case '--small-t':
        g.smallT = num(f, next(), false, 0, 1);
        break;
      case '--small-t-below':
        g.smallTBelow = num(f, next(), true, 1, 1000);
        break;
      case '--channels': {
        const v = next() ?? '';
        const list = v.split(',').map(Number);
        if (!/^\d+(,\d+)*$/.test(v) || list.some((c) => c < 1))
          usage(`--channels must list positive integers like 32,64,128, got '${v}'`);
        g.channels = list;
        break;
      }
      default:
        if (f.startsWith('-')) usage(`unknown flag '${f}'`);
        if (g.lesson) usage(`one lesson at a time, got '${g.lesson}' and '${f}'`);
        g.lesson = f;
    }
  }
  if (!g.lesson) usage('which lesson?');
  if (!LESSONS.includes(g.lesson))
    usage(
      `no training recipe for lesson '${g.lesson}' (have: ${[...LESSONS, ...Object.keys(TRAIN_ROUTES)].sort().join(', ')})`,
    );
  const a: Args = {
    lesson: g.lesson,
    steps: 20000,
    batch: 64,
    lr: 2e-4,
    warmup: 500,
    decay: 'cosine',
    minLr: 1e-5,
    ema: 0.999,
    clip: 1,
    seed: 0,
    every: 500,
    keep: 2,
    subset: null,
    classes: false,
    condDropout: 0,
    init: null,
    fitEmbSteps: 0,
    fitEmbLr: 1e-2,
    out: null,
    fresh: false,
    emaWarmup: false,
    smallT: 0,
    smallTBelow: 100,
    channels: null,
    ...LESSON_DEFAULTS[g.lesson],
    ...g,
  };
  if (!(a.condDropout >= 0 && a.condDropout <= 1)) usage(`--cond-dropout must be in [0, 1], got ${a.condDropout}`);
  if (a.condDropout > 0 && !a.classes) usage('--cond-dropout needs --classes (labels to drop)');
  if (a.init !== null && !['05', '06', '07'].includes(a.lesson)) usage('--init applies to lessons 05, 06 and 07 only');
  if ((g.smallT !== undefined || g.smallTBelow !== undefined) && a.lesson !== '06')
    usage('--small-t and --small-t-below apply to lesson 06 only');
  if (a.channels !== null && (a.lesson !== '06' || a.init !== null))
    usage('--channels sets a new lesson-06 classifier (not with --init, which keeps its own)');
  return a;
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  if (argv[0] && TRAIN_ROUTES[argv[0]]) {
    const route = routeArgs(argv[0], argv.slice(1));
    if (typeof route === 'string') usage(route);
    process.exit(await runRoute(route.script, route.args));
  }
  stopTrainingOnCtrlC();
  const a = parseArgs(argv);
  const out = a.out ?? path.join('checkpoints', a.lesson);
  const trainDir = path.join(out, 'train');
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
  if (a.lesson === '06') return trainNoisy(a, out, set, report.backend);
  const config = referenceUNetConfig(a.classes ? { numClasses: 10 } : {});
  const embDir = path.join(trainDir, 'class-embedding');
  if (a.fresh) for (const d of [trainDir, embDir]) removeCheckpoints(d);
  let model: UNet;
  if (a.init !== null && listCheckpoints(trainDir).length === 0) {
    // Before the Trainer exists: its EMA copy starts from these weights.
    const base = loadUNetCheckpoint(a.init);
    if (a.lesson === '05' && base.config.numClasses !== undefined)
      usage(`--init ${a.init} is class-conditional; lesson 05 continues an unconditional model`);
    const continuing = a.lesson === '05' || base.config.numClasses !== undefined;
    if (continuing) {
      // A shipped checkpoint holds EMA weights only: train it further from those weights with a
      // fresh optimiser (05: the same unconditional model; 07: its class rows are already fitted).
      if (a.lesson === '07' && base.config.numClasses !== 10)
        usage(`--init ${a.init} has ${base.config.numClasses} classes, lesson 07 needs 10`);
      model = base;
      console.log(`continuing from the model ${a.init} (fresh optimiser state)`);
    } else {
      model = conditionalFromUnconditional(base, 10);
      base.dispose();
      console.log(`initialised from ${a.init} with a zero class embedding`);
    }
    if (!continuing && a.fitEmbSteps > 0) {
      const t1 = Date.now();
      const l = await fitClassEmbedding(model, imageBatches(set, a.batch, a.seed + 1, { withLabels: true }), {
        schedule: linearSchedule(1000),
        steps: a.fitEmbSteps,
        learningRate: a.fitEmbLr,
        seed: a.seed + 1,
        progress: { label: 'class embedding' },
        checkpointDir: embDir,
        checkpointEvery: Math.min(a.every, a.fitEmbSteps),
      });
      const m = (xs: number[]) => xs.reduce((p, q) => p + q, 0) / xs.length;
      console.log(
        `class-embedding phase: ${a.fitEmbSteps} steps in ${((Date.now() - t1) / 1000).toFixed(1)} s, loss ${m(l.slice(0, 20)).toFixed(4)} -> ${m(l.slice(-20)).toFixed(4)} (20-step means); row norms ${(
          await classEmbeddingNorms(model)
        )
          .map((x) => x.toFixed(2))
          .join(' ')}`,
      );
    }
  } else {
    model = new UNet(config, { seed: a.seed });
  }
  const trainer = new Trainer(model, {
    schedule: linearSchedule(1000),
    totalSteps: a.steps,
    learningRate: a.lr,
    warmupSteps: a.warmup,
    decay: a.decay,
    minLearningRate: Math.min(a.minLr, a.lr),
    emaDecay: a.ema,
    emaWarmup: a.emaWarmup,
    clipGradNorm: a.clip > 0 ? a.clip : null,
    seed: a.seed,
    checkpointDir: trainDir,
    checkpointEvery: a.every,
    keepLast: a.keep,
  });
  if (await trainer.resume()) console.log(`resumed from ${trainer.lastCheckpoint} at step ${trainer.step}`);
  console.log(
    `lesson ${a.lesson}: ${model.paramCount.toLocaleString('en')} parameters, ${set.count} images, batch ${a.batch}, ${a.steps} steps -> ${out}`,
  );
  const t0 = Date.now();
  const startStep = trainer.step;
  const condDropout = a.condDropout > 0 ? { p: a.condDropout, nullClass: 10 } : undefined;
  const history = await trainer.train(imageBatches(set, a.batch, a.seed, { withLabels: a.classes, condDropout }));
  const secs = (Date.now() - t0) / 1000;
  const tail = history.loss.slice(-100);
  const meanLoss = tail.reduce((p, q) => p + q, 0) / Math.max(1, tail.length);
  const model_file = path.join(out, 'model.safetensors');
  await saveUNetWeights(
    model_file,
    trainer.samplingModel,
    {
      lesson: a.lesson,
      dataset: `fashion-mnist/train (${set.count} images)`,
      weights: 'ema',
      ema_decay: String(a.ema),
      final_loss_mean100: String(meanLoss),
      args: JSON.stringify(a),
    },
    trainer.step,
  );
  console.log(
    `${trainer.step - startStep} steps in ${secs.toFixed(1)} s (${((trainer.step - startStep) / Math.max(secs, 1e-9)).toFixed(2)} it/s); mean loss of the last ${tail.length} steps ${meanLoss.toFixed(4)}`,
  );
  console.log(`wrote ${model_file} (EMA weights) and ${trainer.lastCheckpoint} (training state)`);
  trainer.dispose();
  model.dispose();
}

/** Lesson 06: trains the noisy classifier and measures its test accuracy at several noise levels. */
async function trainNoisy(
  a: Args,
  out: string,
  set: ReturnType<typeof loadFashionMnist>,
  backend: string,
): Promise<void> {
  const schedule = linearSchedule(1000);
  const trainDir = path.join(out, 'train');
  if (a.fresh) removeCheckpoints(trainDir);
  // --init: train a shipped classifier further (fresh Adam state; a state in train/ still wins on resume).
  const model =
    a.init !== null
      ? loadNoisyClassifier(a.init)
      : new NoisyClassifier(a.channels ? { channels: a.channels } : {}, { seed: a.seed });
  console.log(
    `lesson 06 noisy classifier: ${model.paramCount.toLocaleString('en')} parameters${a.init !== null ? ` from ${a.init}` : ''}, ${set.count} images, batch ${a.batch}, ${a.steps} steps` +
      `${a.smallT > 0 ? `, t < ${a.smallTBelow} for a share ${a.smallT} of each batch` : ''} -> ${out}`,
  );
  const t0 = Date.now();
  const losses = await trainNoisyClassifier(model, imageBatches(set, a.batch, a.seed, { withLabels: true }), {
    schedule,
    totalSteps: a.steps,
    learningRate: a.lr,
    warmupSteps: a.warmup,
    decay: a.decay,
    minLearningRate: Math.min(a.minLr, a.lr),
    seed: a.seed,
    smallT: a.smallT > 0 ? { fraction: a.smallT, below: a.smallTBelow } : undefined,
    progress: { label: 'train' },
    checkpointDir: trainDir,
    checkpointEvery: a.every,
    keepLast: a.keep,
  });
  const secs = (Date.now() - t0) / 1000;
  const test = loadFashionMnist('test');
  const idx = Array.from({ length: 2000 }, (_, i) => i);
  const x0 = toTensor(test, { indices: idx });
  const ts = [0, 100, 250, 500, 750, 999];
  const acc = await noisyAccuracy(
    model,
    schedule,
    x0,
    idx.map((i) => test.labels[i]),
    ts,
    1,
  );
  x0.dispose();
  const tail = losses.slice(-100);
  const meanLoss = tail.reduce((p, q) => p + q, 0) / tail.length;
  fs.mkdirSync(out, { recursive: true });
  const file = path.join(out, 'noisy_classifier.safetensors');
  await saveNoisyClassifier(
    file,
    model,
    { lesson: '06', args: JSON.stringify(a), final_loss_mean100: String(meanLoss) },
    a.steps,
  );
  const summary = {
    params: model.paramCount,
    steps: a.steps,
    seconds: Math.round(secs * 10) / 10,
    backend,
    finalLossMean100: Math.round(meanLoss * 1e4) / 1e4,
    testAccuracyAtT: Object.fromEntries(ts.map((t, i) => [String(t), acc[i]])),
    testAccuracyNote: 'first 2000 images of the test split, noised with q(x_t | x_0) at each t (seeded)',
  };
  fs.writeFileSync(path.join(out, 'train-summary.json'), JSON.stringify(summary, null, 2) + '\n');
  console.log(`${a.steps} steps in ${secs.toFixed(1)} s; mean loss of the last 100 steps ${meanLoss.toFixed(4)}`);
  console.log(`test accuracy at t = ${ts.map((t, i) => `${t}: ${(100 * acc[i]).toFixed(1)}%`).join(', ')}`);
  console.log(`wrote ${file} and ${path.join(out, 'train-summary.json')}`);
  model.dispose();
}

main().catch((e: Error) => {
  console.error(`train: ${e.message}`);
  process.exit(exitStatus(e));
});
