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
import { plotBundle, showPlot, PLOTLY_MIME } from '../lib/course/display/plot';
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
    const png = imageGridPng({ data: new Float32Array(n * h * w), shape: [n, h, w] }, { cols, scale, padding: pad });
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
    const d = await decode(imageGridPng(x, { cols, scale, padding: pad, range: [-1, 1], background: '#ff0000' }));
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
    const d = await decode(imageGridPng({ data, shape: [1, 2, 2, 3] }, { scale: 5, padding: 0 }));
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
      imageGridPng({ data: new Uint8Array([0, 128, 255, 64]), shape: [1, 2, 2] }, { scale: 1, padding: 0 }),
    );
    assert.deepEqual(
      [0, 1, 2, 3].map((i) => u8.px[i * 4]),
      [0, 128, 255, 64],
    );
    const f = await decode(
      imageGridPng(
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
    const plain = await decode(imageGridPng(base, { cols: 2, scale, padding: pad }));
    const labelled = await decode(
      imageGridPng(base, { cols: 2, scale, padding: pad, labels: ['a', 'b', 'c', 'd'], rowTitles: ['t=0', 't=500'] }),
    );
    assert.ok(labelled.w > plain.w, 'row titles widen the grid');
    assert.ok(labelled.h > plain.h, 'labels heighten the grid');
    // Some dark pixels (text) in the left strip reserved for row titles.
    const strip = labelled.w - plain.w;
    let dark = 0;
    for (let y = 0; y < labelled.h; y++) for (let x = 0; x < strip; x++) if (at(labelled, x, y)[0] < 128) dark++;
    assert.ok(dark > 5, `row titles drew ${dark} dark pixels`);
  });

  it('rejects bad input with a clear message', () => {
    const f =
      (shape: number[], len = shape.reduce((a, b) => a * b, 1)) =>
      () =>
        imageGridPng({ data: new Float32Array(len), shape });
    assert.throws(f([28, 28]), /\[N,H,W\].*batch axis/);
    assert.throws(f([1, 1, 4, 4, 1]), /\[N,H,W\]/);
    assert.throws(f([2, 4, 4, 2]), /1 \(gray\) or 3 \(RGB\) channels, got 2/);
    assert.throws(f([0, 4, 4]), /empty/);
    assert.throws(f([2, 4, 4], 10), /10 values/);
    assert.throws(
      () => imageGridPng({ data: new Float32Array(16), shape: [1, 4, 4] }, { labels: ['a', 'b'] }),
      /2 labels for 1 images/,
    );
    assert.throws(() => imageGridPng({ data: new Float32Array(16), shape: [1, 4, 4] }, { scale: 0 }), /scale/);
    assert.throws(() => imageGridPng(null as never), /tf.Tensor or \{data, shape\}/);
  });

  it('showImages prints one line outside a notebook', () => {
    const logs: string[] = [];
    const orig = console.log;
    console.log = (s: string) => logs.push(s);
    try {
      showImages({ data: new Float32Array(2 * 9), shape: [2, 3, 3] }, { scale: 2, padding: 1 });
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
    const circles = els.filter((e) => e.tag === 'circle');
    assert.deepEqual(
      circles.map((c) => [Number(c.attrib.cx), Number(c.attrib.cy)]),
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
    const b = plotBundle([{ x: new Float32Array([1, 2]), y: [NaN, 3], name: 't' }], {
      title: 'T',
      xaxis: { title: 'step' },
    });
    assert.deepEqual(Object.keys(b).sort(), [PLOTLY_MIME, 'image/svg+xml', 'text/plain'].sort());
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
});

describe('render-figures (real headless chromium)', function () {
  this.timeout(60_000);
  it('writes the plotly figure and the PNG of a notebook as PNG files of the right sizes', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'render-figures-'));
    const inDir = path.join(dir, 'lessons');
    const outDir = path.join(dir, 'figures');
    fs.mkdirSync(inDir);
    const grid = imageGridPng({ data: new Float32Array(3 * 16).fill(1), shape: [3, 4, 4] }, { scale: 3, padding: 1 });
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
