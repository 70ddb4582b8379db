// Trains lesson 10's text-to-image model (GLIDE-style) and writes its checkpoint.
//
//   npm run train:text -- 10 [flags]     GLIDE: a UNet whose text encoder is trained with it
//
// Lesson 10 trains lib/methods/text/shapes_text.ts's UNet with its own 2-layer text transformer (config.text)
// on captioned shapes (one or two objects), linear T = 1000 schedule, captions
// dropped to '' with probability --caption-dropout for classifier-free guidance; v prediction
// (lib/methods/text/glide.ts GLIDE_PREDICTION says why).
// Writes checkpoints/10/train/ (resumable training states) and checkpoints/10/model.safetensors
// (EMA weights + config; the config holds the tokenizer's vocabulary). Re-running resumes.
// --init FILE trains an existing lesson-10 model further (fresh optimiser, new schedule).
import * as path from 'path';
import { formatBackendReport, initBackend } from '../lib/runtime/backend';
import { GLIDE_PREDICTION, glideSchedule } from '../lib/methods/text/glide';
import { loadPretrained, pretrainedPath } from '../lib/course/models';
import {
  loadCaptionedShapes,
  shapesTextEncoderConfig,
  shapesTextUNetConfig,
  shapesTokenizer,
} from '../lib/methods/text/shapes_text';
import { imageBatches } from '../lib/core/train/batch_source';
import { cosineTrainer, trainAndSave } from '../lib/core/train/train_and_save';
import { listCheckpoints } from '../lib/core/train/trainer';
import { TextUNet } from '../lib/methods/text/text_unet';
import { exitStatus, FlagSpec, parseFlags, UsageError, usageText } from './flags';
import { stopTrainingOnCtrlC } from '../lib/core/cancel';

const FLAGS = {
  steps: { kind: 'int', default: 3000, help: 'optimisation steps' },
  batch: { kind: 'int', default: 32, help: 'batch size' },
  lr: { kind: 'num', default: 1e-3, help: 'peak learning rate' },
  warmup: { kind: 'int', default: 200, help: 'linear warm-up steps' },
  minLr: { kind: 'num', default: 2e-5, help: 'floor of the cosine decay' },
  ema: { kind: 'num', default: 0.995, help: 'EMA decay' },
  seed: { kind: 'int', default: 0, help: 'fixes weights, batches, timesteps, noise' },
  images: { kind: 'int', default: 20000, help: 'training images generated' },
  captionDropout: { kind: 'num', default: 0.1, help: "probability of replacing a caption by '' (CFG)" },
  every: { kind: 'int', default: 250, help: 'checkpoint every N steps' },
  out: { kind: 'str', default: '', help: 'output folder [checkpoints/<lesson>]' },
  fresh: { kind: 'bool', default: false, help: 'ignore existing training states' },
  init: { kind: 'str', default: '', help: 'start from this text UNet (e.g. the shipped model) with a fresh optimiser' },
} satisfies FlagSpec;

async function main(): Promise<void> {
  stopTrainingOnCtrlC();
  const { positional, values: a } = parseFlags(process.argv.slice(2), FLAGS);
  const lesson = positional[0];
  if (positional.length !== 1 || lesson !== '10')
    throw new UsageError(`which lesson? (have: 10), got '${positional.join(' ')}'`);
  const out = a.out || path.dirname(pretrainedPath('10/glide'));
  console.log(formatBackendReport(await initBackend()));
  const set = loadCaptionedShapes('train', a.images);
  const tok = shapesTokenizer();
  // The shipped model holds EMA weights only, so --init continues from them with a fresh Adam state;
  // ignored once training states exist (re-running resumes those).
  const resuming = !a.fresh && listCheckpoints(path.join(out, 'train')).length > 0;
  const model =
    a.init && !resuming
      ? loadPretrained('10/glide', a.init)
      : new TextUNet(shapesTextUNetConfig({ text: shapesTextEncoderConfig(tok) }), { seed: a.seed });
  if (a.init && !resuming) {
    if (model.config.text.vocab.join(' ') !== shapesTextEncoderConfig(tok).vocab.join(' '))
      throw new UsageError(`--init ${a.init}: its vocabulary is not the captions' vocabulary`);
    console.log(`continuing from ${a.init} (fresh optimiser state)`);
  }
  console.log(
    `lesson ${lesson}: ${model.paramCount.toLocaleString('en')} parameters, ${set.count} captioned images, vocabulary ${tok.size}, batch ${a.batch}, ${a.steps} steps -> ${out}`,
  );
  await trainAndSave(
    model,
    imageBatches(set, a.batch, a.seed, { captions: set.captions, captionDropout: a.captionDropout }),
    {
      out,
      fresh: a.fresh,
      trainer: cosineTrainer(glideSchedule(), GLIDE_PREDICTION, a),
      metadata: { lesson, dataset: `shapes/train (${set.count} images, 1-2 objects)`, args: JSON.stringify(a) },
    },
  );
  model.dispose();
}

main().catch((e: Error) => {
  console.error(
    `train-text: ${e.message}${e instanceof UsageError ? `\nusage: npm run train:text -- 10 [flags]\n${usageText(FLAGS)}` : ''}`,
  );
  process.exit(exitStatus(e));
});
