// Non-finite numbers never pass silently (issue 24, class 2): a checkpoint holding NaN/Inf is refused
// naming the tensor; a sampler whose model output turns NaN/Inf stops naming the step and the reason,
// with one read per run (not per step); metrics, inpainting and SR inputs refuse NaN/Inf images; UNet
// timesteps must be integers in range; training never writes, keeps or names a non-finite checkpoint;
// a resumed optimizer state is validated; captions with no known word are errors naming the caption.
import { strict as assert } from 'assert';
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { loadParams, NonFiniteWeightsError, readCheckpoint, saveCheckpoint } from '../lib/core/checkpoint/checkpoint';
import { decodeSafetensors, encodeSafetensors } from '../lib/core/checkpoint/safetensors';
import { loadUNetCheckpoint, saveUNetWeights } from '../lib/core/checkpoint/unet_checkpoint';
import { assertFiniteTensor, firstNonFinite } from '../lib/core/finite';
import { Rng } from '../lib/core/random';
import { NonFiniteSampleError } from '../lib/core/samplers/finite_watch';
import { makeSampler, SAMPLER_NAMES } from '../lib/core/samplers/index';
import { DiffusionModel } from '../lib/core/samplers/types';
import { linearSchedule } from '../lib/core/schedule';
import { LossTrainer, TrainingDivergedError, listCheckpoints } from '../lib/core/train/loss_trainer';
import { UNetConfigInput } from '../lib/core/unet/config';
import { UNet } from '../lib/core/unet/unet';
import { featureStats } from '../lib/eval/metrics/fid';
import { kid } from '../lib/eval/metrics/kid';
import { psnr } from '../lib/eval/metrics/psnr';
import { ssim } from '../lib/eval/metrics/ssim';
import { holeMse, validateMask } from '../lib/methods/inpaint/masks';
import { SrModel, superResolve } from '../lib/methods/sr/model';
import { quoteCaption, SPECIAL_TOKENS, Tokenizer } from '../lib/methods/text/tokenizer';
import { snapshot, tempDir } from './helpers/training';
import { TINY_UNET } from './helpers/tiny_unet';

const ROOT = path.resolve(__dirname, '..');

const tiny: UNetConfigInput = TINY_UNET;

/** Overwrites float32 value `index` of tensor `name` in a safetensors file, in place. */
function poison(file: string, name: string, index: number, value: number): void {
  const buf = fs.readFileSync(file);
  const t = decodeSafetensors(buf, file).tensors.get(name);
  if (!t) throw new Error(`poison: no tensor '${name}'`);
  new DataView(t.bytes.buffer, t.bytes.byteOffset, t.bytes.byteLength).setFloat32(4 * index, value, true);
  fs.writeFileSync(file, buf);
}

/** Rewrites one metadata entry of a safetensors file (the tensors as they were). */
function setMetadata(file: string, key: string, value: string): void {
  const { tensors, metadata } = decodeSafetensors(fs.readFileSync(file), file);
  const inputs = new Map(
    [...tensors].map(([n, t]) => [
      n,
      { dtype: 'F32' as const, shape: t.shape, data: new Float32Array(new Uint8Array(t.bytes).buffer) },
    ]),
  );
  fs.writeFileSync(file, encodeSafetensors(inputs, { ...metadata, [key]: value }));
}

describe('non-finite numbers never pass silently', function () {
  this.timeout(120_000);
  let dir = '';
  before(async () => {
    await tf.setBackend('cpu');
    dir = tempDir('nonfinite-');
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  describe('weights', () => {
    for (const [label, value, index] of [
      ['NaN', NaN, 0],
      ['+Infinity', Infinity, 5],
      ['-Infinity', -Infinity, 17],
    ] as const) {
      it(`a checkpoint with ${label} is refused naming the tensor; the model is left as it was`, async () => {
        const src = new UNet(tiny, { seed: 1 });
        const file = path.join(dir, `bad-${index}.safetensors`);
        await saveUNetWeights(file, src);
        const names = [...src.params.keys()];
        // A tensor late in the table: every tensor before it is checked too, and none is assigned.
        const victim = names[names.length - 2];
        poison(file, victim, index, value);
        const before = tf.memory().numTensors;
        assert.throws(
          () => loadUNetCheckpoint(file),
          (e: Error) =>
            e.message.includes(`tensor '${victim}' holds ${value} at index ${index}`) &&
            e.message.includes('refusing to load non-finite weights') &&
            e.message.includes(file),
        );
        assert.equal(tf.memory().numTensors, before, 'the refused model was not released');
        // loadParams into an existing model: nothing assigned (the refusal comes before the first assignment).
        const target = new UNet(tiny, { seed: 2 });
        const was = snapshot(target.params);
        assert.throws(() => loadParams(readCheckpoint(file), target.params), new RegExp(`'${victim}'`));
        const now = snapshot(target.params);
        for (const [n, v] of was) assert.deepEqual(now.get(n), v, `${n} changed`);
        target.dispose();
        src.dispose();
      });
    }

    it('npm run eval -- 05 --checkpoint <a file with a NaN> exits non-zero naming the tensor', async () => {
      const file = path.join(dir, 'eval-nan.safetensors');
      const m = new UNet({ ...tiny, imageSize: 28, attentionResolutions: [] }, { seed: 5 });
      await saveUNetWeights(file, m);
      m.dispose();
      poison(file, 'convIn.weight', 2, NaN);
      const r = spawnSync(
        path.join(ROOT, 'node_modules', '.bin', 'tsx'),
        [path.join(ROOT, 'scripts', 'eval.ts'), '05', '--checkpoint', file, '--n', '2'],
        { cwd: ROOT, encoding: 'utf8', env: { ...process.env, DIFFUSION_BACKEND: 'cpu' }, timeout: 120_000 },
      );
      assert.equal(r.status, 1, r.stdout + r.stderr);
      assert.match(
        r.stderr,
        new RegExp(
          `^eval: checkpoint ${file}: tensor 'convIn\\.weight' holds NaN at index 2 ` +
            '.*refusing to load non-finite weights$',
          'm',
        ),
      );
    });

    it('saving non-finite weights writes nothing (no file, no temporary file)', async () => {
      const m = new UNet(tiny, { seed: 3 });
      const v = [...m.params.values()][3];
      const nanned = tf.fill(v.shape, NaN);
      v.assign(nanned);
      nanned.dispose();
      const file = path.join(dir, 'never.safetensors');
      await assert.rejects(saveUNetWeights(file, m), NonFiniteWeightsError);
      assert.equal(fs.existsSync(file), false);
      assert.deepEqual(
        fs.readdirSync(dir).filter((f) => f.includes('never')),
        [],
      );
      m.dispose();
    });
  });

  describe('sampling', () => {
    const schedule = linearSchedule(1000);
    /** A model whose output is `bad` at network call `badCall`, zeros elsewhere. */
    const model = (badCall: number, bad: number): DiffusionModel & { calls: number } => {
      const m = {
        prediction: 'eps' as const,
        calls: 0,
        predict: (xt: tf.Tensor4D) => {
          const k = m.calls++;
          if (k !== badCall) return tf.zerosLike(xt);
          // One bad pixel is enough (built in JS: 0 * Infinity would make NaN of the rest).
          const v = new Float32Array(xt.size);
          v[5] = bad;
          return tf.tensor4d(v, xt.shape);
        },
      };
      return m;
    };
    for (const name of SAMPLER_NAMES) {
      for (const [bad, reason] of [
        [NaN, 'NaN'],
        [Infinity, 'Infinity'],
        [-Infinity, 'Infinity'],
      ] as const) {
        it(`${name}: a ${bad} output at step 3 stops the run naming step 3, its t and ${reason}`, () => {
          const sampler = makeSampler(name, schedule);
          const plan = sampler.timesteps(8);
          const before = tf.memory().numTensors;
          // The bad step sits in the middle: later steps (NaN everywhere by then) must not hide it.
          const m = model(3, bad);
          assert.throws(
            () => sampler.sample(m, [2, 8, 8, 1], { steps: 8, rng: new Rng(0) }),
            (e: Error) =>
              e instanceof NonFiniteSampleError &&
              e.step === 3 &&
              e.reason === reason &&
              e.message.includes(`step 3 of ${plan.length} (t = ${plan[3]}) holds ${reason}`),
          );
          assert.equal(tf.memory().numTensors, before, 'tensors leaked by the stopped run');
        });
      }
    }

    it('a finite run passes, and the check reads once per run, not once per step', () => {
      const proto = tf.Tensor.prototype as unknown as { dataSync: () => unknown; data: () => unknown };
      const [dataSync, data] = [proto.dataSync, proto.data];
      let reads = 0;
      proto.dataSync = function (this: tf.Tensor) {
        reads++;
        return dataSync.call(this);
      };
      proto.data = function (this: tf.Tensor) {
        reads++;
        return data.call(this);
      };
      try {
        for (const steps of [5, 40]) {
          reads = 0;
          const x = makeSampler('ddim', schedule).sample(model(-1, 0), [2, 8, 8, 1], { steps, rng: new Rng(1) });
          assert.equal(reads, 1, `${steps} steps: ${reads} reads`);
          x.dispose();
        }
      } finally {
        proto.dataSync = dataSync;
        proto.data = data;
      }
    });

    it('NaN starting noise is caught (the first output is NaN)', () => {
      const xT = tf.fill([1, 8, 8, 1], NaN) as tf.Tensor4D;
      const echo: DiffusionModel = { prediction: 'eps', predict: (x) => tf.mul(x, 1) as tf.Tensor4D };
      assert.throws(
        () => makeSampler('ddpm', schedule).sample(echo, [1, 8, 8, 1], { steps: 4, rng: new Rng(0), xT }),
        /step 0 of 4 \(t = \d+\) holds NaN/,
      );
      xT.dispose();
    });
  });

  describe('timesteps', () => {
    it('the UNet refuses NaN, Infinity, fractional, negative and float-tensor timesteps; integers pass', () => {
      const u = new UNet(tiny, { seed: 4 });
      const x = tf.zeros([2, 8, 8, 1]) as tf.Tensor4D;
      for (const t of [
        [0, NaN],
        [Infinity, 1],
        [-Infinity, 1],
        [1.5, 2],
        [3, -1],
      ]) {
        assert.throws(() => u.apply(x, t), /UNet: timestep .* \(index [01]\) is not an integer in >= 0/, `${t}`);
      }
      const tf32 = tf.tensor1d([1, 2], 'float32');
      assert.throws(() => u.apply(x, tf32), /must be int32/);
      const ti = tf.tensor1d([1, 999], 'int32');
      tf.dispose([u.apply(x, ti), u.apply(x, [0, 999])]);
      tf.dispose([x, tf32, ti]);
      u.dispose();
    });

    it('a sampler plan outside [0, T-1] is refused before any network call', () => {
      const sampler = makeSampler('ddim', linearSchedule(50));
      const calls: number[] = [];
      const m: DiffusionModel = {
        prediction: 'eps',
        predict: (x, t) => {
          calls.push(t[0]);
          return tf.zerosLike(x);
        },
      };
      for (const bad of [50, -1, 2.5, NaN]) {
        const broken = Object.create(sampler) as typeof sampler;
        broken.start = (o, p) => ({ ...sampler.start(o, p), timesteps: [bad, 10, 0] });
        assert.throws(
          () => broken.sample(m, [1, 8, 8, 1], { steps: 3, rng: new Rng(0) }),
          /timestep .* is not an integer in \[0, 49\]/,
        );
      }
      assert.deepEqual(calls, []);
    });
  });

  describe('metrics and inputs', () => {
    const good = () => tf.zeros([3, 11, 11, 1]) as tf.Tensor4D;
    const withBad = (v: number, image = 1) =>
      tf.tidy(() => {
        const flat = new Float32Array(3 * 121);
        flat[image * 121 + 7] = v;
        return tf.tensor4d(flat, [3, 11, 11, 1]);
      });
    for (const v of [NaN, Infinity, -Infinity]) {
      it(`PSNR, SSIM, hole MSE, SR and inpainting inputs refuse ${v} (naming the image)`, async () => {
        const [a, b] = [good(), withBad(v)];
        const mask = tf.ones([3, 11, 11, 1]) as tf.Tensor4D;
        await assert.rejects(
          psnr(a, b),
          /psnr: the second images \[3,11,11,1\] holds NaN or Infinity \(first in element 1 of 3\)/,
        );
        await assert.rejects(psnr(b, a), /psnr: the first images/);
        await assert.rejects(ssim(b, a), /ssim: the first images/);
        await assert.rejects(holeMse(b, a, mask), /holeMse \(prediction\): image 1 of 3 holds NaN or Infinity/);
        await assert.rejects(holeMse(a, b, mask), /holeMse: the target/);
        await assert.rejects(validateMask(mask, b, 'RePaint'), /RePaint: image 1 of 3 holds NaN/);
        // superResolve checks before anything runs: the network is never reached (a stand-in here).
        const sr = { task: 'sr-regression', unet: null, spec: { hrSize: 22, lrSizes: [11] } } as unknown as SrModel;
        await assert.rejects(
          superResolve(sr, b),
          /super-resolution: the low-resolution input .* holds NaN or Infinity/,
        );
        tf.dispose([a, b, mask]);
      });
    }

    it('FID statistics and KID refuse non-finite features; finite ones still score', async () => {
      const f = new Float32Array(6 * 4).map((_, i) => Math.sin(i));
      assert.equal((await featureStats({ data: f, n: 6, dim: 4 })).n, 6);
      for (const v of [NaN, Infinity]) {
        const g = Float32Array.from(f);
        g[9] = v;
        await assert.rejects(featureStats({ data: g, n: 6, dim: 4 }), /featureStats: the features holds .* at index 9/);
        const [a, b] = [tf.tensor2d(f, [6, 4]), tf.tensor2d(g, [6, 4])];
        await assert.rejects(kid(a, b, { subsetSize: 6 }), /kid: .*Gram matrix holds/);
        tf.dispose([a, b]);
      }
    });

    it('assertFiniteTensor ignores integer tensors and finds the first bad element; firstNonFinite on arrays', async () => {
      const i = tf.tensor1d([1, 2], 'int32');
      await assertFiniteTensor('x', 'ints', i);
      i.dispose();
      assert.equal(firstNonFinite([0, 1e38, -3]), -1);
      assert.equal(firstNonFinite([0, 1, -Infinity, NaN]), 2);
    });
  });

  describe('training', () => {
    it('a checkpoint is written only when the weights are finite; the last good one is kept and named', async () => {
      const ckDir = path.join(dir, 'diverge');
      const params = new Map([['w', tf.variable(tf.tensor1d([1, 2, 3]), true, 'nonfinite-w')]]);
      const ema = new Map([['w', tf.variable(tf.tensor1d([1, 2, 3]), false, 'nonfinite-ema')]]);
      const trainer = new LossTrainer<number>(params, () => tf.sum(tf.square(params.get('w')!)) as tf.Scalar, {
        totalSteps: 6,
        learningRate: 0.01,
        emaDecay: 0.9,
        emaTarget: ema,
        checkpointDir: ckDir,
        checkpointEvery: 2,
        keepLast: 1,
        progress: false,
      });
      // The loss stays finite while the EMA copy (which the loss never reads) is poisoned at step 3:
      // only the check at the write can see it.
      const err = await trainer
        .train((s) => s, {
          onStep: (r) => {
            if (r.step === 2) {
              const nan = tf.tensor1d([0, NaN, 0]);
              ema.get('w')!.assign(nan);
              nan.dispose();
            }
          },
        })
        .then(
          () => null,
          (e: Error) => e,
        );
      assert.ok(err instanceof TrainingDivergedError, String(err));
      const good = path.join(ckDir, 'step-00000002.safetensors');
      assert.match(err.message, /^Training stopped at step 4: tensor 'ema\/w' holds NaN at index 1/);
      assert.ok(err.message.includes(`The last good checkpoint is ${good} (kept)`), err.message);
      assert.equal(trainer.lastCheckpoint, good);
      // keepLast 1 did not delete the good one for the bad one, and nothing else is there.
      assert.deepEqual(
        listCheckpoints(ckDir).map((c) => c.file),
        [good],
      );
      assert.deepEqual(
        fs.readdirSync(ckDir).filter((f) => f.includes('.tmp-')),
        [],
      );
      trainer.dispose();
      tf.dispose([...params.values(), ...ema.values()]);
    });

    it('resume validates the optimizer state: iteration count, finiteness, second moments >= 0', async () => {
      const ckDir = path.join(dir, 'resume');
      const make = () => {
        const params = new Map([['w', tf.variable(tf.tensor1d([1, -2, 3]), true)]]);
        const tr = new LossTrainer<number>(params, () => tf.sum(tf.square(params.get('w')!)) as tf.Scalar, {
          totalSteps: 4,
          learningRate: 0.01,
          checkpointDir: ckDir,
          checkpointEvery: 2,
          keepLast: 5,
          progress: false,
        });
        return { params, tr };
      };
      const first = make();
      await first.tr.train((s) => s, { stopAt: 2 });
      first.tr.dispose();
      first.params.get('w')!.dispose();
      const file = path.join(ckDir, 'step-00000002.safetensors');
      const pristine = fs.readFileSync(file);
      const cases: [string, () => void, RegExp][] = [
        [
          'iterations not the step',
          () => setMetadata(file, 'adam', JSON.stringify({ ...readCheckpoint(file).adam, iterations: 7 })),
          /Adam's iteration count 7 differs from its step 2/,
        ],
        [
          'fractional iterations',
          () => setMetadata(file, 'adam', JSON.stringify({ ...readCheckpoint(file).adam, iterations: 2.5 })),
          /metadata 'adam' key 'iterations' is 2.5, not an integer >= 0/,
        ],
        [
          'a learning rate that is null (NaN in JSON)',
          () => setMetadata(file, 'adam', JSON.stringify({ ...readCheckpoint(file).adam, learningRate: NaN })),
          /metadata 'adam' key 'learningRate' is null, not a finite number/,
        ],
        [
          'beta1 of 1',
          () => setMetadata(file, 'adam', JSON.stringify({ ...readCheckpoint(file).adam, beta1: 1 })),
          /'beta1' is 1, not in \[0, 1\)/,
        ],
        ['adam JSON broken', () => setMetadata(file, 'adam', '{"iterations": 2,'), /metadata 'adam' is not valid JSON/],
        ['trainer JSON broken', () => setMetadata(file, 'trainer', '[1, 2'), /metadata 'trainer' is not valid JSON/],
        ['a NaN first moment', () => poison(file, 'adam/m/w', 1, NaN), /tensor 'adam\/m\/w' holds NaN at index 1/],
        [
          'an infinite second moment',
          () => poison(file, 'adam/v/w', 0, Infinity),
          /tensor 'adam\/v\/w' holds Infinity/,
        ],
        [
          'a negative second moment',
          () => poison(file, 'adam/v/w', 2, -1),
          /'adam\/v\/w' holds -1 at index 2; Adam's second moments are >= 0/,
        ],
      ];
      for (const [label, spoil, expected] of cases) {
        fs.writeFileSync(file, pristine);
        spoil();
        const { params, tr } = make();
        await assert.rejects(tr.resume(file), expected, label);
        tr.dispose();
        params.get('w')!.dispose();
      }
      fs.writeFileSync(file, pristine);
      const ok = make();
      assert.equal(await ok.tr.resume(file), true);
      assert.equal(ok.tr.step, 2);
      ok.tr.dispose();
      ok.params.get('w')!.dispose();
    });
  });

  describe('captions', () => {
    const tok = Tokenizer.fromCaptions(['a red circle', 'a small blue square on the left'], 12);
    for (const caption of ['🙂🙂', '빨간 원', '!!! ??? ...', '€ ∑ ∞', 'zebra purple', '  \t 🐘 ']) {
      it(`'${caption}' yields no known word: an error naming it, never the empty prompt`, () => {
        assert.throws(
          () => tok.encode(caption),
          (e: Error) => e.message.includes(quoteCaption(caption)) && e.message.includes('it would be the empty prompt'),
        );
        assert.throws(() => tok.encodeBatch(['a red circle', caption]), /has no word this model knows/);
      });
    }
    it("'' is still the empty prompt; one known word among unknown ones passes (with [UNK])", () => {
      assert.equal(tok.encode('').length, 2);
      assert.equal(tok.encode('   ').length, 2);
      assert.deepEqual(tok.encode('a 🙂 purple circle').unknown, ['purple']);
    });
    it('a long caption is quoted cut to one short line in the message', () => {
      const long = '😀'.repeat(500);
      const msg = (() => {
        try {
          tok.encode(long);
          return '';
        } catch (e) {
          return (e as Error).message;
        }
      })();
      assert.ok([...msg].length < 300, `${[...msg].length} characters`);
      assert.ok(msg.includes("…' (500 characters)"), msg);
      assert.equal(quoteCaption('a\nb  c'), "'a b c'");
      assert.equal(SPECIAL_TOKENS.length, 5);
    });
  });
});
