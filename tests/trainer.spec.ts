// The training loop: learning-rate schedule, gradient clipping and EMA against hand-computed
// references; resume gives the same weights as an uninterrupted run; a NaN stops training with the
// step named and the last good checkpoint kept; the tensor count stays flat over a run.
import * as assert from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { readCheckpoint } from '../lib/core/checkpoint/checkpoint';
import { loadUNetCheckpoint } from '../lib/core/checkpoint/unet_checkpoint';
import { Rng } from '../lib/core/random';
import { linearSchedule } from '../lib/core/schedule';
import { BatchSource, imageBatches, tensorBatches } from '../lib/core/train/batch_source';
import { Ema } from '../lib/core/train/ema';
import { clipByGlobalNorm } from '../lib/core/train/grad_clip';
import { learningRateAt } from '../lib/core/train/lr_schedule';
import { mixSeed } from '../lib/core/train/step_seed';
import { listCheckpoints, Trainer, TrainerOptions, TrainingDivergedError } from '../lib/core/train/trainer';
import { UNetConfigInput } from '../lib/core/unet/config';
import { UNet } from '../lib/core/unet/unet';

const tiny: UNetConfigInput = {
  imageSize: 8, inChannels: 1, outChannels: 1, baseChannels: 4, channelMults: [1, 2],
  attentionResolutions: [4], attentionHeads: 2, groups: 2, numClasses: 2,
};

function maxDiff(a: Map<string, tf.Variable>, b: Map<string, tf.Variable>): number {
  let worst = 0;
  for (const [n, v] of a) worst = Math.max(worst, tf.tidy(() => tf.max(tf.abs(tf.sub(v, b.get(n)!))).dataSync()[0]));
  return worst;
}

describe('trainer parts', () => {
  before(async () => {
    await tf.setBackend('cpu');
  });

  it('learning rate: linear warm-up to the peak, then constant or cosine down to the minimum', () => {
    const o = { learningRate: 1e-3, warmupSteps: 4 };
    assert.deepStrictEqual([0, 1, 2, 3, 4, 100].map((s) => learningRateAt(s, o)), [2.5e-4, 5e-4, 7.5e-4, 1e-3, 1e-3, 1e-3]);
    const c = { learningRate: 1, warmupSteps: 10, decay: 'cosine' as const, totalSteps: 110, minLearningRate: 0.1 };
    assert.strictEqual(learningRateAt(10, c), 1);
    assert.ok(Math.abs(learningRateAt(60, c) - 0.55) < 1e-12, 'halfway: (1 + 0.1) / 2');
    assert.ok(Math.abs(learningRateAt(110, c) - 0.1) < 1e-12);
    assert.ok(Math.abs(learningRateAt(35, c) - (0.1 + 0.45 * (1 + Math.cos(Math.PI / 4)))) < 1e-12);
    assert.throws(() => learningRateAt(0, { learningRate: 1, decay: 'cosine' }), /cosine decay needs totalSteps/);
    assert.throws(() => learningRateAt(0, { learningRate: -1 }), /learning rate must be a positive number/);
  });

  it('clipByGlobalNorm scales all gradients by maxNorm / norm, only when the norm is above it', () => {
    const g = [tf.tensor1d([3, 4]), tf.tensor2d([[12]])]; // global norm sqrt(9 + 16 + 144) = 13
    const a = clipByGlobalNorm(g, 6.5);
    assert.ok(Math.abs(a.norm - 13) < 1e-5);
    assert.deepStrictEqual(a.grads.map((t) => Array.from(t.dataSync())), [[1.5, 2], [6]]);
    const b = clipByGlobalNorm(g, 20);
    assert.deepStrictEqual(b.grads.map((t) => Array.from(t.dataSync())), [[3, 4], [12]]);
    const c = clipByGlobalNorm(g, null);
    assert.deepStrictEqual(c.grads.map((t) => Array.from(t.dataSync())), [[3, 4], [12]]);
    tf.dispose([...g, ...a.grads, ...b.grads, ...c.grads]);
    assert.throws(() => clipByGlobalNorm([tf.scalar(1)], 0), /maxNorm must be > 0/);
  });

  it('EMA follows ema = d * ema + (1 - d) * param', () => {
    const p = new Map([['w', tf.variable(tf.tensor1d([1, 2]))]]);
    const e = new Map([['w', tf.variable(tf.tensor1d([0, 0]))]]);
    const ema = new Ema(p, e, 0.9);
    assert.deepStrictEqual(Array.from(e.get('w')!.dataSync()), [1, 2], 'starts at the weights');
    p.get('w')!.assign(tf.tensor1d([11, 12]));
    ema.update();
    p.get('w')!.assign(tf.tensor1d([21, 22]));
    ema.update();
    // By hand: 0.9 * (0.9 * 1 + 0.1 * 11) + 0.1 * 21 = 3.9; likewise 4.9.
    const got = Array.from(e.get('w')!.dataSync());
    assert.ok(Math.abs(got[0] - 3.9) < 1e-5 && Math.abs(got[1] - 4.9) < 1e-5, `got ${got}`);
    assert.throws(() => new Ema(p, e, 1), /decay must be in \[0, 1\)/);
    assert.throws(() => new Ema(p, new Map(), 0.5), /target has no parameter 'w'/);
    tf.dispose([...p.values(), ...e.values()]);
  });

  it('batch sources depend only on (seed, step): same batch for the same step, every example once per epoch', () => {
    const set = { images: new Uint8Array(10 * 4).map((_, i) => Math.floor(i / 4) * 20), labels: Uint8Array.from([0, 1, 0, 1, 0, 1, 0, 1, 0, 1]), count: 10, height: 2, width: 2, channels: 1 };
    const src = imageBatches(set, 3, 7, { withLabels: true });
    const firstPixel = (step: number) => {
      const b = src(step);
      const v = Array.from(b.x.dataSync()).filter((_, i) => i % 4 === 0);
      b.x.dispose();
      return v.map((p) => Math.round(((p + 1) / 2) * 255) / 20); // back to the image index
    };
    const epoch0 = [0, 1, 2].flatMap(firstPixel);
    assert.strictEqual(new Set(epoch0).size, 9, 'no example twice in an epoch');
    assert.deepStrictEqual(firstPixel(1), epoch0.slice(3, 6), 'step 1 again gives the same batch');
    assert.notDeepStrictEqual([3, 4, 5].flatMap(firstPixel), epoch0, 'the next epoch is reshuffled');
    const b = src(0);
    assert.deepStrictEqual(b.cond!.classLabels, epoch0.slice(0, 3).map((i) => i % 2));
    b.x.dispose();
    assert.notStrictEqual(mixSeed(0, 1, 1), mixSeed(0, 1, 2));
    assert.notStrictEqual(mixSeed(0, 1, 1), mixSeed(1, 1, 1));
    assert.throws(() => imageBatches(set, 11, 0), /fewer than one batch/);
  });
});

describe('Trainer', function () {
  let dir = '';
  let data: tf.Tensor4D;
  const labels = [0, 1, 0, 1, 1, 0, 1, 0];
  const opts = (over: Partial<TrainerOptions> = {}): TrainerOptions => ({
    schedule: linearSchedule(100), totalSteps: 20, learningRate: 2e-3, warmupSteps: 5, decay: 'cosine',
    emaDecay: 0.9, clipGradNorm: 1, seed: 3, progress: false, ...over,
  });
  const source = (): BatchSource => tensorBatches(data, 4, 3, labels);

  before(async () => {
    await tf.setBackend('cpu');
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'trainer-spec-'));
    data = tf.tidy(() => tf.sub(tf.mul(new Rng(1).uniformTensor([8, 8, 8, 1]), 2), 1)) as tf.Tensor4D;
  });
  after(() => {
    data.dispose();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('20 steps straight and 10 + resume from the checkpoint + 10 give the same weights, EMA and history', async () => {
    const straight = new UNet(tiny, { seed: 1 });
    const a = new Trainer(straight, opts({ checkpointDir: path.join(dir, 'a'), checkpointEvery: 10 }));
    const ha = await a.train(source());
    assert.strictEqual(ha.loss.length, 20);

    const runDir = path.join(dir, 'b');
    const first = new UNet(tiny, { seed: 1 });
    const b1 = new Trainer(first, opts({ checkpointDir: runDir, checkpointEvery: 4 }));
    await b1.train(source(), { stopAt: 10 }); // "interrupted" at step 10 (checkpoints at 4, 8 and 10)
    assert.deepStrictEqual(listCheckpoints(runDir).map((c) => c.step), [10], 'keepLast 1');
    b1.dispose();
    first.dispose();

    // A new process: a model with other initial weights, a fresh trainer, resume from the folder.
    const second = new UNet(tiny, { seed: 77 });
    const b2 = new Trainer(second, opts({ checkpointDir: runDir, checkpointEvery: 4 }));
    assert.strictEqual(await b2.resume(), true);
    assert.strictEqual(b2.step, 10);
    const hb = await b2.train(source());
    assert.strictEqual(b2.step, 20);
    const dw = maxDiff(straight.params, second.params);
    const de = maxDiff(a.emaModel!.params, b2.emaModel!.params);
    assert.ok(dw < 1e-5, `weights differ by ${dw}`);
    assert.ok(de < 1e-5, `EMA weights differ by ${de}`);
    console.log(`      resumed vs straight: max |weight diff| ${dw.toExponential(2)}, max |EMA diff| ${de.toExponential(2)}`);
    assert.strictEqual(hb.loss.length, 20);
    for (let i = 0; i < 20; i++) assert.ok(Math.abs(ha.loss[i] - hb.loss[i]) < 1e-5, `loss at step ${i}: ${ha.loss[i]} vs ${hb.loss[i]}`);
    assert.deepStrictEqual(hb.lr.map((x) => Math.fround(x)), ha.lr.map((x) => Math.fround(x)));
    // The weights really moved, so equality above means something; EMA lags the raw weights.
    const init = new UNet(tiny, { seed: 1 });
    assert.ok(maxDiff(straight.params, init.params) > 1e-3);
    assert.ok(maxDiff(straight.params, a.emaModel!.params) > 1e-5);
    // The final checkpoint holds step 20 and samples with the EMA weights.
    const last = readCheckpoint(listCheckpoints(runDir).pop()!.file);
    assert.strictEqual(last.step, 20);
    const sampler = loadUNetCheckpoint(last.file);
    assert.strictEqual(maxDiff(sampler.params, b2.emaModel!.params), 0);
    for (const m of [straight, second, init, sampler]) m.dispose();
    a.dispose();
    b2.dispose();
  });

  it('resume refuses a checkpoint from another config or seed, and returns false when there is none', async () => {
    const runDir = path.join(dir, 'b');
    const other = new UNet({ ...tiny, baseChannels: 8 });
    await assert.rejects(new Trainer(other, opts({ checkpointDir: runDir })).resume(), /saved for a different model config \('baseChannels'/);
    const m = new UNet(tiny);
    await assert.rejects(new Trainer(m, opts({ checkpointDir: runDir, seed: 4 })).resume(), /saved with seed 3, the trainer has seed 4/);
    assert.strictEqual(await new Trainer(m, opts({ checkpointDir: path.join(dir, 'empty') })).resume(), false);
    other.dispose();
    m.dispose();
  });

  it('a NaN loss stops training with the step named; the last good checkpoint is kept and loads', async () => {
    const runDir = path.join(dir, 'nan');
    const model = new UNet(tiny, { seed: 1 });
    const tr = new Trainer(model, opts({ checkpointDir: runDir, checkpointEvery: 5, keepLast: 2 }));
    const good = source();
    const poisoned: BatchSource = (step) => {
      if (step !== 7) return good(step);
      return { x: tf.fill([4, 8, 8, 1], NaN) as tf.Tensor4D };
    };
    let before: Map<string, tf.Variable> | null = null;
    const watch: BatchSource = (step) => {
      if (step === 7) before = new Map([...model.params].map(([n, v]) => [n, tf.variable(v.clone(), false)]));
      return poisoned(step);
    };
    await assert.rejects(tr.train(watch), (e: Error) => {
      assert.ok(e instanceof TrainingDivergedError);
      assert.match(e.message, /^Training stopped at step 7: loss is NaN\. The weights were not updated; the last good checkpoint is .*step-00000005\.safetensors/);
      assert.strictEqual((e as TrainingDivergedError).step, 7);
      return true;
    });
    assert.strictEqual(tr.step, 7);
    assert.strictEqual(maxDiff(model.params, before!), 0, 'the failed step changed the weights');
    assert.deepStrictEqual(listCheckpoints(runDir).map((c) => c.step), [5]);
    const ck = readCheckpoint(path.join(runDir, 'step-00000005.safetensors'));
    assert.strictEqual(ck.step, 5);
    assert.ok(ck.history.loss.every(Number.isFinite));
    tf.dispose([...before!.values()]);
    tr.dispose();
    model.dispose();
  });

  it('a learning rate that blows up stops with a clear error instead of training on NaN', async () => {
    const model = new UNet(tiny, { seed: 1 });
    const tr = new Trainer(model, opts({ learningRate: 1e35, warmupSteps: 0, decay: 'constant', clipGradNorm: null, totalSteps: 30 }));
    await assert.rejects(tr.train(source()), /^TrainingDivergedError: Training stopped at step \d+: (loss|gradient norm) is (NaN|Infinity|-Infinity).*no checkpoint was written yet/);
    assert.ok(tr.history.loss.every(Number.isFinite));
    tr.dispose();
    model.dispose();
  });

  it('keeps the tensor count flat over a run with checkpoints and EMA', async () => {
    const model = new UNet(tiny, { seed: 1 });
    const tr = new Trainer(model, opts({ totalSteps: 30, checkpointDir: path.join(dir, 'mem'), checkpointEvery: 3, keepLast: 2 }));
    const counts: number[] = [];
    const inner = source();
    await tr.train((step) => {
      counts.push(tf.memory().numTensors);
      return inner(step);
    });
    // Adam creates its moments on the first step; after that nothing may accumulate.
    const settled = counts[2];
    const grew = counts.findIndex((c, i) => i >= 2 && c !== settled);
    assert.strictEqual(grew, -1, `numTensors changed at step ${grew}: ${settled} -> ${counts[grew]}`);
    assert.deepStrictEqual(listCheckpoints(path.join(dir, 'mem')).map((c) => c.step), [27, 30]);
    const n = tf.memory().numTensors;
    tr.dispose();
    model.dispose();
    assert.ok(tf.memory().numTensors < n);
  });

  it('refuses bad options with one-line errors', () => {
    const m = new UNet(tiny);
    assert.throws(() => new Trainer(m, opts({ totalSteps: 0 })), /totalSteps must be a positive integer/);
    assert.throws(() => new Trainer(m, opts({ clipGradNorm: -1 })), /clipGradNorm must be > 0 or null/);
    assert.throws(() => new Trainer(m, opts({ emaDecay: 1 })), /decay must be in \[0, 1\)/);
    assert.throws(() => new Trainer(m, opts({ keepLast: 0 })), /keepLast must be a positive integer/);
    m.dispose();
  });
});
