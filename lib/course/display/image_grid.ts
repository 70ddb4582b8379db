// Image grids: a batch of images (tf.Tensor or raw array + shape) drawn side by side with canvas,
// upscaled with nearest-neighbour so 28x28 digits stay crisp, returned as PNG bytes.
import { createCanvas } from 'canvas';
import type { Tensor } from '@tensorflow/tfjs-core';
import { inKernel, sendDisplay } from '../../core/kernel_display';
import { lessonMode, QUICK_MODE_NOTE } from '../mode';

type Pixels = Uint8Array | Uint8ClampedArray | Float32Array | Int32Array | number[];

/** Raw pixels in NHWC order; shape [N,H,W] (gray) or [N,H,W,C] with C = 1 or 3. */
export interface RawImages {
  data: Pixels;
  shape: number[];
}

export type ImageInput = Tensor | RawImages;

export interface ImageGridOptions {
  /** Images per row (default: up to 8, fewer for small batches). */
  cols?: number;
  /** Gap between cells in output pixels (default 2). */
  padding?: number;
  /** Integer nearest-neighbour upscale (default: the smallest that makes a cell at least 56 px). */
  scale?: number;
  /**
   * Value range mapped to black..white. 'auto' (default): [0,255] for integer data, else [-1,1] if
   * any value is negative, else [0,1]. Pass [-1, 1] explicitly for model outputs to avoid surprises.
   */
  range?: 'auto' | [number, number];
  /** One caption per image, drawn under it. */
  labels?: string[];
  /** One title per row, drawn to its left. */
  rowTitles?: string[];
  /** Colour of padding and caption areas (default white). */
  background?: string;
  /** Caption font size in px (default 12). */
  fontSize?: number;
  /** A caption drawn above the grid (part of the image, so it cannot drift away from it). */
  title?: string;
  /** A second, red line above the grid (showImages puts the quick-mode note here). */
  note?: string;
}

interface Batch {
  data: Pixels;
  n: number;
  h: number;
  w: number;
  c: number;
  isInteger: boolean;
}

function isTensor(x: unknown): x is Tensor {
  return typeof x === 'object' && x !== null && typeof (x as Tensor).data === 'function' && 'dtype' in x;
}

// A tensor's pixels are read asynchronously (webgpu under Node has no synchronous read).
async function toBatch(images: ImageInput): Promise<Batch> {
  return checkBatch(images, isTensor(images) ? ((await images.data()) as Pixels) : undefined);
}

/** The batch of `images`; a tensor's pixels come as `tensorPixels` (read by the caller). */
function checkBatch(images: ImageInput, tensorPixels?: Pixels): Batch {
  if (images === null || typeof images !== 'object') {
    throw new Error('imageGrid: expected a tf.Tensor or {data, shape}');
  }
  const shape = images.shape;
  if (!Array.isArray(shape)) throw new Error('imageGrid: input has no shape; pass a tf.Tensor or {data, shape}');
  if (shape.length !== 3 && shape.length !== 4) {
    throw new Error(
      `imageGrid: expected shape [N,H,W] or [N,H,W,C], got [${shape.join(',')}]` +
        (shape.length === 2 ? ' (one image? add a batch axis: x.expandDims(0))' : ''),
    );
  }
  const [n, h, w] = shape;
  const c = shape.length === 4 ? shape[3] : 1;
  if (c !== 1 && c !== 3) throw new Error(`imageGrid: expected 1 (gray) or 3 (RGB) channels, got ${c}`);
  if (n === 0 || h === 0 || w === 0) throw new Error(`imageGrid: empty batch, shape [${shape.join(',')}]`);
  let data: Pixels;
  let isInteger: boolean;
  if (isTensor(images)) {
    if (!tensorPixels) throw new Error('imageGrid: a tensor needs the async imageGridPng / showImages');
    data = tensorPixels;
    isInteger = images.dtype === 'int32' || images.dtype === 'bool';
  } else {
    data = images.data;
    if (data === undefined || typeof data.length !== 'number')
      throw new Error('imageGrid: {data, shape} needs a data array');
    isInteger = data instanceof Uint8Array || data instanceof Uint8ClampedArray || data instanceof Int32Array;
  }
  if (data.length !== n * h * w * c) {
    throw new Error(`imageGrid: data has ${data.length} values but shape [${shape.join(',')}] needs ${n * h * w * c}`);
  }
  return { data, n, h, w, c, isInteger };
}

function valueRange(b: Batch, range: ImageGridOptions['range']): [number, number] {
  if (Array.isArray(range)) {
    if (!(range[1] > range[0])) throw new Error(`imageGrid: range [${range}] must have lo < hi`);
    return range;
  }
  if (range !== undefined && range !== 'auto') throw new Error(`imageGrid: range must be 'auto' or [lo, hi]`);
  if (b.isInteger) return [0, 255];
  for (let i = 0; i < b.data.length; i++) if (b.data[i] < 0) return [-1, 1];
  return [0, 1];
}

/** Draws the images as a grid and returns PNG bytes (a tensor's pixels are read asynchronously). */
export async function imageGridPng(images: ImageInput, opts: ImageGridOptions = {}): Promise<Buffer> {
  return gridPng(await toBatch(images), opts);
}

/** imageGridPng for pixels already in JS arrays ({data, shape}): synchronous, nothing to read. */
export function rawImageGridPng(images: RawImages, opts: ImageGridOptions = {}): Buffer {
  return gridPng(checkBatch(images), opts);
}

function gridPng(b: Batch, opts: ImageGridOptions): Buffer {
  const cols = Math.min(opts.cols ?? Math.min(b.n, 8), b.n);
  if (!Number.isInteger(cols) || cols < 1)
    throw new Error(`imageGrid: cols must be a positive integer, got ${opts.cols}`);
  const rows = Math.ceil(b.n / cols);
  const pad = opts.padding ?? 2;
  if (!Number.isInteger(pad) || pad < 0) throw new Error(`imageGrid: padding must be an integer >= 0, got ${pad}`);
  const scale = opts.scale ?? Math.max(1, Math.ceil(56 / Math.max(b.h, b.w)));
  if (!Number.isInteger(scale) || scale < 1) throw new Error(`imageGrid: scale must be an integer >= 1, got ${scale}`);
  if (opts.labels && opts.labels.length !== b.n) {
    throw new Error(`imageGrid: ${opts.labels.length} labels for ${b.n} images`);
  }
  if (opts.rowTitles && opts.rowTitles.length !== rows) {
    throw new Error(`imageGrid: ${opts.rowTitles.length} row titles for ${rows} rows`);
  }
  const [lo, hi] = valueRange(b, opts.range);
  const fontSize = opts.fontSize ?? 12;
  const font = `${fontSize}px sans-serif`;

  const cellW = b.w * scale;
  const cellH = b.h * scale;
  const labelH = opts.labels ? Math.ceil(fontSize * 1.5) : 0;
  const measure = createCanvas(1, 1).getContext('2d');
  measure.font = font;
  const textW = (t: string) => Math.ceil(measure.measureText(t).width);
  let titleW = 0;
  if (opts.rowTitles) titleW = Math.max(...opts.rowTitles.map(textW)) + 2 * pad + 4;
  // Columns widen to their longest label (labels are never cut); the image sits centred in its column.
  const colW = Math.max(cellW, ...(opts.labels ?? []).map((l) => textW(l) + 6));
  const inset = Math.floor((colW - cellW) / 2);
  const heads = [opts.title, opts.note].filter((t): t is string => !!t);
  const headH = heads.length ? heads.length * Math.ceil(fontSize * 1.5) + pad : 0;
  const width = Math.max(titleW + cols * colW + (cols + 1) * pad, ...heads.map((t) => textW(t) + 2 * pad + 4));
  const height = headH + rows * (cellH + labelH) + (rows + 1) * pad;
  const canvas = createCanvas(width, height);
  const ctx = canvas.getContext('2d');
  ctx.fillStyle = opts.background ?? '#ffffff';
  ctx.fillRect(0, 0, width, height);

  const k = 255 / (hi - lo);
  const toByte = (v: number) => (Math.min(hi, Math.max(lo, v)) - lo) * k; // Uint8Clamped rounds
  const cell = ctx.createImageData(cellW, cellH);
  const px = cell.data;
  for (let i = 0; i < b.n; i++) {
    const base = i * b.h * b.w * b.c;
    for (let y = 0; y < cellH; y++) {
      const sy = Math.floor(y / scale);
      for (let x = 0; x < cellW; x++) {
        const s = base + (sy * b.w + Math.floor(x / scale)) * b.c;
        const o = (y * cellW + x) * 4;
        if (b.c === 1) {
          px[o] = px[o + 1] = px[o + 2] = toByte(b.data[s]);
        } else {
          px[o] = toByte(b.data[s]);
          px[o + 1] = toByte(b.data[s + 1]);
          px[o + 2] = toByte(b.data[s + 2]);
        }
        px[o + 3] = 255;
      }
    }
    const r = Math.floor(i / cols);
    const c = i % cols;
    ctx.putImageData(cell, titleW + pad + c * (colW + pad) + inset, headH + pad + r * (cellH + labelH + pad));
  }

  ctx.font = font;
  ctx.fillStyle = '#000000';
  if (opts.labels) {
    ctx.textAlign = 'center';
    ctx.textBaseline = 'top';
    opts.labels.forEach((label, i) => {
      const r = Math.floor(i / cols);
      const c = i % cols;
      const x = titleW + pad + c * (colW + pad) + colW / 2;
      const y = headH + pad + r * (cellH + labelH + pad) + cellH + 2;
      ctx.fillText(label, x, y);
    });
  }
  if (opts.rowTitles) {
    ctx.textAlign = 'right';
    ctx.textBaseline = 'middle';
    opts.rowTitles.forEach((t, r) => {
      ctx.fillText(t, titleW - pad - 2, headH + pad + r * (cellH + labelH + pad) + cellH / 2);
    });
  }
  ctx.textAlign = 'left';
  ctx.textBaseline = 'top';
  heads.forEach((t, k) => {
    ctx.fillStyle = t === opts.note ? '#b00000' : '#000000';
    ctx.fillText(t, pad + 2, pad + k * Math.ceil(fontSize * 1.5));
  });
  return canvas.toBuffer('image/png');
}

/**
 * Shows the images as a grid in the notebook (image/png); outside a notebook it prints one line
 * describing the grid. Resolves to nothing so a notebook cell does not echo the bytes (use imageGridPng);
 * await it (the pixels of a tensor are read asynchronously).
 */
export async function showImages(images: ImageInput, opts: ImageGridOptions = {}): Promise<void> {
  const quick = lessonMode() === 'quick';
  const png = await imageGridPng(images, quick ? { ...opts, note: opts.note ?? QUICK_MODE_NOTE } : opts);
  const n = images.shape[0];
  const w = png.readUInt32BE(16);
  const h = png.readUInt32BE(20);
  const text = `[image grid: ${n} image${n === 1 ? '' : 's'}, ${w}x${h} px]`;
  if (inKernel()) sendDisplay({ 'image/png': png, 'text/plain': text });
  else console.log(text);
}
