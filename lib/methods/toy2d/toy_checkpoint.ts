// Lesson 01's three trained toy models (trainToyModels: GAN, VAE, diffusion MLP) in one checkpoint file:
// the networks' weights under their own parameter names, every per-step loss curve as 'train/<model>.<loss>'
// (float32, so the lesson's curves and loss-jitter column come out exactly as when it trained them), and the
// run (data, steps, seed, sizes) as the config. No optimizer state: the file is for sampling and plotting,
// not for resuming. Standard mode of the lesson loads it instead of training for a few CPU minutes.
import { DryRunLimitError, ParamMap, ParamStore } from '../../core/params';
import { Rng } from '../../core/random';
import { buildFromCheckpoint, Checkpoint, readCheckpoint, saveCheckpoint } from '../../core/checkpoint/checkpoint';
import { disposeToyModels, toySchedule, TrainedToyModels } from './compare2d';
import { Denoiser2D } from './denoiser2d';
import { GAN2D } from './gan2d';
import { Fit2DResult } from './train2d';
import { VAE2D } from './vae2d';

export const TOY_MODELS_KIND = 'toy2d-models';

/** What identifies the run and rebuilds the networks (stored as the checkpoint's config). */
export interface ToyModelsConfig {
  kind: typeof TOY_MODELS_KIND;
  data: string;
  steps: number;
  seed: number;
  batchSize: number;
  hidden: number[];
  T: number;
  timeDim: number;
  ganLatentDim: number;
  vaeLatentDim: number;
  decoderStd: number;
}

export interface LoadedToyModels extends TrainedToyModels {
  config: ToyModelsConfig;
  file: string;
  /** Frees every weight and optimizer (disposeToyModels). */
  dispose(): void;
}

/** One seed's file in checkpoints/01 (what npm run train:toy writes, the manifest's record 'seed-<seed>'). */
export function toyModelsFileName(seed: number): string {
  return `models-seed${seed}.safetensors`;
}

const MODELS = ['gan', 'vae', 'diffusion'] as const;
/** The curves the lesson draws and measures; a file without one of them is refused. */
const REQUIRED_CURVES = ['gan.d', 'gan.g', 'vae.loss', 'diffusion.loss'];

/** The config of a trainToyModels result for the run { data, steps, seed, batchSize }. */
export function toyModelsConfig(
  m: TrainedToyModels,
  run: { data: string; steps: number; seed: number; batchSize?: number },
): ToyModelsConfig {
  const hidden = m.gan.generator.config.hidden;
  for (const net of [m.gan.discriminator, m.vae.encoder, m.vae.decoder, m.diffusion.net]) {
    if (net.config.hidden.join() !== hidden.join())
      throw new Error(`saveToyModels: the networks' hidden widths differ ([${hidden}] vs [${net.config.hidden}])`);
  }
  return {
    kind: TOY_MODELS_KIND,
    data: run.data,
    steps: run.steps,
    seed: run.seed,
    batchSize: run.batchSize ?? 256,
    hidden: [...hidden],
    T: m.schedule.T,
    timeDim: m.diffusion.timeDim,
    ganLatentDim: m.gan.latentDim,
    vaeLatentDim: m.vae.latentDim,
    decoderStd: m.vae.decoderStd,
  };
}

/**
 * Every parameter of the three networks under its ParamStore name ('gan.generator.0.weight',
 * 'denoiser.0.bias', ...): MLP layer i of a network scoped 'gan.generator' holds
 * 'gan.generator.<i>.weight' and '.bias'. The loader checks these names against the stores of freshly
 * built networks, so a change in the naming is a load error, not a silent mix-up.
 */
function toyParams(m: Pick<TrainedToyModels, 'gan' | 'vae' | 'diffusion'>): ParamMap {
  const nets = {
    'gan.generator': m.gan.generator,
    'gan.discriminator': m.gan.discriminator,
    'vae.encoder': m.vae.encoder,
    'vae.decoder': m.vae.decoder,
    denoiser: m.diffusion.net,
  };
  const out: ParamMap = new Map();
  for (const [scope, net] of Object.entries(nets)) {
    net.layers.forEach((layer, i) => {
      out.set(`${scope}.${i}.weight`, layer.weight);
      out.set(`${scope}.${i}.bias`, layer.bias);
    });
  }
  return out;
}

/** Writes the three models, their loss curves and fit times (atomically: a crash leaves no torn file). */
export async function saveToyModels(
  file: string,
  m: TrainedToyModels,
  run: { data: string; steps: number; seed: number; batchSize?: number },
  metadata: Record<string, string> = {},
): Promise<void> {
  const config = toyModelsConfig(m, run);
  const history: Record<string, number[]> = {};
  for (const model of MODELS) {
    for (const [key, values] of Object.entries(m.fits[model].history)) {
      if (values.length !== run.steps)
        throw new Error(
          `saveToyModels: ${model} curve '${key}' has ${values.length} entries, the run ${run.steps} steps`,
        );
      history[`${model}.${key}`] = values;
    }
  }
  for (const key of REQUIRED_CURVES)
    if (!history[key]) throw new Error(`saveToyModels: curve '${key}' is missing (not trainToyModels' result?)`);
  const fitMs = { gan: m.fits.gan.ms, vae: m.fits.vae.ms, diffusion: m.fits.diffusion.ms };
  await saveCheckpoint(file, {
    config,
    params: toyParams(m),
    step: run.steps,
    seed: run.seed,
    history,
    metadata: { ...metadata, fit_ms: JSON.stringify(fitMs) },
  });
}

/** The file's config, checked field by field (an error names the file and the field). */
function readConfig(ckpt: Checkpoint): ToyModelsConfig {
  const c = ckpt.config as Record<string, unknown> | null;
  const bad = (what: string): never => {
    throw new Error(`checkpoint ${ckpt.file}: not lesson 01's toy models (${what})`);
  };
  if (c === null || typeof c !== 'object' || Array.isArray(c)) return bad('its config is not an object');
  if (c.kind !== TOY_MODELS_KIND) return bad(`config kind is ${JSON.stringify(c.kind)}, expected '${TOY_MODELS_KIND}'`);
  if (typeof c.data !== 'string') return bad('config data is not a string');
  for (const k of ['steps', 'seed', 'batchSize', 'T', 'timeDim', 'ganLatentDim', 'vaeLatentDim']) {
    if (!Number.isSafeInteger(c[k]) || (c[k] as number) < 0) bad(`config ${k} is ${JSON.stringify(c[k])}`);
  }
  // T sizes the schedule's tables, not a weight: bounded here, since the file's size does not bound it.
  if ((c.T as number) < 1 || (c.T as number) > 100_000) bad(`config T is ${c.T}, expected 1 to 100000`);
  if (!(typeof c.decoderStd === 'number' && c.decoderStd > 0)) bad(`config decoderStd is ${c.decoderStd}`);
  if (!Array.isArray(c.hidden) || !c.hidden.every((h) => Number.isSafeInteger(h) && h > 0))
    bad(`config hidden is ${JSON.stringify(c.hidden)}`);
  return c as unknown as ToyModelsConfig;
}

interface ToyNets {
  params: ParamMap;
  gan: GAN2D;
  vae: VAE2D;
  diffusion: Denoiser2D;
  dispose(): void;
}

/** The three networks at fresh weights (overwritten by the file's); params are their stores' own. */
function buildNets(c: ToyModelsConfig): ToyNets {
  const rng = new Rng(0);
  const stores = [new ParamStore(rng.fork()), new ParamStore(rng.fork()), new ParamStore(rng.fork())];
  const diffusion = new Denoiser2D(stores[0], { T: c.T, hidden: c.hidden, timeDim: c.timeDim });
  const gan = new GAN2D(stores[1], { hidden: c.hidden, latentDim: c.ganLatentDim });
  let vae: VAE2D;
  try {
    vae = new VAE2D(stores[2], { hidden: c.hidden, latentDim: c.vaeLatentDim, decoderStd: c.decoderStd });
  } catch (e) {
    gan.dispose(); // its Adam optimizers are real even in a dry build
    throw e;
  }
  const params: ParamMap = new Map(stores.flatMap((s) => [...s.params]));
  return {
    gan,
    vae,
    diffusion,
    params,
    dispose: () => {
      gan.dispose();
      vae.dispose();
      for (const v of params.values()) v.dispose();
    },
  };
}

/** Loads what saveToyModels wrote; a missing, corrupt or foreign file is one error naming it. */
export function loadToyModels(file: string): LoadedToyModels {
  const ckpt = readCheckpoint(file);
  const config = readConfig(ckpt);
  const history: Record<(typeof MODELS)[number], Record<string, number[]>> = { gan: {}, vae: {}, diffusion: {} };
  for (const [key, values] of Object.entries(ckpt.history)) {
    const [model, loss] = key.split('.');
    if (!(MODELS as readonly string[]).includes(model) || !loss)
      throw new Error(`checkpoint ${file}: curve 'train/${key}' belongs to none of ${MODELS.join(', ')}`);
    if (values.length !== config.steps)
      throw new Error(`checkpoint ${file}: curve 'train/${key}' has ${values.length} entries, the run ${config.steps}`);
    history[model as (typeof MODELS)[number]][loss] = values;
  }
  for (const key of REQUIRED_CURVES)
    if (!ckpt.history[key]) throw new Error(`checkpoint ${file}: curve 'train/${key}' is missing`);
  let fitMs: Record<string, unknown>;
  try {
    fitMs = JSON.parse(ckpt.metadata.fit_ms ?? 'null') ?? {};
  } catch {
    throw new Error(`checkpoint ${file}: metadata 'fit_ms' is not valid JSON`);
  }
  // The dry build (shapes checked against the file before a weight is allocated) makes real Adam
  // optimizers in GAN2D and VAE2D: the first build is that one, freed here whatever happens.
  const made: ToyNets[] = [];
  let nets: ToyNets;
  try {
    nets = buildFromCheckpoint(ckpt, () => {
      try {
        const n = buildNets(config);
        made.push(n);
        return n;
      } catch (e) {
        if (e instanceof DryRunLimitError) throw e; // buildFromCheckpoint's own message
        throw new Error(`checkpoint ${file}: its config does not build the toy models (${(e as Error).message})`);
      }
    });
  } finally {
    if (made.length > 0) {
      made[0].gan.dispose();
      made[0].vae.dispose();
    }
  }
  const fit = (model: (typeof MODELS)[number]): Fit2DResult => ({
    history: history[model],
    ms: typeof fitMs[model] === 'number' ? (fitMs[model] as number) : NaN,
  });
  const loaded: LoadedToyModels = {
    gan: nets.gan,
    vae: nets.vae,
    diffusion: nets.diffusion,
    schedule: toySchedule(config.T),
    fits: { gan: fit('gan'), vae: fit('vae'), diffusion: fit('diffusion') },
    config,
    file,
    dispose: () => disposeToyModels(loaded),
  };
  return loaded;
}

/**
 * The loaded models when they are the run the caller asks for (same data, steps and seed), else an
 * error saying what the file holds and the command that writes the wanted run; the models are freed then.
 */
export function expectToyRun(
  m: LoadedToyModels,
  want: { data: string; steps: number; seed: number },
  command = 'npm run train:toy',
): LoadedToyModels {
  const c = m.config;
  if (c.data === want.data && c.steps === want.steps && c.seed === want.seed) return m;
  m.dispose();
  throw new Error(
    `${m.file} holds ${c.data}, ${c.steps} steps, seed ${c.seed}; wanted ${want.data}, ${want.steps} steps, ` +
      `seed ${want.seed}: run ${command} -- --steps ${want.steps} --seeds ${want.seed}`,
  );
}
