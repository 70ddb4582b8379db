// Files the loaders are handed (issue 24, class 3): only regular files are read (a directory,
// /dev/zero, a FIFO, a symlink to one of them: one line naming the path, no hang, no endless read);
// a checkpoint's config is checked against its tensor table (names, shapes, total size) before any
// model is built, so a tiny file claiming a huge model is refused with nothing allocated; the data
// cache refuses the same non-files and a file larger than the data set can need; `npm run eval`
// names the flag; `npm run lessons` on something that is not a notebook prints one line.
import { strict as assert } from 'assert';
import { execFileSync, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { readCheckpoint } from '../lib/core/checkpoint/checkpoint';
import { readRegularFile } from '../lib/core/checkpoint/read_file';
import { decodeSafetensors, encodeSafetensors, SafeTensorInput } from '../lib/core/checkpoint/safetensors';
import { loadUNetCheckpoint, saveUNetWeights } from '../lib/core/checkpoint/unet_checkpoint';
import { paramShapes } from '../lib/core/params';
import { referenceUNetConfig, UNetConfigInput } from '../lib/core/unet/config';
import { UNet } from '../lib/core/unet/unet';
import { CacheInvalidError, readCacheFile } from '../datasets/cache';
import { tempDir } from './helpers/training';
import { TINY_UNET } from './helpers/tiny_unet';

const ROOT = path.resolve(__dirname, '..');
const TSX = path.join(ROOT, 'node_modules', '.bin', 'tsx');

const tiny: UNetConfigInput = TINY_UNET;

/** Rewrites a checkpoint's config (metadata) and optionally its tensors. */
function rewrite(
  file: string,
  out: string,
  edit: (config: Record<string, unknown>, tensors: Map<string, SafeTensorInput>) => void,
): void {
  const { tensors, metadata } = decodeSafetensors(fs.readFileSync(file), file);
  const inputs = new Map(
    [...tensors].map(([n, t]) => [
      n,
      { dtype: 'F32' as const, shape: t.shape, data: new Float32Array(new Uint8Array(t.bytes).buffer) },
    ]),
  );
  const config = JSON.parse(metadata.config) as Record<string, unknown>;
  edit(config, inputs);
  fs.writeFileSync(out, encodeSafetensors(inputs, { ...metadata, config: JSON.stringify(config) }));
}

describe('hostile files', function () {
  this.timeout(120_000);
  let dir = '';
  let good = '';
  let fifo = '';
  before(async () => {
    await tf.setBackend('cpu');
    dir = tempDir('hostile-');
    good = path.join(dir, 'good.safetensors');
    const m = new UNet(tiny, { seed: 1 });
    await saveUNetWeights(good, m);
    m.dispose();
    fifo = path.join(dir, 'pipe.safetensors');
    execFileSync('mkfifo', [fifo]);
    fs.mkdirSync(path.join(dir, 'folder.safetensors'));
    fs.symlinkSync('/dev/zero', path.join(dir, 'zero.safetensors'));
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  describe('only regular files are read', () => {
    const cases: [string, () => string, RegExp][] = [
      ['a directory', () => path.join(dir, 'folder.safetensors'), /is a directory, not a regular file/],
      ['/dev/zero', () => '/dev/zero', /is a character device, not a regular file/],
      ['a symlink to /dev/zero', () => path.join(dir, 'zero.safetensors'), /is a character device, not a regular file/],
      ['a FIFO (nobody writing)', () => fifo, /is a FIFO \(named pipe\), not a regular file/],
      ['a missing file', () => path.join(dir, 'nope.safetensors'), /no such file/],
    ];
    for (const [label, file, expected] of cases) {
      it(`${label}: one line naming the path, at once`, () => {
        const t0 = Date.now();
        for (const load of [() => readCheckpoint(file()), () => loadUNetCheckpoint(file())]) {
          assert.throws(
            load,
            (e: Error) => expected.test(e.message) && e.message.includes(file()) && !e.message.includes('\n'),
          );
        }
        assert.ok(Date.now() - t0 < 2000, 'took too long: read from the device?');
      });
    }

    it('reads are bounded by the size the file had when opened', () => {
      assert.equal(readRegularFile(good, 'x').length, fs.statSync(good).size);
      assert.throws(() => readRegularFile(good, 'checkpoint', 100), /is \d+ bytes, more than the 100 expected/);
    });
  });

  describe("the config is checked against the file's tensor table before a model is built", () => {
    const refused = (file: string, expected: RegExp) => {
      const before = tf.memory();
      const t0 = Date.now();
      assert.throws(() => loadUNetCheckpoint(file), expected);
      const after = tf.memory();
      assert.equal(after.numTensors, before.numTensors, 'tensors were allocated');
      assert.equal(after.numBytes, before.numBytes);
      return Date.now() - t0;
    };

    it('a tiny file claiming a huge model is refused at once, with no allocation', () => {
      const huge = path.join(dir, 'huge.safetensors');
      // ~10^13 weights claimed (base 100000 channels): building it would need terabytes.
      rewrite(good, huge, (c) => Object.assign(c, { baseChannels: 100_000, groups: 2 }));
      const heap = process.memoryUsage().rss;
      const ms = refused(
        huge,
        /its config describes a larger model than the file holds \(it has more than \d+ weights\)/,
      );
      assert.ok(ms < 2000, `${ms} ms`);
      assert.ok(process.memoryUsage().rss - heap < 200e6, 'memory grew');
      // The reference UNet (1.6M weights) claimed by the tiny file: refused the same way.
      const ref = path.join(dir, 'ref.safetensors');
      rewrite(good, ref, (c) => {
        for (const k of Object.keys(c)) delete c[k];
        Object.assign(c, referenceUNetConfig());
      });
      refused(ref, /its config describes/);
    });

    it('a config with endlessly many blocks stops the dry build at the size of the file', () => {
      const deep = path.join(dir, 'deep.safetensors');
      rewrite(good, deep, (c) => Object.assign(c, { numResBlocks: 1_000_000 }));
      const ms = refused(
        deep,
        /describes a larger model than the file holds \(it has more than \d+ parameter tensors\)/,
      );
      assert.ok(ms < 5000, `${ms} ms`);
    });

    it('a missing, an extra and a reshaped tensor are each named', () => {
      const names = [...paramShapes(() => new UNet(tiny)).keys()];
      const [a, b] = [names[0], names[names.length - 1]];
      const missing = path.join(dir, 'missing.safetensors');
      rewrite(good, missing, (_, t) => t.delete(b));
      refused(missing, new RegExp(`describes a parameter '${b.replace(/\./g, '\\.')}' .* that the file does not hold`));
      const extra = path.join(dir, 'extra.safetensors');
      rewrite(good, extra, (_, t) => t.set('bonus', { dtype: 'F32', shape: [2], data: new Float32Array(2) }));
      refused(extra, /tensor 'bonus' is not a parameter of the model its config describes/);
      const reshaped = path.join(dir, 'reshaped.safetensors');
      rewrite(good, reshaped, (_, t) => {
        const v = t.get(a)!;
        t.set(a, { ...v, shape: [v.data.length] });
      });
      refused(reshaped, new RegExp(`tensor '${a.replace(/\./g, '\\.')}' has shape \\[\\d+\\], its config describes`));
    });

    it('the dry build records every parameter of a real build, shapes included, and allocates nothing', () => {
      const before = tf.memory().numTensors;
      const shapes = paramShapes(() => new UNet(referenceUNetConfig()));
      assert.equal(tf.memory().numTensors, before);
      const real = new UNet(referenceUNetConfig());
      assert.deepEqual([...shapes.keys()], [...real.params.keys()]);
      for (const [n, v] of real.params) assert.deepEqual(shapes.get(n), v.shape, n);
      real.dispose();
      // and a good file still loads
      loadUNetCheckpoint(good).dispose();
    });
  });

  describe('data cache files', () => {
    const expect = {
      dataset: 'fashion-mnist',
      split: 'test',
      source: 'x',
      recipe: 'y',
      count: 10,
      height: 28,
      width: 28,
      channels: 1,
    };
    for (const [label, file, expected] of [
      [
        'a directory',
        () => path.join(dir, 'folder.safetensors'),
        /data cache path .* is a directory, not a file: move it away/,
      ],
      ['a FIFO', () => fifo, /is a FIFO \(named pipe\), not a file/],
      ['a symlink to /dev/zero', () => path.join(dir, 'zero.safetensors'), /is a character device, not a file/],
    ] as const) {
      it(`${label} where the cache file belongs is named precisely, not read`, () => {
        assert.throws(
          () => readCacheFile(file(), expect),
          (e: Error) => expected.test(e.message) && e.message.includes(file()),
        );
      });
    }
    it('a file larger than the data set can need is corrupt, unread', () => {
      const big = path.join(dir, 'big.bin');
      fs.writeFileSync(big, Buffer.alloc(200_000));
      assert.throws(
        () => readCacheFile(big, expect),
        (e: Error) =>
          e instanceof CacheInvalidError &&
          /size 200000 bytes, more than the \d+ this data set can need/.test(e.message),
      );
      assert.equal(readCacheFile(path.join(dir, 'absent.bin'), expect), null);
    });
  });

  describe('the command lines', () => {
    it('npm run eval -- 05 --checkpoint <a directory | /dev/zero | a FIFO>: one line naming the flag and path', () => {
      for (const f of [path.join(dir, 'folder.safetensors'), '/dev/zero', fifo]) {
        const r = spawnSync(TSX, [path.join(ROOT, 'scripts', 'eval.ts'), '05', '--checkpoint', f, '--n', '2'], {
          cwd: ROOT,
          encoding: 'utf8',
          env: { ...process.env, DIFFUSION_BACKEND: 'cpu' },
          timeout: 120_000,
        });
        assert.equal(r.status, 1, r.stderr);
        const lines = r.stderr.split('\n').filter((l) => l.startsWith('eval:'));
        assert.equal(lines.length, 1, r.stderr);
        assert.match(
          lines[0],
          new RegExp(`^eval: --checkpoint ${f.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}: is .*, not a regular file$`),
        );
      }
    });

    it('npm run lessons on a file that is not a notebook prints one line, no traceback', () => {
      const txt = path.join(dir, 'notes.txt');
      fs.writeFileSync(txt, 'hello');
      const json = path.join(dir, 'other.ipynb');
      fs.writeFileSync(json, '{"a": 1}');
      const bin = path.join(dir, 'bin.ipynb');
      fs.writeFileSync(bin, Buffer.from([0xff, 0xfe, 0x00]));
      for (const f of [txt, json, bin, path.join(dir, 'folder.safetensors'), fifo]) {
        const r = spawnSync('/usr/bin/python3', [path.join(ROOT, 'scripts', 'run_lessons.py'), f], {
          cwd: ROOT,
          encoding: 'utf8',
          env: { ...process.env, LESSON_MODE: 'quick' },
          timeout: 60_000,
        });
        // scripts/setup.sh installs the Jupyter client: without it this check would not run, so it fails.
        assert.doesNotMatch(r.stderr, /Jupyter client missing/, 'run scripts/setup.sh (python3-nbclient)');
        assert.equal(r.status, 2, r.stderr);
        assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
        assert.match(
          r.stderr,
          new RegExp(`^lessons: ${f.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')} is (not a|a directory|not a regular)`),
        );
        assert.doesNotMatch(r.stderr, /Traceback/);
      }
    });
  });
});
