// npm run bench -- --quality M: quality per CPU-minute, side by side. The lesson-05 recipe trains the
// reference UNet for M minutes of wall clock on the default backend, and bench_quality_torch.py trains
// the same architecture with the same recipe in PyTorch for the same M minutes on the same cores (one
// after the other, so they never share the machine). Each side's learning rate follows the clock
// (lib/core/train/time_budget.ts: warm-up by steps, then a cosine over the seconds left) and it stops
// when the budget is spent, so both train for the same time whatever their pace; both then sample n
// images with DDIM-50 from their EMA weights and the course's FID scores both against the same real
// images, next to the real-vs-real floor. Ends with
//   quality ours/pytorch fid=<ours>/<pytorch> steps=<ours>/<pytorch> minutes=<M> floor=<floor>
// Flags: --quality M  --recipe k=v,...  (keys below; the lesson-05 recipe by default)  --n 1000
//        --seed 0  --no-torch (ours only: for trying recipe changes)  --threads N (PyTorch's; default all cores)
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs-core';
import { loadFashionMnist } from '../datasets/fashion-mnist';
import { Prediction } from '../lib/core/loss';
import { ProgressBar } from '../lib/core/progress';
import { DDIMSampler } from '../lib/core/samplers/ddim';
import { unetModel } from '../lib/core/samplers/types';
import { cosineSchedule, linearSchedule, NoiseSchedule } from '../lib/core/schedule';
import { imageBatches } from '../lib/core/train/batch_source';
import { TimeBudget } from '../lib/core/train/time_budget';
import { Trainer } from '../lib/core/train/trainer';
import { referenceUNetConfig } from '../lib/core/unet/config';
import { UNet } from '../lib/core/unet/unet';
import { sampleInBatches } from '../lib/eval/batched_sampling';
import { formatFidWithSpread } from '../lib/eval/metrics/fid_bootstrap';
import { fidReport, FidReport } from '../lib/eval/metrics/report';
import { readNpy, writeNpy } from '../lib/eval/npy';
import { formatBackendReport, initBackend } from '../lib/runtime/backend';
import { parseFlags, UsageError } from './flags';

/** The knobs a recipe change turns; both sides read the same keys. */
export interface Recipe {
  lr: number;
  warmup: number;
  minLr: number;
  batch: number;
  ema: number;
  /** EMA decay ramp min(ema, (1 + k) / (10 + k)). */
  emaWarmup: boolean;
  prediction: Prediction;
  /** Min-SNR-γ loss weighting; 0: none. */
  minSnr: number;
  schedule: 'linear' | 'cosine';
  /** The UNet's first-level width (the reference: 32). */
  base: number;
}

/** checkpoints/05/manifest.json's recipe: the one the shipped lesson-05 model was trained with. */
export const LESSON05_RECIPE: Recipe = {
  lr: 1e-3,
  warmup: 200,
  minLr: 2e-5,
  batch: 64,
  ema: 0.995,
  emaWarmup: false,
  prediction: 'eps',
  minSnr: 0,
  schedule: 'linear',
  base: 32,
};

/** 'lr=5e-4,minSnr=5' over the defaults; unknown keys and bad values are errors naming them. */
export function parseRecipe(text: string, base: Recipe = LESSON05_RECIPE): Recipe {
  const r: Record<string, unknown> = { ...base };
  for (const part of text
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '')) {
    const m = /^([a-zA-Z]+)=(.+)$/.exec(part);
    if (!m) throw new UsageError(`recipe entry '${part}' is not key=value`);
    const [, k, v] = m;
    if (!(k in base)) throw new UsageError(`unknown recipe key '${k}': use ${Object.keys(base).join(', ')}`);
    const def = base[k as keyof Recipe];
    if (typeof def === 'number') {
      const x = Number(v);
      if (!Number.isFinite(x) || x < 0) throw new UsageError(`recipe ${k} needs a number >= 0, got '${v}'`);
      r[k] = x;
    } else if (typeof def === 'boolean') {
      if (v !== 'true' && v !== 'false') throw new UsageError(`recipe ${k} is true or false, got '${v}'`);
      r[k] = v === 'true';
    } else r[k] = v;
  }
  const out = r as unknown as Recipe;
  if (!['eps', 'v'].includes(out.prediction))
    throw new UsageError(`recipe prediction is eps or v, got '${out.prediction}'`);
  if (!['linear', 'cosine'].includes(out.schedule))
    throw new UsageError(`recipe schedule is linear or cosine, got '${out.schedule}'`);
  for (const k of ['batch', 'warmup', 'base'] as const)
    if (!Number.isInteger(out[k]) || out[k] < 1)
      throw new UsageError(`recipe ${k} must be a positive integer, got ${out[k]}`);
  if (!(out.ema < 1)) throw new UsageError(`recipe ema must be below 1, got ${out.ema}`);
  return out;
}

function schedule(r: Recipe): NoiseSchedule {
  return r.schedule === 'cosine' ? cosineSchedule(1000) : linearSchedule(1000);
}

interface SideResult {
  steps: number;
  trainSeconds: number;
  sampleSeconds: number;
  report: FidReport;
}

// A cap on steps that no budget reaches: the time budget ends the run (a Trainer needs a step count).
const MAX_STEPS = 10_000_000;

async function ours(r: Recipe, budgetS: number, n: number, seed: number): Promise<SideResult> {
  const data = loadFashionMnist('train');
  const model = new UNet(referenceUNetConfig({ baseChannels: r.base }), { seed: 0 });
  const budget = new TimeBudget({
    budgetSeconds: budgetS,
    learningRate: r.lr,
    warmupSteps: r.warmup,
    minLearningRate: Math.min(r.minLr, r.lr),
  });
  const trainer = new Trainer(model, {
    schedule: schedule(r),
    prediction: r.prediction,
    minSnrGamma: r.minSnr > 0 ? r.minSnr : null,
    totalSteps: MAX_STEPS,
    learningRate: r.lr,
    learningRateFor: (k) => budget.learningRateAt(k),
    emaDecay: r.ema,
    emaWarmup: r.emaWarmup,
    seed: 0,
    progress: false,
  });
  // The bar counts seconds of the budget: the step count is what the run finds out.
  const bar = new ProgressBar(undefined, {
    label: 'ours: train (s)',
    total: Math.round(budgetS),
    stream: process.stderr,
  });
  let shown = 0;
  const t1 = Date.now();
  await trainer.train(imageBatches(data, r.batch, 0), {
    stopWhen: () => budget.spent(),
    onStep: (s) => {
      const e = Math.min(Math.round(budget.elapsed()), Math.round(budgetS));
      bar.set({ step: s.step + 1, loss: s.loss, lr: s.lr });
      bar.update(e - shown);
      shown = e;
    },
  });
  bar.finish();
  const trainSeconds = (Date.now() - t1) / 1000;
  const ema = trainer.samplingModel;
  const sampler = new DDIMSampler(schedule(r), { eta: 0 });
  const { images, seconds } = await sampleInBatches(
    { n, batchSize: 250, seed, imageShape: [28, 28, 1], steps: 50, label: 'ours: DDIM-50', progress: 'stderr' },
    (b) =>
      sampler.sample(unetModel(ema, r.prediction), [b.size, 28, 28, 1], {
        steps: 50,
        rng: b.rng,
        xT: b.xT,
        onStep: b.onStep,
      }),
  );
  const steps = trainer.step;
  trainer.dispose();
  model.dispose();
  const report = await fidReport(images, { n, seed });
  images.dispose();
  return { steps, trainSeconds, sampleSeconds: seconds, report };
}

async function pytorch(r: Recipe, budgetS: number, n: number, seed: number, threads: number): Promise<SideResult> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-quality-'));
  try {
    const data = loadFashionMnist('train');
    const trainFile = path.join(dir, 'train.npy');
    writeNpy(trainFile, data.images, [data.count, data.height, data.width, data.channels]);
    const out = path.join(dir, 'samples.npy');
    const config = JSON.stringify(referenceUNetConfig({ baseChannels: r.base }));
    const py = process.env.BENCH_PYTHON ?? '/usr/bin/python3';
    const args = [
      path.join(__dirname, 'bench_quality_torch.py'),
      '--data',
      trainFile,
      '--out',
      out,
      '--budget-s',
      String(budgetS),
      '--recipe',
      JSON.stringify(r),
      '--config',
      config,
      '--threads',
      String(threads),
      '--samples',
      String(n),
      '--seed',
      String(seed),
    ];
    console.error('pytorch: training (its own process)');
    const p = spawnSync(py, args, {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'inherit'],
      timeout: (budgetS + 3600) * 1000,
    });
    if (p.status !== 0)
      throw new Error(
        `bench_quality_torch.py failed (exit ${p.status}${p.error ? `, ${p.error.message}` : ''}); is python3-torch installed? (npm run setup)`,
      );
    const info = JSON.parse(p.stdout.trim().split('\n').pop()!) as { steps: number; train_s: number; sample_s: number };
    const s = readNpy(out);
    if (s.dtype !== 'float32' || s.shape.join() !== [n, 28, 28, 1].join())
      throw new Error(`PyTorch samples: expected float32 [${n}, 28, 28, 1], got ${s.dtype} [${s.shape}]`);
    const images = tf.tensor4d(s.data as Float32Array, [n, 28, 28, 1]);
    const report = await fidReport(images, { n, seed });
    images.dispose();
    return { steps: info.steps, trainSeconds: info.train_s, sampleSeconds: info.sample_s, report };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

function side(r: SideResult): Record<string, number | null> {
  const q = r.report;
  return { steps: r.steps, train_s: r.trainSeconds, fid: q.fid, fid_std: q.spread?.std ?? null, kid: q.kid };
}

const SPEC = {
  quality: { kind: 'num', default: 30, help: 'minutes of training per side' },
  recipe: {
    kind: 'str',
    default: '',
    help: `changes to the lesson-05 recipe, k=v,... (${Object.keys(LESSON05_RECIPE).join(', ')})`,
  },
  n: { kind: 'int', default: 1000, help: 'samples per side for FID' },
  seed: { kind: 'int', default: 0, help: 'sampling noise and real images' },
  noTorch: { kind: 'bool', default: false, help: 'ours only' },
  threads: { kind: 'int', default: os.cpus().length, help: "PyTorch's threads" },
} as const;

export async function main(argv: string[]): Promise<void> {
  const { values: a } = parseFlags(argv, SPEC);
  if (!(a.quality > 0)) throw new UsageError(`--quality needs minutes > 0, got ${a.quality}`);
  if (a.n < 2 || a.n > 10000) throw new UsageError(`--n must be in [2, 10000], got ${a.n}`);
  if (a.threads < 1) throw new UsageError(`--threads needs an integer >= 1, got ${a.threads}`);
  const threads = Math.min(a.threads, os.cpus().length);
  if (threads < a.threads)
    console.error(`note: --threads ${a.threads} is more than the ${threads} cores here; using ${threads}`);
  const recipe = parseRecipe(a.recipe);
  const report = await initBackend();
  console.error(formatBackendReport(report));
  const budget = a.quality * 60;
  const rows: [string, SideResult][] = [['ours (' + report.backend + ')', await ours(recipe, budget, a.n, a.seed)]];
  if (!a.noTorch) rows.push(['pytorch (' + threads + ' threads)', await pytorch(recipe, budget, a.n, a.seed, threads)]);
  console.log(`recipe ${JSON.stringify(recipe)}, ${a.quality} min per side, DDIM-50, n = ${a.n}`);
  // ± the bootstrap standard deviation over the n images (the floor's over its n training images).
  console.log('| side | steps | train s | sample s | FID | floor | KID |');
  console.log('|---|---|---|---|---|---|---|');
  for (const [name, r] of rows) {
    const { report: q } = r;
    console.log(
      `| ${name} | ${r.steps} | ${r.trainSeconds.toFixed(0)} | ${r.sampleSeconds.toFixed(0)} | ${formatFidWithSpread(q.fid, q.spread, 2)} | ${formatFidWithSpread(q.floor, q.floorSpread, 2)} | ${q.kid.toFixed(3)} |`,
    );
  }
  const [o, t] = [rows[0][1], rows[1]?.[1]];
  console.log(
    JSON.stringify({
      recipe,
      minutes: a.quality,
      n: a.n,
      ours: side(o),
      pytorch: t ? side(t) : null,
      floor: o.report.floor,
      floor_std: o.report.floorSpread?.std ?? null,
    }),
  );
  console.log(
    `quality ours/pytorch fid=${o.report.fid.toFixed(2)}/${t ? t.report.fid.toFixed(2) : 'n/a'} steps=${o.steps}/${t ? t.steps : 'n/a'} minutes=${a.quality} floor=${o.report.floor.toFixed(2)}`,
  );
}

if (require.main === module) {
  main(process.argv.slice(2)).catch((e) => {
    console.error(
      e instanceof UsageError
        ? `bench --quality: ${e.message}\n${Object.entries(SPEC)
            .map(([k, s]) => `  --${k} ${s.help}`)
            .join('\n')}`
        : e,
    );
    process.exit(e instanceof UsageError ? 2 : 1);
  });
}
