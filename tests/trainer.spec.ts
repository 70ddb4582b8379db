// The training loop: learning-rate schedule, gradient clipping and EMA against hand-computed
// references; the generic LossTrainer against a float64 Adam written from Kingma & Ba's Algorithm 1
// and the EMA against its closed form; resume gives the same weights bit for bit as an uninterrupted
// run; a NaN stops training before the update with the step named and the last good checkpoint
// kept; one asynchronous read per step; the tensor count stays flat over a run.
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
import { LossTrainer, LossTrainerOptions, StepBatches } from '../lib/core/train/loss_trainer';
import { learningRateAt, LrScheduleOptions } from '../lib/core/train/lr_schedule';
import { TimeBudget } from '../lib/core/train/time_budget';
import { mixSeed, STREAM, stepRng } from '../lib/core/train/step_seed';
import { listCheckpoints, Trainer, TrainerOptions, TrainingDivergedError } from '../lib/core/train/trainer';
import { ParamMap, ParamStore } from '../lib/core/params';
import { UNetConfigInput } from '../lib/core/unet/config';
import { UNet } from '../lib/core/unet/unet';
import { countReads, firstDifference, flatAfter, snapshot } from './helpers/training';
import { TINY_UNET } from './helpers/tiny_unet';

const tiny: UNetConfigInput = { ...TINY_UNET, numClasses: 2 };

function maxDiff(a: Map<string, tf.Variable>, b: Map<string, tf.Variable>): number {
  let worst = 0;
  for (const [n, v] of a)
    worst = Math.max(
      worst,
      tf.tidy(() => tf.max(tf.abs(tf.sub(v, b.get(n)!))).dataSync()[0]),
    );
  return worst;
}

describe('trainer parts', () => {
  before(async () => {
    await tf.setBackend('cpu');
  });

  it('learning rate: linear warm-up to the peak, then constant or cosine down to the minimum', () => {
    const o = { learningRate: 1e-3, warmupSteps: 4 };
    assert.deepStrictEqual(
      [0, 1, 2, 3, 4, 100].map((s) => learningRateAt(s, o)),
      [2.5e-4, 5e-4, 7.5e-4, 1e-3, 1e-3, 1e-3],
    );
    // Linear (BERT's): from the peak at the end of warm-up straight down to the minimum at totalSteps.
    const lin = { learningRate: 1, warmupSteps: 10, decay: 'linear' as const, totalSteps: 110, minLearningRate: 0.1 };
    assert.deepStrictEqual(
      [9, 10, 60, 110, 500].map((s) => Math.round(learningRateAt(s, lin) * 1e12) / 1e12),
      [1, 1, 0.55, 0.1, 0.1],
    );
    const c = { learningRate: 1, warmupSteps: 10, decay: 'cosine' as const, totalSteps: 110, minLearningRate: 0.1 };
    assert.strictEqual(learningRateAt(10, c), 1);
    assert.ok(Math.abs(learningRateAt(60, c) - 0.55) < 1e-12, 'halfway: (1 + 0.1) / 2');
    assert.ok(Math.abs(learningRateAt(110, c) - 0.1) < 1e-12);
    assert.ok(Math.abs(learningRateAt(35, c) - (0.1 + 0.45 * (1 + Math.cos(Math.PI / 4)))) < 1e-12);
    assert.throws(() => learningRateAt(0, { learningRate: 1, decay: 'cosine' }), /cosine decay needs totalSteps/);
    assert.throws(() => learningRateAt(0, { learningRate: -1 }), /learning rate must be a positive number/);
  });

  it('time budget: warm-up by steps, then a cosine over the seconds left, spent at the budget', () => {
    let ms = 0;
    const b = new TimeBudget({
      budgetSeconds: 10,
      learningRate: 1,
      warmupSteps: 2,
      minLearningRate: 0.1,
      now: () => ms,
    });
    const at = (step: number, s: number) => ((ms = s * 1000), b.learningRateAt(step));
    assert.deepStrictEqual([at(0, 0), at(1, 1.5)], [0.5, 1]);
    // Warm-up ends at 2 s: the cosine spans the 8 s left, its middle at 6 s, whatever the step count.
    assert.strictEqual(at(2, 2), 1);
    assert.ok(Math.abs(at(3, 6) - 0.55) < 1e-12, 'halfway: (1 + 0.1) / 2');
    assert.ok(Math.abs(at(50, 4) - (0.1 + 0.45 * (1 + Math.cos(Math.PI / 4)))) < 1e-12, 'a quarter of the way');
    assert.strictEqual(b.spent(), false);
    assert.ok(Math.abs(at(4, 10) - 0.1) < 1e-12);
    assert.strictEqual(b.spent(), true);
    assert.strictEqual(at(5, 30), 0.1, 'past the budget: the minimum');
    const bad = (o: object) => () => new TimeBudget({ budgetSeconds: 1, learningRate: 1, ...o });
    assert.throws(bad({ budgetSeconds: 0 }), /budgetSeconds must be > 0/);
    assert.throws(bad({ learningRate: NaN }), /learningRate must be > 0/);
    assert.throws(bad({ warmupSteps: 1.5 }), /warmupSteps must be an integer/);
    assert.throws(bad({ minLearningRate: 2 }), /minLearningRate must be in \[0, 1\]/);
  });

  it('clipByGlobalNorm scales all gradients by maxNorm / norm, only when the norm is above it', async () => {
    const g = [tf.tensor1d([3, 4]), tf.tensor2d([[12]])]; // global norm sqrt(9 + 16 + 144) = 13
    const a = await clipByGlobalNorm(g, 6.5);
    assert.ok(Math.abs(a.norm - 13) < 1e-5);
    assert.deepStrictEqual(
      a.grads.map((t) => Array.from(t.dataSync())),
      [[1.5, 2], [6]],
    );
    const b = await clipByGlobalNorm(g, 20);
    assert.deepStrictEqual(
      b.grads.map((t) => Array.from(t.dataSync())),
      [[3, 4], [12]],
    );
    const c = await clipByGlobalNorm(g, null);
    assert.deepStrictEqual(
      c.grads.map((t) => Array.from(t.dataSync())),
      [[3, 4], [12]],
    );
    tf.dispose([...g, ...a.grads, ...b.grads, ...c.grads]);
    await assert.rejects(clipByGlobalNorm([tf.scalar(1)], 0), /maxNorm must be > 0/);
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
    const set = {
      images: new Uint8Array(10 * 4).map((_, i) => Math.floor(i / 4) * 20),
      labels: Uint8Array.from([0, 1, 0, 1, 0, 1, 0, 1, 0, 1]),
      count: 10,
      height: 2,
      width: 2,
      channels: 1,
    };
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
    assert.deepStrictEqual(
      b.cond!.classLabels,
      epoch0.slice(0, 3).map((i) => i % 2),
    );
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
    schedule: linearSchedule(100),
    totalSteps: 20,
    learningRate: 2e-3,
    warmupSteps: 5,
    decay: 'cosine',
    emaDecay: 0.9,
    clipGradNorm: 1,
    seed: 3,
    progress: false,
    ...over,
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
    assert.deepStrictEqual(
      listCheckpoints(runDir).map((c) => c.step),
      [10],
      'keepLast 1',
    );
    b1.dispose();
    first.dispose();

    // A new process: a model with other initial weights, a fresh trainer, resume from the folder.
    const second = new UNet(tiny, { seed: 77 });
    const b2 = new Trainer(second, opts({ checkpointDir: runDir, checkpointEvery: 4 }));
    assert.strictEqual(await b2.resume(), true);
    assert.strictEqual(b2.step, 10);
    const hb = await b2.train(source());
    assert.strictEqual(b2.step, 20);
    // Bit for bit: same batches and noise from (seed, step), Adam's moments and step count restored.
    assert.strictEqual(firstDifference(straight.params, second.params), null, 'weights');
    assert.strictEqual(firstDifference(a.emaModel!.params, b2.emaModel!.params), null, 'EMA weights');
    assert.strictEqual(hb.loss.length, 20);
    assert.deepStrictEqual(hb.loss, ha.loss);
    assert.deepStrictEqual(hb.gradNorm, ha.gradNorm);
    assert.deepStrictEqual(
      hb.lr.map((x) => Math.fround(x)),
      ha.lr.map((x) => Math.fround(x)),
    );
    // The weights and the EMA really moved (an EMA never updated would still be the initial weights), so
    // equality above means something; the EMA lags the raw weights. Its value: the closed-form test below.
    const init = new UNet(tiny, { seed: 1 });
    assert.ok(maxDiff(straight.params, init.params) > 1e-3);
    assert.ok(maxDiff(a.emaModel!.params, init.params) > 1e-3, 'the EMA never moved from the initial weights');
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
    await assert.rejects(
      new Trainer(other, opts({ checkpointDir: runDir })).resume(),
      /saved for a different model config \('baseChannels'/,
    );
    const m = new UNet(tiny);
    await assert.rejects(
      new Trainer(m, opts({ checkpointDir: runDir, seed: 4 })).resume(),
      /saved with seed 3, the trainer has seed 4/,
    );
    assert.strictEqual(await new Trainer(m, opts({ checkpointDir: path.join(dir, 'empty') })).resume(), false);
    other.dispose();
    m.dispose();
  });

  for (const warmup of [false, true]) {
    const ema = `the EMA after n steps is the closed form of the raw weights${warmup ? ' (warm-up decay)' : ''}`;
    it(`${ema}; each step's learning rate is learningRateAt`, async () => {
      // Independent reference: the recursion ema_k = d_k ema_(k-1) + (1 - d_k) w_k unrolled in float64,
      // ema_n = (prod_k d_k) w_0 + sum_k (1 - d_k) (prod_(j>k) d_j) w_k, from the raw weights recorded after
      // every step; d_k = d, or min(d, (1 + k) / (10 + k)) with warm-up (diffusers' EMAModel), k from 0.
      const n = 6;
      const d = 0.8;
      const model = new UNet(tiny, { seed: 1 });
      const o = opts({ totalSteps: n, emaDecay: d, emaWarmup: warmup });
      const tr = new Trainer(model, o);
      const w = [snapshot(model.params)];
      const lrs: Array<[number, number, number]> = [];
      await tr.train(source(), {
        onStep: (r) => {
          w.push(snapshot(model.params));
          lrs.push([r.step, r.lr, tr.optimizer.currentLearningRate]);
        },
      });
      assert.strictEqual(w.length, n + 1);
      const dk = Array.from({ length: n }, (_, k) => (warmup ? Math.min(d, (1 + k) / (10 + k)) : d));
      const prod = (from: number) => dk.slice(from).reduce((a, b) => a * b, 1);
      const coef = [prod(0), ...dk.map((x, k) => (1 - x) * prod(k + 1))]; // weights of w_0 .. w_n
      assert.ok(Math.abs(coef.reduce((a, b) => a + b, 0) - 1) < 1e-12, 'the coefficients sum to 1');
      let worst = 0;
      let fromStart = 0;
      for (const [name, e] of snapshot(tr.emaModel!.params)) {
        for (let i = 0; i < e.length; i++) {
          let ref = 0;
          for (let k = 0; k <= n; k++) ref += coef[k] * w[k].get(name)![i];
          worst = Math.max(worst, Math.abs(e[i] - ref));
          fromStart = Math.max(fromStart, Math.abs(e[i] - w[0].get(name)![i]));
        }
      }
      assert.ok(worst < 2e-6, `EMA differs from its closed form by ${worst}`);
      // An EMA never updated (still w_0) would be this far off: the check above has teeth.
      assert.ok(fromStart > 1e-3, `the EMA moved only ${fromStart}`);
      // The learning rate of step k (reported, and the one the optimizer held for the update) is
      // learningRateAt(k): here 5 warm-up steps then cosine, so it changes from step to step.
      assert.deepStrictEqual(
        lrs.map(([k]) => k),
        [0, 1, 2, 3, 4, 5],
      );
      for (const [k, lr, held] of lrs) {
        assert.strictEqual(lr, learningRateAt(k, o), `step ${k}: reported learning rate`);
        assert.strictEqual(held, learningRateAt(k, o), `step ${k}: the optimizer's learning rate`);
      }
      assert.ok(new Set(lrs.map(([, lr]) => lr)).size > 3, 'warm-up then cosine: the rate is not constant');
      tr.dispose();
      model.dispose();
    });
  }

  it("trains to a time budget: learningRateFor sets each step's rate, stopWhen ends it when the time is spent", async () => {
    let ms = 0;
    const budget = new TimeBudget({
      budgetSeconds: 5,
      learningRate: 1e-3,
      warmupSteps: 2,
      minLearningRate: 1e-4,
      now: () => ms,
    });
    const model = new UNet(tiny, { seed: 1 });
    const tr = new Trainer(model, opts({ totalSteps: 1000, learningRateFor: (k) => budget.learningRateAt(k) }));
    const lrs: Array<[number, number]> = [];
    // One second per step on the fake clock: 2 warm-up steps (0-2 s), then the cosine over 2-5 s.
    await tr.train(source(), {
      stopWhen: () => budget.spent(),
      onStep: (r) => {
        lrs.push([r.lr, tr.optimizer.currentLearningRate]);
        ms += 1000;
      },
    });
    const cos = (p: number) => 1e-4 + 0.5 * 9e-4 * (1 + Math.cos(Math.PI * p));
    const want = [5e-4, 1e-3, 1e-3, cos(1 / 3), cos(2 / 3)];
    assert.strictEqual(tr.step, 5, 'stopped when the 5 s were spent');
    lrs.forEach(([lr, held], k) => {
      assert.ok(Math.abs(lr - want[k]) < 1e-15, `step ${k}: reported ${lr}, want ${want[k]}`);
      assert.strictEqual(held, lr, `step ${k}: the optimizer's learning rate`);
    });
    const broken = new Trainer(model, opts({ learningRateFor: () => NaN }));
    await assert.rejects(broken.trainStep(source()(0)), /learningRateFor\(0\) gave NaN/);
    broken.dispose();
    tr.dispose();
    model.dispose();
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
      assert.match(
        e.message,
        /^Training stopped at step 7: loss is NaN\. The weights were not updated; the last good checkpoint is .*step-00000005\.safetensors/,
      );
      assert.strictEqual((e as TrainingDivergedError).step, 7);
      return true;
    });
    assert.strictEqual(tr.step, 7);
    assert.strictEqual(maxDiff(model.params, before!), 0, 'the failed step changed the weights');
    assert.deepStrictEqual(
      listCheckpoints(runDir).map((c) => c.step),
      [5],
    );
    const ck = readCheckpoint(path.join(runDir, 'step-00000005.safetensors'));
    assert.strictEqual(ck.step, 5);
    assert.ok(ck.history.loss.every(Number.isFinite));
    tf.dispose([...before!.values()]);
    tr.dispose();
    model.dispose();
  });

  it('a learning rate that blows up stops with a clear error instead of training on NaN', async () => {
    const model = new UNet(tiny, { seed: 1 });
    const tr = new Trainer(
      model,
      opts({ learningRate: 1e35, warmupSteps: 0, decay: 'constant', clipGradNorm: null, totalSteps: 30 }),
    );
    await assert.rejects(
      tr.train(source()),
      /^TrainingDivergedError: Training stopped at step \d+: (loss|gradient norm) is (NaN|Infinity|-Infinity).*no checkpoint was written yet/,
    );
    assert.ok(tr.history.loss.every(Number.isFinite));
    tr.dispose();
    model.dispose();
  });

  it('keeps the tensor count flat over a run with checkpoints and EMA', async () => {
    const model = new UNet(tiny, { seed: 1 });
    const tr = new Trainer(
      model,
      opts({ totalSteps: 30, checkpointDir: path.join(dir, 'mem'), checkpointEvery: 3, keepLast: 2 }),
    );
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
    assert.deepStrictEqual(
      listCheckpoints(path.join(dir, 'mem')).map((c) => c.step),
      [27, 30],
    );
    const n = tf.memory().numTensors;
    tr.dispose();
    model.dispose();
    assert.ok(tf.memory().numTensors < n);
  });

  it('reads each step once, asynchronously (webgpu under Node has no synchronous read)', async () => {
    const model = new UNet(tiny, { seed: 1 });
    const tr = new Trainer(model, opts({ totalSteps: 3, warmupSteps: 1 }));
    const src = source();
    for (let k = 0; k < 3; k++) {
      const { data, dataSync } = await countReads(() => tr.trainStep(src(k)));
      assert.deepStrictEqual({ data, dataSync }, { data: 1, dataSync: 0 }, `step ${k}`);
    }
    tr.dispose();
    model.dispose();
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

/** The quadratic problem of the LossTrainer specs: w (3 numbers) and b (2) chase per-step targets. */
interface Targets {
  a: tf.Tensor1D;
  c: tf.Tensor1D;
}

const SCALE = 4;
const NOISE_SEED = 5;

/** Step k's targets: a function of k alone (what makes resume exact). */
function targetsAt(k: number): { a: number[]; c: number[] } {
  const r = new Rng(1000 + k);
  return { a: Array.from({ length: 3 }, () => r.normal()), c: Array.from({ length: 2 }, () => r.normal()) };
}

const quadBatches: StepBatches<Targets> = (k) => {
  const t = targetsAt(k);
  return { a: tf.tensor1d(t.a), c: tf.tensor1d(t.c) };
};

function quadParams(seed: number): ParamMap {
  const store = new ParamStore(new Rng(seed));
  store.normal('w', [3], 1);
  store.normal('b', [2], 1);
  return store.params;
}

/** SCALE/2 (|w - a - e|^2 + |b - c|^2), e = 0.1 x a normal draw from the step's own rng; both halves as metrics. */
function quadLoss(p: ParamMap) {
  return (batch: Targets, rng: Rng) => {
    const e = 0.1 * rng.normal();
    const lw = tf.sum(tf.square(tf.sub(p.get('w')!, tf.add(batch.a, e)))) as tf.Scalar;
    const lb = tf.sum(tf.square(tf.sub(p.get('b')!, batch.c))) as tf.Scalar;
    return { loss: tf.mul(SCALE / 2, tf.add(lw, lb)) as tf.Scalar, metrics: { w: lw, b: lb } };
  };
}

describe('LossTrainer (any parameters, any loss)', function () {
  let dir = '';
  const sched: LrScheduleOptions = {
    learningRate: 0.05,
    warmupSteps: 3,
    decay: 'cosine',
    totalSteps: 12,
    minLearningRate: 0.005,
  };
  const opts = (over: Partial<LossTrainerOptions<Targets>> = {}): LossTrainerOptions<Targets> => ({
    ...sched,
    totalSteps: 12,
    seed: NOISE_SEED,
    clipGradNorm: 5,
    progress: false,
    ...over,
  });

  before(async () => {
    await tf.setBackend('cpu');
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'loss-trainer-spec-'));
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('matches a float64 Adam (Kingma & Ba, Algorithm 1) with clipping by global norm and learningRateAt per step', async () => {
    const p = quadParams(1);
    const w = Float64Array.from(p.get('w')!.dataSync());
    const b = Float64Array.from(p.get('b')!.dataSync());
    const tr = new LossTrainer(p, quadLoss(p), opts());
    const got: Float32Array[] = [];
    await tr.train(quadBatches, {
      onStep: () => got.push(Float32Array.from([...p.get('w')!.dataSync(), ...p.get('b')!.dataSync()])),
    });
    // The reference, written from the paper: g, clip to norm 5, m and v, bias correction, the step.
    const [b1, b2, eps] = [0.9, 0.999, 1e-8];
    const x = [...w, ...b];
    const m = new Float64Array(5);
    const v = new Float64Array(5);
    let clipped = 0;
    for (let k = 0; k < 12; k++) {
      const t = targetsAt(k);
      const e = 0.1 * stepRng(NOISE_SEED, k, STREAM.noise).normal();
      const g = x.map((xi, i) => SCALE * (i < 3 ? xi - t.a[i] - e : xi - t.c[i - 3]));
      const norm = Math.sqrt(g.reduce((s, q) => s + q * q, 0));
      const scale = norm > 5 ? 5 / norm : 1;
      if (scale < 1) clipped++;
      const lr = learningRateAt(k, sched);
      assert.strictEqual(tr.history.lr[k], lr, `step ${k}: the history's learning rate`);
      assert.ok(
        Math.abs(tr.history.gradNorm[k] - norm) < 1e-4 * norm,
        `step ${k}: gradient norm ${tr.history.gradNorm[k]} vs ${norm}`,
      );
      for (let i = 0; i < 5; i++) {
        const gi = g[i] * scale;
        m[i] = b1 * m[i] + (1 - b1) * gi;
        v[i] = b2 * v[i] + (1 - b2) * gi * gi;
        const mh = m[i] / (1 - Math.pow(b1, k + 1));
        const vh = v[i] / (1 - Math.pow(b2, k + 1));
        x[i] -= (lr * mh) / (Math.sqrt(vh) + eps);
        assert.ok(Math.abs(got[k][i] - x[i]) < 2e-5, `step ${k}, weight ${i}: ${got[k][i]} vs the reference ${x[i]}`);
      }
    }
    assert.ok(clipped > 0 && clipped < 12, `clipping should matter on some steps only (clipped ${clipped})`);
    // The metrics came back with the loss: loss = SCALE/2 (w + b).
    for (let k = 0; k < 12; k++) {
      const sum = (SCALE / 2) * (tr.history.metrics.w[k] + tr.history.metrics.b[k]);
      assert.ok(Math.abs(sum - tr.history.loss[k]) < 1e-4 * (1 + sum));
    }
    // The targets move every step (their spread is the floor), so only a clear fall is asked for.
    assert.ok(
      tr.history.loss[11] < 0.7 * tr.history.loss[0],
      `the loss fell from ${tr.history.loss[0]} to ${tr.history.loss[11]}`,
    );
    tr.dispose();
    tf.dispose([...p.values()]);
  });

  it('12 steps straight = 5 + resume + 7, bit for bit: weights, EMA, Adam state, history', async () => {
    const pa = quadParams(1);
    const a = new LossTrainer(pa, quadLoss(pa), opts({ emaDecay: 0.8 }));
    await a.train(quadBatches);
    const runDir = path.join(dir, 'resume');
    const pb = quadParams(1);
    const b1 = new LossTrainer(pb, quadLoss(pb), opts({ emaDecay: 0.8, checkpointDir: runDir, checkpointEvery: 2 }));
    await b1.train(quadBatches, { stopWhen: (k) => k === 5 });
    assert.deepStrictEqual(
      listCheckpoints(runDir).map((c) => c.step),
      [5],
      'paused at 5: a checkpoint there',
    );
    b1.dispose();
    // A new process: other initial weights, a fresh trainer.
    const pc = quadParams(9);
    const b2 = new LossTrainer(pc, quadLoss(pc), opts({ emaDecay: 0.8, checkpointDir: runDir, checkpointEvery: 2 }));
    assert.strictEqual(await b2.resume(), true);
    assert.strictEqual(b2.step, 5);
    assert.strictEqual(b2.optimizer.iterations, 5);
    await b2.train(quadBatches);
    assert.strictEqual(firstDifference(pa, pc), null, 'weights');
    assert.strictEqual(firstDifference(a.emaParams!, b2.emaParams!), null, 'EMA');
    assert.deepStrictEqual(b2.history.loss, a.history.loss);
    assert.deepStrictEqual(b2.history.metrics, a.history.metrics);
    assert.deepStrictEqual(b2.history.lr.map(Math.fround), a.history.lr.map(Math.fround));
    // The EMA is the closed form of the weights' history here too.
    const init = quadParams(1);
    assert.ok(firstDifference(pa, init) !== null && firstDifference(pa, a.emaParams!) !== null);
    for (const t of [a, b2]) t.dispose();
    tf.dispose([...pa.values(), ...pb.values(), ...pc.values(), ...init.values()]);
  });

  it('trains a subset and leaves the rest as it was; a parameter without gradient is named', async () => {
    const p = quadParams(1);
    const bBefore = snapshot(new Map([['b', p.get('b')!]]));
    const only = new Map([['w', p.get('w')!]]);
    const tr = new LossTrainer(only, quadLoss(p), opts({ emaDecay: 0.9 }));
    await tr.train(quadBatches);
    assert.strictEqual(firstDifference(new Map([['b', p.get('b')!]]), bBefore), null, 'b is frozen');
    assert.deepStrictEqual([...tr.emaParams!.keys()], ['w']);
    tr.dispose();
    const extra = new ParamStore(new Rng(3));
    const unused = extra.normal('unused', [2], 1);
    const withUnused = new Map([...p, ['unused', unused]]);
    const bad = new LossTrainer(withUnused, quadLoss(p), opts());
    await assert.rejects(bad.trainStep(quadBatches(0)), /parameter 'unused' got no gradient/);
    bad.dispose();
    const ok = new LossTrainer(withUnused, quadLoss(p), opts({ allowUnused: true }));
    const before = snapshot(new Map([['unused', unused]]));
    await ok.trainStep(quadBatches(0));
    assert.strictEqual(firstDifference(new Map([['unused', unused]]), before), null);
    ok.dispose();
    tf.dispose([...p.values(), unused]);
  });

  it('a NaN loss stops before the update: weights, EMA and Adam untouched, the step and checkpoint named', async () => {
    const runDir = path.join(dir, 'nan');
    const p = quadParams(1);
    const tr = new LossTrainer(p, quadLoss(p), opts({ emaDecay: 0.9, checkpointDir: runDir, checkpointEvery: 2 }));
    let w: Map<string, Float32Array> | null = null;
    let e: Map<string, Float32Array> | null = null;
    const poisoned: StepBatches<Targets> = (k) => {
      if (k !== 3) return quadBatches(k);
      [w, e] = [snapshot(p), snapshot(tr.emaParams!)];
      return { a: tf.tensor1d([NaN, 0, 0]), c: tf.tensor1d([0, 0]) };
    };
    await assert.rejects(tr.train(poisoned), (err: Error) => {
      assert.ok(err instanceof TrainingDivergedError);
      assert.strictEqual(err.step, 3);
      assert.match(
        err.message,
        /^Training stopped at step 3: loss is NaN\. The weights were not updated; the last good checkpoint is .*step-00000002\.safetensors/,
      );
      return true;
    });
    assert.strictEqual(firstDifference(p, w!), null, 'weights');
    assert.strictEqual(firstDifference(tr.emaParams!, e!), null, 'EMA');
    assert.strictEqual(tr.optimizer.iterations, 3, 'Adam made no update');
    assert.strictEqual(tr.step, 3);
    assert.strictEqual(tr.history.loss.length, 3);
    tr.dispose();
    tf.dispose([...p.values()]);
  });

  it('reads once per step, asynchronously, and keeps the tensor count flat (EMA, metrics, checkpoints)', async () => {
    const p = quadParams(1);
    const tr = new LossTrainer(p, quadLoss(p), opts({ emaDecay: 0.9 }));
    for (let k = 0; k < 3; k++) {
      const { data, dataSync } = await countReads(() => tr.trainStep(quadBatches(k)));
      assert.deepStrictEqual({ data, dataSync }, { data: 1, dataSync: 0 }, `step ${k}`);
    }
    tr.dispose();
    tf.dispose([...p.values()]);
    const start = tf.memory().numTensors;
    const q = quadParams(1);
    const counts: number[] = [];
    const tr2 = new LossTrainer(
      q,
      quadLoss(q),
      opts({ totalSteps: 12, emaDecay: 0.9, checkpointDir: path.join(dir, 'mem'), checkpointEvery: 2, keepLast: 2 }),
    );
    await tr2.train((k) => {
      counts.push(tf.memory().numTensors);
      return quadBatches(k);
    });
    assert.strictEqual(flatAfter(counts), null);
    tr2.dispose();
    tf.dispose([...q.values()]);
    assert.strictEqual(tf.memory().numTensors, start, "dispose left tensors behind (Adam, EMA copies or a step's)");
  });
});
