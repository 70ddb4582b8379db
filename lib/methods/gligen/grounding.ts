// GLIGEN's grounding input per object: [Fourier features of its box (or point), the embedding of its phrase].
// The phrase ("a small red circle") is embedded by the FROZEN base model's own text encoder (its
// pooled [EOS] vector), as GLIGEN uses the frozen CLIP text encoder: the new layers learn to tie a
// phrase the model already understands to a place.
import * as tf from '@tensorflow/tfjs-core';
import '../../core/tfjs_setup';
import type { Box } from '../../../datasets/boxes';
import { SHAPE_KINDS, SHAPE_SIZES, ShapeColour, ShapeKind, ShapeSize, COLOUR_NAMES } from '../../../datasets/shapes';
import { BOX_FEATURES, boxFeatures, checkBox } from '../latent/layout';
import { TextTransformer } from '../text/text_transformer';

/** A point [x, y] in [0, 1] (fractions of the image side): GLIGEN's keypoint-style grounding. */
export type GroundingPoint = [number, number];

/** One grounded object: a phrase and where it goes, as a box or as a single point. */
export type GroundedObject =
  { phrase: string; box: Box; point?: undefined } | { phrase: string; point: GroundingPoint; box?: undefined };

/**
 * A point's grounding features: the box features of [x, y, x, y], i.e. the same Fourier embedding of
 * its coordinates with zero extent. The token keeps the box token's width, so one grounding MLP reads
 * both kinds; a model must still be trained on points to know what a zero-extent location means.
 */
export function pointFeatures(p: GroundingPoint, where = 'point'): Float32Array {
  if (!Array.isArray(p) || p.length !== 2 || p.some((v) => typeof v !== 'number' || !(v >= 0 && v <= 1)))
    throw new Error(`${where}: a point must be [x, y] with both in [0, 1], got ${JSON.stringify(p)}`);
  return boxFeatures([p[0], p[1], p[0], p[1]]);
}

/** The centre of a box: the point that stands for the object in point grounding. */
export function boxCentre(b: Box): GroundingPoint {
  return [(b[0] + b[2]) / 2, (b[1] + b[3]) / 2];
}

/** Grounding tokens the shipped GLIGEN model takes per image (the data has at most 2 objects a scene). */
export const DEFAULT_MAX_GROUNDING = 4;

export function groundingInputDim(textWidth: number): number {
  return BOX_FEATURES + textWidth;
}

/** The phrase for one object of the shapes data: size, colour, shape (where is the box's job). */
export function objectPhrase(o: { size: ShapeSize; colour: ShapeColour; shape: ShapeKind }): string {
  return `a ${o.size} ${o.colour} ${o.shape}`;
}

/** Every phrase the shapes data can name (2 sizes x 7 colours x 5 shapes). */
export function allObjectPhrases(): string[] {
  const out: string[] = [];
  for (const size of Object.keys(SHAPE_SIZES) as ShapeSize[])
    for (const colour of COLOUR_NAMES) for (const shape of SHAPE_KINDS) out.push(objectPhrase({ size, colour, shape }));
  return out;
}

/**
 * Embeds phrases with the frozen text encoder, caching each phrase's pooled vector (training meets
 * the same 70 phrases over and over).
 */
export class PhraseEmbedder {
  private readonly cache = new Map<string, Float32Array>();

  constructor(readonly encoder: TextTransformer) {}

  get width(): number {
    return this.encoder.config.width;
  }

  /** Embeds the phrases not cached yet, in one asynchronous read. */
  async prepare(phrases: readonly string[]): Promise<void> {
    const missing = [...new Set(phrases.filter((p) => typeof p === 'string' && !this.cache.has(p)))];
    if (!missing.length) return;
    const pooled = tf.tidy(() => this.encoder.apply(missing).pooled);
    try {
      const v = (await pooled.data()) as Float32Array;
      missing.forEach((p, i) => this.cache.set(p, Float32Array.from(v.subarray(i * this.width, (i + 1) * this.width))));
    } finally {
      pooled.dispose();
    }
  }

  /** The cached vectors of phrases embedded by prepare (no read here: a loop's batch callback may call it). */
  cached(phrases: readonly string[]): Float32Array[] {
    return phrases.map((p) => {
      const v = this.cache.get(p);
      if (!v) throw new Error(`PhraseEmbedder: '${p}' was not prepared (await embedder.prepare(phrases) first)`);
      return v;
    });
  }

  async embed(phrases: readonly string[]): Promise<Float32Array[]> {
    await this.prepare(phrases);
    return this.cached(phrases);
  }
}

/** The GLIGEN hook's condition fields (a type alias, so it is a Condition: spread it into one). */
export type GroundingInputs = {
  /** [B, maxObjects, BOX_FEATURES + text width] */
  grounding: tf.Tensor3D;
  /** [B, maxObjects]: 1 real object, 0 padding. */
  groundingMask: tf.Tensor2D;
};

/**
 * Grounding inputs for a batch of object lists. Boxes outside [0, 1], empty boxes, empty phrases
 * and more objects than maxObjects are errors (nothing is clipped or dropped silently).
 */
export async function groundingInputs(
  embedder: PhraseEmbedder,
  scenes: readonly (readonly GroundedObject[])[],
  maxObjects = DEFAULT_MAX_GROUNDING,
): Promise<GroundingInputs> {
  await embedder.prepare(scenes.flatMap((objs) => objs.map((o) => o.phrase)));
  return groundingInputsPrepared(embedder, scenes, maxObjects);
}

/** groundingInputs for phrases the embedder has prepared: synchronous, for a training loop's batch callback. */
export function groundingInputsPrepared(
  embedder: PhraseEmbedder,
  scenes: readonly (readonly GroundedObject[])[],
  maxObjects = DEFAULT_MAX_GROUNDING,
): GroundingInputs {
  if (!Number.isInteger(maxObjects) || maxObjects < 1)
    throw new Error(`groundingInputs: maxObjects must be a positive integer, got ${maxObjects}`);
  if (scenes.length === 0) throw new Error('groundingInputs: no scenes');
  const D = groundingInputDim(embedder.width);
  const g = new Float32Array(scenes.length * maxObjects * D);
  const m = new Float32Array(scenes.length * maxObjects);
  scenes.forEach((objs, b) => {
    if (objs.length > maxObjects)
      throw new Error(
        `groundingInputs: scene ${b} has ${objs.length} objects, but the model takes at most ${maxObjects} grounding tokens`,
      );
    const feats = objs.map((o, i) => {
      const where = `groundingInputs: scene ${b} object ${i}`;
      if (typeof o.phrase !== 'string' || o.phrase.trim() === '') throw new Error(`${where} has an empty phrase`);
      if ((o.box === undefined) === (o.point === undefined)) throw new Error(`${where}: give a box or a point (one)`);
      if (o.point !== undefined) return pointFeatures(o.point, where);
      checkBox(o.box, where);
      return boxFeatures(o.box);
    });
    const emb = embedder.cached(objs.map((o) => o.phrase));
    objs.forEach((o, i) => {
      const at = (b * maxObjects + i) * D;
      g.set(feats[i], at);
      g.set(emb[i], at + BOX_FEATURES);
      m[b * maxObjects + i] = 1;
    });
  });
  return {
    grounding: tf.tensor3d(g, [scenes.length, maxObjects, D]),
    groundingMask: tf.tensor2d(m, [scenes.length, maxObjects]),
  };
}
