// Image grids, plots and figures as a reader sees them. Independent references: the PNG decoded back by
// node-canvas and its pixels compared with the cell layout computed here from rows, cols, scale and
// padding; the SVG fallback parsed and each mark's position checked against the axis mapping written out
// here (linear and log10); plotly.js itself in headless Chromium for the HTML figures.
import { strict as assert } from 'assert';
import { loadImage, createCanvas } from 'canvas';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { execFileSync } from 'child_process';
import { imageGridPng, showImages } from '../lib/course/display/image_grid';
import { plotToSvg } from '../lib/course/display/svg_fallback';
import {
  plotBundle,
  plotlyLoaderBundle,
  showPlot,
  PLOTLY_MIME,
  MAX_PLOT_WIDTH,
  QUICK_MODE_NOTE,
} from '../lib/course/display/plot';
import { renderFigures } from '../scripts/render-figures';

// Decodes PNG bytes back into RGBA pixels with canvas (an independent decoder path).
async function decode(png: Buffer): Promise<{ w: number; h: number; px: Uint8ClampedArray }> {
  const img = await loadImage(png);
  const c = createCanvas(img.width, img.height);
  const ctx = c.getContext('2d');
  ctx.drawImage(img, 0, 0);
  return { w: img.width, h: img.height, px: ctx.getImageData(0, 0, img.width, img.height).data };
}
const at = (d: { w: number; px: Uint8ClampedArray }, x: number, y: number) =>
  Array.from(d.px.slice((y * d.w + x) * 4, (y * d.w + x) * 4 + 4));

describe('display: image grid', () => {
  before(async () => {
    await tf.setBackend('cpu');
  });

  it('has the size implied by rows, cols, scale and padding', async () => {
    // 7 images of 5x3 in 3 columns -> 3 rows.
    const n = 7,
      h = 5,
      w = 3,
      cols = 3,
      scale = 4,
      pad = 2;
    const png = await imageGridPng(
      { data: new Float32Array(n * h * w), shape: [n, h, w] },
      { cols, scale, padding: pad },
    );
    const d = await decode(png);
    assert.equal(d.w, cols * w * scale + (cols + 1) * pad);
    assert.equal(d.h, 3 * h * scale + 4 * pad);
  });

  it('puts a white image into cell (row 1, col 2) and keeps the others black', async () => {
    // 6 gray images in [-1,1] from a tensor, 3 columns; image 5 = row 1, col 2 is all +1.
    const n = 6,
      s = 4,
      scale = 3,
      pad = 1,
      cols = 3;
    const data = new Float32Array(n * s * s).fill(-1);
    data.fill(1, 5 * s * s, 6 * s * s);
    const x = tf.tensor4d(data, [n, s, s, 1]);
    const d = await decode(await imageGridPng(x, { cols, scale, padding: pad, range: [-1, 1], background: '#ff0000' }));
    x.dispose();
    const cell = s * scale;
    const origin = (r: number, c: number) => [pad + c * (cell + pad), pad + r * (cell + pad)];
    for (let r = 0; r < 2; r++) {
      for (let c = 0; c < 3; c++) {
        const [ox, oy] = origin(r, c);
        const want = r === 1 && c === 2 ? [255, 255, 255, 255] : [0, 0, 0, 255];
        for (const [dx, dy] of [
          [0, 0],
          [cell - 1, 0],
          [0, cell - 1],
          [cell - 1, cell - 1],
          [5, 7],
        ]) {
          assert.deepEqual(at(d, ox + dx, oy + dy), want, `cell (${r},${c}) pixel +${dx},+${dy}`);
        }
      }
    }
    // Padding shows the background colour.
    assert.deepEqual(at(d, 0, 0), [255, 0, 0, 255]);
    assert.deepEqual(at(d, pad + cell, pad + 2), [255, 0, 0, 255]);
  });

  it('maps values through the range, keeps RGB channels and upscales nearest-neighbour', async () => {
    // One 2x2 RGB image in [0,1]: distinct colour per source pixel; scale 5, no padding.
    const data = new Float32Array([1, 0, 0, 0, 1, 0, 0, 0, 1, 0.5, 0.5, 0.5]);
    const d = await decode(await imageGridPng({ data, shape: [1, 2, 2, 3] }, { scale: 5, padding: 0 }));
    assert.equal(d.w, 10);
    assert.equal(d.h, 10);
    const expect = (sx: number, sy: number) => {
      const i = (sy * 2 + sx) * 3;
      return [...Array.from(data.slice(i, i + 3), (v) => Math.round(v * 255)), 255];
    };
    for (let y = 0; y < 10; y++)
      for (let x = 0; x < 10; x++) {
        const got = at(d, x, y);
        const want = expect(Math.floor(x / 5), Math.floor(y / 5));
        got.forEach((v, k) => assert.ok(Math.abs(v - want[k]) <= 1, `pixel ${x},${y}: ${got} vs ${want}`));
      }
  });

  it('reads Uint8Array as 0..255 and clips out-of-range floats', async () => {
    const u8 = await decode(
      await imageGridPng({ data: new Uint8Array([0, 128, 255, 64]), shape: [1, 2, 2] }, { scale: 1, padding: 0 }),
    );
    assert.deepEqual(
      [0, 1, 2, 3].map((i) => u8.px[i * 4]),
      [0, 128, 255, 64],
    );
    const f = await decode(
      await imageGridPng(
        { data: new Float32Array([-3, 0, 0.5, 7]), shape: [1, 2, 2] },
        { scale: 1, padding: 0, range: [0, 1] },
      ),
    );
    assert.deepEqual(
      [0, 1, 2, 3].map((i) => f.px[i * 4]),
      [0, 0, 128, 255],
    );
  });

  it('adds room for labels and row titles and draws text there', async () => {
    const n = 4,
      s = 6,
      scale = 2,
      pad = 2;
    const base = { data: new Float32Array(n * s * s), shape: [n, s, s] };
    const plain = await decode(await imageGridPng(base, { cols: 2, scale, padding: pad }));
    const labelled = await decode(
      await imageGridPng(base, {
        cols: 2,
        scale,
        padding: pad,
        labels: ['a', 'b', 'c', 'd'],
        rowTitles: ['t=0', 't=500'],
      }),
    );
    assert.ok(labelled.w > plain.w, 'row titles widen the grid');
    assert.ok(labelled.h > plain.h, 'labels heighten the grid');
    // Some dark pixels (text) in the left strip reserved for row titles.
    const strip = labelled.w - plain.w;
    let dark = 0;
    for (let y = 0; y < labelled.h; y++) for (let x = 0; x < strip; x++) if (at(labelled, x, y)[0] < 128) dark++;
    assert.ok(dark > 5, `row titles drew ${dark} dark pixels`);
  });

  it('widens columns to their labels instead of cutting them, and draws title and note above the grid', async () => {
    const base = { data: new Float32Array(2 * 4 * 4), shape: [2, 4, 4] };
    const short = await decode(await imageGridPng(base, { scale: 2, padding: 2, labels: ['a', 'b'] }));
    const long = await decode(await imageGridPng(base, { scale: 2, padding: 2, labels: ['a rather long label', 'b'] }));
    // Two columns of (label width + 6) at least: the long label (~110 px at 12 px) fits whole.
    assert.ok(long.w >= 2 * 100, `grid ${long.w} px wide for a label of ~110 px`);
    assert.equal(long.h, short.h);
    const titled = await decode(
      await imageGridPng(base, { scale: 2, padding: 2, title: 'Samples, w = 3', note: 'quick mode' }),
    );
    const plain = await decode(await imageGridPng(base, { scale: 2, padding: 2 }));
    const headH = titled.h - plain.h;
    assert.ok(headH >= 2 * 18, `two caption lines above the grid (${headH} px)`);
    let dark = 0;
    let red = 0;
    for (let y = 0; y < headH; y++)
      for (let x = 0; x < titled.w; x++) {
        const [r, g, b] = at(titled, x, y);
        if (r < 100 && g < 100 && b < 100) dark++;
        if (r > 120 && g < 60 && b < 60) red++;
      }
    assert.ok(dark > 20 && red > 20, `title (${dark} dark px) and red note (${red} px) drawn above the images`);
    // The images moved down by the caption lines: the first image's black cell starts below them.
    assert.deepEqual(at(titled, 2 + 1, headH + 2 + 1).slice(0, 3), [0, 0, 0]);
  });

  it('rejects bad input with a clear message', async () => {
    const f = (shape: number[], len = shape.reduce((a, b) => a * b, 1)) =>
      imageGridPng({ data: new Float32Array(len), shape });
    await assert.rejects(f([28, 28]), /\[N,H,W\].*batch axis/);
    await assert.rejects(f([1, 1, 4, 4, 1]), /\[N,H,W\]/);
    await assert.rejects(f([2, 4, 4, 2]), /1 \(gray\) or 3 \(RGB\) channels, got 2/);
    await assert.rejects(f([0, 4, 4]), /imageGrid: empty batch, shape \[0,4,4\]/);
    await assert.rejects(f([2, 4, 4], 10), /10 values/);
    await assert.rejects(
      imageGridPng({ data: new Float32Array(16), shape: [1, 4, 4] }, { labels: ['a', 'b'] }),
      /2 labels for 1 images/,
    );
    await assert.rejects(
      imageGridPng({ data: new Float32Array(16), shape: [1, 4, 4] }, { scale: 0 }),
      /scale must be an integer >= 1, got 0/,
    );
    await assert.rejects(imageGridPng(null as never), /tf.Tensor or \{data, shape\}/);
  });

  it('showImages prints one line outside a notebook', async () => {
    const logs: string[] = [];
    const orig = console.log;
    console.log = (s: string) => logs.push(s);
    try {
      await showImages({ data: new Float32Array(2 * 9), shape: [2, 3, 3] }, { scale: 2, padding: 1 });
    } finally {
      console.log = orig;
    }
    assert.deepEqual(logs, ['[image grid: 2 images, 15x8 px]']);
  });
});

// Parses XML with Python's ElementTree (a real XML parser, no new npm dependency) and returns every
// element as {tag, attrib, text}; throws on malformed XML.
interface El {
  tag: string;
  attrib: Record<string, string>;
  text: string;
}
function parseXml(xml: string): El[] {
  const python = fs.existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';
  const code = [
    'import sys, json, xml.etree.ElementTree as ET',
    'root = ET.fromstring(sys.stdin.read())',
    'strip = lambda t: t.split("}")[-1]',
    'print(json.dumps([{"tag": strip(e.tag), "attrib": {strip(k): v for k, v in e.attrib.items()}, "text": e.text or ""} for e in root.iter()]))',
  ].join('\n');
  return JSON.parse(execFileSync(python, ['-c', code], { input: xml, encoding: 'utf8' }));
}

// Checks that pixel = a + b * value for every pair, with one (a, b) and b of the given sign.
function assertAffine(values: number[], pixels: number[], sign: 1 | -1, what: string) {
  const i = values.indexOf(Math.min(...values));
  const j = values.indexOf(Math.max(...values));
  const b = (pixels[j] - pixels[i]) / (values[j] - values[i]);
  const a = pixels[i] - b * values[i];
  assert.ok(Math.sign(b) === sign, `${what}: slope ${b} has the wrong sign`);
  values.forEach((v, k) =>
    assert.ok(Math.abs(a + b * v - pixels[k]) < 0.02, `${what}: point ${k} at ${pixels[k]}, want ${a + b * v}`),
  );
}

describe('display: static plot fallback (SVG)', () => {
  it('is well-formed XML with escaped title, axis titles and a legend', () => {
    const svg = plotToSvg(
      [
        { x: [1, 2], y: [3, 4], name: 'a<b' },
        { x: [1, 2], y: [1, 2], name: 'c&d' },
      ],
      {
        title: 'Loss <train> & "val"',
        xaxis: { title: 'step' },
        yaxis: { title: { text: 'loss' } },
        width: 500,
        height: 300,
      },
    );
    const els = parseXml(svg);
    assert.equal(els[0].tag, 'svg');
    assert.equal(els[0].attrib.width, '500');
    assert.equal(els[0].attrib.height, '300');
    const texts = els.filter((e) => e.tag === 'text').map((e) => e.text);
    for (const t of ['Loss <train> & "val"', 'step', 'loss', 'a<b', 'c&d'])
      assert.ok(texts.includes(t), `missing text ${t}`);
  });

  it('draws every scatter point where a linear axis puts it', () => {
    const x = Array.from({ length: 10 }, (_, i) => i * 0.5 - 1);
    const y = x.map((v) => v * v - 2 * v);
    const els = parseXml(plotToSvg([{ x, y, mode: 'lines+markers' }]));
    const line = els.filter((e) => e.tag === 'polyline');
    assert.equal(line.length, 1);
    const pts = line[0].attrib.points
      .trim()
      .split(/\s+/)
      .map((p) => p.split(',').map(Number));
    assert.equal(pts.length, x.length);
    assertAffine(
      x,
      pts.map((p) => p[0]),
      1,
      'x',
    );
    assertAffine(
      y,
      pts.map((p) => p[1]),
      -1,
      'y',
    ); // SVG y grows downwards
    // Markers: one path of zero-length round-capped segments "Mx yh0", one per point.
    const markers = els.filter((e) => e.attrib.class === 'markers');
    assert.equal(markers.length, 1);
    assert.equal(markers[0].attrib['stroke-linecap'], 'round');
    assert.deepEqual(
      [...markers[0].attrib.d.matchAll(/M([-\d.]+) ([-\d.]+)h0/g)].map((m) => [Number(m[1]), Number(m[2])]),
      pts,
    );
  });

  it('uses log10 positions on a log axis and breaks lines at gaps', () => {
    const y = [1, 10, null, 1000, 10000];
    const els = parseXml(plotToSvg([{ y, mode: 'lines' }], { yaxis: { type: 'log' } }));
    const lines = els
      .filter((e) => e.tag === 'polyline')
      .map((e) =>
        e.attrib.points
          .trim()
          .split(/\s+/)
          .map((p) => p.split(',').map(Number)),
      );
    assert.equal(lines.length, 2, 'the null splits the line');
    const pts = [...lines[0], ...lines[1]];
    assertAffine(
      [0, 1, 3, 4],
      pts.map((p) => p[0]),
      1,
      'x = index',
    );
    assertAffine(
      [0, 1, 3, 4],
      pts.map((p) => p[1]),
      -1,
      'y = log10',
    );
  });

  it('draws bars with heights proportional to their values', () => {
    const y = [2, 5, 3];
    const els = parseXml(plotToSvg([{ type: 'bar', x: ['GAN', 'VAE', 'DDPM'], y }]));
    const rects = els.filter((e) => e.tag === 'rect' && e.attrib.fill === '#1f77b4');
    assert.equal(rects.length, 3);
    const heights = rects.map((r) => Number(r.attrib.height));
    const bottoms = rects.map((r) => Number(r.attrib.y) + Number(r.attrib.height));
    heights.forEach((h, i) => assert.ok(Math.abs(h / heights[0] - y[i] / y[0]) < 0.01, `bar ${i} height ${h}`));
    bottoms.forEach((b) => assert.ok(Math.abs(b - bottoms[0]) < 0.02, 'bars share a baseline'));
    const xs = rects.map((r) => Number(r.attrib.x));
    assert.ok(xs[0] < xs[1] && xs[1] < xs[2], 'categories in order');
    const labels = els.filter((e) => e.tag === 'text').map((e) => e.text);
    for (const c of ['GAN', 'VAE', 'DDPM']) assert.ok(labels.includes(c));
  });

  it('embeds heatmap cells as an image whose pixels follow the colour scale (row 0 at the bottom)', async () => {
    const z = [
      [0, 1, 2],
      [3, 4, 5],
    ];
    const els = parseXml(plotToSvg([{ type: 'heatmap', z, colorscale: 'Greys' }]));
    const img = els.find((e) => e.tag === 'image');
    assert.ok(img, 'an <image> element');
    const href = img.attrib.href;
    const d = await decode(Buffer.from(href.slice(href.indexOf(',') + 1), 'base64'));
    assert.equal(d.w, 3);
    assert.equal(d.h, 2);
    for (let r = 0; r < 2; r++)
      for (let c = 0; c < 3; c++) {
        const want = Math.round((255 * z[r][c]) / 5);
        const got = at(d, c, 1 - r)[0];
        assert.ok(Math.abs(got - want) <= 1, `z[${r}][${c}] -> ${got}, want ${want}`);
      }
  });

  it('notes trace types it cannot draw instead of failing', () => {
    const els = parseXml(plotToSvg([{ type: 'scatter3d', x: [1], y: [1] } as never, { y: [1, 2] }]));
    assert.ok(els.some((e) => e.tag === 'text' && /scatter3d not drawn/.test(e.text)));
    assert.throws(() => plotToSvg({} as never), /array of traces/);
  });
});

describe('display: plot bundle', () => {
  it('carries plotly JSON (plain arrays, {text} titles), the SVG fallback and text', () => {
    const b = plotBundle(
      [{ x: new Float32Array([1, 2]), y: [NaN, 3], name: 't' }],
      { title: 'T', xaxis: { title: 'step' } },
      undefined,
      false,
    );
    assert.deepEqual(Object.keys(b).sort(), [PLOTLY_MIME, 'image/svg+xml', 'text/html', 'text/plain'].sort());
    const fig = b[PLOTLY_MIME] as { data: { x: unknown; y: unknown }[]; layout: Record<string, unknown> };
    assert.deepEqual(fig.data[0].x, [1, 2]);
    assert.deepEqual(fig.data[0].y, [null, 3]);
    assert.deepEqual(fig.layout.title, { text: 'T' });
    assert.deepEqual(fig.layout.xaxis, { title: { text: 'step' } });
    assert.deepEqual(JSON.parse(JSON.stringify(fig)), fig);
    assert.equal(parseXml(b['image/svg+xml'] as string)[0].tag, 'svg');
    assert.equal(b['text/plain'], '[plot "T": 1 trace (scatter)]');
    assert.throws(() => plotBundle('nope' as never), /array of traces/);
    assert.throws(() => plotBundle([null as never]), /trace 0 is not an object/);
  });

  it('showPlot prints its text line outside a notebook', () => {
    const logs: string[] = [];
    const orig = console.log;
    console.log = (s: string) => logs.push(s);
    try {
      showPlot([{ type: 'bar', y: [1] }, { y: [2] }]);
    } finally {
      console.log = orig;
    }
    assert.deepEqual(logs, ['[plot: 2 traces (bar, scatter)]']);
  });

  it('passes animation frames to plotly and draws the static first frame in the SVG', () => {
    const frames = [0, 1, 2].map((k) => ({ name: `t${k}`, data: [{ x: [0, 1], y: [k, k + 10] }] }));
    const b = plotBundle([{ x: [0, 1], y: [0, 10] }], { title: 'anim' }, frames, false);
    const fig = b[PLOTLY_MIME] as { frames: { name: string; data: { y: number[] }[] }[] };
    assert.deepEqual(
      fig.frames.map((f) => f.name),
      ['t0', 't1', 't2'],
    );
    assert.deepEqual(fig.frames[2].data[0].y, [2, 12]);
    assert.match(b['text/html'] as string, /"frames":\[\{"name":"t0"/);
    assert.equal(b['text/plain'], '[plot "anim": 1 trace (scatter), 3 frames]');
    // The SVG draws `data` only: its one polyline ends at y = 10 (top of the axis), not at 12.
    const lines = parseXml(b['image/svg+xml'] as string).filter((e) => e.tag === 'polyline');
    assert.equal(lines.length, 1);
    assert.throws(() => plotBundle([], {}, [{ name: 'x' } as never]), /frame 0 needs a data array/);
  });

  it('narrows figures wider than the output area and notes quick mode under the title', () => {
    const wide = plotBundle([{ y: [1, 2] }], { title: 'wide', width: 1000, height: 300 }, undefined, true);
    const layout = (wide[PLOTLY_MIME] as { layout: Record<string, any> }).layout;
    assert.equal(layout.width, MAX_PLOT_WIDTH);
    assert.deepEqual(layout.title, { text: 'wide', subtitle: { text: QUICK_MODE_NOTE, font: { color: '#b00000' } } });
    const svg = parseXml(wide['image/svg+xml'] as string);
    assert.equal(svg[0].attrib.width, String(MAX_PLOT_WIDTH));
    assert.match(svg[0].attrib.style, /max-width:100%/);
    assert.ok(svg.some((e) => e.attrib.class === 'subtitle' && e.text === QUICK_MODE_NOTE));
    // No title: the note becomes the title. Standard mode: no note at all.
    const bare = plotBundle([{ y: [1] }], {}, undefined, true)[PLOTLY_MIME] as { layout: { title: { text: string } } };
    assert.equal(bare.layout.title.text, QUICK_MODE_NOTE);
    const std = plotBundle([{ y: [1] }], { title: 's' }, undefined, false)[PLOTLY_MIME] as { layout: object };
    assert.doesNotMatch(JSON.stringify(std.layout), /quick/);
  });

  it('html: a unique div per figure, the SVG as its image, and data that cannot end the script', () => {
    const name = 'evil </script><script>alert(1)</script>';
    const a = plotBundle([{ y: [1, 2], name }], {}, undefined, false)['text/html'] as string;
    const b = plotBundle([{ y: [1, 2] }], {}, undefined, false)['text/html'] as string;
    const idOf = (h: string) => /<div class="course-plot" id="([^"]+)"/.exec(h)![1];
    assert.notEqual(idOf(a), idOf(b));
    assert.equal((a.match(/<\/script>/g) ?? []).length, 1, 'the trace name did not close the script');
    assert.match(a, /<img src="data:image\/svg\+xml;base64,/);
    // The loader carries plotly.js once, gzipped; figures do not.
    const loader = plotlyLoaderBundle()['text/html'] as string;
    assert.ok(loader.length > 1e6 && loader.length < 2.5e6, `loader ${(loader.length / 1e6).toFixed(2)} MB`);
    assert.ok(a.length < 20_000);
  });
});

describe('display: html figures drawn by plotly.js (real headless chromium)', function () {
  this.timeout(90_000);
  it('the loader defines Plotly once; every figure, animated or not, is drawn into its own div', async () => {
    const chromiumPath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
    if (!fs.existsSync(chromiumPath))
      throw new Error(`chromium not found at ${chromiumPath}: apt-get install chromium`);
    const frames = [0, 1, 2].map((k) => ({ name: `t${k}`, data: [{ x: [0, 1], y: [k, k + 1] }] }));
    const figs = [
      plotBundle([{ y: [1, 2] }, { y: [2, 1] }], { title: 'a', width: 400, height: 300 }, undefined, false),
      plotBundle([{ x: [0, 1], y: [0, 1] }], { title: 'b', width: 400, height: 300 }, frames, false),
    ];
    // As in an exported page: the loader output first, then the figures; a second loader is a no-op.
    const loader = plotlyLoaderBundle()['text/html'] as string;
    const html = `<html><body>${loader}${figs.map((f) => f['text/html']).join('\n')}${loader}</body></html>`;
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'plot-html-'));
    fs.writeFileSync(path.join(dir, 'page.html'), html);
    const { chromium } = await import('playwright-core');
    const browser = await chromium.launch({ executablePath: chromiumPath, headless: true, args: ['--no-sandbox'] });
    try {
      const page = await browser.newPage();
      const errors: string[] = [];
      page.on('pageerror', (e) => errors.push(String(e)));
      await page.goto('file://' + path.join(dir, 'page.html'));
      await page.waitForFunction(() => document.querySelectorAll('.course-plot .main-svg').length >= 2, null, {
        timeout: 60_000,
      });
      const seen = await page.evaluate(() =>
        Array.from(document.querySelectorAll('.course-plot')).map((el) => ({
          drawn: el.getAttribute('data-drawn'),
          traces: el.querySelectorAll('.scatterlayer .trace').length,
          imgs: el.querySelectorAll('img').length,
          frames: ((el as any)._transitionData?._frames ?? []).length,
        })),
      );
      assert.deepEqual(seen, [
        { drawn: '1', traces: 2, imgs: 0, frames: 0 },
        { drawn: '1', traces: 1, imgs: 0, frames: 3 },
      ]);
      assert.deepEqual(errors, []);
    } finally {
      await browser.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('display: SVG fallback ids, legends', () => {
  it('gives every figure its own clipPath id, used by its own traces', () => {
    const ids = [plotToSvg([{ y: [1, 2] }]), plotToSvg([{ y: [3, 4] }])].map((svg) => {
      const els = parseXml(svg);
      const clip = els.find((e) => e.tag === 'clipPath')!.attrib.id;
      assert.equal(els.find((e) => e.attrib.class === 'traces')!.attrib['clip-path'], `url(#${clip})`);
      return clip;
    });
    assert.notEqual(ids[0], ids[1]);
    const grads = [0, 1].map(
      () => parseXml(plotToSvg([{ type: 'heatmap', z: [[1, 2]] }])).find((e) => e.tag === 'linearGradient')!.attrib.id,
    );
    assert.notEqual(grads[0], grads[1]);
  });

  it('lays a horizontal legend out in rows under the plot, inside the figure, names whole', () => {
    const names = ['classifier guidance: accuracy %', 'classifier-free guidance: accuracy %', 'c', 'd'];
    const W = 500;
    const svg = plotToSvg(
      names.map((name, k) => ({ y: [k, k + 1], name })),
      { width: W, height: 400, legend: { orientation: 'h' } },
    );
    const els = parseXml(svg);
    const area = els.find((e) => e.attrib.class === 'plotarea')!.attrib;
    const bottom = Number(area.y) + Number(area.height);
    const texts = els.filter((e) => e.tag === 'text' && names.includes(e.text));
    assert.deepEqual(texts.map((e) => e.text).sort(), [...names].sort());
    for (const t of texts) {
      assert.ok(Number(t.attrib.y) > bottom + 20, `${t.text} under the plot and its tick labels`);
      assert.ok(Number(t.attrib.y) < 400);
      assert.ok(Number(t.attrib.x) + t.text.length * 6.6 <= W, `${t.text} inside the width`);
    }
    // The plot area keeps the full width (no legend column on the right).
    assert.ok(Number(area.width) > W - 64 - 16 - 1);
    assert.ok(new Set(texts.map((t) => t.attrib.y)).size >= 2, 'long names wrap onto a second row');
  });
});

describe('render-figures (real headless chromium)', function () {
  this.timeout(60_000);
  it('writes the plotly figure and the PNG of a notebook as PNG files of the right sizes', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'render-figures-'));
    const inDir = path.join(dir, 'lessons');
    const outDir = path.join(dir, 'figures');
    fs.mkdirSync(inDir);
    const grid = await imageGridPng(
      { data: new Float32Array(3 * 16).fill(1), shape: [3, 4, 4] },
      { scale: 3, padding: 1 },
    );
    const plot = plotBundle([{ type: 'bar', x: ['a', 'b'], y: [1, 3], marker: { color: '#ff0000' } }], {
      width: 420,
      height: 260,
      title: 'bars',
    });
    const nb = {
      nbformat: 4,
      nbformat_minor: 5,
      metadata: {},
      cells: [
        { cell_type: 'markdown', metadata: {}, source: ['# demo'] },
        {
          cell_type: 'code',
          metadata: {},
          execution_count: 1,
          source: [],
          outputs: [
            { output_type: 'stream', name: 'stdout', text: ['hello\n'] },
            { output_type: 'display_data', metadata: {}, data: plot },
          ],
        },
        {
          cell_type: 'code',
          metadata: {},
          execution_count: 2,
          source: [],
          outputs: [
            // nbformat may split base64 text into lines; the script must join them.
            {
              output_type: 'display_data',
              metadata: {},
              data: {
                'image/png': grid
                  .toString('base64')
                  .match(/.{1,76}/g)!
                  .map((l) => l + '\n'),
                'text/plain': ['grid'],
              },
            },
          ],
        },
      ],
    };
    fs.writeFileSync(path.join(inDir, 'demo.ipynb'), JSON.stringify(nb));
    const lines: string[] = [];
    const figs = await renderFigures({ inDir, outDir, log: (l) => lines.push(l) });
    assert.deepEqual(fs.readdirSync(outDir).sort(), ['demo_1_1.png', 'demo_2_0.png']);
    assert.equal(figs.length, 2);
    assert.equal(lines.length, 3);
    assert.match(lines[2], /^2 figures from 1 notebook/);

    const p = await decode(fs.readFileSync(path.join(outDir, 'demo_1_1.png')));
    assert.equal(p.w, 420);
    assert.equal(p.h, 260);
    let red = 0;
    for (let i = 0; i < p.px.length; i += 4) if (p.px[i] > 240 && p.px[i + 1] < 20 && p.px[i + 2] < 20) red++;
    assert.ok(red > 2000, `plotly drew the red bars (${red} red pixels)`);

    const g = await decode(fs.readFileSync(path.join(outDir, 'demo_2_0.png')));
    assert.deepEqual([g.w, g.h], [3 * 12 + 4, 12 + 2]);
    assert.deepEqual(fs.readFileSync(path.join(outDir, 'demo_2_0.png')), grid);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('says how to install chromium when it is missing', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'render-figures-'));
    const nb = {
      nbformat: 4,
      nbformat_minor: 5,
      metadata: {},
      cells: [
        {
          cell_type: 'code',
          metadata: {},
          source: [],
          outputs: [{ output_type: 'display_data', metadata: {}, data: plotBundle([{ y: [1, 2] }]) }],
        },
      ],
    };
    fs.writeFileSync(path.join(dir, 'x.ipynb'), JSON.stringify(nb));
    await assert.rejects(
      renderFigures({
        inDir: dir,
        outDir: path.join(dir, 'out'),
        chromiumPath: '/nonexistent/chromium',
        log: () => {},
      }),
      /install chromium: apt-get install chromium/,
    );
    fs.rmSync(dir, { recursive: true, force: true });
  });
});
