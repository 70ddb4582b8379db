// How lessons 10-12 score a text-to-image method: generate images for captions of held-out scenes
// (one object, and two objects), find the objects in them with the exact shapes detector, and count
// how often colour, shape, size and position match what the caption asked for; add a CLIP-like score
// (cosine between the course's contrastive text and image embeddings) and the time per image.
import * as tf from '@tensorflow/tfjs-core';
import '../core/tfjs_setup';
import { loadShapes, ShapeObject } from '../../datasets/shapes';
import { detectBatch } from './shapes/detect';
import { Clip } from '../methods/clip/clip';
import { meanClipScore } from '../methods/clip/score';
import { AccuracyGroup, attributeAccuracy, AttributeScore, scoreAttributes } from './shapes/score';
import { quoteCaption } from '../methods/text/tokenizer';

export interface TextToImageMethod {
  name: string;
  /** Captions -> images in [-1, 1], [B, 32, 32, 3]; `seed` fixes the starting noise. */
  generate(captions: string[], seed: number): tf.Tensor4D | Promise<tf.Tensor4D>;
}

export interface TextToImageOptions {
  /** Captions of each kind (single- and two-object). */
  n: number;
  seed: number;
  /** Captions per generate() call. */
  batch: number;
  clip?: Clip | null;
  /** Images of each kind kept for grids (default 8). */
  keep?: number;
}

export interface TextToImageResult {
  name: string;
  n: number;
  single: AccuracyGroup;
  multi: AccuracyGroup;
  /** Mean 100 * cos(text, image) over the generated images (null without a CLIP model). */
  clipScore: number | null;
  /** The same for the real held-out images with their own captions: the reference. */
  clipScoreReal: number | null;
  secondsPerImage: number;
  /** The first `keep` captions and images of each kind (the caller disposes the tensors). */
  samples: { single: { captions: string[]; images: tf.Tensor4D }; multi: { captions: string[]; images: tf.Tensor4D } };
}

/** Seed of the held-out scenes: not a training seed (train 1, test 2), so the scenes are new. */
const EVAL_SCENE_SEED = 2;

/** n held-out captions asking for exactly `objects` objects, with what they ask for. */
export function evalCaptions(
  objects: 1 | 2,
  n: number,
): { captions: string[]; objects: ShapeObject[][]; images: Uint8Array } {
  if (!Number.isInteger(n) || n < 1) throw new Error(`evalCaptions: n must be a positive integer, got ${n}`);
  const set = loadShapes('test', {
    count: n,
    minObjects: objects,
    maxObjects: objects,
    seed: EVAL_SCENE_SEED + 100 * objects,
  });
  return { captions: set.captions, objects: set.objects, images: set.images };
}

/**
 * Caption -> the held-out scene it describes (of evalCaptions(1, n) or evalCaptions(2, n)), as images
 * in [-1, 1]: for ceiling rows (the real scenes through an autoencoder, or through CLIP and a decoder).
 */
export function realScenes(n: number): (captions: readonly string[]) => tf.Tensor4D {
  const sets = [evalCaptions(1, n), evalCaptions(2, n)];
  const per = 32 * 32 * 3;
  return (captions) => {
    const pixels = new Float32Array(captions.length * per);
    captions.forEach((c, i) => {
      const set = sets.find((s) => s.captions.includes(c));
      if (!set) throw new Error(`realScenes: ${quoteCaption(c)} is not an evaluation caption`);
      const j = set.captions.indexOf(c);
      for (let p = 0; p < per; p++) pixels[i * per + p] = set.images[j * per + p] / 127.5 - 1;
    });
    return tf.tensor4d(pixels, [captions.length, 32, 32, 3]);
  };
}

export async function evaluateTextToImage(
  method: TextToImageMethod,
  o: TextToImageOptions,
): Promise<TextToImageResult> {
  if (!Number.isInteger(o.batch) || o.batch < 1)
    throw new Error(`evaluateTextToImage: batch must be a positive integer, got ${o.batch}`);
  const keep = o.keep ?? 8;
  const groups: Record<'single' | 'multi', { acc: AccuracyGroup; captions: string[]; images: tf.Tensor4D }> =
    {} as never;
  let seconds = 0;
  const clipGen: number[] = [];
  const clipReal: number[] = [];
  for (const [kind, k] of [
    ['single', 1],
    ['multi', 2],
  ] as const) {
    const ev = evalCaptions(k, o.n);
    const scores: AttributeScore[] = [];
    const parts: tf.Tensor4D[] = [];
    try {
      for (let s = 0, b = 0; s < o.n; s += o.batch, b++) {
        const caps = ev.captions.slice(s, s + o.batch);
        const t0 = Date.now();
        const x = await method.generate(caps, o.seed * 1000 + k * 100 + b);
        const values = (await x.data()) as Float32Array;
        seconds += (Date.now() - t0) / 1000;
        if (x.shape[0] !== caps.length || x.shape[1] !== 32 || x.shape[2] !== 32 || x.shape[3] !== 3) {
          x.dispose();
          throw new Error(
            `evaluateTextToImage: ${method.name} returned [${x.shape}] for ${caps.length} captions, expected [${caps.length}, 32, 32, 3]`,
          );
        }
        detectBatch(values).forEach((det, i) => scores.push(scoreAttributes(ev.objects[s + i], det)));
        parts.push(x);
      }
      const all = tf.concat(parts, 0) as tf.Tensor4D;
      try {
        if (o.clip) {
          clipGen.push((await meanClipScore(o.clip, all, ev.captions, o.batch)) * o.n);
          const real = tf.tidy(
            () => tf.sub(tf.mul(tf.tensor4d(ev.images, [o.n, 32, 32, 3], 'float32'), 2 / 255), 1) as tf.Tensor4D,
          );
          try {
            clipReal.push((await meanClipScore(o.clip, real, ev.captions, o.batch)) * o.n);
          } finally {
            real.dispose();
          }
        }
        const acc = attributeAccuracy(scores)[kind];
        groups[kind] = { acc, captions: ev.captions.slice(0, keep), images: tf.slice(all, 0, Math.min(keep, o.n)) };
      } finally {
        all.dispose();
      }
    } finally {
      tf.dispose(parts);
    }
  }
  const total = (xs: number[]) => (xs.length ? xs.reduce((p, q) => p + q, 0) / (2 * o.n) : null);
  return {
    name: method.name,
    n: o.n,
    single: groups.single.acc,
    multi: groups.multi.acc,
    clipScore: total(clipGen),
    clipScoreReal: total(clipReal),
    secondsPerImage: seconds / (2 * o.n),
    samples: {
      single: { captions: groups.single.captions, images: groups.single.images },
      multi: { captions: groups.multi.captions, images: groups.multi.images },
    },
  };
}

export function disposeTextToImageResult(r: TextToImageResult): void {
  tf.dispose([r.samples.single.images, r.samples.multi.images]);
}

const pct = (x: number) => (Number.isNaN(x) ? 'n/a' : `${(100 * x).toFixed(1)}%`);
const r4 = (x: number) => Math.round(x * 1e4) / 1e4;

/** One row per method: attribute accuracy (single / two objects), CLIP-like score, seconds per image. */
export function formatTextToImageTable(results: TextToImageResult[]): string {
  const head = [
    'method',
    'n',
    '1 obj: colour',
    'shape',
    'size',
    'position',
    'all',
    '2 obj: all',
    'count ok',
    'CLIP score',
    's/img',
  ];
  const rows = results.map((r) => [
    r.name,
    String(r.n),
    pct(r.single.colour),
    pct(r.single.shape),
    pct(r.single.size),
    pct(r.single.position),
    pct(r.single.all),
    pct(r.multi.all),
    pct(r.multi.count),
    r.clipScore === null ? 'n/a' : `${r.clipScore.toFixed(1)} (real ${r.clipScoreReal!.toFixed(1)})`,
    r.secondsPerImage.toFixed(3),
  ]);
  const w = head.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i].length)));
  return [head, ...rows].map((row) => row.map((c, i) => c.padEnd(w[i])).join('  ')).join('\n');
}

/** The JSON record: accuracies as fractions, the CLIP-like scores, seconds per image. */
export function textToImageRecord(
  lesson: string,
  results: TextToImageResult[],
  extra: Record<string, unknown> = {},
): Record<string, unknown> {
  const g = (a: AccuracyGroup) => ({
    colour: r4(a.colour),
    shape: r4(a.shape),
    size: r4(a.size),
    position: r4(a.position),
    all: r4(a.all),
    count: r4(a.count),
    image: r4(a.imageCorrect),
  });
  return {
    lesson,
    ...extra,
    methods: results.map((r) => ({
      name: r.name,
      n: r.n,
      single: g(r.single),
      multi: g(r.multi),
      clip_score: r.clipScore === null ? null : r4(r.clipScore),
      clip_score_real: r.clipScoreReal === null ? null : r4(r.clipScoreReal),
      seconds_per_image: r4(r.secondsPerImage),
    })),
  };
}
