// The GPU pack's stand-in for the `canvas` package (node-canvas links cairo, pango and glib, which a bare GPU
// machine lacks and which would add 4-16 MB to the lesson archive). scripts/gpu-pack.sh bundles this file as
// node_modules/canvas/index.js of the lesson-05 archive, next to the real package's index.d.ts, so tslab
// type-checks lib/course/display against the real API.
//
// It implements only what lib/course/display draws with: fillRect, createImageData/putImageData (the pixels
// of an image grid or a heatmap, copied exactly), measureText (an estimate from the font size) and
// toBuffer('image/png'). fillText draws nothing: there are no fonts, so captions, row titles and labels
// are missing from the pictures of a notebook executed with it (its printed numbers are unaffected).
// Everything else throws, naming what is missing.
import * as zlib from 'zlib';

export const IS_STUB = true;

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

function crc32(buf: Buffer): number {
  let c = 0xffffffff;
  for (const b of buf) c = CRC_TABLE[(c ^ b) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function chunk(type: string, data: Buffer): Buffer {
  const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(body));
  return Buffer.concat([len, body, crc]);
}

/** An 8-bit RGBA PNG of width x height pixels (rgba: 4 bytes per pixel, rows top to bottom). */
export function encodePng(width: number, height: number, rgba: Uint8ClampedArray | Uint8Array): Buffer {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr.set([8, 6, 0, 0, 0], 8); // bit depth 8, colour type 6 (RGBA), deflate, no filter method, no interlace
  const raw = Buffer.alloc(height * (1 + 4 * width)); // each row: filter byte 0 (none), then its pixels
  for (let y = 0; y < height; y++) raw.set(rgba.subarray(y * 4 * width, (y + 1) * 4 * width), y * (1 + 4 * width) + 1);
  const signature = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  return Buffer.concat([
    signature,
    chunk('IHDR', ihdr),
    chunk('IDAT', zlib.deflateSync(raw)),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

const NAMED: Record<string, string> = { white: '#ffffff', black: '#000000', transparent: '#0000' };

/** #rgb, #rgba, #rrggbb, #rrggbbaa and a few names, as [r, g, b, a] bytes. */
export function parseColor(style: string): [number, number, number, number] {
  const s = NAMED[style.trim().toLowerCase()] ?? style.trim();
  const m = /^#([0-9a-f]{3,4}|[0-9a-f]{6}|[0-9a-f]{8})$/i.exec(s);
  if (!m) throw new Error(`canvas stand-in (GPU pack): colour '${style}' is not supported, only #hex and a few names`);
  const h = m[1].length <= 4 ? [...m[1]].map((c) => c + c).join('') : m[1];
  const v = [0, 2, 4, 6].map((i) => (i < h.length ? parseInt(h.slice(i, i + 2), 16) : 255));
  return [v[0], v[1], v[2], v[3]];
}

export class ImageData {
  readonly data: Uint8ClampedArray;
  constructor(
    readonly width: number,
    readonly height: number,
  ) {
    this.data = new Uint8ClampedArray(width * height * 4);
  }
}

export class CanvasRenderingContext2D {
  font = '10px sans-serif';
  fillStyle = '#000000';
  textAlign = 'start';
  textBaseline = 'alphabetic';
  constructor(readonly canvas: Canvas) {}

  fillRect(x: number, y: number, w: number, h: number): void {
    const [r, g, b, a] = parseColor(this.fillStyle);
    const { width, height, pixels } = this.canvas;
    const [x0, y0] = [Math.max(0, Math.round(x)), Math.max(0, Math.round(y))];
    const [x1, y1] = [Math.min(width, Math.round(x + w)), Math.min(height, Math.round(y + h))];
    for (let yy = y0; yy < y1; yy++) {
      for (let xx = x0; xx < x1; xx++) pixels.set([r, g, b, a], (yy * width + xx) * 4);
    }
  }

  createImageData(w: number, h: number): ImageData {
    return new ImageData(w, h);
  }

  putImageData(img: ImageData, dx: number, dy: number): void {
    const { width, height, pixels } = this.canvas;
    const [x0, y0] = [Math.round(dx), Math.round(dy)];
    for (let y = Math.max(0, -y0); y < img.height && y0 + y < height; y++) {
      const from = Math.max(0, -x0);
      const to = Math.min(img.width, width - x0);
      if (to <= from) continue;
      pixels.set(
        img.data.subarray((y * img.width + from) * 4, (y * img.width + to) * 4),
        ((y0 + y) * width + x0 + from) * 4,
      );
    }
  }

  /** An estimate (no fonts here): about 0.55 em per character, so layouts keep roughly their size. */
  measureText(text: string): { width: number } {
    const px = Number(/(\d+(?:\.\d+)?)px/.exec(this.font)?.[1] ?? 10);
    return { width: [...text].length * px * 0.55 };
  }

  /** Draws nothing: the stand-in has no fonts. */
  fillText(): void {}
}

export class Canvas {
  readonly pixels: Uint8ClampedArray; // transparent black, as a new canvas
  constructor(
    readonly width: number,
    readonly height: number,
  ) {
    this.pixels = new Uint8ClampedArray(width * height * 4);
  }

  getContext(kind: string): CanvasRenderingContext2D {
    if (kind !== '2d') throw new Error(`canvas stand-in (GPU pack): getContext('${kind}') is not supported, only '2d'`);
    return new CanvasRenderingContext2D(this);
  }

  toBuffer(mime = 'image/png'): Buffer {
    if (mime !== 'image/png') throw new Error(`canvas stand-in (GPU pack): toBuffer('${mime}'): only image/png`);
    return encodePng(this.width, this.height, this.pixels);
  }
}

export function createCanvas(width: number, height: number): Canvas {
  return new Canvas(Math.max(1, Math.floor(width)), Math.max(1, Math.floor(height)));
}
