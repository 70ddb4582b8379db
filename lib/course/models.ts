// The table of pretrained models: every file under checkpoints/ that a lesson loads, by a short id
// ('07/cfg-unet'), with its loader, its manifest and the command that writes it. Notebooks, scripts
// and tests name a model by its id and never build a checkpoints/ path, so a file moves in one
// place and a missing file always says how to make it. The loaders are the method folders' own
// (each takes a file); nothing imported here may import this module back (lib/eval may).
import * as fs from 'fs';
import * as path from 'path';
import { repoRoot } from '../runtime/repo_root';
import { jsonField, readJsonFile } from '../core/checkpoint/read_file';
import { loadUNetCheckpoint } from '../core/checkpoint/unet_checkpoint';
import { loadClassifier } from '../eval/metrics/classifier';
import { loadClip } from '../methods/clip/checkpoint';
import { loadDecoder, loadPrior } from '../methods/dalle2/checkpoint';
import { loadGligen } from '../methods/gligen/model';
import { loadInstrumentClassifier } from '../methods/audio/instrument_classifier';
import { loadClassConditionalUNet } from '../methods/guidance/conditional_init';
import { loadNoisyClassifier } from '../methods/guidance/noisy_classifier';
import { loadMlm } from '../methods/imagen/mlm';
import { loadInpaintModel } from '../methods/inpaint/conditional';
import { loadLatentUNet } from '../methods/latent/ldm';
import { loadAutoencoder } from '../methods/latent/train_autoencoder';
import { loadSrModel } from '../methods/sr/model';
import { loadTextUNetCheckpoint } from '../methods/text/checkpoint';
import { loadToyModels } from '../methods/toy2d/toy_checkpoint';
import { loadVideoModel } from '../methods/video/checkpoint';

interface Entry<T> {
  /** Relative to the repository root. Its manifest is checkpoints/<first folder>/manifest.json. */
  file: string;
  /** The model's key under the manifest's `models`, where one manifest covers several models. */
  key?: string;
  /** Ids whose files loading also reads (GLIGEN's file holds only its new layers, not its base). */
  needs?: readonly string[];
  /** Writes the file (the manifest's trainedWith holds the shipped model's full recipe). */
  command: string;
  load: (file: string) => T;
}

/** Infers each entry's model type from its loader (what the mapped type below reads). */
const entry = <T>(e: Entry<T>): Entry<T> => e;

export const PRETRAINED = {
  // Lesson 01: its GAN, VAE and diffusion MLPs with their loss curves (the lesson's standard run: seed 0).
  '01/toy-models': entry({
    file: 'checkpoints/01/models-seed0.safetensors',
    key: 'seed-0',
    command: 'npm run train:toy',
    load: loadToyModels,
  }),
  '05/unet': entry({
    file: 'checkpoints/05/model.safetensors',
    command:
      'npm run train -- 05 --steps 5000 --batch 64 --lr 1e-3 --warmup 200 --decay cosine --min-lr 2e-5 --ema 0.995 --every 250 --keep 2',
    load: (f) => loadUNetCheckpoint(f),
  }),
  '06/noisy-classifier': entry({
    file: 'checkpoints/06/noisy_classifier.safetensors',
    command: 'npm run train -- 06 --steps 1200 --warmup 50 --lr 2e-3',
    load: loadNoisyClassifier,
  }),
  '07/cfg-unet': entry({
    file: 'checkpoints/07/model.safetensors',
    command: 'npm run train -- 07 --init checkpoints/05/model.safetensors',
    load: loadClassConditionalUNet,
  }),
  '08/sr3': entry({
    file: 'checkpoints/08/sr3.safetensors',
    key: 'sr3',
    command: 'npm run train:sr-inpaint -- sr3 --steps 4000 --warmup 200',
    load: (f) => loadSrModel(f, 'sr3'),
  }),
  '08/regression': entry({
    file: 'checkpoints/08/regression.safetensors',
    key: 'sr-regression',
    command: 'npm run train:sr-inpaint -- sr-regression --steps 480 --warmup 50',
    load: (f) => loadSrModel(f, 'sr-regression'),
  }),
  '09/inpaint': entry({
    file: 'checkpoints/09/inpaint.safetensors',
    key: 'inpaint',
    command: 'npm run train:sr-inpaint -- inpaint --steps 3600 --warmup 200',
    load: loadInpaintModel,
  }),
  '10/glide': entry({
    file: 'checkpoints/10/model.safetensors',
    key: 'glide',
    command: 'npm run train:text -- 10',
    load: (f) => loadTextUNetCheckpoint(f),
  }),
  '11/text-encoder': entry({
    file: 'checkpoints/11/text_encoder.safetensors',
    key: 'encoder',
    command: 'npm run train:imagen -- mlm --steps 600 --lr 3e-3',
    load: loadMlm,
  }),
  '11/base': entry({
    file: 'checkpoints/11/base/model.safetensors',
    key: 'base',
    command: 'npm run train:imagen -- base',
    load: (f) => loadUNetCheckpoint(f),
  }),
  '11/sr': entry({
    file: 'checkpoints/11/sr/model.safetensors',
    key: 'sr',
    command: 'npm run train:imagen -- sr',
    load: (f) => loadUNetCheckpoint(f),
  }),
  '12/clip': entry({
    file: 'checkpoints/12/clip.safetensors',
    key: 'clip',
    command: 'npm run train:dalle2 -- clip',
    load: loadClip,
  }),
  '12/prior': entry({
    file: 'checkpoints/12/prior.safetensors',
    key: 'prior',
    command: 'npm run train:dalle2 -- prior --steps 1000 --images 10000',
    load: loadPrior,
  }),
  '12/decoder': entry({
    file: 'checkpoints/12/decoder/model.safetensors',
    key: 'decoder',
    command: 'npm run train:dalle2 -- decoder --init-from checkpoints/10/model.safetensors --prediction v',
    load: loadDecoder,
  }),
  '13/autoencoder': entry({
    file: 'checkpoints/13/autoencoder.safetensors',
    key: 'autoencoder',
    command: 'npm run train:latent -- ae --steps 1500',
    load: loadAutoencoder,
  }),
  '13/ldm-text': entry({
    file: 'checkpoints/13/ldm-text/model.safetensors',
    key: 'ldm-text',
    command: 'npm run train:latent -- ldm-text --steps 3000',
    load: (f) => loadLatentUNet(f, 'text'),
  }),
  '13/ldm-layout': entry({
    file: 'checkpoints/13/ldm-layout/model.safetensors',
    key: 'ldm-layout',
    command: 'npm run train:latent -- ldm-layout --steps 3000',
    load: (f) => loadLatentUNet(f, 'layout'),
  }),
  '14/gligen': entry({
    file: 'checkpoints/14/gligen.safetensors',
    key: 'gligen',
    needs: ['13/ldm-text'],
    command: 'npm run train:latent -- gligen --steps 5000 --lr 2e-3',
    load: (f) => loadGligen(f),
  }),
  // The same layers fine-tuned to take a point per object (the box centre) instead of a box.
  '14/gligen-point': entry({
    file: 'checkpoints/14/gligen-point.safetensors',
    key: 'gligen-point',
    needs: ['13/ldm-text'],
    command:
      'npm run train:latent -- gligen --grounding point --init-from checkpoints/14/gligen.safetensors --steps 800 --warmup 50 --lr 1e-3',
    load: (f) => loadGligen(f),
  }),
  // Lesson 16: the spectrogram UNet (36 pitch x instrument classes + null) and its instrument classifier.
  '16/audio-unet': entry({
    file: 'checkpoints/16/model.safetensors',
    key: 'audio-unet',
    command: 'npm run train:audio -- --steps 1200 --warmup 50',
    load: (f) => loadUNetCheckpoint(f),
  }),
  '16/instrument-classifier': entry({
    file: 'checkpoints/16/classifier/weights.safetensors',
    key: 'instrument-classifier',
    command: 'npm run train:audio',
    load: (f) => loadInstrumentClassifier(path.dirname(f)),
  }),
  // Lesson 17: lesson 10's text UNet with temporal layers, trained on captioned clips in five runs, each
  // from the one before (the second adds the 3-D convolutions, the last writes here).
  '17/video-unet': entry({
    file: 'checkpoints/17/model.safetensors',
    command: [
      'npm run train -- 17 --out build/video',
      'npm run train -- 17 --init build/video/model.safetensors --conv --steps 2000 --out build/video3',
      'npm run train -- 17 --init build/video3/model.safetensors --conv --steps 3000 --lr 3e-4 --seed 1 --out build/video4',
      'npm run train -- 17 --init build/video4/model.safetensors --conv --steps 8000 --lr 2e-4 --ema 0.999 --seed 2 ' +
        '--out build/video5',
      'npm run train -- 17 --init build/video5/model.safetensors --conv --steps 3000 --lr 2e-4 --ema 0.999 --seed 3 ' +
        '--t-shift 3',
    ].join(' && '),
    load: loadVideoModel,
  }),
  // The metric classifier behind FID/KID: a folder format (weights + manifest), loaded by its folder.
  classifier: entry({
    file: 'checkpoints/classifier/weights.safetensors',
    command: 'npm run train:classifier',
    load: (f) => loadClassifier(path.dirname(f)).model,
  }),
};

export type PretrainedId = keyof typeof PRETRAINED;
/** What loadPretrained(id) returns, for each id. */
export type PretrainedModels = { [K in PretrainedId]: ReturnType<(typeof PRETRAINED)[K]['load']> };
/** One model's record in its manifest (the fields vary by lesson; JSON as written). */
export type PretrainedManifest = {
  file?: string;
  sha256?: string;
  trainedWith?: string | string[];
  [field: string]: unknown;
};

export const PRETRAINED_IDS = Object.keys(PRETRAINED) as PretrainedId[];

// Ids arrive from untyped code too (tslab cells, JSON): an unknown one lists the known ones.
function entryOf(id: string): Entry<unknown> {
  if (!Object.prototype.hasOwnProperty.call(PRETRAINED, id))
    throw new Error(`unknown pretrained model '${id}': the known ids are ${PRETRAINED_IDS.join(', ')}`);
  return PRETRAINED[id as PretrainedId];
}

function manifestOf(file: string): string {
  return path.join(...file.split('/').slice(0, 2), 'manifest.json');
}

/** Absolute path of the model's file. */
export function pretrainedPath(id: PretrainedId): string {
  return path.join(repoRoot(), entryOf(id).file);
}

/** The command that writes the model's file. */
export function pretrainedCommand(id: PretrainedId): string {
  return entryOf(id).command;
}

/** Whether the file (and every file loading it reads) is there. */
export function pretrainedAvailable(id: PretrainedId): boolean {
  return [id, ...(entryOf(id).needs ?? [])].every((n) => fs.existsSync(pretrainedPath(n as PretrainedId)));
}

/**
 * The model's record in its manifest: the manifest itself, or its `models[key]` where it covers
 * several models; part 'file' gives the whole manifest (lesson-level records such as evaluations).
 */
export function pretrainedManifest(id: PretrainedId, part: 'model' | 'file' = 'model'): PretrainedManifest {
  const e = entryOf(id);
  const file = path.join(repoRoot(), manifestOf(e.file));
  if (!fs.existsSync(file))
    throw new Error(
      `${file} not found: the manifest of '${id}' ships with its checkpoint (${e.command} rewrites the model)`,
    );
  const m = readJsonFile(file, 'manifest') as PretrainedManifest & {
    models?: Record<string, PretrainedManifest>;
  };
  if (e.key === undefined || part === 'file') return m;
  jsonField(file, m, 'models', 'object');
  const record = m.models?.[e.key];
  if (!record) throw new Error(`${file} has no models.${e.key}, the record of '${id}'`);
  return record;
}

function missing(id: string, file: string): Error {
  const e = entryOf(id);
  return new Error(
    `${file} not found: run ${e.command} (it writes ${e.file}; ${manifestOf(e.file)} has the shipped model's full recipe)`,
  );
}

/**
 * Loads a pretrained model with its own loader; `file` loads another file of the same kind (e.g. a
 * --checkpoint flag). The caller disposes the result.
 */
export function loadPretrained<K extends PretrainedId>(id: K, file?: string): PretrainedModels[K] {
  const e = entryOf(id);
  const f = file ?? pretrainedPath(id);
  if (!fs.existsSync(f)) throw missing(id, f);
  for (const n of e.needs ?? [])
    if (!fs.existsSync(pretrainedPath(n as PretrainedId))) throw missing(n, pretrainedPath(n as PretrainedId));
  return e.load(f) as PretrainedModels[K];
}
