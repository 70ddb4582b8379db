// Trains lesson 11's Imagen-style cascade and writes its checkpoints (checkpoints/11/):
//
//   npm run train:imagen -- mlm  [flags]   the text encoder, masked-language-model pretraining on captions
//   npm run train:imagen -- base [flags]   16x16 text-to-image UNet on the FROZEN encoder's context
//   npm run train:imagen -- sr   [flags]   16 -> 32 super-resolution UNet (text context + noise
//                                                  conditioning augmentation of the low-res input)
//
// mlm writes checkpoints/11/text_encoder.safetensors; base and sr read it (frozen) and write
// checkpoints/11/base/model.safetensors and checkpoints/11/sr/model.safetensors (EMA weights + config;
// resumable states in <out>/train/; mlm's in checkpoints/11/train/text_encoder/). Every recipe resumes
// from its newest state when re-run; --fresh starts over. Captions are dropped to '' with
// --caption-dropout for CFG.
// --init FILE trains a shipped base or SR stage further (fresh optimiser, new schedule).
import * as fs from 'fs';
import * as path from 'path';
import { COLOUR_NAMES, SHAPE_KINDS } from '../datasets/shapes';
import { formatBackendReport, initBackend } from '../lib/runtime/backend';
import { cascadeSchedule, STAGE_PREDICTION, imagenBaseConfig, imagenSrConfig } from '../lib/methods/imagen/configs';
import { PRETRAINED, pretrainedPath } from '../lib/course/models';
import { frozenTextBatches, FrozenTextEncoder } from '../lib/methods/imagen/frozen_text';
import { loadMlm, maskedAccuracy, MlmModel, saveMlm, trainMlm } from '../lib/methods/imagen/mlm';
import { downsampleSet } from '../lib/methods/imagen/low_res';
import { noiseAugBatches, NOISE_AUG_BUCKETS, NOISE_AUG_MAX } from '../lib/methods/imagen/noise_aug';
import { shapesContentWords } from '../lib/methods/imagen/shapes_words';
import { wordProbe } from '../lib/methods/imagen/word_probe';
import { loadCaptionedShapes, shapesTextEncoderConfig, shapesTokenizer } from '../lib/methods/text/shapes_text';
import { imageBatches } from '../lib/core/train/batch_source';
import { cosineTrainer, trainAndSave } from '../lib/core/train/train_and_save';
import { resolveUNetConfig, UNet } from '../lib/core/unet/unet';
import { loadUNetCheckpoint } from '../lib/core/checkpoint/unet_checkpoint';
import { listCheckpoints, removeCheckpoints } from '../lib/core/train/trainer';
import { exitStatus, FlagSpec, parseFlags, trainStateDir, UsageError, usageText } from './flags';
import { stopTrainingOnCtrlC } from '../lib/core/cancel';

const FLAGS = {
  steps: { kind: 'int', default: 0, help: 'optimisation steps [mlm 3000, base 2500, sr 1500]' },
  batch: { kind: 'int', default: 32, help: 'batch size [mlm 64]' },
  lr: { kind: 'num', default: 0, help: 'peak learning rate [mlm 2e-3, base/sr 1e-3]' },
  warmup: { kind: 'int', default: 200, help: 'linear warm-up steps (base, sr)' },
  minLr: { kind: 'num', default: 2e-5, help: 'floor of the cosine decay (base, sr)' },
  ema: { kind: 'num', default: 0.995, help: 'EMA decay (base, sr)' },
  seed: { kind: 'int', default: 0, help: 'fixes weights, batches, timesteps, noise' },
  images: { kind: 'int', default: 20000, help: 'training images (captions for mlm) generated' },
  captionDropout: { kind: 'num', default: 0.1, help: "probability of replacing a caption by '' (CFG; base, sr)" },
  every: { kind: 'int', default: 250, help: 'checkpoint every N steps' },
  encoder: {
    kind: 'str',
    default: '',
    help: `frozen text encoder for base/sr [${PRETRAINED['11/text-encoder'].file}]`,
  },
  out: {
    kind: 'str',
    default: '',
    help: "output file (mlm) or folder (base, sr) [the shipped model's place, lib/course/models.ts]",
  },
  fresh: { kind: 'bool', default: false, help: 'ignore existing training states' },
  init: {
    kind: 'str',
    default: '',
    help: 'base/sr: start from this stage checkpoint (e.g. the shipped one) with a fresh optimiser',
  },
  mlmTargets: {
    kind: 'str',
    default: 'all',
    help: "mlm: words scored, 'all' (chosen ones and the rest, which must come out as themselves) or 'chosen' (BERT)",
  },
} satisfies FlagSpec;

const RECIPES = ['mlm', 'base', 'sr'] as const;
type Recipe = (typeof RECIPES)[number];
const DEFAULTS: Record<Recipe, { steps: number; lr: number; batch: number }> = {
  mlm: { steps: 3000, lr: 2e-3, batch: 64 },
  base: { steps: 2500, lr: 1e-3, batch: 32 },
  sr: { steps: 1500, lr: 1e-3, batch: 32 },
};

async function main(): Promise<void> {
  stopTrainingOnCtrlC();
  const recipe = process.argv[2] as Recipe;
  if (!RECIPES.includes(recipe)) throw new UsageError(`which recipe? (${RECIPES.join(', ')}), got '${String(recipe)}'`);
  const { positional, values: a } = parseFlags(process.argv.slice(3), FLAGS, DEFAULTS[recipe]);
  if (positional.length) throw new UsageError(`unexpected argument '${positional[0]}'`);
  if (a.steps === 0) a.steps = DEFAULTS[recipe].steps;
  if (a.lr === 0) a.lr = DEFAULTS[recipe].lr;
  console.log(formatBackendReport(await initBackend()));
  const set = loadCaptionedShapes('train', a.images);
  const t0 = Date.now();

  if (recipe === 'mlm') {
    if (a.init)
      throw new UsageError('--init continues a base or SR stage; the mlm recipe trains its encoder from scratch');
    const out = a.out || pretrainedPath('11/text-encoder');
    const tok = shapesTokenizer();
    if (a.mlmTargets !== 'all' && a.mlmTargets !== 'chosen')
      throw new UsageError(`--mlm-targets must be 'all' or 'chosen', got '${a.mlmTargets}'`);
    const model = new MlmModel(shapesTextEncoderConfig(tok), a.seed);
    console.log(
      `mlm: ${model.paramCount.toLocaleString('en')} parameters, ${set.count} captions, vocabulary ${tok.size}, batch ${a.batch}, ${a.steps} steps -> ${out}`,
    );
    const states = trainStateDir(out);
    if (a.fresh) removeCheckpoints(states);
    const losses = await trainMlm(model, set.captions, {
      steps: a.steps,
      batch: a.batch,
      lr: a.lr,
      seed: a.seed,
      scoreAll: a.mlmTargets === 'all',
      progress: { label: 'mlm' },
      checkpointDir: states,
      checkpointEvery: a.every,
    });
    const seconds = (Date.now() - t0) / 1000;
    const test = loadCaptionedShapes('test', 1000).captions;
    const acc = await maskedAccuracy(model, test, shapesContentWords(), 1);
    const probe = await wordProbe(model.encoder, test, { colour: COLOUR_NAMES, shape: SHAPE_KINDS });
    const tail = losses.slice(-100).reduce((p, q) => p + q, 0) / Math.min(100, losses.length);
    fs.mkdirSync(path.dirname(out), { recursive: true });
    await saveMlm(out, model, {
      args: JSON.stringify(a),
      seconds: seconds.toFixed(1),
      final_loss_mean100: String(tail),
      masked_accuracy: JSON.stringify(acc),
      word_probe: JSON.stringify(probe),
    });
    console.log(`${a.steps} steps in ${seconds.toFixed(1)} s; mean loss of the last 100 steps ${tail.toFixed(4)}`);
    console.log(
      `masked-token accuracy on 1000 test captions: all ${(100 * acc.all).toFixed(1)} % (${acc.count} words), grammar words ${(100 * acc.grammar).toFixed(1)} %, content words ${(100 * acc.content).toFixed(1)} % (${acc.contentCount})`,
    );
    console.log(
      `word probe (can the UNet read the word from its vector?): ${Object.entries(probe)
        .map(([k, r]) => `${k} ${(100 * r.accuracy).toFixed(1)} % (chance ${(100 * r.chance).toFixed(1)} %)`)
        .join(', ')}`,
    );
    console.log(
      JSON.stringify({ recipe, steps: a.steps, seconds, lossLast100: tail, maskedAccuracy: acc, wordProbe: probe }),
    );
    model.dispose();
    return;
  }

  const encoderFile = a.encoder || pretrainedPath('11/text-encoder');
  const frozen = new FrozenTextEncoder(loadMlm(encoderFile));
  const out = a.out || path.dirname(pretrainedPath(recipe === 'base' ? '11/base' : '11/sr'));
  const w = frozen.width;
  const config = recipe === 'base' ? imagenBaseConfig(w) : imagenSrConfig(w);
  // The shipped stages hold EMA weights only, so --init continues from them with a fresh Adam state;
  // ignored once training states exist (re-running resumes those).
  const resuming = !a.fresh && listCheckpoints(path.join(out, 'train')).length > 0;
  const model = a.init && !resuming ? loadUNetCheckpoint(a.init) : new UNet(config, { seed: a.seed });
  if (a.init && !resuming) {
    if (JSON.stringify(model.config) !== JSON.stringify(resolveUNetConfig(config)))
      throw new UsageError(`--init ${a.init}: not a lesson-11 ${recipe} model for a ${w}-wide encoder`);
    console.log(`continuing from ${a.init} (fresh optimiser state)`);
  }
  // base: the 16x16 version of every image; sr: the 32x32 images, whose 16x16 version is made per batch.
  const data = recipe === 'base' ? downsampleSet(set, 2) : set;
  let batches = frozenTextBatches(
    imageBatches(data, a.batch, a.seed, { captions: set.captions, captionDropout: a.captionDropout }),
    frozen,
  );
  if (recipe === 'sr') batches = noiseAugBatches(batches, a.seed);
  console.log(
    `${recipe}: ${model.paramCount.toLocaleString('en')} parameters, ${data.count} captioned ${data.height}x${data.width} images, frozen encoder ${encoderFile}, ` +
      `batch ${a.batch}, ${a.steps} steps -> ${out}` +
      (recipe === 'sr' ? ` (noise augmentation: ${NOISE_AUG_BUCKETS} levels up to ${NOISE_AUG_MAX})` : ''),
  );
  await trainAndSave(model, batches, {
    out,
    fresh: a.fresh,
    trainer: cosineTrainer(cascadeSchedule(), STAGE_PREDICTION[recipe], a),
    metadata: {
      lesson: '11',
      recipe,
      encoder: encoderFile,
      dataset: `shapes/train (${set.count} images, 1-2 objects, ${data.height}x${data.width})`,
      args: JSON.stringify(a),
    },
  });
  model.dispose();
  frozen.dispose();
}

main().catch((e: Error) => {
  console.error(
    `train-imagen: ${e.message}${e instanceof UsageError ? `\nusage: npm run train:imagen -- <${RECIPES.join('|')}> [flags]\n${usageText(FLAGS)}` : ''}`,
  );
  process.exit(exitStatus(e));
});
