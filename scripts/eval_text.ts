// `npm run eval` entries of the text-conditioned lessons 10-14. Each samples captions (or layouts) of
// held-out scenes and scores what the images show with the exact shapes detector (lib/eval/text_to_image.ts,
// lib/eval/box_placement.ts); the CLIP-like score uses lesson 12's model when it is there.
//
// Flags (defaults in brackets); all take --n N (captions of each kind, or scenes), --seed N, --batch N, --steps N.
//   10  GLIDE                      --guidance LIST [3,1,5] (first is the headline) --checkpoint FILE     [n 200, steps 25]
//   11  Imagen cascade             --guidance W (skip the sweep) --scales LIST [1,3,5] --sweep-n N [24]
//                                  --sr-steps N [1] --sr-start T|noise [100] --aug-bucket K [1]        [n 100, batch 50, steps 25]
//                                  --dynamic-threshold P (base stage: Imagen's dynamic thresholding at percentile P)
//   12  unCLIP (DALL-E 2)          --guidance LIST [5] --prior-steps N [50] --prior-guidance W [1]
//                                  --oracle (also decode the real images' own embeddings)              [n 100, steps 50]
//   13  latent diffusion           --guidance W [3] --no-glide (skip the pixel-space comparison)       [n 100, steps 25]
//   14  GLIGEN box grounding       --guidance W [3] --checkpoint FILE                                  [n 100, steps 25]
import { loadPretrained, pretrainedAvailable, pretrainedCommand, pretrainedPath } from '../lib/course/models';
import { Clip } from '../lib/methods/clip/index';
import { disposeTextToImageResult, TextToImageResult } from '../lib/eval/text_to_image';
import { runLesson10 } from '../lib/eval/lesson10';
import { runLesson11 } from '../lib/eval/lesson11';
import { runLesson12 } from '../lib/eval/lesson12';
import { runLesson13 } from '../lib/eval/lesson13';
import { runLesson14 } from '../lib/eval/lesson14';
import { NOISE_AUG_BUCKETS } from '../lib/methods/imagen/noise_aug';
import { X0Clip } from '../lib/core/samplers/threshold';
import { fileFlag, intFlag, LessonEval, scaleList, UsageError, walkFlags } from './eval_flags';

/** The course's CLIP-like model (lesson 12) for the CLIP score; null (with a note) when not trained yet. */
function courseClip(): Clip | null {
  if (pretrainedAvailable('12/clip')) return loadPretrained('12/clip');
  console.error(
    `note: ${pretrainedPath('12/clip')} not found, so no CLIP-like score (train it with ${pretrainedCommand('12/clip')})`,
  );
  return null;
}

/** One guidance scale >= 0. */
function scaleFlag(flag: string, v: string | undefined): number {
  const xs = scaleList(flag, v);
  if (xs.length !== 1) throw new UsageError(`${flag} takes one scale, got '${v ?? ''}'`);
  return xs[0];
}

/** Runs `body` with the course CLIP, prints the table, frees the sample images, returns the record. */
async function withClip(
  body: (
    clip: Clip | null,
  ) => Promise<{ table: string; record: Record<string, unknown>; results: TextToImageResult[] }>,
): Promise<Record<string, unknown>> {
  const clip = courseClip();
  try {
    const r = await body(clip);
    console.log(r.table);
    r.results.forEach(disposeTextToImageResult);
    return r.record;
  } finally {
    clip?.dispose();
  }
}

const lesson10: LessonEval = {
  summary:
    'GLIDE-style text-to-image (text encoder trained with the UNet, CFG on text): attribute accuracy on one- and two-object captions, CLIP-like score, cost, per guidance scale',
  flags: '[--n N] [--guidance 3,1,5] [--steps N] [--seed N] [--batch N] [--checkpoint FILE]',
  async run(argv, backend) {
    let guidance = [3, 1, 5];
    let file = pretrainedPath('10/glide');
    const c = walkFlags(argv, '10', { n: 200, seed: 0, batch: 100, steps: 25 }, 1, {
      '--guidance': (next, f) => (guidance = scaleList(f, next())),
      '--checkpoint': (next, f) => (file = fileFlag(f, next())),
    });
    console.log(
      `lesson 10: ${file}, DDIM-${c.steps}, n = ${c.n} one-object + ${c.n} two-object captions per scale, w = ${guidance.join(', ')}, seed ${c.seed}`,
    );
    return withClip((clip) =>
      runLesson10({
        n: c.n,
        seed: c.seed,
        batch: c.batch,
        steps: c.steps as number,
        guidance,
        clip,
        checkpoint: file,
        backend,
      }),
    );
  },
};

const lesson11: LessonEval = {
  summary:
    'Imagen-style cascade (frozen MLM text encoder, 16x16 base, 16->32 SR with noise augmentation): attribute accuracy, CLIP-like score, cost of each stage; the base guidance scale picked by a small sweep',
  flags:
    '[--n N] [--guidance W | --scales 1,3,5 --sweep-n N] [--steps N] [--sr-steps N] [--sr-start T|noise] [--aug-bucket K] [--dynamic-threshold P] [--seed N] [--batch N]',
  async run(argv, backend) {
    let guidance: number | undefined;
    let scales = [1, 3, 5];
    let sweepN = 24;
    let srSteps = 1;
    let srStart: number | undefined = 100;
    let augBucket = 1;
    let baseClip: X0Clip = true;
    const c = walkFlags(argv, '11', { n: 100, seed: 0, batch: 50, steps: 25 }, 1, {
      '--guidance': (next, f) => (guidance = scaleFlag(f, next())),
      '--scales': (next, f) => (scales = scaleList(f, next())),
      '--sweep-n': (next, f) => (sweepN = intFlag(f, next(), 1)),
      '--sr-steps': (next, f) => (srSteps = intFlag(f, next(), 1)),
      '--sr-start': (next, f) => {
        const v = next();
        srStart = v === 'noise' ? undefined : intFlag(f, v, 1);
      },
      '--aug-bucket': (next, f) => {
        augBucket = intFlag(f, next(), 0);
        if (augBucket >= NOISE_AUG_BUCKETS) throw new UsageError(`${f} must be below ${NOISE_AUG_BUCKETS}`);
      },
      '--dynamic-threshold': (next, f) => {
        const v = next();
        const p = Number(v);
        if (v === undefined || !(p > 0 && p <= 100))
          throw new UsageError(`${f} needs a percentile in (0, 100], got '${v ?? ''}'`);
        baseClip = { percentile: p };
      },
    });
    if (srStart !== undefined && srStart > 999)
      throw new UsageError(`--sr-start ${srStart} exceeds the schedule's T = 1000`);
    console.log(
      `lesson 11: base DDIM-${c.steps} (x0 ${baseClip === true ? 'clipped' : `dynamic threshold p = ${(baseClip as { percentile: number }).percentile}`}), SR ${srSteps} step(s) from ${srStart ?? 'pure noise'}, aug bucket ${augBucket}, n = ${c.n} per kind, seed ${c.seed}`,
    );
    return withClip((clip) =>
      runLesson11({
        n: c.n,
        seed: c.seed,
        batch: c.batch,
        steps: c.steps as number,
        guidance,
        scales,
        sweepN,
        srSteps,
        srStart,
        augBucket,
        baseClip,
        clip,
        backend,
      }),
    );
  },
};

const lesson12: LessonEval = {
  summary:
    'unCLIP (CLIP-like text embedding -> diffusion prior -> image embedding -> decoder): attribute accuracy, CLIP-like score and cost per decoder guidance scale',
  flags: '[--n N] [--guidance 3] [--steps N] [--prior-steps N] [--prior-guidance W] [--oracle] [--seed N] [--batch N]',
  async run(argv, backend) {
    let guidance = [5];
    let priorSteps = 50;
    let priorGuidance = 1;
    let withOracle = false;
    const c = walkFlags(argv, '12', { n: 100, seed: 0, batch: 100, steps: 50 }, 1, {
      '--guidance': (next, f) => (guidance = scaleList(f, next())),
      '--prior-steps': (next, f) => (priorSteps = intFlag(f, next(), 1)),
      '--prior-guidance': (next, f) => (priorGuidance = scaleFlag(f, next())),
      '--oracle': () => (withOracle = true),
    });
    console.log(
      `lesson 12: decoder DDIM-${c.steps} w = ${guidance.join(', ')}, prior DDIM-${priorSteps} w = ${priorGuidance}, n = ${c.n} per kind, seed ${c.seed}`,
    );
    // runLesson12 scores with the unCLIP's own CLIP model, so no second copy is loaded here.
    const r = await runLesson12({
      n: c.n,
      seed: c.seed,
      batch: c.batch,
      steps: c.steps as number,
      guidance,
      priorSteps,
      priorGuidance,
      withOracle,
      backend,
    });
    console.log(r.table);
    r.results.forEach(disposeTextToImageResult);
    return r.record;
  },
};

const lesson13: LessonEval = {
  summary:
    'latent diffusion (8x8x4 latents of a trained autoencoder): reconstruction PSNR, text->image accuracy next to pixel-space GLIDE, layout->image box placement, cost',
  flags: '[--n N] [--guidance W] [--steps N] [--no-glide] [--seed N] [--batch N]',
  async run(argv, backend) {
    let guidance = 3;
    let compareGlide = true;
    const c = walkFlags(argv, '13', { n: 100, seed: 0, batch: 100, steps: 25 }, 1, {
      '--guidance': (next, f) => (guidance = scaleFlag(f, next())),
      '--no-glide': () => (compareGlide = false),
    });
    console.log(`lesson 13: DDIM-${c.steps}, w = ${guidance}, n = ${c.n} per kind, seed ${c.seed}`);
    return withClip(async (clip) => {
      const r = await runLesson13({
        n: c.n,
        seed: c.seed,
        batch: c.batch,
        steps: c.steps as number,
        guidance,
        clip,
        compareGlide,
        backend,
      });
      r.layout.samples.dispose();
      return r;
    });
  },
};

const lesson14: LessonEval = {
  summary:
    'GLIGEN box grounding on the frozen latent text model: share of requested objects landing in their box (IoU >= 0.5) with and without grounding',
  flags: '[--n N] [--guidance W] [--steps N] [--seed N] [--batch N] [--checkpoint FILE] [--points]',
  async run(argv, backend) {
    let guidance = 3;
    let checkpoint: string | undefined;
    // --points: also caption + one point per object with the point-grounded layers ('14/gligen-point').
    let points = false;
    const c = walkFlags(argv, '14', { n: 100, seed: 0, batch: 100, steps: 25 }, 1, {
      '--guidance': (next, f) => (guidance = scaleFlag(f, next())),
      '--checkpoint': (next, f) => (checkpoint = fileFlag(f, next())),
      '--points': () => (points = true),
    });
    console.log(`lesson 14: DDIM-${c.steps}, w = ${guidance}, n = ${c.n} scenes, seed ${c.seed}`);
    const r = await runLesson14({
      n: c.n,
      seed: c.seed,
      batch: c.batch,
      steps: c.steps as number,
      guidance,
      checkpoint,
      points,
      backend,
    });
    console.log(r.table);
    r.results.forEach((x) => x.samples.dispose());
    return r.record;
  },
};

export const TEXT_EVALS: Record<string, LessonEval> = {
  '10': lesson10,
  '11': lesson11,
  '12': lesson12,
  '13': lesson13,
  '14': lesson14,
};
