// Box-labelled scenes for lesson 15's detector: real procedural scenes with their exact boxes, and
// synthetic ones made by lesson 14's grounded model, where the boxes asked for ARE the labels (the
// seeds' recipe: generate images for a layout you choose, get the annotation for free).
import * as tf from '@tensorflow/tfjs-core';
import '../../core/tfjs_setup';
import { toTensor } from '../../../datasets/imageset';
import { caption, generateShapes, loadShapes, SHAPE_KINDS, ShapeObject, ShapesSplit } from '../../../datasets/shapes';
import { objectPhrase, PhraseEmbedder } from '../gligen/grounding';
import { sampleGrounded } from '../gligen/sample';
import { loadPretrained } from '../../course/models';
import { optionalBar, ProgressSetting } from '../../core/progress';
import { detectBatch } from '../../eval/shapes/detect';
import { groundingScore } from '../../eval/shapes/score';
import type { LabelledBox } from './detector';

export interface BoxScenes {
  /** [N, 32, 32, 3] in [-1, 1]. */
  images: tf.Tensor4D;
  labels: LabelledBox[][];
  /** What each scene holds (or was asked to hold): attributes and boxes. */
  objects: ShapeObject[][];
  captions: string[];
}

export const toLabels = (objects: readonly ShapeObject[]): LabelledBox[] =>
  objects.map((o) => ({ box: o.box, cls: SHAPE_KINDS.indexOf(o.shape) }));

/** `count` real scenes of a split (optionally another seed: a disjoint draw). */
export function realBoxScenes(split: ShapesSplit, count: number, seed?: number): BoxScenes {
  const set = loadShapes(split, { count, seed });
  return { images: toTensor(set), labels: set.objects.map(toLabels), objects: set.objects, captions: set.captions };
}

/** Layouts to ask for: 1-2 objects (what lesson 14 was trained on), drawn like the data set's. */
export function randomLayouts(n: number, seed: number): ShapeObject[][] {
  return Array.from({ length: n }, (_, i) => generateShapes(seed, i, { minObjects: 1, maxObjects: 2 }).objects);
}

export interface SyntheticSceneOptions {
  guidance?: number;
  steps?: number;
  seed?: number;
  batch?: number;
  /** The GLIGEN checkpoint (default lesson 14's). */
  checkpoint?: string;
  progress?: ProgressSetting;
}

/** n images from lesson 14's model for random layouts (caption + grounded boxes); labels = the layouts. */
export async function syntheticBoxScenes(
  n: number,
  o: SyntheticSceneOptions = {},
): Promise<BoxScenes & { seconds: number }> {
  if (!Number.isInteger(n) || n < 1) throw new Error(`syntheticBoxScenes: n must be a positive integer, got ${n}`);
  const seed = o.seed ?? 0,
    batch = o.batch ?? 50;
  const layouts = randomLayouts(n, 1000 + seed);
  const captions = layouts.map(caption);
  const auto = loadPretrained('13/autoencoder');
  const unet = loadPretrained('14/gligen', o.checkpoint);
  const parts: tf.Tensor4D[] = [];
  const t0 = Date.now();
  const bar = optionalBar(o.progress, 'GLIGEN scenes', n);
  try {
    const embedder = new PhraseEmbedder(unet.text);
    for (let s = 0; s < n; s += batch) {
      const idx = Array.from({ length: Math.min(batch, n - s) }, (_, i) => s + i);
      const grounded = idx.map((i) => layouts[i].map((x) => ({ phrase: objectPhrase(x), box: x.box })));
      parts.push(
        await sampleGrounded(
          unet,
          auto,
          embedder,
          idx.map((i) => captions[i]),
          grounded,
          { guidance: o.guidance ?? 3, steps: o.steps ?? 25, seed: seed * 7919 + s },
        ),
      );
      bar?.update(idx.length);
    }
    bar?.finish();
    const images = parts.length === 1 ? parts[0] : (tf.concat(parts, 0) as tf.Tensor4D);
    if (parts.length > 1) tf.dispose(parts);
    return { images, labels: layouts.map(toLabels), objects: layouts, captions, seconds: (Date.now() - t0) / 1000 };
  } catch (e) {
    tf.dispose(parts);
    throw e;
  } finally {
    auto.ae.dispose();
    unet.dispose();
  }
}

/** One set from two (the images are copied; the inputs stay the caller's). */
export function concatScenes(a: BoxScenes, b: BoxScenes): BoxScenes {
  return {
    images: tf.concat([a.images, b.images], 0) as tf.Tensor4D,
    labels: [...a.labels, ...b.labels],
    objects: [...a.objects, ...b.objects],
    captions: [...a.captions, ...b.captions],
  };
}

/**
 * How often a synthetic scene's label is true: the share of requested objects that the exact shapes
 * detector finds with the requested colour and shape at IoU >= 0.5 with the requested box.
 */
export async function labelAgreement(scenes: BoxScenes): Promise<number> {
  const dets = detectBatch((await scenes.images.data()) as Float32Array);
  let hit = 0,
    total = 0;
  dets.forEach((det, i) => {
    const g = groundingScore(
      scenes.objects[i].map((o) => ({ colour: o.colour, shape: o.shape, box: o.box })),
      det,
      { match: 'colour+shape' },
    );
    total += g.objects.length;
    hit += g.objects.filter((o) => o.iou >= 0.5).length;
  });
  return hit / total;
}
