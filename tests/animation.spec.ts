// The animated GIFs of lib/course/display/animation.ts: decoded here by a reference GIF reader written
// from the format (every frame, every pixel), and frame 0 also by node-canvas's giflib; plus the bundle.
import { strict as assert } from 'assert';
import { createCanvas, loadImage } from 'canvas';
import { animatedGif, animationBundle, gifLzw } from '../lib/course/display/animation';
import { Rng } from '../lib/core/random';

/** LZW decoding as the GIF spec describes it (codes widen when the table fills its width). */
function lzwDecode(data: Uint8Array, minCodeSize: number, pixels: number): Uint8Array {
  const clear = 1 << minCodeSize;
  const eoi = clear + 1;
  const out: number[] = [];
  let pos = 0;
  let acc = 0;
  let bits = 0;
  let size = minCodeSize + 1;
  let table: number[][] = [];
  const reset = () => {
    table = Array.from({ length: clear + 2 }, (_, i) => [i]);
    size = minCodeSize + 1;
  };
  reset();
  let prev: number[] | null = null;
  for (;;) {
    while (bits < size) {
      assert.ok(pos < data.length, 'LZW data ended without an end code');
      acc |= data[pos++] << bits;
      bits += 8;
    }
    const code = acc & ((1 << size) - 1);
    acc >>>= size;
    bits -= size;
    if (code === clear) {
      reset();
      prev = null;
      continue;
    }
    if (code === eoi) break;
    let entry: number[];
    if (code < table.length) entry = table[code];
    else {
      assert.ok(prev && code === table.length, `bad LZW code ${code}`);
      entry = [...prev, prev[0]];
    }
    out.push(...entry);
    if (prev && table.length < 4096) table.push([...prev, entry[0]]);
    if (table.length === 1 << size && size < 12) size++;
    prev = entry;
  }
  assert.equal(out.length, pixels);
  return Uint8Array.from(out);
}

/** Every frame of a GIF as RGB bytes, with its delay (1/100 s) and the loop extension's presence. */
function decodeGif(buf: Buffer): { w: number; h: number; frames: Uint8Array[]; delays: number[]; loops: boolean } {
  assert.equal(buf.toString('latin1', 0, 6), 'GIF89a');
  const w = buf.readUInt16LE(6);
  const h = buf.readUInt16LE(8);
  const flags = buf[10];
  assert.ok(flags & 0x80, 'global colour table');
  const entries = 1 << ((flags & 7) + 1);
  const palette = buf.subarray(13, 13 + 3 * entries);
  let p = 13 + 3 * entries;
  const frames: Uint8Array[] = [];
  const delays: number[] = [];
  let loops = false;
  for (;;) {
    const b = buf[p++];
    if (b === 0x3b) break;
    if (b === 0x21) {
      const label = buf[p++];
      if (label === 0xf9) delays.push(buf.readUInt16LE(p + 2));
      if (label === 0xff && buf.toString('latin1', p + 1, p + 12) === 'NETSCAPE2.0') loops = true;
      while (buf[p] !== 0) p += buf[p] + 1;
      p++;
      continue;
    }
    assert.equal(b, 0x2c, `unexpected block 0x${b.toString(16)}`);
    assert.deepEqual([buf.readUInt16LE(p + 4), buf.readUInt16LE(p + 6)], [w, h]);
    p += 9;
    const min = buf[p++];
    const chunks: number[] = [];
    while (buf[p] !== 0) {
      chunks.push(...buf.subarray(p + 1, p + 1 + buf[p]));
      p += buf[p] + 1;
    }
    p++;
    const idx = lzwDecode(Uint8Array.from(chunks), min, w * h);
    const rgb = new Uint8Array(w * h * 3);
    idx.forEach((k, i) => rgb.set(palette.subarray(3 * k, 3 * k + 3), 3 * i));
    frames.push(rgb);
  }
  return { w, h, frames, delays, loops };
}

describe('animated GIFs (lib/course/display/animation.ts)', () => {
  it('LZW: round trip through the reference decoder, including table resets (long, varied input)', () => {
    const rng = new Rng(1);
    for (const n of [1, 2, 300, 20000]) {
      const idx = Uint8Array.from({ length: n }, (_, i) => (i % 7 === 0 ? Math.floor(rng.uniform() * 256) : i % 5));
      assert.deepEqual(lzwDecode(gifLzw(idx), 8, n), idx, `n = ${n}`);
    }
  });

  it('a clip of flat colours comes back exactly, every frame, scaled; it loops with the asked delay', async () => {
    const [F, h, w, s] = [4, 6, 5, 3];
    const rgb = new Uint8Array(F * h * w * 3);
    // A red 2x2 square moving right on black, its colour turning blue in the last frame.
    for (let f = 0; f < F; f++)
      for (let y = 2; y < 4; y++)
        for (let x = f; x < f + 2; x++) rgb.set(f === F - 1 ? [0, 0, 255] : [255, 0, 0], ((f * h + y) * w + x) * 3);
    const gif = animatedGif(rgb, F, h, w, s, 200);
    const d = decodeGif(gif);
    assert.deepEqual([d.w, d.h, d.frames.length, d.loops], [w * s, h * s, F, true]);
    assert.deepEqual(d.delays, [20, 20, 20, 40]);
    for (let f = 0; f < F; f++)
      for (let y = 0; y < h * s; y++)
        for (let x = 0; x < w * s; x++)
          for (let c = 0; c < 3; c++)
            assert.equal(
              d.frames[f][(y * w * s + x) * 3 + c],
              rgb[((f * h + Math.floor(y / s)) * w + Math.floor(x / s)) * 3 + c],
              `frame ${f} (${x}, ${y})`,
            );
    // giflib (node-canvas) reads the same file: its first frame, pixel for pixel (a second, independent decoder).
    const img = await loadImage(gif);
    assert.deepEqual([img.width, img.height], [w * s, h * s]);
    const ctx = createCanvas(img.width, img.height).getContext('2d');
    ctx.drawImage(img, 0, 0);
    const rgba = ctx.getImageData(0, 0, img.width, img.height).data;
    assert.deepEqual(
      Array.from(d.frames[0]),
      Array.from(rgba).filter((_, i) => i % 4 !== 3),
    );
  });

  it('giflib reads a long, many-coloured frame (code widening and table resets) as the reference decoder', async () => {
    const rng = new Rng(3);
    const [h, w] = [90, 120];
    const rgb = new Uint8Array(h * w * 3);
    for (let i = 0; i < h * w; i++) rgb.set(i % 3 ? [40, 40, 40] : [0, 0, Math.floor(rng.uniform() * 250)], 3 * i);
    const gif = animatedGif(rgb, 1, h, w);
    const img = await loadImage(gif);
    const ctx = createCanvas(w, h).getContext('2d');
    ctx.drawImage(img, 0, 0);
    const rgba = ctx.getImageData(0, 0, w, h).data;
    assert.deepEqual(decodeGif(gif).frames[0], Uint8Array.from(Array.from(rgba).filter((_, i) => i % 4 !== 3)));
    assert.deepEqual(decodeGif(gif).frames[0], rgb);
  });

  it('more than 256 colours: a 6x6x6 cube, each channel within half a step (26/255)', () => {
    const rng = new Rng(2);
    const rgb = Uint8Array.from({ length: 2 * 8 * 8 * 3 }, () => Math.floor(rng.uniform() * 256));
    const d = decodeGif(animatedGif(rgb, 2, 8, 8));
    const got = Uint8Array.from([...d.frames[0], ...d.frames[1]]);
    const worst = Math.max(...Array.from(rgb, (v, i) => Math.abs(v - got[i])));
    assert.ok(worst <= 26, `worst channel error ${worst}`);
  });

  it('the bundle: one GIF per clip in HTML with escaped captions, a PNG strip, text; bad input is an error', () => {
    const F = 3;
    const clips = new Float32Array(2 * F * 4 * 4 * 3).fill(-1);
    const b = animationBundle(clips, { frames: F, size: 4, labels: ['a <red> circle', 'b'], title: 'T' }, false);
    const html = b['text/html'] as string;
    assert.equal((html.match(/<img src="data:image\/gif;base64,/g) ?? []).length, 2);
    assert.match(html, /a &lt;red&gt; circle/);
    assert.ok((b['image/png'] as Buffer).subarray(1, 4).toString('latin1') === 'PNG');
    assert.equal(b['text/plain'], '[animation: 2 clips of 3 frames "T"]');
    assert.match(animationBundle(clips, { frames: F, size: 4 }, true)['text/html'] as string, /quick mode/);
    assert.throws(() => animationBundle(clips.subarray(1), { frames: F, size: 4 }, false), /not whole clips/);
    assert.throws(() => animationBundle(clips, { frames: F, size: 4, labels: ['x'] }, false), /1 labels for 2/);
    assert.throws(() => animatedGif(new Uint8Array(5), 1, 2, 2), /need 12 bytes/);
  });
});
