// Numbers and text from flags and users (issue 24, class 5): integer flags accept safe integers only,
// --seed lies in its documented range [0, 2^31 - 1] (never reduced modulo 2^32), --clip is >= 0,
// thread counts above the cores are capped with a note; the train scripts refuse before loading
// anything. (Captions with no known word: tests/nonfinite.spec.ts; JSON metadata: below.)
import { strict as assert } from 'assert';
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { jsonField, readJsonFile } from '../lib/core/checkpoint/read_file';
import { threadCount } from '../lib/runtime/native/addon';
import { intFlag, walkFlags } from '../scripts/eval_flags';
import { FlagSpec, intValue, parseFlags, SEED_MAX, usageText, UsageError } from '../scripts/flags';
import { tempDir } from './helpers/training';

const ROOT = path.resolve(__dirname, '..');
const TSX = path.join(ROOT, 'node_modules', '.bin', 'tsx');

const SPEC = {
  steps: { kind: 'int', default: 10, help: 'steps' },
  seed: { kind: 'int', default: 0, help: 'seed' },
  lr: { kind: 'num', default: 1e-3, help: 'lr' },
  batch: { kind: 'int', default: 4, help: 'batch', min: 1 },
} satisfies FlagSpec;

const NOT_SAFE = ['1e99', '9007199254740993', '1.5', '', ' ', 'NaN', 'Infinity', '-Infinity', '0.1e1x', 'abc'];

describe('flags', () => {
  it('integer flags accept safe integers only', () => {
    for (const v of NOT_SAFE) {
      assert.throws(() => parseFlags(['--steps', v], SPEC), UsageError, `--steps '${v}'`);
      assert.throws(() => intFlag('--n', v, 1), UsageError, `--n '${v}'`);
    }
    assert.equal(parseFlags(['--steps', '9007199254740991'], SPEC).values.steps, Number.MAX_SAFE_INTEGER);
    assert.equal(parseFlags(['--steps', '1e3'], SPEC).values.steps, 1000);
    assert.throws(() => parseFlags(['--steps'], SPEC), /--steps needs a value/);
    assert.throws(() => parseFlags(['--batch', '0'], SPEC), /--batch must be >= 1, got 0/);
    assert.throws(() => parseFlags(['--lr', 'Infinity'], SPEC), /--lr needs a number/);
  });

  it('--seed outside [0, 2^31 - 1] is an error, not reduced', () => {
    for (const v of ['-1', String(SEED_MAX + 1), '4294967296', '4294967297', '1e10', '-0.5']) {
      assert.throws(() => parseFlags(['--seed', v], SPEC), UsageError, v);
      assert.throws(() => walkFlags(['--seed', v], '05', { n: 10, seed: 0, batch: 1 }, 2, {}), UsageError, v);
    }
    for (const v of ['0', '7', String(SEED_MAX)]) {
      assert.equal(parseFlags(['--seed', v], SPEC).values.seed, Number(v));
      assert.equal(walkFlags(['--seed', v], '05', { n: 10, seed: 0, batch: 1 }, 2, {}).seed, Number(v));
    }
    assert.match(usageText(SPEC), /--seed X .*seed \(0 to 2147483647\)/);
    assert.throws(
      () => intValue('--seed', '-3', 0, SEED_MAX),
      /--seed must be in \[0, 2147483647\], got -3 \(seeds are 0 to 2\^31 - 1\)/,
    );
  });

  it('the train scripts refuse bad numbers in one line before loading anything', () => {
    const cases: [string, string[], RegExp][] = [
      ['train.ts', ['05', '--steps', '1e99'], /train: --steps needs an integer/],
      ['train.ts', ['05', '--seed', '4294967296'], /train: --seed must be in \[0, 2147483647\], got 4294967296/],
      ['train.ts', ['05', '--clip', '-1'], /train: --clip must be >= 0, got -1/],
      ['train.ts', ['05', '--batch', '0'], /train: --batch must be >= 1/],
      ['train.ts', ['05', '--every', '9007199254740993'], /train: --every needs an integer/],
      ['train-sr-inpaint.ts', ['sr3', '--seed', '-1'], /--seed must be in \[0, 2147483647\]/],
      ['train-text.ts', ['10', '--steps', '1e99'], /--steps needs an integer/],
      ['train-classifier.ts', ['--seed', '1e99'], /--seed needs an integer/],
      // Once a five-epoch training with the defaults, overwriting the shipped classifier.
      ['train-classifier.ts', ['--epochs'], /--epochs needs a value/],
      ['train-classifier.ts', ['--epoch', '2'], /unknown argument '--epoch'/],
    ];
    for (const [script, args, expected] of cases) {
      const r = spawnSync(TSX, [path.join(ROOT, 'scripts', script), ...args], {
        cwd: ROOT,
        encoding: 'utf8',
        env: { ...process.env, DIFFUSION_BACKEND: 'cpu' },
        timeout: 60_000,
      });
      assert.notEqual(r.status, 0, `${script} ${args.join(' ')}: ${r.stdout}`);
      assert.match(r.stderr, expected, `${script} ${args.join(' ')}`);
      assert.doesNotMatch(r.stdout + r.stderr, /backend|parameters,/i, 'got as far as starting');
    }
  });

  it('DIFFUSION_THREADS above the cores is capped with a note', () => {
    const cores = typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length;
    const saved = process.env.DIFFUSION_THREADS;
    const warn = console.warn;
    const notes: string[] = [];
    console.warn = (...a: unknown[]) => void notes.push(a.join(' '));
    try {
      process.env.DIFFUSION_THREADS = String(cores + 100);
      assert.equal(threadCount(), cores);
      assert.equal(threadCount(), cores);
      process.env.DIFFUSION_THREADS = '1';
      assert.equal(threadCount(), 1);
    } finally {
      console.warn = warn;
      if (saved === undefined) delete process.env.DIFFUSION_THREADS;
      else process.env.DIFFUSION_THREADS = saved;
    }
    assert.deepEqual(notes, [`DIFFUSION_THREADS=${cores + 100} is more than the ${cores} cores here; using ${cores}`]);
  });

  it('JSON files: errors name the file, and the key', () => {
    const dir = tempDir('json-flags-');
    try {
      const bad = path.join(dir, 'manifest.json');
      fs.writeFileSync(bad, '{"models": ');
      assert.throws(() => readJsonFile(bad, 'manifest'), new RegExp(`^Error: manifest ${bad}: not valid JSON`));
      fs.mkdirSync(path.join(dir, 'dir.json'));
      assert.throws(() => readJsonFile(path.join(dir, 'dir.json'), 'manifest'), /is a directory, not a regular file/);
      assert.throws(
        () => jsonField(bad, { models: [] }, 'models', 'object'),
        /manifest\.json: key 'models' is \[\], expected an object/,
      );
      assert.throws(
        () => jsonField(bad, {}, 'sha256', 'string'),
        /manifest\.json: key 'sha256' is missing, expected a string/,
      );
      assert.throws(() => jsonField(bad, { n: null }, 'n', 'number'), /key 'n' is null, expected a number/);
      assert.throws(() => jsonField(bad, [1], 'n', 'number'), /manifest\.json: expected a JSON object, got an array/);
      assert.equal(jsonField<string>(bad, { file: 'w' }, 'file', 'string'), 'w');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
