// A layout as a condition: one token per object, [Fourier features of its box, a label code], the
// context sequence the layout-to-image model cross-attends to (LDM's layout-to-image task, and the
// box half of GLIGEN's grounding tokens).
// Fourier features (sin/cos of the coordinates at doubling frequencies, as NeRF and GLIGEN use) let
// attention tell nearby boxes apart; a raw number in [0, 1] would be a single weak direction.
// The label code is fixed (one-hot colour and one-hot shape), so the context needs no trainable
// parameters: the UNet's cross-attention projections learn what to do with it.
// Bad input is an error, never silently clipped: a box outside [0, 1], an empty box, an unknown
// label, more objects than the token limit.
import * as tf from '@tensorflow/tfjs-core';
import '../../core/tfjs_setup';
import type { Box } from '../../../datasets/boxes';
import { COLOUR_NAMES, SHAPE_KINDS, ShapeColour, ShapeKind } from '../../../datasets/shapes';

/** One object of a layout: where, and what. */
export interface LayoutObject {
  box: Box;
  colour: ShapeColour;
  shape: ShapeKind;
}

/** Frequencies per coordinate: sin and cos of 2^k * pi * c for k < FOURIER_FREQS. */
export const FOURIER_FREQS = 8;
/** Features of one box: 4 raw coordinates + 4 * 2 * FOURIER_FREQS sines and cosines. */
export const BOX_FEATURES = 4 + 4 * 2 * FOURIER_FREQS;
/** Token width: [null flag, box features, one-hot colour, one-hot shape]. */
export const LAYOUT_TOKEN_DIM = 1 + BOX_FEATURES + COLOUR_NAMES.length + SHAPE_KINDS.length;
/** Objects per layout the shipped layout model takes (the data has at most 2; room for 3). */
export const DEFAULT_MAX_OBJECTS = 3;

/** Throws a clear error for a box that is not a non-empty [x0, y0, x1, y1] inside [0, 1]. */
export function checkBox(box: unknown, where: string): asserts box is Box {
  if (!Array.isArray(box) || box.length !== 4 || box.some((v) => typeof v !== 'number' || !Number.isFinite(v))) {
    throw new Error(`${where}: a box must be [x0, y0, x1, y1] (4 finite numbers), got ${JSON.stringify(box)}`);
  }
  const [x0, y0, x1, y1] = box as number[];
  if (Math.min(x0, y0, x1, y1) < 0 || Math.max(x0, y0, x1, y1) > 1)
    throw new Error(`${where}: box [${box}] is outside [0, 1] (coordinates are fractions of the image side)`);
  if (!(x1 > x0) || !(y1 > y0)) throw new Error(`${where}: box [${box}] has zero area (need x1 > x0 and y1 > y0)`);
}

/** [raw coordinates, sin/cos features] of a checked box. */
export function boxFeatures(box: Box): Float32Array {
  const f = new Float32Array(BOX_FEATURES);
  f.set(box, 0);
  let i = 4;
  for (const c of box) {
    for (let k = 0; k < FOURIER_FREQS; k++) {
      const a = 2 ** k * Math.PI * c;
      f[i++] = Math.sin(a);
      f[i++] = Math.cos(a);
    }
  }
  return f;
}

export function checkLayout(objects: readonly LayoutObject[], maxObjects: number, where = 'layout'): void {
  if (!Array.isArray(objects)) throw new Error(`${where}: expected an array of objects, got ${typeof objects}`);
  if (objects.length > maxObjects)
    throw new Error(`${where}: ${objects.length} objects, but the model takes at most ${maxObjects} (its token limit)`);
  objects.forEach((o, i) => {
    checkBox(o.box, `${where} object ${i}`);
    if (!COLOUR_NAMES.includes(o.colour))
      throw new Error(`${where} object ${i}: unknown colour '${o.colour}' (use ${COLOUR_NAMES.join(', ')})`);
    if (!(SHAPE_KINDS as readonly string[]).includes(o.shape))
      throw new Error(`${where} object ${i}: unknown shape '${o.shape}' (use ${SHAPE_KINDS.join(', ')})`);
  });
}

export interface LayoutContext {
  /** [B, 1 + maxObjects, LAYOUT_TOKEN_DIM]; token 0 is the null token every layout has. */
  context: tf.Tensor3D;
  /** [B, 1 + maxObjects]: 1 for the null token and real objects, 0 for padding. */
  mask: tf.Tensor2D;
}

/**
 * Context tokens for a batch of layouts. Token 0 is a fixed "null" token (flag 1, rest 0), so an
 * empty layout (classifier-free guidance's unconditional input) still has something to attend to.
 */
export function layoutContext(
  layouts: readonly (readonly LayoutObject[])[],
  maxObjects = DEFAULT_MAX_OBJECTS,
): LayoutContext {
  if (!Number.isInteger(maxObjects) || maxObjects < 1)
    throw new Error(`layoutContext: maxObjects must be a positive integer, got ${maxObjects}`);
  if (layouts.length === 0) throw new Error('layoutContext: no layouts');
  const L = 1 + maxObjects;
  const D = LAYOUT_TOKEN_DIM;
  const ctx = new Float32Array(layouts.length * L * D);
  const mask = new Float32Array(layouts.length * L);
  layouts.forEach((objs, b) => {
    checkLayout(objs, maxObjects, `layout ${b}`);
    ctx[b * L * D] = 1;
    mask[b * L] = 1;
    objs.forEach((o, i) => {
      const at = (b * L + 1 + i) * D;
      ctx.set(boxFeatures(o.box), at + 1);
      ctx[at + 1 + BOX_FEATURES + COLOUR_NAMES.indexOf(o.colour)] = 1;
      ctx[at + 1 + BOX_FEATURES + COLOUR_NAMES.length + SHAPE_KINDS.indexOf(o.shape)] = 1;
      mask[b * L + 1 + i] = 1;
    });
  });
  return { context: tf.tensor3d(ctx, [layouts.length, L, D]), mask: tf.tensor2d(mask, [layouts.length, L]) };
}
