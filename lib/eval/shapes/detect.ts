// An exact object detector for the coloured-shapes data (datasets/shapes.ts), used to score generated
// images: which objects (colour, shape, size, position) does an image show, and where (boxes)?
//
// Real images are pure palette colours on black, each object drawn inside its own square cell with at
// least one background column or row between cells, so the steps below recover every object exactly;
// they are chosen so that they degrade gracefully on generated images (noisy colours, soft edges,
// stray pixels):
// 1. Each pixel goes to the nearest of the 8 corners of the RGB cube: black (background) or one of the
//    7 palette colours. Every palette channel is 0 or 255, so "nearest corner" is simply each channel
//    thresholded at half brightness (the same corner in L1, L2 and max distance). A channel exactly at
//    the threshold is off: after a 1-px blur the gap pixel between two objects that share a channel
//    sits exactly there (1/4 from each side), and calling it background keeps the objects apart.
// 2. Connected components per colour, 8-connected. Cells of different objects are >= 2 pixels apart in
//    x or in y, so pixels of two real objects are never 8-neighbours; 8-connectivity keeps a thin part
//    that a generator drew with only diagonal links (a 2-px ring, a triangle's slope) in one piece.
// 3. Components under `minPixels` (default 8; the smallest real object, a small triangle, has 40) are
//    fragments: one touching a large component joins it (a few pixels of a yellow object that came out
//    red or green stay part of it), any other is dropped as noise.
// 4. Box = the component's tight box; size = the canonical side (8 or 14 px) nearest its longer side;
//    shape = the canonical mask (rendered by datasets/shapes.ts itself) with the best IoU against the
//    component's mask cropped to its box and resampled to that side.
import { Box } from '../../../datasets/boxes';
import {
  COLOUR_NAMES,
  SHAPES_SIZE,
  SHAPE_COLOURS,
  SHAPE_KINDS,
  SHAPE_SIZES,
  ShapeColour,
  ShapeKind,
  ShapeSize,
  positionWord,
  renderScene,
} from '../../../datasets/shapes';

const W = SHAPES_SIZE;
const N = W * W;
/** Values of one image: 32 * 32 * 3, HWC. */
export const SHAPES_IMAGE_LENGTH = N * 3;

export interface DetectedObject {
  colour: ShapeColour;
  shape: ShapeKind;
  size: ShapeSize;
  /** Tight box of the object's pixels, [x0, y0, x1, y1] in [0, 1] (x1, y1 exclusive), as datasets/boxes.ts. */
  box: Box;
  /** The 3x3-grid word of the box centre, as in the captions ('top left', 'center', ...). */
  position: string;
  /** Pixels in the object (fragments that joined it included). */
  pixels: number;
  /** IoU of the object's resampled mask with the chosen canonical shape (1 on real data). */
  shapeIoU: number;
  /** shapeIoU minus the runner-up shape's IoU: small means the shape is ambiguous. */
  shapeMargin: number;
  /** Share of the object's pixels whose own nearest colour is the object's colour (1 on real data). */
  colourPurity: number;
}

export interface DetectOptions {
  /**
   * Value range of a Float32Array image: '[-1,1]' (default, what the models produce) or '[0,1]'.
   * A Uint8Array is always 0-255.
   */
  range?: '[-1,1]' | '[0,1]';
  /** A channel counts as on above this brightness, in [0, 1] units (default 0.5: nearest cube corner). */
  threshold?: number;
  /** Components with fewer pixels are fragments: merged into a touching object, else dropped (default 8). */
  minPixels?: number;
}

/** Colour index by the 3 on/off channel bits (r << 2 | g << 1 | b); -1 for black. */
const COLOUR_BY_BITS: number[] = (() => {
  const t = new Array<number>(8).fill(-1);
  COLOUR_NAMES.forEach((name, k) => {
    const [r, g, b] = SHAPE_COLOURS[name];
    t[((r > 127 ? 1 : 0) << 2) | ((g > 127 ? 1 : 0) << 1) | (b > 127 ? 1 : 0)] = k;
  });
  return t;
})();

let canonical: Map<string, Uint8Array> | null = null;

/** The s x s mask of a shape at a size, drawn by datasets/shapes.ts's own renderer (so never out of step). */
export function canonicalMask(shape: ShapeKind, size: ShapeSize): Uint8Array {
  if (canonical === null) {
    canonical = new Map();
    for (const sz of Object.keys(SHAPE_SIZES) as ShapeSize[]) {
      const s = SHAPE_SIZES[sz];
      for (const sh of SHAPE_KINDS) {
        const img = renderScene([{ shape: sh, colour: 'white', size: sz, x: 0, y: 0 }]).image;
        const m = new Uint8Array(s * s);
        for (let j = 0; j < s; j++) for (let i = 0; i < s; i++) m[j * s + i] = img[(j * W + i) * 3] > 0 ? 1 : 0;
        canonical.set(`${sh}/${sz}`, m);
      }
    }
  }
  const m = canonical.get(`${shape}/${size}`);
  if (m === undefined) throw new Error(`canonicalMask: unknown shape '${shape}' or size '${size}'`);
  return m;
}

/** Per-pixel class: -1 background, else index into COLOUR_NAMES. */
function classifyPixels(image: Uint8Array | Float32Array, opts: DetectOptions): Int8Array {
  if (!(image instanceof Uint8Array) && !(image instanceof Float32Array)) {
    throw new Error('detectObjects: image must be a Uint8Array (0-255) or a Float32Array');
  }
  if (image.length !== SHAPES_IMAGE_LENGTH) {
    throw new Error(
      `detectObjects: image must hold ${W}x${W}x3 = ${SHAPES_IMAGE_LENGTH} values (HWC), got ${image.length}`,
    );
  }
  const threshold = opts.threshold ?? 0.5;
  if (!(threshold > 0 && threshold < 1))
    throw new Error(`detectObjects: threshold must be in (0, 1), got ${threshold}`);
  const range = opts.range ?? '[-1,1]';
  if (range !== '[-1,1]' && range !== '[0,1]')
    throw new Error(`detectObjects: range must be '[-1,1]' or '[0,1]', got '${range}'`);
  // The threshold in the image's own units.
  let t: number;
  if (image instanceof Uint8Array) t = threshold * 255;
  else t = range === '[-1,1]' ? threshold * 2 - 1 : threshold;
  const cls = new Int8Array(N);
  for (let p = 0; p < N; p++) {
    const r = image[3 * p],
      g = image[3 * p + 1],
      b = image[3 * p + 2];
    if (Number.isNaN(r) || Number.isNaN(g) || Number.isNaN(b))
      throw new Error(`detectObjects: image has NaN at pixel (${p % W}, ${Math.floor(p / W)})`);
    cls[p] = COLOUR_BY_BITS[((r > t ? 1 : 0) << 2) | ((g > t ? 1 : 0) << 1) | (b > t ? 1 : 0)];
  }
  return cls;
}

/** 8-connected components of equal class; returns the component id per pixel (-1 background) and the count. */
function components(cls: Int8Array): { comp: Int32Array; count: number } {
  const comp = new Int32Array(N).fill(-1);
  const stack = new Int32Array(N);
  let count = 0;
  for (let start = 0; start < N; start++) {
    if (cls[start] < 0 || comp[start] >= 0) continue;
    const c = cls[start];
    comp[start] = count;
    let top = 0;
    stack[top++] = start;
    while (top > 0) {
      const p = stack[--top];
      const x = p % W,
        y = (p - x) / W;
      for (let dy = -1; dy <= 1; dy++) {
        const yy = y + dy;
        if (yy < 0 || yy >= W) continue;
        for (let dx = -1; dx <= 1; dx++) {
          const xx = x + dx;
          if (xx < 0 || xx >= W) continue;
          const q = yy * W + xx;
          if (cls[q] === c && comp[q] < 0) {
            comp[q] = count;
            stack[top++] = q;
          }
        }
      }
    }
    count++;
  }
  return { comp, count };
}

/**
 * The objects in one 32x32x3 HWC image (a Uint8Array 0-255, or a Float32Array in [-1, 1] unless
 * opts.range says '[0,1]'), in raster order of their first pixel. Exact on the data set's own images.
 */
export function detectObjects(image: Uint8Array | Float32Array, opts: DetectOptions = {}): DetectedObject[] {
  const minPixels = opts.minPixels ?? 8;
  if (!Number.isInteger(minPixels) || minPixels < 1)
    throw new Error(`detectObjects: minPixels must be a positive integer, got ${minPixels}`);
  const cls = classifyPixels(image, opts);
  const { comp, count } = components(cls);
  const size = new Int32Array(count);
  for (let p = 0; p < N; p++) if (comp[p] >= 0) size[comp[p]]++;

  // Fragments join the largest large component they touch (8-neighbours), else vanish.
  const owner = new Int32Array(count);
  for (let k = 0; k < count; k++) owner[k] = size[k] >= minPixels ? k : -1;
  for (let p = 0; p < N; p++) {
    const k = comp[p];
    if (k < 0 || size[k] >= minPixels) continue;
    const x = p % W,
      y = (p - x) / W;
    for (let dy = -1; dy <= 1; dy++) {
      for (let dx = -1; dx <= 1; dx++) {
        const xx = x + dx,
          yy = y + dy;
        if (xx < 0 || yy < 0 || xx >= W || yy >= W) continue;
        const o = comp[yy * W + xx];
        if (o >= 0 && size[o] >= minPixels && (owner[k] < 0 || size[o] > size[owner[k]])) owner[k] = o;
      }
    }
  }

  const out: DetectedObject[] = [];
  for (let k = 0; k < count; k++) {
    if (size[k] < minPixels) continue;
    let x0 = W,
      y0 = W,
      x1 = -1,
      y1 = -1,
      pixels = 0,
      pure = 0;
    const inObj = new Uint8Array(N);
    for (let p = 0; p < N; p++) {
      if (comp[p] < 0 || owner[comp[p]] !== k) continue;
      inObj[p] = 1;
      pixels++;
      if (comp[p] === k) pure++;
      const x = p % W,
        y = (p - x) / W;
      if (x < x0) x0 = x;
      if (x > x1) x1 = x;
      if (y < y0) y0 = y;
      if (y > y1) y1 = y;
    }
    const w = x1 - x0 + 1,
      h = y1 - y0 + 1;
    const side = Math.max(w, h);
    // Nearest canonical side; a tie (11 px) goes to the first listed size (small).
    let objSize: ShapeSize = 'small';
    let best = Infinity;
    for (const sz of Object.keys(SHAPE_SIZES) as ShapeSize[]) {
      const d = Math.abs(SHAPE_SIZES[sz] - side);
      if (d < best) {
        best = d;
        objSize = sz;
      }
    }
    const s = SHAPE_SIZES[objSize];
    // Nearest-neighbour resampling of the box to s x s (the identity when the box is already s x s).
    const m = new Uint8Array(s * s);
    for (let j = 0; j < s; j++) {
      const y = y0 + Math.floor(((j + 0.5) * h) / s);
      for (let i = 0; i < s; i++) m[j * s + i] = inObj[y * W + x0 + Math.floor(((i + 0.5) * w) / s)];
    }
    let shape: ShapeKind = SHAPE_KINDS[0];
    let iou1 = -1,
      iou2 = -1;
    for (const sh of SHAPE_KINDS) {
      const iou = maskIoU(m, canonicalMask(sh, objSize));
      if (iou > iou1) {
        iou2 = iou1;
        iou1 = iou;
        shape = sh;
      } else if (iou > iou2) iou2 = iou;
    }
    const box: Box = [x0 / W, y0 / W, (x1 + 1) / W, (y1 + 1) / W];
    out.push({
      colour: COLOUR_NAMES[cls[comp.indexOf(k)]],
      shape,
      size: objSize,
      box,
      position: positionWord(box),
      pixels,
      shapeIoU: iou1,
      shapeMargin: iou1 - iou2,
      colourPurity: pure / pixels,
    });
  }
  return out;
}

function maskIoU(a: Uint8Array, b: Uint8Array): number {
  let inter = 0,
    union = 0;
  for (let i = 0; i < a.length; i++) {
    inter += a[i] & b[i];
    union += a[i] | b[i];
  }
  return union > 0 ? inter / union : 0;
}

/** detectObjects on each image of a batch (NHWC, count * 32 * 32 * 3 values; same options). */
export function detectBatch(images: Uint8Array | Float32Array, opts: DetectOptions = {}): DetectedObject[][] {
  if (images.length % SHAPES_IMAGE_LENGTH !== 0) {
    throw new Error(
      `detectBatch: images must hold a whole number of ${W}x${W}x3 images (${SHAPES_IMAGE_LENGTH} values each), got ${images.length} values`,
    );
  }
  const out: DetectedObject[][] = [];
  for (let i = 0; i < images.length / SHAPES_IMAGE_LENGTH; i++) {
    out.push(detectObjects(images.subarray(i * SHAPES_IMAGE_LENGTH, (i + 1) * SHAPES_IMAGE_LENGTH), opts));
  }
  return out;
}
