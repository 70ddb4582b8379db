// GLIGEN's grounding input per object: [Fourier features of its box, the embedding of its phrase].
// The phrase ("a small red circle") is embedded by the FROZEN base model's own text encoder (its
// pooled [EOS] vector), as GLIGEN uses the frozen CLIP text encoder: the new layers learn to tie a
// phrase the model already understands to a place.
import * as tf from '@tensorflow/tfjs-core';
import '../../core/tfjs_setup';
import type { Box } from '../../../datasets/boxes';
import { SHAPE_KINDS, SHAPE_SIZES, ShapeColour, ShapeKind, ShapeSize, COLOUR_NAMES } from '../../../datasets/shapes';
import { BOX_FEATURES, boxFeatures, checkBox } from '../latent/layout';
import { TextTransformer } from '../text/text_transformer';

/** One grounded object: a phrase and its box. */
export interface GroundedObject {
  phrase: string;
  box: Box;
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

  embed(phrases: readonly string[]): Float32Array[] {
    const missing = [...new Set(phrases.filter((p) => !this.cache.has(p)))];
    if (missing.length) {
      const pooled = tf.tidy(() => this.encoder.apply(missing).pooled);
      const v = pooled.dataSync();
      pooled.dispose();
      missing.forEach((p, i) => this.cache.set(p, Float32Array.from(v.subarray(i * this.width, (i + 1) * this.width))));
    }
    return phrases.map((p) => this.cache.get(p)!);
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
export function groundingInputs(
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
    objs.forEach((o, i) => {
      checkBox(o.box, `groundingInputs: scene ${b} object ${i}`);
      if (typeof o.phrase !== 'string' || o.phrase.trim() === '')
        throw new Error(`groundingInputs: scene ${b} object ${i} has an empty phrase`);
    });
    const emb = embedder.embed(objs.map((o) => o.phrase));
    objs.forEach((o, i) => {
      const at = (b * maxObjects + i) * D;
      g.set(boxFeatures(o.box), at);
      g.set(emb[i], at + BOX_FEATURES);
      m[b * maxObjects + i] = 1;
    });
  });
  return {
    grounding: tf.tensor3d(g, [scenes.length, maxObjects, D]),
    groundingMask: tf.tensor2d(m, [scenes.length, maxObjects]),
  };
}
