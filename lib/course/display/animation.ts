// Clips that play: each clip becomes an animated GIF (encoded here: a GIF89a with a looping extension
// and LZW-compressed frames, no dependency) shown in an HTML <img>, its caption under it. A GIF plays
// without JavaScript, so the same output animates in JupyterLab, the classic Notebook, an untrusted
// notebook and exported HTML. The bundle also carries a PNG of every clip's frames side by side (what
// image-only viewers and the figure index show) and one line of text (scripts, tests).
import { inKernel, sendDisplay } from '../../core/kernel_display';
import { lessonMode, QUICK_MODE_NOTE } from '../mode';
import { rawImageGridPng } from './image_grid';
import { escapeXml } from './svg_fallback';

export interface AnimationOptions {
  /** Frames per clip (the clips' data hold n * frames * h * w * 3 values). */
  frames: number;
  /** Frame height and width in pixels (default 32). */
  size?: number;
  /** Value range mapped to black..white (default [-1, 1]: model outputs; [0, 255] for data set bytes). */
  range?: [number, number];
  /** Integer nearest-neighbour upscale of each GIF (default 3). */
  scale?: number;
  /** Time per frame in ms (default 250; GIF counts in hundredths of a second). */
  frameMs?: number;
  /** One caption per clip, shown under it. */
  labels?: string[];
  /** A line above the clips. */
  title?: string;
}

/** Pixel values in `range` -> bytes 0..255 (clamped, rounded). */
function toBytes(data: ArrayLike<number>, range: [number, number]): Uint8Array {
  const [lo, hi] = range;
  if (!(hi > lo)) throw new Error(`animation: range [${range}] must have lo < hi`);
  const out = new Uint8Array(data.length);
  for (let i = 0; i < data.length; i++)
    out[i] = Math.round(((Math.min(hi, Math.max(lo, data[i])) - lo) * 255) / (hi - lo));
  return out;
}

/**
 * A palette of at most 256 colours and each pixel's index: the exact colours when there are at most
 * 256 (the data set's flat shapes), else a 6x6x6 colour cube (model samples; fine at this size).
 */
function palettise(rgb: Uint8Array): { palette: number[]; indices: Uint8Array } {
  const n = rgb.length / 3;
  const indices = new Uint8Array(n);
  const seen = new Map<number, number>();
  const palette: number[] = [];
  for (let p = 0; p < n; p++) {
    const key = (rgb[3 * p] << 16) | (rgb[3 * p + 1] << 8) | rgb[3 * p + 2];
    let k = seen.get(key);
    if (k === undefined) {
      if (palette.length === 256) return colourCube(rgb);
      k = palette.length;
      seen.set(key, k);
      palette.push(key);
    }
    indices[p] = k;
  }
  return { palette, indices };
}

function colourCube(rgb: Uint8Array): { palette: number[]; indices: Uint8Array } {
  const level = (v: number) => Math.round((v * 5) / 255);
  const palette: number[] = [];
  for (let r = 0; r < 6; r++)
    for (let g = 0; g < 6; g++) for (let b = 0; b < 6; b++) palette.push((r * 51 * 65536) | (g * 51 * 256) | (b * 51));
  const indices = new Uint8Array(rgb.length / 3);
  for (let p = 0; p < indices.length; p++)
    indices[p] = level(rgb[3 * p]) * 36 + level(rgb[3 * p + 1]) * 6 + level(rgb[3 * p + 2]);
  return { palette, indices };
}

/** GIF's variable-length LZW (8-bit colour indices, codes of 9..12 bits, a clear code when the table is full). */
export function gifLzw(indices: Uint8Array, minCodeSize = 8): Uint8Array {
  const clear = 1 << minCodeSize;
  const eoi = clear + 1;
  const out: number[] = [];
  let acc = 0;
  let bits = 0;
  const emit = (code: number, size: number) => {
    acc |= code << bits;
    bits += size;
    while (bits >= 8) {
      out.push(acc & 0xff);
      acc >>>= 8;
      bits -= 8;
    }
  };
  let size = minCodeSize + 1;
  let next = eoi + 1;
  let table = new Map<number, number>();
  emit(clear, size);
  if (indices.length > 0) {
    let prefix = indices[0];
    for (let i = 1; i < indices.length; i++) {
      const k = indices[i];
      const key = (prefix << 8) | k;
      const code = table.get(key);
      if (code !== undefined) {
        prefix = code;
        continue;
      }
      emit(prefix, size);
      if (next === 4096) {
        emit(clear, size);
        table = new Map();
        size = minCodeSize + 1;
        next = eoi + 1;
      } else {
        // The decoder widens its codes one entry later than it adds them: widen before adding the entry that
        // would not fit (the timing every GIF encoder uses).
        if (next >= 1 << size) size++;
        table.set(key, next++);
      }
      prefix = k;
    }
    emit(prefix, size);
  }
  emit(eoi, size);
  if (bits > 0) out.push(acc & 0xff);
  return Uint8Array.from(out);
}

/**
 * An animated GIF of `frames` RGB frames (bytes, frame after frame, h x w x 3 each), each pixel drawn
 * scale x scale, looping forever, `frameMs` per frame.
 */
export function animatedGif(rgb: Uint8Array, frames: number, h: number, w: number, scale = 1, frameMs = 250): Buffer {
  if (!Number.isInteger(frames) || frames < 1) throw new Error(`animatedGif: frames must be >= 1, got ${frames}`);
  if (!Number.isInteger(scale) || scale < 1)
    throw new Error(`animatedGif: scale must be an integer >= 1, got ${scale}`);
  if (rgb.length !== frames * h * w * 3)
    throw new Error(`animatedGif: ${frames} frames of ${h}x${w}x3 need ${frames * h * w * 3} bytes, got ${rgb.length}`);
  const H = h * scale;
  const W = w * scale;
  if (W > 65535 || H > 65535) throw new Error(`animatedGif: ${W}x${H} px is too large for a GIF`);
  const { palette, indices } = palettise(rgb);
  const tableBits = Math.max(1, Math.ceil(Math.log2(Math.max(2, palette.length))));
  const parts: number[] = [];
  const u16 = (v: number) => parts.push(v & 0xff, (v >> 8) & 0xff);
  parts.push(...Buffer.from('GIF89a', 'latin1'));
  u16(W);
  u16(H);
  parts.push(0x80 | ((tableBits - 1) << 4) | (tableBits - 1), 0, 0); // global colour table, 2^tableBits entries
  for (let i = 0; i < 1 << tableBits; i++) {
    const c = palette[i] ?? 0;
    parts.push((c >> 16) & 0xff, (c >> 8) & 0xff, c & 0xff);
  }
  // NETSCAPE2.0 application extension: loop forever.
  parts.push(0x21, 0xff, 11, ...Buffer.from('NETSCAPE2.0', 'latin1'), 3, 1, 0, 0, 0);
  const delay = Math.max(2, Math.round(frameMs / 10));
  const frame = new Uint8Array(H * W);
  for (let f = 0; f < frames; f++) {
    // Graphic control extension: the delay; the last frame rests twice as long so the loop reads as a loop.
    parts.push(0x21, 0xf9, 4, 0x04);
    u16(f === frames - 1 ? 2 * delay : delay);
    parts.push(0, 0);
    parts.push(0x2c);
    u16(0);
    u16(0);
    u16(W);
    u16(H);
    parts.push(0);
    const base = f * h * w;
    for (let y = 0; y < H; y++)
      for (let x = 0; x < W; x++) frame[y * W + x] = indices[base + Math.floor(y / scale) * w + Math.floor(x / scale)];
    parts.push(8);
    const lzw = gifLzw(frame, 8);
    for (let i = 0; i < lzw.length; i += 255) {
      const n = Math.min(255, lzw.length - i);
      parts.push(n);
      for (let j = 0; j < n; j++) parts.push(lzw[i + j]);
    }
    parts.push(0);
  }
  parts.push(0x3b);
  return Buffer.from(parts);
}

/** The MIME bundle of `clips` (n clips, frame after frame, HWC RGB): GIFs in HTML, a PNG strip, text. */
export function animationBundle(
  clips: ArrayLike<number>,
  o: AnimationOptions,
  quick: boolean = lessonMode() === 'quick',
): Record<string, string | Buffer> {
  const size = o.size ?? 32;
  const F = o.frames;
  const per = F * size * size * 3;
  if (!Number.isInteger(F) || F < 1) throw new Error(`showAnimation: frames must be a positive integer, got ${F}`);
  if (clips.length === 0 || clips.length % per !== 0)
    throw new Error(`showAnimation: ${clips.length} values are not whole clips of ${F} frames of ${size}x${size}x3`);
  const n = clips.length / per;
  if (o.labels && o.labels.length !== n) throw new Error(`showAnimation: ${o.labels.length} labels for ${n} clips`);
  const bytes = toBytes(clips, o.range ?? [-1, 1]);
  const scale = o.scale ?? 3;
  const side = size * scale;
  const cells: string[] = [];
  for (let i = 0; i < n; i++) {
    const gif = animatedGif(bytes.subarray(i * per, (i + 1) * per), F, size, size, scale, o.frameMs ?? 250);
    const label = o.labels ? escapeXml(o.labels[i]) : `clip ${i}`;
    cells.push(
      `<figure style="margin:4px;width:${Math.max(side, 120)}px;text-align:center">` +
        `<img src="data:image/gif;base64,${gif.toString('base64')}" width="${side}" height="${side}" alt="${label}">` +
        `<figcaption style="font-size:11px;line-height:1.2">${label}</figcaption></figure>`,
    );
  }
  const heads = [o.title ? `<div style="font-weight:bold">${escapeXml(o.title)}</div>` : ''];
  if (quick) heads.push(`<div style="color:#b00000">${QUICK_MODE_NOTE}</div>`);
  const html = `<div>${heads.join('')}<div style="display:flex;flex-wrap:wrap;align-items:flex-start">${cells.join(
    '',
  )}</div></div>`;
  // The static strip: one row per clip, its frames side by side.
  const png = rawImageGridPng(
    { data: bytes, shape: [n * F, size, size, 3] },
    {
      cols: F,
      range: [0, 255],
      scale: 2,
      rowTitles: o.labels,
      title: o.title,
      ...(quick ? { note: QUICK_MODE_NOTE } : {}),
    },
  );
  const text = `[animation: ${n} clip${n === 1 ? '' : 's'} of ${F} frames${o.title ? ` "${o.title}"` : ''}]`;
  return { 'text/html': html, 'image/png': png, 'text/plain': text };
}

/** Shows the clips as animated GIFs in the notebook (outside a notebook: one line of text). */
export function showAnimation(clips: ArrayLike<number>, o: AnimationOptions): void {
  const bundle = animationBundle(clips, o);
  if (!inKernel() || !sendDisplay(bundle)) console.log(bundle['text/plain']);
}
