// Trains lesson 12's DALL·E 2 (unCLIP) pieces, in order, and writes them to checkpoints/12/:
//
//   npm run train:dalle2 -- clip     [flags]  the CLIP-like model      -> clip.safetensors
//   npm run train:dalle2 -- prior    [flags]  text emb -> image emb     -> prior.safetensors
//   npm run train:dalle2 -- decoder  [flags]  image emb -> image (UNet) -> decoder/model.safetensors
//
// (or npm run train:dalle2 -- clip|prior|decoder). Run them in this order: the prior and the decoder
// read the frozen CLIP from --clip (default checkpoints/12/clip.safetensors). Each recipe resumes from
// its training states when re-run (clip: checkpoints/12/train/clip/, prior: checkpoints/12/train/prior/,
// decoder: checkpoints/12/decoder/train/), one every --every steps; --fresh starts over.
// --init-from starts the decoder from another UNet's shared weights (lesson 10's GLIDE: pass
// --prediction v if that model predicts v).
import * as fs from 'fs';
import * as path from 'path';
import { formatBackendReport, initBackend } from '../lib/runtime/backend';
import {
  Clip,
  clipAttributeProbe,
  clipConfig,
  clipRetrieval,
  HARD_NEGATIVE_ATTRIBUTES,
  HardNegativeAttribute,
  loadClip,
  saveClip,
  trainClip,
} from '../lib/methods/clip/index';
import { pretrainedPath } from '../lib/course/models';
import * as tf from '@tensorflow/tfjs-core';
import { encodeShapesSet } from '../lib/methods/dalle2/encode_set';
import { savePrior } from '../lib/methods/dalle2/checkpoint';
import { decoderBatches } from '../lib/methods/dalle2/decoder_batches';
import { initDecoderFrom } from '../lib/methods/dalle2/decoder_init';
import { DiffusionPrior, priorConfig, samplePrior, trainPrior } from '../lib/methods/dalle2/prior';
import { Rng } from '../lib/core/random';
import { loadShapes } from '../datasets/shapes';
import { linearSchedule } from '../lib/core/schedule';
import {
  loadCaptionedShapes,
  shapesTextEncoderConfig,
  shapesTextUNetConfig,
  shapesTokenizer,
} from '../lib/methods/text/shapes_text';
import { cosineTrainer, trainAndSave } from '../lib/core/train/train_and_save';
import { removeCheckpoints } from '../lib/core/train/trainer';
import { UNet } from '../lib/core/unet/unet';
import { exitStatus, FlagSpec, parseFlags, trainStateDir, UsageError, usageText } from './flags';
import { stopTrainingOnCtrlC } from '../lib/core/cancel';

const FLAGS = {
  steps: { kind: 'int', default: 0, help: 'optimisation steps [clip 700, prior 2000, decoder 1800]' },
  batch: { kind: 'int', default: 0, help: 'batch size [clip 128, prior 256, decoder 32]' },
  lr: { kind: 'num', default: 0, help: 'peak learning rate [clip 1e-3, prior 1e-3, decoder 1e-3]' },
  seed: { kind: 'int', default: 0, help: 'fixes weights, batches, noise' },
  images: { kind: 'int', default: 20000, help: 'training images generated' },
  embedDim: { kind: 'int', default: 64, help: 'clip: joint embedding width' },
  clip: {
    kind: 'str',
    default: '',
    help: 'prior/decoder: the frozen CLIP checkpoint [checkpoints/12/clip.safetensors]',
  },
  out: { kind: 'str', default: '', help: 'output folder [checkpoints/12]' },
  every: { kind: 'int', default: 100, help: 'save a resumable training state every N steps' },
  initFrom: {
    kind: 'str',
    default: '',
    help: "decoder: start from this UNet checkpoint's shared weights (e.g. lesson 10's GLIDE); clip: continue this CLIP checkpoint (fresh optimiser)",
  },
  focus: {
    kind: 'str',
    default: 'shape',
    help: "clip: attributes that get one extra hard negative each per image, comma list of colour,shape,size,position, or 'none'",
  },
  prediction: {
    kind: 'str',
    default: 'eps',
    help: 'decoder: what the UNet predicts, eps or v (v to match a v-prediction --init-from)',
  },
  base: { kind: 'int', default: 32, help: 'decoder: UNet base channels' },
  embDropout: { kind: 'num', default: 0.1, help: 'decoder: probability of the null image embedding (CFG)' },
  fresh: { kind: 'bool', default: false, help: 'ignore existing training states (start over)' },
} satisfies FlagSpec;

const DEFAULTS: Record<string, { steps: number; batch: number; lr: number }> = {
  clip: { steps: 700, batch: 128, lr: 1e-3 },
  prior: { steps: 2000, batch: 256, lr: 1e-3 },
  decoder: { steps: 1800, batch: 32, lr: 1e-3 },
};

type Args = ReturnType<typeof parseFlags<typeof FLAGS>>['values'];

async function trainClipRecipe(a: Args, out: string): Promise<void> {
  const set = loadCaptionedShapes('train', a.images);
  const tok = shapesTokenizer();
  const focus = a.focus === 'none' ? [] : a.focus.split(',');
  const bad = focus.find((f) => !(HARD_NEGATIVE_ATTRIBUTES as readonly string[]).includes(f));
  if (bad !== undefined)
    throw new UsageError(`--focus: '${bad}' is not one of ${HARD_NEGATIVE_ATTRIBUTES.join(', ')} (or 'none')`);
  const clip = a.initFrom
    ? loadClip(a.initFrom)
    : new Clip(clipConfig(shapesTextEncoderConfig(tok), { embedDim: a.embedDim }), { seed: a.seed });
  if (clip.config.text.vocab.join(' ') !== tok.vocab.join(' '))
    throw new UsageError(`--init-from ${a.initFrom}: its vocabulary is not the captions' vocabulary`);
  console.log(
    `clip: ${clip.paramCount.toLocaleString('en')} parameters, ${set.count} captioned images, batch ${a.batch}, ${a.steps} steps, extra hard negatives for: ${focus.join(', ') || 'none'}${a.initFrom ? `, continuing ${a.initFrom}` : ''}`,
  );
  const file = path.join(out, 'clip.safetensors');
  const states = trainStateDir(file);
  if (a.fresh) removeCheckpoints(states);
  const h = await trainClip(clip, set, {
    steps: a.steps,
    batch: a.batch,
    learningRate: a.lr,
    seed: a.seed,
    focusNegatives: focus as HardNegativeAttribute[],
    progress: { label: 'clip' },
    checkpointDir: states,
    checkpointEvery: a.every,
  });
  const tail = h.loss.slice(-50);
  const test = loadCaptionedShapes('test', 1000);
  const r = await clipRetrieval(clip, test, { n: 1000, candidates: 100, seed: a.seed });
  console.log(
    `retrieval on ${r.n} test images among ${r.candidates}: image->text ${(100 * r.imageToText).toFixed(1)}%, text->image ${(100 * r.textToImage).toFixed(1)}%; clipScore own ${r.scoreOwn.toFixed(2)} vs shuffled ${r.scoreShuffled.toFixed(2)}`,
  );
  const probe = await clipAttributeProbe(clip, loadShapes('test', { count: 2000, minObjects: 1, maxObjects: 1 }));
  console.log(
    `attribute probe on 2000 one-object test scenes (image / caption embedding): ${Object.entries(probe)
      .map(([k, p]) => `${k} ${(100 * p.image.accuracy).toFixed(1)} / ${(100 * p.text.accuracy).toFixed(1)} %`)
      .join(', ')}`,
  );
  await saveClip(
    file,
    clip,
    {
      attribute_probe: JSON.stringify(probe),
      dataset: `shapes/train (${set.count} images, 1-2 objects)`,
      args: JSON.stringify(a),
      seconds: h.seconds.toFixed(1),
      final_loss_mean50: String(tail.reduce((p, q) => p + q, 0) / tail.length),
      retrieval: JSON.stringify(r),
    },
    a.steps,
  );
  console.log(
    `${a.steps} steps (this run: ${h.seconds.toFixed(1)} s), final logit scale ${h.scale[h.scale.length - 1].toFixed(1)}; wrote ${file}`,
  );
  clip.dispose();
}

/** Mean of the row-wise dot products of two unit-norm [N, E] tensors. */
async function meanCos(a: tf.Tensor2D, b: tf.Tensor2D): Promise<number> {
  const m = tf.tidy(() => tf.mean(tf.sum(tf.mul(a, b), 1)));
  const v = (await m.data())[0];
  m.dispose();
  return v;
}

async function trainPriorRecipe(a: Args, out: string): Promise<void> {
  const clipFile = a.clip || pretrainedPath('12/clip');
  const clip = loadClip(clipFile);
  const set = loadCaptionedShapes('train', a.images);
  const t0 = Date.now();
  const train = encodeShapesSet(clip, set);
  console.log(
    `prior: embedded ${set.count} training pairs with ${clipFile} in ${((Date.now() - t0) / 1000).toFixed(1)} s`,
  );
  const prior = new DiffusionPrior(priorConfig(clip.embedDim), { seed: a.seed });
  console.log(`prior: ${prior.paramCount.toLocaleString('en')} parameters, batch ${a.batch}, ${a.steps} steps`);
  const file = path.join(out, 'prior.safetensors');
  const states = trainStateDir(file);
  if (a.fresh) removeCheckpoints(states);
  const h = await trainPrior(prior, train.text, train.image, {
    steps: a.steps,
    batch: a.batch,
    learningRate: a.lr,
    seed: a.seed,
    progress: { label: 'prior' },
    checkpointDir: states,
    checkpointEvery: a.every,
  });
  tf.dispose([train.text, train.image]);
  // How close are sampled image embeddings to the real image's embedding, against using the text
  // embedding itself as the image embedding (what a prior-less unCLIP would do)?
  const test = loadCaptionedShapes('test', 500);
  const te = encodeShapesSet(clip, test);
  const quality: Record<string, number> = { textAsImage: await meanCos(te.text, te.image) };
  for (const g of [1, 2]) {
    const z = samplePrior(prior, te.text, { steps: 50, guidance: g, rng: new Rng(a.seed + 1) });
    quality[`prior_w${g}`] = await meanCos(z, te.image);
    z.dispose();
  }
  tf.dispose([te.text, te.image]);
  console.log(`mean cosine with the real test image's embedding (500 captions): ${JSON.stringify(quality)}`);
  const tail = h.loss.slice(-100);
  await savePrior(
    file,
    prior,
    {
      clip: path.basename(clipFile),
      args: JSON.stringify(a),
      seconds: h.seconds.toFixed(1),
      final_loss_mean100: String(tail.reduce((p, q) => p + q, 0) / tail.length),
      test_cosine: JSON.stringify(quality),
    },
    a.steps,
  );
  console.log(`${a.steps} steps (this run: ${h.seconds.toFixed(1)} s); wrote ${file}`);
  prior.dispose();
  clip.dispose();
}

async function trainDecoderRecipe(a: Args, out: string): Promise<void> {
  const clipFile = a.clip || pretrainedPath('12/clip');
  const clip = loadClip(clipFile);
  const set = loadCaptionedShapes('train', a.images);
  // unCLIP's decoder reads the image embedding twice: as a cross-attention token and added to the time embedding.
  const model = new UNet(
    shapesTextUNetConfig({ contextDim: clip.embedDim, vectorDim: clip.embedDim, baseChannels: a.base }),
    { seed: a.seed },
  );
  const dir = a.out ? path.join(a.out, 'decoder') : path.dirname(pretrainedPath('12/decoder'));
  const prediction = a.prediction;
  if (prediction !== 'eps' && prediction !== 'v')
    throw new UsageError(`--prediction must be eps or v, got '${prediction}'`);
  if (a.initFrom) {
    const r = initDecoderFrom(model, a.initFrom);
    console.log(
      `decoder: ${r.copied} tensors copied from ${a.initFrom}; not copied: ${r.skipped.length}${r.skipped.length ? ' (its text encoder)' : ''}, new: ${r.fresh.join(', ') || 'none'}`,
    );
  }
  console.log(
    `decoder: ${model.paramCount.toLocaleString('en')} parameters, ${set.count} images, batch ${a.batch}, ${a.steps} steps, embedding dropout ${a.embDropout} -> ${dir}`,
  );
  await trainAndSave(
    model,
    decoderBatches(set, clip, a.batch, a.seed, a.embDropout, model.config.vectorDim !== undefined),
    {
      out: dir,
      fresh: a.fresh,
      trainer: cosineTrainer(linearSchedule(1000), prediction, {
        ...a,
        warmup: Math.min(a.initFrom ? 20 : 200, Math.floor(a.steps / 10)),
        minLr: 2e-5,
        ema: 0.995,
      }),
      metadata: {
        lesson: '12',
        model: 'dalle2-decoder',
        clip: path.basename(clipFile),
        init_from: a.initFrom || 'scratch',
        prediction,
        dataset: `shapes/train (${set.count} images, 1-2 objects)`,
        args: JSON.stringify(a),
      },
    },
  );
  model.dispose();
  clip.dispose();
}

async function main(): Promise<void> {
  stopTrainingOnCtrlC();
  const recipe = process.argv[2];
  if (recipe === undefined || !(recipe in DEFAULTS))
    throw new UsageError(`which recipe? (clip, prior, decoder), got '${recipe ?? ''}'`);
  const { positional, values: a } = parseFlags(process.argv.slice(3), FLAGS, DEFAULTS[recipe]);
  if (positional.length) throw new UsageError(`unexpected argument '${positional[0]}'`);
  const out = a.out || path.dirname(pretrainedPath('12/clip'));
  fs.mkdirSync(out, { recursive: true });
  console.log(formatBackendReport(await initBackend()));
  if (recipe === 'clip') await trainClipRecipe(a, out);
  else if (recipe === 'prior') await trainPriorRecipe(a, out);
  else await trainDecoderRecipe(a, out);
}

main().catch((e: Error) => {
  console.error(
    `train-dalle2: ${e.message}${e instanceof UsageError ? `\nusage: npm run train:dalle2 -- clip|prior|decoder [flags]\n${usageText(FLAGS)}` : ''}`,
  );
  process.exit(exitStatus(e));
});
