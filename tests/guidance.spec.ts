// Classifier guidance and classifier-free guidance (lib/methods/guidance/) on tiny random networks (cpu
// backend): scale 0 is the unguided sampler exactly, CFG's batched mix equals the formula computed
// from separate passes, the classifier gradient points up log p(y | x), condition dropout drops at
// its rate and is a function of (seed, step), a zero class embedding reproduces the unconditional
// network, bad class ids and scales are clear errors, and guided sampling does not leak tensors.
import * as assert from 'assert';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { cfgModel } from '../lib/methods/guidance/cfg';
import {
  classifierGradient,
  classifierGuidedModel,
  classifierGuidedSample,
  classifierMeanShift,
  newPassCounter,
} from '../lib/methods/guidance/classifier_guidance';
import { CLASS_EMBEDDING, conditionalFromUnconditional } from '../lib/methods/guidance/conditional_init';
import { classEmbeddingNorms, fitClassEmbedding } from '../lib/methods/guidance/fit_class_embedding';
import { loadNoisyClassifier, NoisyClassifier, saveNoisyClassifier } from '../lib/methods/guidance/noisy_classifier';
import { drawTimesteps, trainNoisyClassifier } from '../lib/methods/guidance/train_noisy_classifier';
import { countReads, firstDifference, interruptAt } from './helpers/training';
import { predictionToEpsX0 } from '../lib/core/loss';
import { Rng } from '../lib/core/random';
import { DDIMSampler } from '../lib/core/samplers/ddim';
import { DDPMSampler } from '../lib/core/samplers/ddpm';
import { makeSampler } from '../lib/core/samplers/index';
import { unetModel } from '../lib/core/samplers/types';
import { linearSchedule } from '../lib/core/schedule';
import { dropLabels, imageBatches, ImageData } from '../lib/core/train/batch_source';
import { UNet, UNetConfigInput } from '../lib/core/unet/unet';
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { saveUNetWeights } from '../lib/core/checkpoint/unet_checkpoint';

type Shape = [number, number, number, number];
const K = 3; // classes of the tiny models
const S = 8; // image side
const SHAPE: Shape = [4, S, S, 1];
const LABELS = [0, 1, 2, 1];
const schedule = linearSchedule(100);

/** Runs scripts/<script> on the cpu backend, as `npm run` would, and returns its status and output. */
function runScript(script: string, args: string[]) {
  const root = path.resolve(__dirname, '..');
  return spawnSync(path.join(root, 'node_modules', '.bin', 'tsx'), [path.join(root, 'scripts', script), ...args], {
    cwd: root,
    encoding: 'utf8',
    env: { ...process.env, DIFFUSION_BACKEND: 'cpu' },
    timeout: 240_000,
  });
}

const TINY: UNetConfigInput = {
  imageSize: S,
  inChannels: 1,
  outChannels: 1,
  baseChannels: 4,
  channelMults: [1, 2],
  numResBlocks: 1,
  groups: 2,
  attentionHeads: 2,
  midAttention: false,
};

function tinyClassifier(seed = 3): NoisyClassifier {
  return new NoisyClassifier({ imageSize: S, numClasses: K, channels: [4, 8], timeDim: 8 }, { seed });
}

function values(x: tf.Tensor): Float32Array {
  return x.dataSync() as Float32Array;
}

function maxAbsDiff(a: tf.Tensor, b: tf.Tensor): number {
  return tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]);
}

describe('guidance', function () {
  this.timeout(120_000);
  let unet: UNet;
  let clf: NoisyClassifier;

  before(async () => {
    await tf.setBackend('cpu');
    unet = new UNet({ ...TINY, numClasses: K }, { seed: 1 });
    clf = tinyClassifier();
  });
  after(() => {
    unet.dispose();
    clf.dispose();
  });

  describe('classifier-free guidance', () => {
    for (const name of ['ddim', 'ddpm'] as const) {
      it(`${name}: w = 0 samples exactly what the unconditional model samples, w = 1 the conditional one (same seed)`, () => {
        const sampler = makeSampler(name, schedule);
        const run = (m: ReturnType<typeof unetModel>) => sampler.sample(m, SHAPE, { steps: 6, rng: new Rng(7) });
        const [g0, u, g1, c] = [
          run(cfgModel(unet, LABELS, 0)),
          run(unetModel(unet, 'eps', {})),
          run(cfgModel(unet, LABELS, 1)),
          run(unetModel(unet, 'eps', { classLabels: LABELS })),
        ];
        assert.deepStrictEqual(values(g0), values(u));
        assert.deepStrictEqual(values(g1), values(c));
        // and the condition matters at all for this net, so the two equalities are not the same one
        assert.ok(maxAbsDiff(u, c) > 1e-3, `conditional and unconditional samples coincide (${maxAbsDiff(u, c)})`);
        tf.dispose([g0, u, g1, c]);
      });
    }

    it('w = 3: the one batched pass equals eps_u + 3 (eps_c - eps_u) from two separate passes', () => {
      const x = new Rng(2).normalTensor(SHAPE) as tf.Tensor4D;
      const t = [90, 50, 20, 5];
      const counter = { calls: 0, images: 0 };
      const got = cfgModel(unet, LABELS, 3, { counter }).predict(x, t);
      const want = tf.tidy(() => {
        const c = unet.apply(x, t, { classLabels: LABELS });
        const u = unet.apply(x, t, { classLabels: [K, K, K, K] });
        return tf.add(u, tf.mul(tf.sub(c, u), 3));
      });
      assert.ok(maxAbsDiff(got, want) < 1e-4, `max difference ${maxAbsDiff(got, want)}`);
      assert.deepStrictEqual(counter, { calls: 1, images: 8 }, 'a guided step is one call over 2B images');
      tf.dispose([x, got, want]);
    });

    it('rejects a class id outside [0, K-1] (the null class included), a negative or non-finite scale, and a UNet without classes', () => {
      assert.throws(() => cfgModel(unet, [0, 1, 3, 0], 2), /cfgModel: class id 3 \(index 2\) is outside \[0, 2\]/);
      assert.throws(() => cfgModel(unet, [0, -1, 1, 0], 2), /class id -1 \(index 1\)/);
      assert.throws(() => cfgModel(unet, [0, 1.5, 1, 0], 2), /class id 1.5/);
      assert.throws(
        () => cfgModel(unet, LABELS, -0.5),
        /cfgModel: guidance scale must be a finite number >= 0, got -0.5/,
      );
      assert.throws(() => cfgModel(unet, LABELS, NaN), /got NaN/);
      const plain = new UNet(TINY, { seed: 1 });
      assert.throws(() => cfgModel(plain, LABELS, 2), /no class conditioning/);
      plain.dispose();
      const x = tf.zeros(SHAPE) as tf.Tensor4D;
      assert.throws(
        () => cfgModel(unet, [0, 1], 2).predict(x, [1, 1, 1, 1]),
        /condition field 'classLabels' holds 2 entries, the batch 4/,
      );
      x.dispose();
    });
  });

  describe('zero-initialised class embedding', () => {
    it('the conditional copy of an unconditional UNet computes exactly the unconditional output for every label', () => {
      const base = new UNet(TINY, { seed: 4 });
      const cond = conditionalFromUnconditional(base, K);
      const x = new Rng(5).normalTensor(SHAPE) as tf.Tensor4D;
      const t = [99, 60, 30, 0];
      const want = base.apply(x, t);
      for (const labels of [
        [0, 1, 2, 3],
        [3, 3, 3, 3],
        [2, 2, 0, 1],
      ]) {
        const got = cond.apply(x, t, { classLabels: labels });
        assert.deepStrictEqual(values(got), values(want), `labels ${labels}`);
        got.dispose();
      }
      assert.throws(() => conditionalFromUnconditional(cond, K), /already class-conditional/);
      tf.dispose([x, want]);
      base.dispose();
      cond.dispose();
    });

    it('fitting the class rows moves only them: the null row stays zero (the unconditional model is untouched) and the loss falls', async () => {
      const base = new UNet(TINY, { seed: 4 });
      const cond = conditionalFromUnconditional(base, K);
      const before = new Map([...cond.params].map(([k, v]) => [k, values(v).slice()]));
      // Class c = images of brightness level c: a condition the embedding alone can learn.
      const n = 48;
      const labels = Uint8Array.from({ length: n }, (_, i) => i % K);
      const images = new Uint8Array(n * S * S);
      for (let i = 0; i < n; i++) images.fill([20, 128, 235][i % K], i * S * S, (i + 1) * S * S);
      const data = imageBatches({ images, labels, count: n, height: S, width: S, channels: 1 }, 6, 0, {
        withLabels: true,
      });
      const { result: losses, dataSync } = await countReads(() =>
        fitClassEmbedding(cond, data, { schedule, steps: 24, learningRate: 5e-2 }),
      );
      assert.strictEqual(dataSync, 0, 'the loop read a tensor synchronously');
      const mean = (a: number[]) => a.reduce((p, q) => p + q, 0) / a.length;
      assert.ok(
        mean(losses.slice(-10)) < mean(losses.slice(0, 10)),
        `loss ${mean(losses.slice(0, 10))} -> ${mean(losses.slice(-10))}`,
      );
      const norms = await classEmbeddingNorms(cond);
      assert.strictEqual(norms[K], 0, 'the null row moved');
      for (let c = 0; c < K; c++) assert.ok(norms[c] > 0.1, `class row ${c} barely moved (norm ${norms[c]})`);
      for (const [k, v] of cond.params)
        if (k !== CLASS_EMBEDDING) assert.deepStrictEqual(values(v), before.get(k), `${k} changed`);
      base.dispose();
      cond.dispose();
    });
  });

  describe('condition dropout', () => {
    const n = 640;
    const set: ImageData = {
      images: new Uint8Array(n * 4),
      labels: Uint8Array.from({ length: n }, (_, i) => i % 10),
      count: n,
      height: 2,
      width: 2,
      channels: 1,
    };

    it('drops labels to the null class at rate p, the same ones for the same (seed, step), and keeps the rest', () => {
      const p = 0.2;
      const src = imageBatches(set, 64, 9, { withLabels: true, condDropout: { p, nullClass: 10 } });
      const plain = imageBatches(set, 64, 9, { withLabels: true });
      let dropped = 0;
      let total = 0;
      for (let step = 0; step < 200; step++) {
        const a = src(step);
        const b = plain(step);
        const la = a.cond!.classLabels as number[];
        const lb = b.cond!.classLabels as number[];
        la.forEach((y, i) => {
          if (y === 10) dropped++;
          else assert.strictEqual(y, lb[i], 'a kept label changed');
        });
        total += la.length;
        if (step === 17) {
          const again = src(17);
          assert.deepStrictEqual(again.cond!.classLabels, la, 'step 17 dropped other labels the second time');
          again.x.dispose();
        }
        a.x.dispose();
        b.x.dispose();
      }
      // 12,800 Bernoulli(0.2) draws: standard deviation of the rate 0.0035; allow 5 of them.
      const rate = dropped / total;
      assert.ok(Math.abs(rate - p) < 5 * Math.sqrt((p * (1 - p)) / total), `dropout rate ${rate}, expected ${p}`);
    });

    it('p = 0 keeps every label, p = 1 drops every one; bad options are errors', () => {
      assert.deepStrictEqual(dropLabels([1, 2, 3], 0, 10, 0, 5), [1, 2, 3]);
      assert.deepStrictEqual(dropLabels([1, 2, 3], 1, 10, 0, 5), [10, 10, 10]);
      assert.throws(
        () => imageBatches(set, 64, 0, { withLabels: true, condDropout: { p: 1.5, nullClass: 10 } }),
        /condDropout.p must be in \[0, 1\], got 1.5/,
      );
      assert.throws(() => imageBatches(set, 64, 0, { condDropout: { p: 0.1, nullClass: 10 } }), /needs withLabels/);
    });
  });

  describe('classifier guidance', () => {
    it('the gradient of log p(y | x_t) agrees with finite differences and raising it along the step raises log p', () => {
      const x = new Rng(11).normalTensor(SHAPE) as tf.Tensor4D;
      const t = [80, 40, 10, 0];
      const g = classifierGradient(clf, x, t, LABELS);
      const v = new Rng(12).normalTensor(SHAPE) as tf.Tensor4D;
      const h = 1e-2;
      const f = (y: tf.Tensor4D) => tf.tidy(() => tf.sum(clf.logProb(y, t, LABELS)).dataSync()[0]);
      const fd = (f(tf.add(x, tf.mul(v, h)) as tf.Tensor4D) - f(tf.sub(x, tf.mul(v, h)) as tf.Tensor4D)) / (2 * h);
      const dot = tf.tidy(() => tf.sum(tf.mul(g, v)).dataSync()[0]);
      assert.ok(
        Math.abs(fd - dot) < 1e-2 * Math.max(1, Math.abs(dot)),
        `directional derivative ${dot}, finite difference ${fd}`,
      );
      // A small step (norm 0.05 per image) up the gradient raises every image's own log p(y | x_t).
      const before = values(tf.tidy(() => clf.logProb(x, t, LABELS)));
      const after = values(
        tf.tidy(() =>
          clf.logProb(
            tf.add(x, tf.mul(tf.div(g, tf.sqrt(tf.sum(tf.square(g), [1, 2, 3], true))), 0.05)) as tf.Tensor4D,
            t,
            LABELS,
          ),
        ),
      );
      for (let i = 0; i < 4; i++)
        assert.ok(
          after[i] > before[i],
          `image ${i}: log p ${before[i]} -> ${after[i]} after a step along the gradient`,
        );
      // The guided eps moves the clean-image estimate by exactly +s (1 - abar) / sqrt(abar) * g: up the gradient.
      const plain = unetModel(unet, 'eps', {});
      const s = 0.5;
      const moved = tf.tidy(() => {
        const a = predictionToEpsX0(schedule, x, t, plain.predict(x, t), 'eps').x0;
        const b = predictionToEpsX0(
          schedule,
          x,
          t,
          classifierGuidedModel(plain, clf, schedule, LABELS, s).predict(x, t),
          'eps',
        ).x0;
        const k = schedule.coef(
          Float64Array.from(schedule.alphasCumprod, (ab) => (s * (1 - ab)) / Math.sqrt(ab)),
          t,
          4,
        );
        // float32 cancellation in b - a (x0 is O(1), the move O(1e-3)): an absolute allowance too.
        return { err: maxAbsDiff(tf.sub(b, a), tf.mul(k, g)), size: tf.max(tf.abs(tf.mul(k, g))).dataSync()[0] };
      });
      assert.ok(
        moved.size > 0 && moved.err < 1e-2 * moved.size + 2e-6,
        `x0 estimate moved off the gradient direction (error ${moved.err}, move ${moved.size})`,
      );
      // DDPM's mean shift is s * sigma^2 * g exactly.
      const shift = classifierMeanShift(clf, LABELS, 2, undefined)(x, 30, 0.01);
      const want = tf.tidy(() => tf.mul(classifierGradient(clf, x, [30, 30, 30, 30], LABELS), 0.02));
      assert.ok(maxAbsDiff(shift, want) < 1e-6);
      tf.dispose([x, g, v, shift, want]);
    });

    for (const name of ['ddim', 'ddpm', 'dpm++2m'] as const) {
      it(`${name}: scale 0 samples exactly what the unguided sampler samples (same seed)`, () => {
        const base = unetModel(unet, 'eps', {});
        const counter = newPassCounter();
        const got = classifierGuidedSample(base, clf, schedule, SHAPE, {
          sampler: name,
          labels: LABELS,
          scale: 0,
          steps: 5,
          rng: new Rng(21),
          counter,
        });
        const want = makeSampler(name, schedule).sample(base, SHAPE, { steps: 5, rng: new Rng(21) });
        assert.deepStrictEqual(values(got), values(want));
        assert.strictEqual(counter.classifierCalls, 0);
        assert.strictEqual(counter.unetCalls, 5);
        const guided = classifierGuidedSample(base, clf, schedule, SHAPE, {
          sampler: name,
          labels: LABELS,
          scale: 5,
          steps: 5,
          rng: new Rng(21),
        });
        assert.ok(maxAbsDiff(guided, want) > 1e-4, 'scale 5 changed nothing');
        tf.dispose([got, want, guided]);
      });
    }

    it('rejects out-of-range class ids and negative scales, naming them', () => {
      const base = unetModel(unet, 'eps', {});
      assert.throws(
        () => classifierGuidedModel(base, clf, schedule, [0, 3, 1, 1], 1),
        /classifierGuidedModel: class id 3 \(index 1\) is outside \[0, 2\]/,
      );
      assert.throws(
        () => classifierGuidedModel(base, clf, schedule, LABELS, -1),
        /guidance scale must be a finite number >= 0, got -1/,
      );
      assert.throws(
        () =>
          classifierGuidedSample(base, clf, schedule, SHAPE, {
            sampler: 'ddpm',
            labels: LABELS,
            scale: -2,
            steps: 3,
            rng: new Rng(0),
          }),
        /got -2/,
      );
      assert.throws(
        () =>
          classifierGuidedSample(base, clf, schedule, SHAPE, {
            sampler: 'ddim',
            labels: [0, 1],
            scale: 1,
            steps: 3,
            rng: new Rng(0),
          }),
        /2 labels for 4 images/,
      );
      const x = tf.zeros(SHAPE) as tf.Tensor4D;
      assert.throws(() => clf.logProb(x, [1, 1, 1, 1], [0, 0, 0, 7]), /class id 7 \(index 3\)/);
      x.dispose();
    });
  });

  it('guided sampling loops keep the tensor count flat (CFG and classifier guidance, DDIM and DDPM)', () => {
    const runs: (() => tf.Tensor4D)[] = [
      () =>
        new DDIMSampler(schedule).sample(cfgModel(unet, LABELS, 3), SHAPE, {
          steps: 8,
          rng: new Rng(1),
          onStep: track,
        }),
      () =>
        new DDPMSampler(schedule).sample(cfgModel(unet, LABELS, 2), SHAPE, {
          steps: 8,
          rng: new Rng(1),
          onStep: track,
        }),
      () =>
        classifierGuidedSample(unetModel(unet), clf, schedule, SHAPE, {
          sampler: 'ddim',
          labels: LABELS,
          scale: 3,
          steps: 8,
          rng: new Rng(1),
          onStep: track,
        }),
      () =>
        classifierGuidedSample(unetModel(unet), clf, schedule, SHAPE, {
          sampler: 'ddpm',
          labels: LABELS,
          scale: 3,
          steps: 8,
          rng: new Rng(1),
          onStep: track,
        }),
    ];
    let counts: number[] = [];
    function track(): void {
      counts.push(tf.memory().numTensors);
    }
    for (const run of runs) {
      counts = [];
      const before = tf.memory().numTensors;
      const x = run();
      x.dispose();
      assert.strictEqual(tf.memory().numTensors, before, 'a sampling run leaked tensors');
      assert.ok(
        counts.every((c) => c === counts[0]),
        `tensor count changed within the loop: ${counts}`,
      );
    }
  });

  it('the noisy classifier trains (loss falls on a fixed toy task) and round-trips through its checkpoint file', async () => {
    // Class = which half of the image is bright: learnable at low noise.
    const n = 64;
    const images = new Uint8Array(n * S * S);
    const labels = new Uint8Array(n);
    for (let i = 0; i < n; i++) {
      labels[i] = i % 2;
      for (let p = 0; p < S * S; p++) images[i * S * S + p] = p % S < S / 2 === (i % 2 === 0) ? 230 : 20;
    }
    const model = new NoisyClassifier({ imageSize: S, numClasses: 2, channels: [4, 8], timeDim: 8 }, { seed: 2 });
    const data = imageBatches({ images, labels, count: n, height: S, width: S, channels: 1 }, 16, 0, {
      withLabels: true,
    });
    const o = {
      schedule: linearSchedule(10), // mostly low noise: a few dozen steps must learn it
      totalSteps: 40,
      learningRate: 1e-2,
      warmupSteps: 4,
      decay: 'cosine' as const,
    };
    const { result: losses, dataSync } = await countReads(() => trainNoisyClassifier(model, data, o));
    assert.strictEqual(dataSync, 0, 'the loop read a tensor synchronously');
    const mean = (a: number[]) => a.reduce((p, q) => p + q, 0) / a.length;
    assert.ok(
      mean(losses.slice(-10)) < 0.5 * mean(losses.slice(0, 10)),
      `loss ${mean(losses.slice(0, 10))} -> ${mean(losses.slice(-10))}`,
    );
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'guidance-spec-'));
    try {
      // Resume, against the uninterrupted run above as the reference: 40 steps = 24 + resume + 16,
      // bit for bit, from a model that starts with other weights.
      const states = path.join(dir, 'states');
      const straight = new NoisyClassifier(model.config, { seed: 2 });
      await trainNoisyClassifier(straight, data, { ...o, checkpointDir: states, checkpointEvery: 8, keepLast: 10 });
      interruptAt(states, 24);
      const c = new NoisyClassifier(model.config, { seed: 9 });
      const lc = await trainNoisyClassifier(c, data, { ...o, checkpointDir: states, checkpointEvery: 8, keepLast: 10 });
      assert.strictEqual(firstDifference(model.params, c.params), null);
      assert.deepStrictEqual(lc, losses);
      straight.dispose();
      c.dispose();
      const file = path.join(dir, 'nc.safetensors');
      await saveNoisyClassifier(file, model);
      const back = loadNoisyClassifier(file);
      const x = new Rng(1).normalTensor([2, S, S, 1]) as tf.Tensor4D;
      const [a, b] = [model.logits(x, [3, 7]), back.logits(x, [3, 7])];
      assert.deepStrictEqual(values(a), values(b));
      tf.dispose([x, a, b]);
      back.dispose();
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
      model.dispose();
    }
  });

  it("the noisy classifier's t mixture (smallT): seeded, in [0, T), extra weight below the cut, all t drawn", async () => {
    const T = 1000;
    const n = 20000;
    // No smallT (or fraction 0): exactly the uniform draws of before, so older runs resume unchanged.
    const ref = new Rng(5);
    const uniform = Array.from({ length: n }, () => ref.int(T));
    assert.deepStrictEqual(drawTimesteps(new Rng(5), n, T), uniform);
    assert.deepStrictEqual(drawTimesteps(new Rng(5), n, T, { fraction: 0, below: 100 }), uniform);
    const mix = { fraction: 0.5, below: 100 };
    const t = drawTimesteps(new Rng(5), n, T, mix);
    assert.deepStrictEqual(drawTimesteps(new Rng(5), n, T, mix), t, 'not reproducible from the seed');
    assert.notDeepStrictEqual(drawTimesteps(new Rng(6), n, T, mix), t);
    assert.ok(t.every((v) => Number.isInteger(v) && v >= 0 && v < T));
    const share = (lo: number, hi: number) => t.filter((v) => v >= lo && v < hi).length / n;
    // P(t < 100) = 0.5 + 0.5 * 0.1; each later tenth of the range keeps 0.5 * 0.1 (4+ standard deviations).
    assert.ok(Math.abs(share(0, 100) - 0.55) < 0.02, `share below 100: ${share(0, 100)}`);
    for (let lo = 100; lo < T; lo += 100)
      assert.ok(Math.abs(share(lo, lo + 100) - 0.05) < 0.008, `share in [${lo}, ${lo + 100}): ${share(lo, lo + 100)}`);
    assert.throws(() => drawTimesteps(new Rng(0), 4, T, { fraction: 1.5, below: 100 }), /fraction must be in \[0, 1\]/);
    assert.throws(() => drawTimesteps(new Rng(0), 4, T, { fraction: 0.5, below: 0 }), /below must be an integer/);
    // The trainer refuses a bad mixture before its first step.
    const model = new NoisyClassifier({ imageSize: S, numClasses: 2, channels: [4], timeDim: 8 }, { seed: 1 });
    try {
      await assert.rejects(
        trainNoisyClassifier(model, () => assert.fail('drew a batch'), {
          schedule: linearSchedule(10),
          totalSteps: 2,
          learningRate: 1e-3,
          smallT: { fraction: 0.5, below: 11 },
        }),
        /below must be an integer in \[1, 10\]/,
      );
    } finally {
      model.dispose();
    }
  });

  describe('npm run eval -- 06 | 07', function () {
    this.timeout(300_000);
    let dir = '';
    before(async () => {
      // Tiny random 28x28 networks: the script, its sweep and its JSON line are what is checked.
      dir = fs.mkdtempSync(path.join(os.tmpdir(), 'guidance-eval-'));
      const small = { ...TINY, imageSize: 28, channelMults: [1, 2] };
      const u = new UNet(small, { seed: 1 });
      const c = new UNet({ ...small, numClasses: 10 }, { seed: 2 });
      const nc = new NoisyClassifier({ channels: [4, 8], timeDim: 8 }, { seed: 3 });
      await saveUNetWeights(path.join(dir, 'u.safetensors'), u);
      await saveUNetWeights(path.join(dir, 'c.safetensors'), c);
      await saveNoisyClassifier(path.join(dir, 'nc.safetensors'), nc);
      [u, c, nc].forEach((m) => m.dispose());
    });
    after(() => fs.rmSync(dir, { recursive: true, force: true }));

    const run = (args: string[]) => runScript('eval.ts', args);

    for (const lesson of ['06', '07']) {
      it(`lesson ${lesson} ends with one JSON line: per scale accuracy and FID, and the floor`, () => {
        const files =
          lesson === '06'
            ? ['--checkpoint', path.join(dir, 'u.safetensors'), '--classifier', path.join(dir, 'nc.safetensors')]
            : ['--checkpoint', path.join(dir, 'c.safetensors')];
        const r = run([lesson, ...files, '--n', '10', '--steps', '2', '--scales', '0,2', '--batch', '5']);
        assert.strictEqual(r.status, 0, r.stderr);
        const last = r.stdout.trim().split('\n').pop()!;
        const rec = JSON.parse(last) as {
          lesson: string;
          n: number;
          fid_floor: number;
          scales: { scale: number; accuracy: number; fid: number }[];
        };
        assert.strictEqual(rec.lesson, lesson);
        assert.strictEqual(rec.n, 10);
        assert.ok(Number.isFinite(rec.fid_floor));
        assert.deepStrictEqual(
          rec.scales.map((p) => p.scale),
          [0, 2],
        );
        for (const p of rec.scales)
          assert.ok(p.accuracy >= 0 && p.accuracy <= 1 && Number.isFinite(p.fid), JSON.stringify(p));
      });
    }

    it('a negative scale or an unknown flag is a usage error (exit 2)', () => {
      const r = run(['07', '--checkpoint', path.join(dir, 'c.safetensors'), '--scales', '0,-1']);
      assert.strictEqual(r.status, 2);
      assert.match(r.stderr, /--scales needs a list of numbers >= 0/);
      assert.strictEqual(run(['06', '--frobnicate']).status, 2);
    });

    it('lesson 07 refuses an unconditional checkpoint, naming the problem', () => {
      const r = run(['07', '--checkpoint', path.join(dir, 'u.safetensors'), '--n', '10', '--steps', '1']);
      assert.strictEqual(r.status, 1);
      assert.match(r.stderr, /holds an unconditional UNet/);
    });
  });

  describe('npm run train -- 06 --channels', function () {
    this.timeout(300_000);
    const run = (args: string[]) => runScript('train.ts', args);

    it('builds a new classifier of those widths, trains it and saves them in its config', () => {
      const out = fs.mkdtempSync(path.join(os.tmpdir(), 'train06-'));
      try {
        const tiny = ['--steps', '2', '--warmup', '0', '--decay', 'constant', '--batch', '8', '--subset', '64'];
        const r = run(['06', '--channels', '4,8', ...tiny, '--out', out]);
        assert.strictEqual(r.status, 0, r.stderr);
        const m = loadNoisyClassifier(path.join(out, 'noisy_classifier.safetensors'));
        assert.deepStrictEqual(m.config.channels, [4, 8]);
        m.dispose();
      } finally {
        fs.rmSync(out, { recursive: true, force: true });
      }
    });

    it('a bad list, another lesson or --init with it is a usage error (exit 2)', () => {
      for (const [args, msg] of [
        [['06', '--channels', '4,x'], /--channels must list positive integers/],
        [['06', '--channels', '0,8'], /--channels must list positive integers/],
        [['05', '--channels', '4,8'], /--channels sets a new lesson-06 classifier/],
        [['06', '--channels', '4,8', '--init', 'x.safetensors'], /not with --init/],
      ] as [string[], RegExp][]) {
        const r = run(args);
        assert.strictEqual(r.status, 2, args.join(' '));
        assert.match(r.stderr, msg);
      }
    });
  });
});
