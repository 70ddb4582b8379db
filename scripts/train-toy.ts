// Trains lesson 01's three toy models (GAN, VAE and diffusion MLPs, 3 hidden layers of 64, batch 256, on
// 8 Gaussians) with the lesson's own call, trainToyModels (lib/methods/toy2d/compare2d.ts), measures them as the
// lesson does (measureToyModels, n = 1000) and writes checkpoints/01/:
//   models-seed<S>.safetensors   the three models' weights and every per-step loss curve (toy_checkpoint.ts)
//   manifest.json                command, steps, seed, wall seconds, backend, sha256 and the measured numbers
//
//   npm run train:toy -- [--steps 20000] [--seeds 0] [--out checkpoints/01]
//
// Standard mode of lesson 01 loads seed 0's file; full mode trains live. A record in the manifest per seed:
// re-running for some seeds replaces their records and keeps the others'.
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs-core';
import { formatBackendReport, initBackend } from '../lib/runtime/backend';
import { pretrainedPath } from '../lib/course/models';
import { writeFileAtomic } from '../lib/core/checkpoint/atomic_write';
import { Rng } from '../lib/core/random';
import { disposeToyModels, lossJitter, measureToyModels, trainToyModels } from '../lib/methods/toy2d/compare2d';
import { mmd2 } from '../lib/methods/toy2d/metrics2d';
import { saveToyModels, toyModelsConfig, toyModelsFileName } from '../lib/methods/toy2d/toy_checkpoint';
import { sampleToy } from '../datasets/toy2d';
import { exitStatus, FlagSpec, intValue, parseFlags, SEED_MAX, UsageError } from './flags';
import { stopTrainingOnCtrlC } from '../lib/core/cancel';

const DATA = '8-gaussians';
/** Samples per model in the measurement: the lesson's standard-mode nEval. */
const N_EVAL = 1000;
const USAGE = 'usage: npm run train:toy -- [--steps N] [--seeds 0,1,2] [--out DIR]';

const FLAGS = {
  steps: { kind: 'int', default: 20000, help: 'Adam steps per model', min: 1 },
  seeds: { kind: 'str', default: '0', help: 'comma-separated seeds, one file each' },
  out: { kind: 'str', default: '', help: 'output folder [checkpoints/01]' },
} satisfies FlagSpec;

function parseSeeds(v: string): number[] {
  const seeds = v.split(',').map((s) => intValue('--seeds', s.trim(), 0, SEED_MAX));
  if (new Set(seeds).size !== seeds.length) throw new UsageError(`--seeds lists a seed twice: '${v}'`);
  return seeds;
}

const round = (x: number, digits: number) => Number(x.toFixed(digits));
const weights = (vars: tf.Variable[]) => vars.reduce((n, v) => n + v.size, 0);

async function main(): Promise<void> {
  stopTrainingOnCtrlC();
  let a;
  let seeds: number[];
  try {
    const p = parseFlags(process.argv.slice(2), FLAGS);
    if (p.positional.length > 0 && !(p.positional.length === 1 && p.positional[0] === '01'))
      throw new UsageError(`unexpected argument '${p.positional.join(' ')}'`);
    a = p.values;
    seeds = parseSeeds(a.seeds);
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    console.error(`train-toy: ${e.message} (${USAGE})`);
    process.exit(2);
  }
  const out = path.resolve(a.out || path.dirname(pretrainedPath('01/toy-models')));
  const report = await initBackend();
  console.log(formatBackendReport(report));
  const loadStart = os.loadavg()[0];
  const manifestFile = path.join(out, 'manifest.json');
  let previous: Record<string, unknown> = {};
  if (fs.existsSync(manifestFile)) {
    try {
      const m = JSON.parse(fs.readFileSync(manifestFile, 'utf8')) as { models?: Record<string, unknown> };
      previous = m.models ?? {};
    } catch {
      console.warn(`${manifestFile} is not valid JSON: writing a new one`);
    }
  }
  const records: Record<string, unknown> = { ...previous };
  const t0 = Date.now();
  for (const seed of seeds) {
    const ts = Date.now();
    console.log(`lesson 01: GAN, VAE and diffusion MLPs on ${DATA}, ${a.steps} steps each, seed ${seed}`);
    // The lesson's call, with the lesson's defaults (batch 256, hidden [64, 64, 64], T = 100).
    const models = await trainToyModels({ data: DATA, steps: a.steps, seed });
    try {
      const file = path.join(out, toyModelsFileName(seed));
      const trainedWith = `npm run train:toy -- --steps ${a.steps} --seeds ${seed}`;
      await saveToyModels(
        file,
        models,
        { data: DATA, steps: a.steps, seed },
        { lesson: '01', trained_with: trainedWith },
      );
      const trainSeconds = (Date.now() - ts) / 1000;
      const measured = await measureToyModels(models, DATA, N_EVAL, seed);
      const realRng = new Rng(seed + 2000);
      const floor = mmd2(sampleToy(DATA, N_EVAL, realRng), sampleToy(DATA, N_EVAL, realRng));
      const config = toyModelsConfig(models, { data: DATA, steps: a.steps, seed });
      const sha256 = crypto.createHash('sha256').update(fs.readFileSync(file)).digest('hex');
      records[`seed-${seed}`] = {
        file: path.basename(file),
        sha256,
        bytes: fs.statSync(file).size,
        trainedWith,
        seed,
        steps: a.steps,
        config,
        params: {
          gan: weights([...models.gan.generator.variables(), ...models.gan.discriminator.variables()]),
          vae: weights([...models.vae.encoder.variables(), ...models.vae.decoder.variables()]),
          diffusion: weights(models.diffusion.variables()),
        },
        backend: `${report.backend} (${report.threads} threads)`,
        trainSeconds: round(trainSeconds, 1),
        fitSeconds: {
          gan: round(models.fits.gan.ms / 1000, 1),
          vae: round(models.fits.vae.ms / 1000, 1),
          diffusion: round(models.fits.diffusion.ms / 1000, 1),
        },
        measured: {
          n: N_EVAL,
          note: 'measureToyModels(models, data, 1000, seed): what lesson 01 standard mode prints for this seed',
          samplers: measured.map((s) => ({
            name: s.name,
            evals: s.evals,
            quality: round(s.modes.quality, 4),
            modesCovered: s.modes.modesCovered,
            mmd2: round(s.mmd, 5),
            msPer1000: round(s.msPer1000, 1),
          })),
          lossJitter: {
            gan: round(lossJitter(models.fits.gan.history.d), 4),
            vae: round(lossJitter(models.fits.vae.history.loss), 4),
            diffusion: round(lossJitter(models.fits.diffusion.history.loss), 4),
          },
          realFloorMMD2: round(floor, 5),
          realFloorNote: `two independent real sets of n from Rng(${seed + 2000}) (the lesson draws its own pair)`,
        },
        trainedAt: new Date().toISOString(),
      };
      for (const s of measured)
        console.log(
          `  ${s.name.padEnd(28)} within 3σ ${s.modes.quality.toFixed(3)}, MMD² ${s.mmd.toFixed(4)}, ` +
            `modes ${s.modes.modesCovered}/8, ${s.msPer1000.toFixed(1)} ms/1000`,
        );
      console.log(`  real-vs-real MMD² floor ${floor.toFixed(4)}; wrote ${file} (sha256 ${sha256.slice(0, 12)})`);
    } finally {
      disposeToyModels(models);
    }
  }
  const wallSeconds = (Date.now() - t0) / 1000;
  const manifest = {
    lesson: '01',
    model:
      "lesson 01's three toy models (lib/methods/toy2d/compare2d.ts trainToyModels): a GAN (generator and " +
      'discriminator), a VAE (encoder and decoder) and a diffusion denoiser, each an MLP with 3 hidden layers of 64; ' +
      'files: lib/methods/toy2d/toy_checkpoint.ts (weights + every per-step loss curve, float32)',
    command: 'npm run train:toy',
    trainedWith: `npm run train:toy -- --steps ${a.steps} --seeds ${seeds.join(',')}`,
    dataset: `${DATA}, a fresh batch of 256 points every step`,
    steps: a.steps,
    seeds: Object.values(records).map((r) => (r as { seed: number }).seed),
    backend: `${report.backend} (${report.threads} threads)`,
    wallSeconds: round(wallSeconds, 1),
    wallNote:
      `${os.cpus().length} CPU cores; 1-minute load average ${loadStart.toFixed(1)} at the start, ` +
      `${os.loadavg()[0].toFixed(1)} at the end (above the core count: shared with other jobs)`,
    models: records,
  };
  writeFileAtomic(manifestFile, JSON.stringify(manifest, null, 2) + '\n');
  console.log(`wrote ${manifestFile} in ${wallSeconds.toFixed(1)} s; tensors alive: ${tf.memory().numTensors}`);
}

main().catch((e: Error) => {
  console.error(`train-toy: ${e.message}`);
  process.exit(exitStatus(e));
});
