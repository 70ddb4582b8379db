// Scoring generated shapes images against what was asked for: attribute accuracy (colour, shape,
// size, position, object count) for text-to-image lessons, box IoU for layout-to-image (GLIGEN).
import { Box, boxIoU } from '../../../datasets/boxes';
import { ShapeColour, ShapeKind, ShapeSize } from '../../../datasets/shapes';
import { DetectedObject } from './detect';

export { boxIoU };

/** What a caption asks for about one object. */
export interface RequestedObject {
  colour: ShapeColour;
  shape: ShapeKind;
  size: ShapeSize;
  position: string;
}

export const ATTRIBUTES = ['colour', 'shape', 'size', 'position'] as const;
export type Attribute = (typeof ATTRIBUTES)[number];

export interface ObjectMatch {
  requested: RequestedObject;
  /** The detection assigned to it, or null when none was left. */
  detected: DetectedObject | null;
  colour: boolean;
  shape: boolean;
  size: boolean;
  position: boolean;
  /** All four attributes match. */
  all: boolean;
}

export interface AttributeScore {
  objects: ObjectMatch[];
  requestedCount: number;
  detectedCount: number;
  /** As many detections as requested objects. */
  countCorrect: boolean;
}

function matches(r: RequestedObject, d: DetectedObject): number {
  let n = 0;
  for (const a of ATTRIBUTES) if (r[a] === d[a]) n++;
  return n;
}

/**
 * Which attributes of each requested object the image shows. Requested objects and detections are
 * paired one to one greedily: the pair with the most matching attributes first (ties: colour match
 * first, then the earlier requested object, then the earlier detection), until one side runs out.
 * Greedy is not always the best total, but with 1-3 requested objects it rarely differs, and it is
 * cheap however many stray detections an image has.
 */
export function scoreAttributes(requested: RequestedObject[], detected: DetectedObject[]): AttributeScore {
  if (!Array.isArray(requested) || !Array.isArray(detected))
    throw new Error('scoreAttributes: requested and detected must be arrays');
  const pairs: { r: number; d: number; n: number; colour: boolean }[] = [];
  requested.forEach((r, ri) =>
    detected.forEach((d, di) => pairs.push({ r: ri, d: di, n: matches(r, d), colour: r.colour === d.colour })),
  );
  pairs.sort((a, b) => b.n - a.n || Number(b.colour) - Number(a.colour) || a.r - b.r || a.d - b.d);
  const byReq = new Array<number>(requested.length).fill(-1);
  const used = new Set<number>();
  for (const p of pairs) {
    if (byReq[p.r] >= 0 || used.has(p.d)) continue;
    byReq[p.r] = p.d;
    used.add(p.d);
  }
  const objects = requested.map((r, ri): ObjectMatch => {
    const d = byReq[ri] >= 0 ? detected[byReq[ri]] : null;
    const m = {
      requested: r,
      detected: d,
      colour: d !== null && d.colour === r.colour,
      shape: d !== null && d.shape === r.shape,
      size: d !== null && d.size === r.size,
      position: d !== null && d.position === r.position,
      all: false,
    };
    m.all = m.colour && m.shape && m.size && m.position;
    return m;
  });
  return {
    objects,
    requestedCount: requested.length,
    detectedCount: detected.length,
    countCorrect: detected.length === requested.length,
  };
}

export interface AccuracyGroup {
  images: number;
  objects: number;
  /** Per requested object: share whose assigned detection has this attribute right. */
  colour: number;
  shape: number;
  size: number;
  position: number;
  /** Per requested object: all four right. */
  all: number;
  /** Per image: detected count equals requested count. */
  count: number;
  /** Per image: count right and every object fully right. */
  imageCorrect: number;
}

export interface AttributeAccuracy {
  overall: AccuracyGroup;
  /** Captions asking for one object. */
  single: AccuracyGroup;
  /** Captions asking for two or more. */
  multi: AccuracyGroup;
}

function group(records: AttributeScore[]): AccuracyGroup {
  let objects = 0,
    count = 0,
    imageCorrect = 0;
  const hit = { colour: 0, shape: 0, size: 0, position: 0, all: 0 };
  for (const rec of records) {
    for (const o of rec.objects) {
      objects++;
      for (const a of ATTRIBUTES) if (o[a]) hit[a]++;
      if (o.all) hit.all++;
    }
    if (rec.countCorrect) count++;
    if (rec.countCorrect && rec.objects.every((o) => o.all)) imageCorrect++;
  }
  // NaN for an empty group: "no data" must not read as 0% or 100%.
  const perObj = (n: number): number => (objects > 0 ? n / objects : NaN);
  const perImg = (n: number): number => (records.length > 0 ? n / records.length : NaN);
  return {
    images: records.length,
    objects,
    colour: perObj(hit.colour),
    shape: perObj(hit.shape),
    size: perObj(hit.size),
    position: perObj(hit.position),
    all: perObj(hit.all),
    count: perImg(count),
    imageCorrect: perImg(imageCorrect),
  };
}

/** Accuracies over many scored images, overall and split by single- vs multi-object captions. */
export function attributeAccuracy(records: AttributeScore[]): AttributeAccuracy {
  if (!Array.isArray(records))
    throw new Error('attributeAccuracy: records must be an array of scoreAttributes results');
  return {
    overall: group(records),
    single: group(records.filter((r) => r.requestedCount === 1)),
    multi: group(records.filter((r) => r.requestedCount > 1)),
  };
}

/** A requested box: where an object of this colour (and shape, if given) should be. */
export interface RequestedBox {
  colour: ShapeColour;
  shape?: ShapeKind;
  box: Box;
}

export interface GroundingScore {
  /** Per requested box: the best IoU among eligible detections (0 when there is none), and which one. */
  objects: { requested: RequestedBox; iou: number; detected: DetectedObject | null }[];
  meanIoU: number;
  /** Share of requested boxes whose best IoU is >= the threshold. */
  hitRate: number;
  threshold: number;
}

export interface GroundingOptions {
  /** A detection is eligible for a requested box with the same colour (default), or colour and shape. */
  match?: 'colour' | 'colour+shape';
  /** IoU counted as a hit (default 0.5, the usual detection threshold). */
  threshold?: number;
}

/**
 * How well detections land in the requested boxes: for each requested box, the best IoU among the
 * detections of the same colour (optionally also the same shape). Not one to one: two requested boxes
 * may both pick the same detection, so a single large blob over two boxes scores on both.
 */
export function groundingScore(
  requested: RequestedBox[],
  detected: DetectedObject[],
  opts: GroundingOptions = {},
): GroundingScore {
  const match = opts.match ?? 'colour';
  if (match !== 'colour' && match !== 'colour+shape')
    throw new Error(`groundingScore: match must be 'colour' or 'colour+shape', got '${match}'`);
  const threshold = opts.threshold ?? 0.5;
  if (!(threshold > 0 && threshold <= 1))
    throw new Error(`groundingScore: threshold must be in (0, 1], got ${threshold}`);
  const objects = requested.map((r) => {
    if (match === 'colour+shape' && r.shape === undefined)
      throw new Error(
        `groundingScore: match 'colour+shape' needs a shape on every requested box, missing on ${JSON.stringify(r)}`,
      );
    let iou = 0;
    let best: DetectedObject | null = null;
    for (const d of detected) {
      if (d.colour !== r.colour || (match === 'colour+shape' && d.shape !== r.shape)) continue;
      const v = boxIoU(r.box, d.box);
      if (v > iou) {
        iou = v;
        best = d;
      }
    }
    return { requested: r, iou, detected: best };
  });
  const n = objects.length;
  return {
    objects,
    meanIoU: n > 0 ? objects.reduce((s, o) => s + o.iou, 0) / n : NaN,
    hitRate: n > 0 ? objects.filter((o) => o.iou >= threshold).length / n : NaN,
    threshold,
  };
}
