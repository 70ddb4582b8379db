// Captioned coloured shapes: a seeded procedural data set for text- and layout-conditioned lessons.
//
// 32x32 RGB images on black with 1-3 objects. Each object is a shape (circle, square, triangle,
// cross, ring) of one colour and one size (small: 8 px, large: 14 px), drawn without anti-aliasing
// inside an integer-aligned square cell. Every shape's pixels touch all four sides of its cell, so
// the recorded box (the cell, in [0, 1] coordinates) is exactly the tight box of its pixels. Cells
// never overlap and keep a 1-pixel gap, so no object hides another. Item i of seed s depends only on
// (s, i), so any item can be regenerated alone.
import { Rng } from '../lib/core/random';
import { Box } from './boxes';
import { ImageSet } from './imageset';

export const SHAPES_SIZE = 32;
export const SHAPE_KINDS = ['circle', 'square', 'triangle', 'cross', 'ring'] as const;
export type ShapeKind = (typeof SHAPE_KINDS)[number];
export const SHAPE_COLOURS = {
  red: [255, 0, 0],
  green: [0, 255, 0],
  blue: [0, 0, 255],
  yellow: [255, 255, 0],
  magenta: [255, 0, 255],
  cyan: [0, 255, 255],
  white: [255, 255, 255],
} as const;
export type ShapeColour = keyof typeof SHAPE_COLOURS;
export const COLOUR_NAMES = Object.keys(SHAPE_COLOURS) as ShapeColour[];
export const SHAPE_SIZES = { small: 8, large: 14 } as const;
export type ShapeSize = keyof typeof SHAPE_SIZES;

/** What to draw: a shape in the square cell with top-left pixel (x, y). */
export interface ShapeSpec {
  shape: ShapeKind;
  colour: ShapeColour;
  size: ShapeSize;
  x: number;
  y: number;
}

/** A drawn object: its attributes, where it is in words, and its exact box. */
export interface ShapeObject extends ShapeSpec {
  /** e.g. 'top left', 'center', 'bottom' (the 3x3 cell holding the box centre). */
  position: string;
  box: Box;
}

export interface ShapesItem {
  image: Uint8Array; // 32*32*3, HWC
  objects: ShapeObject[];
  caption: string;
}

/**
 * Is pixel (i, j) of an s-pixel cell part of the shape? Integer tests on doubled pixel centres. Any side s >= 2
 * works (datasets/video_shapes.ts draws the sides between small and large while a shape grows).
 */
export function inShape(shape: ShapeKind, i: number, j: number, s: number): boolean {
  const dx = 2 * i + 1 - s; // 2 * (pixel centre - cell centre), in pixels
  const dy = 2 * j + 1 - s;
  switch (shape) {
    case 'square':
      return true;
    case 'circle':
      return dx * dx + dy * dy <= s * s;
    case 'ring': {
      const w = s >= 12 ? 3 : 2; // ring thickness in pixels
      const r2 = dx * dx + dy * dy;
      return r2 <= s * s && r2 >= (s - 2 * w) * (s - 2 * w);
    }
    case 'triangle':
      // Apex at the top centre, base on the bottom row: the half-width grows by half a pixel a row.
      return Math.abs(dx) <= j + 1;
    case 'cross': {
      const half = s / 2 - 1; // arms 4 px wide when small, 6 px when large
      return Math.abs(dx) <= half || Math.abs(dy) <= half;
    }
  }
}

export function positionWord(box: Box): string {
  const cx = (box[0] + box[2]) / 2;
  const cy = (box[1] + box[3]) / 2;
  const col = cx < 1 / 3 ? 'left' : cx < 2 / 3 ? 'center' : 'right';
  const row = cy < 1 / 3 ? 'top' : cy < 2 / 3 ? 'middle' : 'bottom';
  if (row === 'middle') return col === 'center' ? 'center' : col;
  return col === 'center' ? row : `${row} ${col}`;
}

function positionPhrase(position: string): string {
  if (position === 'center') return 'in the center';
  if (position === 'left' || position === 'right') return `on the ${position}`;
  return `at the ${position}`;
}

export function describe(o: ShapeSpec & { position: string }): string {
  return `a ${o.size} ${o.colour} ${o.shape} ${positionPhrase(o.position)}`;
}

/** The caption: one phrase per object, joined with "and". */
export function caption(objects: ShapeObject[]): string {
  return objects.map(describe).join(' and ');
}

function checkSpec(o: ShapeSpec): void {
  if (!(SHAPE_KINDS as readonly string[]).includes(o.shape))
    throw new Error(`unknown shape '${o.shape}': use one of ${SHAPE_KINDS.join(', ')}`);
  if (!(o.colour in SHAPE_COLOURS))
    throw new Error(`unknown colour '${o.colour}': use one of ${COLOUR_NAMES.join(', ')}`);
  if (!(o.size in SHAPE_SIZES))
    throw new Error(`unknown size '${o.size}': use one of ${Object.keys(SHAPE_SIZES).join(', ')}`);
  const s = SHAPE_SIZES[o.size];
  if (
    !Number.isInteger(o.x) ||
    !Number.isInteger(o.y) ||
    o.x < 0 ||
    o.y < 0 ||
    o.x + s > SHAPES_SIZE ||
    o.y + s > SHAPES_SIZE
  ) {
    throw new Error(`shape cell at (${o.x}, ${o.y}) of ${s} px does not fit a ${SHAPES_SIZE}x${SHAPES_SIZE} image`);
  }
}

/** The exact box of a spec's pixels (its cell), in [0, 1] coordinates. */
export function specBox(o: ShapeSpec): Box {
  const s = SHAPE_SIZES[o.size];
  return [o.x / SHAPES_SIZE, o.y / SHAPES_SIZE, (o.x + s) / SHAPES_SIZE, (o.y + s) / SHAPES_SIZE];
}

/** Draws the given objects (later ones on top) and returns the image with full object records. */
export function renderScene(specs: ShapeSpec[]): ShapesItem {
  const W = SHAPES_SIZE;
  const image = new Uint8Array(W * W * 3);
  const objects: ShapeObject[] = [];
  for (const o of specs) {
    checkSpec(o);
    const s = SHAPE_SIZES[o.size];
    const rgb = SHAPE_COLOURS[o.colour];
    for (let j = 0; j < s; j++) {
      for (let i = 0; i < s; i++) {
        if (!inShape(o.shape, i, j, s)) continue;
        const p = ((o.y + j) * W + (o.x + i)) * 3;
        image[p] = rgb[0];
        image[p + 1] = rgb[1];
        image[p + 2] = rgb[2];
      }
    }
    const box = specBox(o);
    objects.push({ shape: o.shape, colour: o.colour, size: o.size, x: o.x, y: o.y, position: positionWord(box), box });
  }
  return { image, objects, caption: caption(objects) };
}

export interface ShapesOptions {
  /** Fewest and most objects per image (default 1 and 3). */
  minObjects?: number;
  maxObjects?: number;
}

/** An Rng determined by (seed, index) alone. */
export function itemRng(seed: number, index: number): Rng {
  const key = new Rng(seed).nextU32();
  return new Rng((key ^ Math.imul(index + 1, 0x9e3779b1)) >>> 0);
}

/**
 * Item `index` of the data set with this seed. Objects are placed by rejection sampling; if an
 * object finds no free spot in 100 tries (rare: three large ones), the image keeps fewer objects
 * (never fewer than minObjects, which retries the whole scene with the next draw).
 */
export function generateShapes(seed: number, index: number, opts: ShapesOptions = {}): ShapesItem {
  const lo = opts.minObjects ?? 1;
  const hi = opts.maxObjects ?? 3;
  if (!Number.isInteger(lo) || !Number.isInteger(hi) || lo < 1 || hi < lo || hi > 4) {
    throw new Error(`generateShapes: need 1 <= minObjects <= maxObjects <= 4, got ${lo} and ${hi}`);
  }
  if (!Number.isInteger(index) || index < 0)
    throw new Error(`generateShapes: index must be a non-negative integer, got ${index}`);
  const rng = itemRng(seed, index);
  for (;;) {
    const want = lo + rng.int(hi - lo + 1);
    const specs: ShapeSpec[] = [];
    for (let k = 0; k < want; k++) {
      for (let attempt = 0; attempt < 100; attempt++) {
        const size: ShapeSize = rng.uniform() < 0.5 ? 'small' : 'large';
        const s = SHAPE_SIZES[size];
        const spec: ShapeSpec = {
          shape: SHAPE_KINDS[rng.int(SHAPE_KINDS.length)],
          colour: COLOUR_NAMES[rng.int(COLOUR_NAMES.length)],
          size,
          x: rng.int(SHAPES_SIZE - s + 1),
          y: rng.int(SHAPES_SIZE - s + 1),
        };
        if (specs.every((o) => apart(o, spec))) {
          specs.push(spec);
          break;
        }
      }
    }
    if (specs.length >= lo) return renderScene(specs);
  }
}

/** Cells do not overlap and leave at least one background pixel between them. */
function apart(a: ShapeSpec, b: ShapeSpec): boolean {
  const sa = SHAPE_SIZES[a.size];
  const sb = SHAPE_SIZES[b.size];
  return a.x + sa < b.x || b.x + sb < a.x || a.y + sa < b.y || b.y + sb < a.y;
}

export interface ShapesSet extends ImageSet {
  captions: string[];
  objects: ShapeObject[][];
  seed: number;
}

export type ShapesSplit = 'train' | 'test';
/** Default seeds and sizes of the two splits; different seeds make them disjoint draws. */
export const SHAPES_SPLITS: Record<ShapesSplit, { seed: number; count: number }> = {
  train: { seed: 1, count: 10000 },
  test: { seed: 2, count: 1000 },
};

export interface LoadShapesOptions extends ShapesOptions {
  count?: number;
  seed?: number;
}

/**
 * A whole split as an ImageSet (channels 3). `labels` is the shape of the first object
 * (index into SHAPE_KINDS), for class-conditional lessons; captions and objects hold the rest.
 */
export function loadShapes(split: ShapesSplit, opts: LoadShapesOptions = {}): ShapesSet {
  const def = SHAPES_SPLITS[split];
  if (def === undefined)
    throw new Error(`unknown split '${split}' for shapes: use one of ${Object.keys(SHAPES_SPLITS).join(', ')}`);
  const count = opts.count ?? def.count;
  const seed = opts.seed ?? def.seed;
  if (!Number.isInteger(count) || count < 0)
    throw new Error(`loadShapes: count must be a non-negative integer, got ${count}`);
  const per = SHAPES_SIZE * SHAPES_SIZE * 3;
  const images = new Uint8Array(count * per);
  const labels = new Uint8Array(count);
  const captions: string[] = [];
  const objects: ShapeObject[][] = [];
  for (let i = 0; i < count; i++) {
    const item = generateShapes(seed, i, opts);
    images.set(item.image, i * per);
    labels[i] = SHAPE_KINDS.indexOf(item.objects[0].shape);
    captions.push(item.caption);
    objects.push(item.objects);
  }
  return {
    kind: 'images',
    name: 'shapes',
    split,
    images,
    labels,
    count,
    height: SHAPES_SIZE,
    width: SHAPES_SIZE,
    channels: 3,
    classNames: SHAPE_KINDS.slice(),
    captions,
    objects,
    seed,
  };
}
