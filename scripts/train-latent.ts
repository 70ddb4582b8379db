// Trains lesson 13's latent diffusion models and lesson 14's GLIGEN layers and writes their checkpoints.
//
//   npm run train:latent -- ae          KL autoencoder 32x32x3 -> 8x8x4  -> checkpoints/13/autoencoder.safetensors
//   npm run train:latent -- ldm-text    latent UNet + jointly trained text encoder -> checkpoints/13/ldm-text/
//   npm run train:latent -- ldm-layout  latent UNet cross-attending to box tokens  -> checkpoints/13/ldm-layout/
//   npm run train:latent -- gligen      gated self-attention on the frozen ldm-text -> checkpoints/14/gligen.safetensors
//     (--grounding point --init-from checkpoints/14/gligen.safetensors: the point model, checkpoints/14/gligen-point.safetensors)
//
// The latent models need the autoencoder; gligen needs ldm-text. Every recipe resumes from its
// training states when re-run (diffusion recipes: <out>/train/; ae and gligen: checkpoints/13/train/
// autoencoder/ and checkpoints/14/train/gligen/), a state every --every steps; --fresh starts over.
import * as path from 'path';
import { formatBackendReport, initBackend } from '../lib/runtime/backend';
import { Autoencoder, defaultAutoencoderConfig } from '../lib/methods/latent/autoencoder';
import { encodeImageSet, latentScaleFactor } from '../lib/methods/latent/latent_batches';
import {
  boxCentre,
  DEFAULT_MAX_GROUNDING,
  GroundedObject,
  groundingInputsPrepared,
  objectPhrase,
  PhraseEmbedder,
} from '../lib/methods/gligen/grounding';
import { groundedFromBase, gligenParams, saveGligen, gateValues, loadGligen } from '../lib/methods/gligen/model';
import { trainGligen } from '../lib/methods/gligen/train_gligen';
import { countParams } from '../lib/core/params';
import { loadAutoencoder, saveAutoencoder, trainAutoencoder } from '../lib/methods/latent/train_autoencoder';
import { reconstructionPsnr } from '../lib/methods/latent/reconstruct';
import { LayoutObject, layoutContext } from '../lib/methods/latent/layout';
import { latentBatches } from '../lib/methods/latent/latent_batches';
import { LATENT_PREDICTION, latentSchedule, latentUNetConfig, layoutUNetConfig } from '../lib/methods/latent/ldm';
import { pretrainedPath } from '../lib/course/models';
import { loadCaptionedShapes, shapesTextEncoderConfig, shapesTokenizer } from '../lib/methods/text/shapes_text';
import { STREAM, stepRng } from '../lib/core/train/step_seed';
import { listCheckpoints, removeCheckpoints, Trainer } from '../lib/core/train/trainer';
import { saveUNetWeights } from '../lib/core/checkpoint/unet_checkpoint';
import * as fs from 'fs';
import { UNet } from '../lib/core/unet/unet';
import { TextUNet } from '../lib/methods/text/text_unet';
import { exitStatus, FlagSpec, parseFlags, trainStateDir, UsageError, usageText } from './flags';
import { stopTrainingOnCtrlC } from '../lib/core/cancel';

const FLAGS = {
  steps: { kind: 'int', default: 0, help: 'optimisation steps [per recipe]' },
  batch: { kind: 'int', default: 32, help: 'batch size' },
  lr: { kind: 'num', default: 0, help: 'peak learning rate [per recipe]' },
  warmup: { kind: 'int', default: 100, help: 'linear warm-up steps (diffusion recipes)' },
  ema: { kind: 'num', default: 0.995, help: 'EMA decay (diffusion recipes)' },
  klWeight: { kind: 'num', default: 1e-4, help: 'KL weight (ae)' },
  seed: { kind: 'int', default: 0, help: 'fixes weights, batches, timesteps, noise' },
  images: { kind: 'int', default: 20000, help: 'training images generated' },
  captionDropout: { kind: 'num', default: 0.1, help: 'probability of dropping the condition (CFG)' },
  every: { kind: 'int', default: 250, help: 'checkpoint every N steps' },
  out: { kind: 'str', default: '', help: 'output file or folder [per recipe]' },
  ae: { kind: 'str', default: '', help: 'autoencoder file (latent recipes) [checkpoints/13/autoencoder.safetensors]' },
  base: { kind: 'str', default: '', help: 'base text model (gligen) [checkpoints/13/ldm-text/model.safetensors]' },
  grounding: { kind: 'str', default: 'box', help: 'gligen: ground each object by its box, or by a point (its centre)' },
  initFrom: {
    kind: 'str',
    default: '',
    help: 'gligen: start the new layers from this GLIGEN file (default: gates at 0)',
  },
  fresh: { kind: 'bool', default: false, help: 'ignore existing training states' },
  maxMinutes: {
    kind: 'num',
    default: 0,
    help: 'stop (and still write the model) after this much wall time; 0: no limit',
  },
} satisfies FlagSpec;

const RECIPES = ['ae', 'ldm-text', 'ldm-layout', 'gligen'] as const;

async function trainAe(a: Flags): Promise<void> {
  const out = a.out || pretrainedPath('13/autoencoder');
  const set = loadCaptionedShapes('train', a.images);
  const ae = new Autoencoder(defaultAutoencoderConfig(), { seed: a.seed });
  const steps = a.steps || 1500;
  const lr = a.lr || 2e-3;
  console.log(
    `autoencoder: ${ae.paramCount.toLocaleString('en')} parameters, ${set.count} images, batch ${a.batch}, ${steps} steps, lr ${lr}, KL weight ${a.klWeight} -> ${out}`,
  );
  const states = trainStateDir(out);
  if (a.fresh) removeCheckpoints(states);
  const h = await trainAutoencoder(ae, set, {
    steps,
    batch: a.batch,
    learningRate: lr,
    klWeight: a.klWeight,
    seed: a.seed,
    maxSeconds: a.maxMinutes > 0 ? a.maxMinutes * 60 : undefined,
    checkpointDir: states,
    checkpointEvery: a.every,
    keepLast: 1,
  });
  const done = h.loss.length;
  // The scale factor from the first 2000 training images (enough for one standard deviation).
  const enc = await encodeImageSet(ae, loadCaptionedShapes('train', Math.min(2000, set.count)));
  const scale = latentScaleFactor(enc, a.seed);
  const test = loadCaptionedShapes('test', 500);
  const p = await reconstructionPsnr(ae, test);
  const tail = h.rec.slice(-100);
  const rec = tail.reduce((s, v) => s + v, 0) / tail.length;
  console.log(
    `${done} of ${steps} steps (${done - h.resumedAt} in this run, ${h.seconds.toFixed(1)} s, ${(h.seconds / Math.max(1, done - h.resumedAt)).toFixed(3)} s/step); MSE (last 100) ${rec.toFixed(4)}; scale factor ${scale.toFixed(4)}; test PSNR ${p.mean.toFixed(2)} dB (mean of ${test.count})`,
  );
  await saveAutoencoder(out, ae, scale, {
    args: JSON.stringify(a),
    steps: String(done),
    steps_planned: String(steps),
    seconds: String(h.seconds),
    mse_last100: String(rec),
    test_psnr: String(p.mean),
  });
  console.log(`wrote ${out}`);
  ae.dispose();
}

type Flags = ReturnType<typeof parseFlags<typeof FLAGS>>['values'];

/** ldm-text / ldm-layout: a latent UNet trained on the frozen autoencoder's latents of the training set. */
async function trainLdm(kind: 'text' | 'layout', a: Flags): Promise<void> {
  const out = a.out || path.dirname(pretrainedPath(`13/ldm-${kind}`));
  const auto = loadAutoencoder(a.ae || pretrainedPath('13/autoencoder'));
  const set = loadCaptionedShapes('train', a.images);
  const t0 = Date.now();
  const enc = await encodeImageSet(auto.ae, set);
  console.log(
    `encoded ${set.count} images to ${enc.shape.join('x')} latents in ${((Date.now() - t0) / 1000).toFixed(1)} s (scale factor ${auto.scaleFactor.toFixed(4)})`,
  );
  auto.ae.dispose();
  const tok = shapesTokenizer();
  const model =
    kind === 'text'
      ? new TextUNet(latentUNetConfig({ text: shapesTextEncoderConfig(tok) }), { seed: a.seed })
      : new UNet(layoutUNetConfig(), { seed: a.seed });
  const layouts: LayoutObject[][] = set.objects.map((objs) =>
    objs.map((o) => ({ box: o.box, colour: o.colour, shape: o.shape })),
  );
  // The condition is dropped (to '' or an empty layout) with probability captionDropout, for CFG.
  const cond = (idx: Int32Array, step: number) => {
    const rng = stepRng(a.seed, step, STREAM.dropout);
    const keep = Array.from(idx, () => rng.uniform() >= a.captionDropout);
    if (kind === 'text') return { text: Array.from(idx, (i, k) => (keep[k] ? set.captions[i] : '')) };
    const c = layoutContext(Array.from(idx, (i, k) => (keep[k] ? layouts[i] : [])));
    return { context: c.context, contextMask: c.mask };
  };
  const steps = a.steps || 3000;
  const lr = a.lr || 1e-3;
  console.log(
    `ldm-${kind}: ${model.paramCount.toLocaleString('en')} parameters, batch ${a.batch}, ${steps} steps, lr ${lr} -> ${out}`,
  );
  const data = latentBatches(enc, auto.scaleFactor, a.batch, a.seed, cond);
  const trainDir = path.join(out, 'train');
  if (a.fresh) for (const c of listCheckpoints(trainDir)) fs.rmSync(c.file);
  const trainer = new Trainer(model, {
    schedule: latentSchedule(),
    prediction: LATENT_PREDICTION,
    totalSteps: steps,
    learningRate: lr,
    warmupSteps: a.warmup,
    decay: 'cosine',
    minLearningRate: Math.min(2e-5, lr),
    emaDecay: a.ema,
    seed: a.seed,
    checkpointDir: trainDir,
    checkpointEvery: a.every,
    keepLast: 1,
    progress: { label: `ldm-${kind}` },
  });
  if (await trainer.resume()) console.log(`resumed from ${trainer.lastCheckpoint} at step ${trainer.step}`);
  // Pausable by wall time: train in chunks of the same cosine schedule, stop between two chunks.
  const start = trainer.step;
  const t1 = Date.now();
  const deadline = a.maxMinutes > 0 ? t1 + a.maxMinutes * 60_000 : Infinity;
  while (trainer.step < steps && Date.now() < deadline)
    await trainer.train(data, { stopAt: Math.min(steps, trainer.step + 25) });
  const seconds = (Date.now() - t1) / 1000;
  const tail = trainer.history.loss.slice(-100);
  const meanLoss = tail.reduce((p, q) => p + q, 0) / Math.max(1, tail.length);
  const modelFile = path.join(out, 'model.safetensors');
  await saveUNetWeights(
    modelFile,
    trainer.samplingModel,
    {
      lesson: '13',
      kind: `ldm-${kind}`,
      autoencoder: 'checkpoints/13/autoencoder.safetensors',
      scale_factor: String(auto.scaleFactor),
      dataset: `shapes/train (${set.count} images, 1-2 objects)`,
      args: JSON.stringify(a),
      weights: 'ema',
      steps_planned: String(steps),
      seconds_this_run: String(seconds),
      final_loss_mean100: String(meanLoss),
    },
    trainer.step,
  );
  const done = trainer.step - start;
  console.log(
    `${done} steps in ${seconds.toFixed(1)} s (${(seconds / Math.max(done, 1)).toFixed(3)} s/step); total ${trainer.step} of ${steps}; mean loss of the last ${tail.length} steps ${meanLoss.toFixed(4)}`,
  );
  console.log(`wrote ${modelFile}`);
  trainer.dispose();
  model.dispose();
}

async function main(): Promise<void> {
  stopTrainingOnCtrlC();
  const { positional, values: a } = parseFlags(process.argv.slice(2), FLAGS);
  const recipe = positional[0] as (typeof RECIPES)[number];
  if (positional.length !== 1 || !RECIPES.includes(recipe))
    throw new UsageError(`which recipe? (${RECIPES.join(', ')}), got '${positional.join(' ')}'`);
  console.log(formatBackendReport(await initBackend()));
  if (recipe === 'ae') return trainAe(a);
  if (recipe === 'ldm-text') return trainLdm('text', a);
  if (recipe === 'ldm-layout') return trainLdm('layout', a);
  return trainGligenRecipe(a);
}

/** gligen: new gated layers on the frozen ldm-text model; only they are trained and saved. */
async function trainGligenRecipe(a: Flags): Promise<void> {
  const out = a.out || pretrainedPath(a.grounding === 'point' ? '14/gligen-point' : '14/gligen');
  const baseFile = a.base || pretrainedPath('13/ldm-text');
  if (a.grounding !== 'box' && a.grounding !== 'point')
    throw new UsageError(`--grounding must be box or point, got '${a.grounding}'`);
  // A point model can start from the box model's layers: the point token is a zero-extent box token.
  const unet = a.initFrom ? loadGligen(a.initFrom, baseFile) : groundedFromBase(baseFile, { seed: a.seed });
  const auto = loadAutoencoder(a.ae || pretrainedPath('13/autoencoder'));
  const set = loadCaptionedShapes('train', a.images);
  const enc = await encodeImageSet(auto.ae, set);
  auto.ae.dispose();
  const embedder = new PhraseEmbedder(unet.text);
  const scenes: GroundedObject[][] = set.objects.map((objs) =>
    objs.map((o) =>
      a.grounding === 'point'
        ? { phrase: objectPhrase(o), point: boxCentre(o.box) }
        : { phrase: objectPhrase(o), box: o.box },
    ),
  );
  // Every phrase embedded once here: the training loop's batch callback builds its inputs without a read.
  await embedder.prepare(scenes.flatMap((objs) => objs.map((o) => o.phrase)));
  const steps = a.steps || 1500;
  const lr = a.lr || 5e-4;
  console.log(
    `gligen: ${countParams(gligenParams(unet)).toLocaleString('en')} new parameters on a frozen base of ${(unet.paramCount - countParams(gligenParams(unet))).toLocaleString('en')}, batch ${a.batch}, ${steps} steps, lr ${lr} -> ${out}`,
  );
  const base = latentBatches(enc, auto.scaleFactor, a.batch, a.seed, (idx, step) => {
    const rng = stepRng(a.seed, step, STREAM.dropout);
    const text = Array.from(idx, (i) => (rng.uniform() < a.captionDropout ? '' : set.captions[i]));
    const g = groundingInputsPrepared(
      embedder,
      Array.from(idx, (i) => scenes[i]),
      DEFAULT_MAX_GROUNDING,
    );
    return { text, ...g };
  });
  const states = trainStateDir(out);
  if (a.fresh) removeCheckpoints(states);
  const h = await trainGligen(unet, base, {
    schedule: latentSchedule(),
    steps,
    learningRate: lr,
    warmupSteps: a.warmup,
    seed: a.seed,
    maxSeconds: a.maxMinutes > 0 ? a.maxMinutes * 60 : undefined,
    checkpointDir: states,
    checkpointEvery: a.every,
    keepLast: 1,
  });
  const done = h.loss.length;
  const tail = h.loss.slice(-100);
  const mean = tail.reduce((p, q) => p + q, 0) / tail.length;
  console.log(
    `${done} of ${steps} steps (${done - h.resumedAt} in this run, ${h.seconds.toFixed(1)} s, ${(h.seconds / Math.max(1, done - h.resumedAt)).toFixed(3)} s/step); mean loss of the last ${tail.length} steps ${mean.toFixed(4)}; gates ${JSON.stringify(await gateValues(unet))}`,
  );
  await saveGligen(out, unet, baseFile, {
    grounding: a.grounding,
    args: JSON.stringify(a),
    steps: String(done),
    steps_planned: String(steps),
    seconds: String(h.seconds),
    final_loss_mean100: String(mean),
  });
  console.log(`wrote ${out}`);
  unet.dispose();
}

main().catch((e: Error) => {
  console.error(
    `train-latent: ${e.message}${e instanceof UsageError ? `\nusage: npm run train:latent -- <${RECIPES.join('|')}> [flags]\n${usageText(FLAGS)}` : ''}`,
  );
  process.exit(exitStatus(e));
});
