// scripts/run-notebook-tslab.ts (a notebook's cells in order through tslab, without Jupyter: what the GPU
// pack runs lesson 05 with) on small notebooks, and the GPU pack's canvas stand-in (scripts/gpu-canvas-stub.ts).
import { strict as assert } from 'assert';
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import * as zlib from 'zlib';
import { createCanvas, encodePng, parseColor } from '../scripts/gpu-canvas-stub';
import type { NotebookResult } from '../scripts/run-notebook-tslab';

const ROOT = path.join(__dirname, '..');
const TSX = path.join(ROOT, 'node_modules', '.bin', 'tsx');
const SCRIPT = path.join(ROOT, 'scripts', 'run-notebook-tslab.ts');

interface Cell {
  cell_type: string;
  source: string;
  execution_count?: number | null;
  outputs?: Record<string, unknown>[];
}

function notebook(cells: [string, string][]): object {
  return {
    cells: cells.map(([type, source]) =>
      type === 'code'
        ? { cell_type: 'code', source: source, metadata: {}, execution_count: null, outputs: [] }
        : { cell_type: type, source: source, metadata: {} },
    ),
    metadata: { kernelspec: { name: 'diffusion-ts', display_name: 'TypeScript', language: 'typescript' } },
    nbformat: 4,
    nbformat_minor: 5,
  };
}

describe('run-notebook-tslab (notebook cells through tslab, no Jupyter)', function () {
  this.timeout(300_000);
  let dir = '';

  before(() => {
    // Inside the repository, so that the cells' `import ... from 'tslab'` finds its types, as in notebooks/.
    fs.mkdirSync(path.join(ROOT, 'build', 'tmp'), { recursive: true });
    dir = fs.mkdtempSync(path.join(ROOT, 'build', 'tmp', 'run-notebook-'));
  });
  after(() => {
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  function run(name: string, cells: [string, string][]) {
    const nb = path.join(dir, `${name}.ipynb`);
    const out = path.join(dir, 'out', `${name}.ipynb`);
    fs.writeFileSync(nb, JSON.stringify(notebook(cells), null, 1));
    const r = spawnSync(TSX, [SCRIPT, nb, out], { cwd: ROOT, encoding: 'utf8', timeout: 240_000 });
    const line = r.stdout
      .split('\n')
      .filter((l) => l.startsWith('NOTEBOOK_RESULT '))
      .pop();
    assert.ok(line, `no NOTEBOOK_RESULT line:\n${r.stdout}\n${r.stderr}`);
    const result = JSON.parse(line.slice('NOTEBOOK_RESULT '.length)) as NotebookResult;
    const executed = fs.existsSync(out) ? (JSON.parse(fs.readFileSync(out, 'utf8')) as { cells: Cell[] }) : null;
    return { r, result, executed };
  }
  const text = (c: Cell) => (c.outputs ?? []).map((o) => String(o.text ?? '')).join('');

  it('runs the code cells in order in one kernel state (top-level await, displays) and writes the outputs', () => {
    const { r, result, executed } = run('ok', [
      ['markdown', '# a title'],
      ['code', "const xs: number[] = [1, 2, 3];\nconsole.log('sum', xs.reduce((a, b) => a + b, 0));"],
      [
        'code',
        "import * as tslab from 'tslab';\n" +
          'const later = await new Promise<number>((res) => setTimeout(() => res(xs.length * 7), 10));\n' +
          "console.log('awaited', later);\ntslab.display.html('<b>bold</b>');",
      ],
    ]);
    assert.equal(r.status, 0, `${r.stdout}\n${r.stderr}`);
    assert.deepEqual(
      { ok: result.ok, failedCell: result.failedCell, cells: result.cells, codeCells: result.codeCells },
      { ok: true, failedCell: -1, cells: 2, codeCells: 2 },
    );
    assert.ok(result.seconds > 0);
    assert.match(r.stdout, /^cell 1 ok [\d.]+ s \(code cell 1 of 2\)$/m);
    assert.match(r.stdout, /^cell 2 ok [\d.]+ s \(code cell 2 of 2\)$/m);
    assert.match(r.stdout, /^run-notebook: ok\.ipynb: 2 code cells in [\d.]+ s/m);
    assert.ok(executed);
    const [md, c1, c2] = executed.cells;
    assert.equal(md.cell_type, 'markdown');
    assert.equal(text(c1), 'sum 6\n');
    assert.equal(c1.execution_count, 1);
    assert.equal(c2.execution_count, 2);
    assert.equal(text(c2), 'awaited 21\n', 'the second cell saw the first one\'s "xs" and awaited its promise');
    const display = (c2.outputs ?? []).find((o) => o.output_type === 'display_data');
    assert.deepEqual(display?.data, { 'text/html': '<b>bold</b>' });
  });

  it('stops at the first failing cell, naming it and its error; later cells stay unexecuted', () => {
    const { r, result, executed } = run('fails', [
      ['code', "console.log('first ran');"],
      ['markdown', 'between'],
      ['code', "console.log('before the throw');\nthrow new Error('boom in the third cell');"],
      ['code', "console.log('never printed');"],
    ]);
    assert.equal(r.status, 1, `${r.stdout}\n${r.stderr}`);
    assert.match(r.stdout, /^cell 2 failed after [\d.]+ s \(code cell 2 of 3\): Error: boom in the third cell$/m);
    assert.match(r.stdout, /FAILED at cell 2/);
    assert.match(r.stderr, /--- cell 2 source:\nconsole\.log\('before the throw'\);/);
    assert.doesNotMatch(r.stdout + r.stderr, /never printed/);
    assert.equal(result.ok, false);
    assert.equal(result.failedCell, 2);
    assert.equal(result.error, 'Error: boom in the third cell');
    assert.ok(executed, 'the executed notebook is written when a cell fails too');
    assert.equal(text(executed.cells[0]), 'first ran\n');
    assert.match(text(executed.cells[2]), /^before the throw\n[^]*\nError: boom in the third cell\n {4}at /);
    assert.equal(executed.cells[3].execution_count, null);
    assert.deepEqual(executed.cells[3].outputs, []);
  });

  it("fails on tslab's type check, as the kernel does, with the diagnostic as the error", () => {
    const { r, result } = run('types', [
      ['code', "const n: number = 'not a number';\nconsole.log('ran anyway', n);"],
      ['code', "console.log('second');"],
    ]);
    assert.equal(r.status, 1, `${r.stdout}\n${r.stderr}`);
    assert.equal(result.failedCell, 0);
    assert.match(result.error ?? '', /^1:\d+ - Type 'string' is not assignable to type 'number'\.$/);
    assert.doesNotMatch(r.stdout, /ran anyway|^second$/m);
  });

  it('exits 2 with a usage line without two arguments, and names an unreadable notebook', () => {
    const usage = spawnSync(TSX, [SCRIPT], { cwd: ROOT, encoding: 'utf8' });
    assert.equal(usage.status, 2);
    assert.match(usage.stderr, /usage: run-notebook-tslab <notebook\.ipynb> <executed\.ipynb>/);
    const bad = path.join(dir, 'bad.ipynb');
    fs.writeFileSync(bad, '{ not json');
    const r = spawnSync(TSX, [SCRIPT, bad, path.join(dir, 'x.ipynb')], { cwd: ROOT, encoding: 'utf8' });
    assert.equal(r.status, 2);
    assert.match(r.stderr, /cannot read .*bad\.ipynb as a notebook/);
  });
});

describe("the GPU pack's canvas stand-in (scripts/gpu-canvas-stub.ts)", () => {
  /** The RGBA pixels of a PNG written by encodePng (filter 0 on every row). */
  function decode(png: Buffer): { w: number; h: number; px: Buffer } {
    assert.deepEqual([...png.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
    const [w, h] = [png.readUInt32BE(16), png.readUInt32BE(20)];
    assert.deepEqual([...png.subarray(24, 26)], [8, 6], '8-bit RGBA');
    const idat: Buffer[] = [];
    for (let o = 8; o < png.length;) {
      const len = png.readUInt32BE(o);
      const type = png.toString('latin1', o + 4, o + 8);
      const crc = png.readUInt32BE(o + 8 + len);
      // zlib.crc32 is Node 20.15+ / 22.2+: an independent check of the stand-in's own CRC where it exists.
      if (typeof zlib.crc32 === 'function') assert.equal(crc, zlib.crc32(png.subarray(o + 4, o + 8 + len)), type);
      if (type === 'IDAT') idat.push(png.subarray(o + 8, o + 8 + len));
      o += 12 + len;
    }
    const raw = zlib.inflateSync(Buffer.concat(idat));
    const px = Buffer.alloc(w * h * 4);
    for (let y = 0; y < h; y++) {
      assert.equal(raw[y * (1 + 4 * w)], 0);
      raw.copy(px, y * 4 * w, y * (1 + 4 * w) + 1, (y + 1) * (1 + 4 * w));
    }
    return { w, h, px };
  }

  it('draws rectangles and image data exactly, clipped to the canvas, into a valid PNG', () => {
    const canvas = createCanvas(5, 4);
    const ctx = canvas.getContext('2d');
    ctx.fillStyle = '#ffffff';
    ctx.fillRect(0, 0, 5, 4);
    const img = ctx.createImageData(2, 2);
    img.data.set([10, 20, 30, 255, 40, 50, 60, 255, 70, 80, 90, 255, 100, 110, 120, 255]);
    ctx.putImageData(img, 4, 3); // only its top-left pixel lands inside
    ctx.fillStyle = '#b00000';
    ctx.fillRect(1, 1, 2, 1);
    ctx.fillText(); // no fonts: nothing
    const { w, h, px } = decode(canvas.toBuffer('image/png'));
    assert.deepEqual([w, h], [5, 4]);
    const at = (x: number, y: number) => [...px.subarray((y * w + x) * 4, (y * w + x) * 4 + 4)];
    assert.deepEqual(at(0, 0), [255, 255, 255, 255]);
    assert.deepEqual(at(1, 1), [176, 0, 0, 255]);
    assert.deepEqual(at(2, 1), [176, 0, 0, 255]);
    assert.deepEqual(at(3, 1), [255, 255, 255, 255]);
    assert.deepEqual(at(4, 3), [10, 20, 30, 255]);
    assert.ok(ctx.measureText('abcd').width > ctx.measureText('ab').width);
    assert.deepEqual(decode(encodePng(1, 1, new Uint8Array([1, 2, 3, 4]))).px.toJSON().data, [1, 2, 3, 4]);
  });

  it('names what it does not support', () => {
    assert.deepEqual(parseColor('#abc'), [0xaa, 0xbb, 0xcc, 255]);
    assert.throws(() => parseColor('rgb(1, 2, 3)'), /colour 'rgb\(1, 2, 3\)' is not supported/);
    assert.throws(() => createCanvas(2, 2).getContext('webgl'), /only '2d'/);
    assert.throws(() => createCanvas(2, 2).toBuffer('image/jpeg'), /only image\/png/);
  });
});
