// Lessons 08 and 09's library: resizing, PSNR/SSIM, masks and fills, RePaint, and the SR/inpainting
// model plumbing, on hand-computed values and tiny random models (cpu backend, seconds). RePaint's step
// is checked against the exact denoiser of Gaussian data (every transition affine, so its coefficients,
// noise levels and the moments follow in closed form, in float64), as tests/samplers.spec.ts does.
import { strict as assert } from 'assert';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '../lib/core/tfjs_setup';
import { bicubicMatrix, downsampleArea, keysCubic, upsampleBicubic } from '../lib/core/resize';
import { inpaintBatches, inpaintWithModel } from '../lib/methods/inpaint/conditional';
import { meanFill, nearestFill } from '../lib/methods/inpaint/fill';
import { composite, holeMse, makeMasks, maskArray, maskCoverage, validateMask } from '../lib/methods/inpaint/masks';
import { psnr } from '../lib/eval/metrics/psnr';
import { ssim } from '../lib/eval/metrics/ssim';
import { Rng } from '../lib/core/random';
import { repaintEvaluations, repaintSchedule, RePaintSampler } from '../lib/methods/inpaint/repaint';
import { unetModel } from '../lib/core/samplers/types';
import { linearSchedule } from '../lib/core/schedule';
import { srBatches } from '../lib/methods/sr/batches';
import { checkLowRes, lowRes, SrSpec, srCondition } from '../lib/methods/sr/condition';
import { SrModel, superResolve } from '../lib/methods/sr/model';
import { regressionPredict, trainRegression } from '../lib/methods/sr/regression';
import { ImageData } from '../lib/core/train/batch_source';
import { UNet } from '../lib/core/unet/unet';
import { countReads } from './helpers/training';
import { evaluateSuperResolution, disposeSrResult, srRecord, testImages } from '../lib/eval/lesson08';
import { evaluateInpainting, disposeInpaintResult, inpaintFidSpread, inpaintRecord } from '../lib/eval/lesson09';
import { TINY_UNET_NO_ATTENTION } from './helpers/tiny_unet';

const values = (t: tf.Tensor) => Array.from(t.dataSync());
const maxAbs = (a: number[], b: number[]) => a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i])), 0);

function tinyUNet(size: number, condChannels?: number, seed = 1): UNet {
  return new UNet(
    {
      imageSize: size,
      inChannels: 1,
      outChannels: 1,
      baseChannels: 8,
      channelMults: [1, 2],
      numResBlocks: 1,
      groups: 4,
      attentionHeads: 2,
      midAttention: false,
      ...(condChannels ? { condChannels } : {}),
    },
    { seed },
  );
}

/** n random images in [-1, 1] as an ImageData (uint8 pixels). */
function randomSet(n: number, size: number, seed: number): ImageData {
  const rng = new Rng(seed);
  const images = new Uint8Array(n * size * size);
  for (let i = 0; i < images.length; i++) images[i] = rng.int(256);
  return { images, labels: new Uint8Array(n), count: n, height: size, width: size, channels: 1 };
}

describe('PSNR and SSIM', () => {
  it('PSNR: identical images are +Infinity; a constant offset c gives 10 log10(L^2 / c^2)', async () => {
    const a = new Rng(0).uniformTensor([2, 28, 28, 1], -1, 1) as tf.Tensor4D;
    const b = tf.add(a, 0.1) as tf.Tensor4D;
    assert.deepEqual(await psnr(a, a), [Infinity, Infinity]);
    // MSE = 0.01: 10 log10(4 / 0.01) = 26.0206 dB for L = 2, 20 dB for L = 1.
    for (const v of await psnr(a, b)) assert.ok(Math.abs(v - 26.0206) < 1e-3, `PSNR ${v}`);
    for (const v of await psnr(a, b, 1)) assert.ok(Math.abs(v - 20) < 1e-3, `PSNR ${v}`);
    await assert.rejects(psnr(a, tf.zeros([2, 14, 14, 1]) as tf.Tensor4D), /shapes differ/);
    await assert.rejects(psnr(a, b, 0), /dataRange must be a positive number, got 0/);
    tf.dispose([a, b]);
  });

  it('SSIM: identical images give 1; constants 0 and c give C1 / (c^2 + C1)', async () => {
    const a = new Rng(1).uniformTensor([2, 28, 28, 1], -1, 1) as tf.Tensor4D;
    for (const v of await ssim(a, a)) assert.ok(Math.abs(v - 1) < 1e-5, `SSIM ${v}`);
    const zero = tf.zeros([1, 16, 16, 1]) as tf.Tensor4D;
    const c = tf.fill([1, 16, 16, 1], 0.1) as tf.Tensor4D;
    // L = 2: C1 = (0.01 * 2)^2 = 4e-4; variances are 0, so SSIM = C1 / (0.01 + C1) = 0.0384615.
    const [v] = await ssim(zero, c);
    assert.ok(Math.abs(v - 0.0384615) < 1e-4, `SSIM ${v}`);
    // A negated zero-mean pattern: the structure term is -1 where the means are 0.
    const stripes = tf.tensor4d(
      Array.from({ length: 256 }, (_, i) => (i % 2 ? 0.5 : -0.5)),
      [1, 16, 16, 1],
    );
    const [neg] = await ssim(stripes, tf.neg(stripes) as tf.Tensor4D);
    assert.ok(neg < -0.9, `SSIM of an image and its negative should be near -1, got ${neg}`);
    await assert.rejects(
      ssim(tf.zeros([1, 7, 7, 1]) as tf.Tensor4D, tf.zeros([1, 7, 7, 1]) as tf.Tensor4D),
      /smaller than the 11x11 window/,
    );
    tf.dispose([a, zero, c, stripes]);
  });
});

describe('resizing', () => {
  it("Keys' kernel: 1 at 0, 0 at the other integers, weights of any phase sum to 1", () => {
    assert.equal(keysCubic(0), 1);
    for (const x of [1, 2, -1, -2, 3]) assert.ok(Math.abs(keysCubic(x)) < 1e-12);
    const m = bicubicMatrix(7, 28);
    for (let i = 0; i < 28; i++) {
      let s = 0;
      for (let j = 0; j < 7; j++) s += m[i * 7 + j];
      assert.ok(Math.abs(s - 1) < 1e-6, `row ${i} sums to ${s}`);
    }
  });

  it('bicubic up-sampling reproduces a constant everywhere and a linear ramp away from the border', () => {
    const k = tf.fill([2, 7, 7, 1], 0.37) as tf.Tensor4D;
    const up = upsampleBicubic(k, 28);
    assert.deepEqual(up.shape, [2, 28, 28, 1]);
    assert.ok(maxAbs(values(up), new Array(2 * 784).fill(0.37)) < 1e-6);
    // Ramps along each axis: f = 0.2 * index - 0.5 sampled at u = (i + 0.5) / 4 - 0.5.
    const ramp = (axis: 'row' | 'col') =>
      tf.tensor4d(
        Array.from({ length: 49 }, (_, p) => 0.2 * (axis === 'row' ? Math.floor(p / 7) : p % 7) - 0.5),
        [1, 7, 7, 1],
      );
    for (const axis of ['row', 'col'] as const) {
      const r = ramp(axis);
      const out = upsampleBicubic(r, 28).dataSync();
      let checked = 0;
      for (let i = 0; i < 28; i++) {
        const u = (i + 0.5) / 4 - 0.5;
        if (Math.floor(u) - 1 < 0 || Math.floor(u) + 2 > 6) continue; // taps would hit the replicated border
        for (let j = 0; j < 28; j++) {
          const v = out[axis === 'row' ? i * 28 + j : j * 28 + i];
          assert.ok(Math.abs(v - (0.2 * u - 0.5)) < 1e-5, `${axis} ramp at ${i}: ${v} vs ${0.2 * u - 0.5}`);
          checked++;
        }
      }
      assert.ok(checked >= 28 * 12, `only ${checked} pixels checked`);
      r.dispose();
    }
    tf.dispose([k, up]);
  });

  it('area down-sampling averages blocks; a size it cannot divide is an error', () => {
    const c = tf.fill([1, 28, 28, 1], -0.25) as tf.Tensor4D;
    const d = downsampleArea(c, 4);
    assert.deepEqual(d.shape, [1, 7, 7, 1]);
    assert.ok(maxAbs(values(d), new Array(49).fill(-0.25)) < 1e-7);
    const x = tf.tensor4d([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16], [1, 4, 4, 1]);
    assert.deepEqual(values(downsampleArea(x, 2)), [3.5, 5.5, 11.5, 13.5]);
    assert.throws(() => downsampleArea(c, 3), /28x28 is not divisible by factor 3/);
    tf.dispose([c, d, x]);
  });
});

describe('inpainting masks and fills', () => {
  it('center, half and strokes masks; same seed same masks', async () => {
    const center = maskArray('center', 28, new Rng(0));
    assert.equal(
      center.reduce((p, q) => p + q, 0),
      196,
    );
    assert.equal(center[7 * 28 + 7], 1);
    assert.equal(center[6 * 28 + 7], 0);
    assert.equal(center[20 * 28 + 20], 1);
    assert.equal(center[21 * 28 + 20], 0);
    for (let s = 0; s < 8; s++)
      assert.equal(
        maskArray('half', 28, new Rng(s)).reduce((p, q) => p + q, 0),
        392,
      );
    const m1 = makeMasks('strokes', 6, 28, new Rng(3));
    const m2 = makeMasks('strokes', 6, 28, new Rng(3));
    const m3 = makeMasks('strokes', 6, 28, new Rng(4));
    assert.deepEqual(values(m1), values(m2));
    assert.notDeepEqual(values(m1), values(m3));
    for (const cov of await maskCoverage(m1)) assert.ok(cov > 0.03 && cov < 0.8, `strokes cover ${cov}`);
    assert.throws(() => makeMasks('circle' as never, 1, 28, new Rng(0)), /unknown mask kind 'circle'/);
    tf.dispose([m1, m2, m3]);
  });

  it('a mask of the wrong shape or not binary is refused with a clear error', async () => {
    const x = tf.zeros([2, 28, 28, 1]) as tf.Tensor4D;
    await assert.rejects(validateMask(tf.zeros([2, 28, 28]), x), /must have shape \[2, 28, 28, 1\].*got \[2,28,28\]/);
    await assert.rejects(validateMask(tf.zeros([1, 28, 28, 1]), x), /must have shape \[2, 28, 28, 1\]/);
    await assert.rejects(validateMask(tf.zeros([2, 14, 14, 1]), x), /got \[2,14,14,1\]/);
    await assert.rejects(validateMask(tf.fill([2, 28, 28, 1], 0.5), x), /must be binary .* found 0.5 at flat index 0/);
    await assert.doesNotReject(validateMask(tf.ones([2, 28, 28, 1]), x));
    x.dispose();
  });

  it('fills and the hole error: known pixels kept, holes filled as defined', async () => {
    // One 1x4 "image" row repeated: known values -1 at x=0, 0.5 at x=3; holes at x=1 (nearer 0) and x=2 (nearer 3).
    const x = tf.tensor4d([-1, 9, 9, 0.5], [1, 1, 4, 1]);
    const mask = tf.tensor4d([0, 1, 1, 0], [1, 1, 4, 1]);
    assert.deepEqual(values(await nearestFill(x, mask)), [-1, -1, 0.5, 0.5]);
    const mean = tf.tensor4d([7, 0.25, -0.25, 7], [1, 1, 4, 1]);
    assert.deepEqual(values(await meanFill(x, mask, mean)), [-1, 0.25, -0.25, 0.5]);
    // Hole error of [-1, 0, 0, 0.5] against [-1, 1, -1, 0.5]: ((0-1)^2 + (0+1)^2) / 2 = 1.
    const target = tf.tensor4d([-1, 1, -1, 0.5], [1, 1, 4, 1]);
    assert.deepEqual(await holeMse(tf.tensor4d([-1, 0, 0, 0.5], [1, 1, 4, 1]), target, mask), [1]);
    assert.deepEqual(values(composite(target, x, mask)), [-1, 1, -1, 0.5]);
    await assert.rejects(
      nearestFill(x, tf.tensor4d([0, 2, 1, 0], [1, 1, 4, 1])),
      /the mask must be binary \(0 = known, 1 = missing\), found 2 at flat index 1/,
    );
  });

  it('inpainting batches carry [masked image, mask] and are the same for the same step', async () => {
    const set = randomSet(32, 28, 5);
    const source = inpaintBatches(set, 4, 7);
    const a = source(3);
    const b = source(3);
    const ca = a.cond!.concat!;
    assert.deepEqual(ca.shape, [4, 28, 28, 2]);
    assert.deepEqual(values(ca), values(b.cond!.concat!));
    const [masked, mask] = tf.split(ca, 2, 3);
    await validateMask(mask, a.x);
    assert.ok(maxAbs(values(masked), values(tf.mul(a.x, tf.sub(1, mask)))) < 1e-7);
    tf.dispose([a.x, b.x, ca, b.cond!.concat!, masked, mask]);
  });
});

describe('RePaint', () => {
  it('schedule: down with jumps back up, as in the RePaint code', () => {
    assert.deepEqual(repaintSchedule(4, 2, 1), [3, 2, 1, 0, -1]);
    // steps 6, jump 2, 2 passes: jumps at levels 0 and 2 (range(0, 6 - 2, 2)).
    assert.deepEqual(repaintSchedule(6, 2, 2), [5, 4, 3, 2, 3, 4, 3, 2, 1, 0, 1, 2, 1, 0, -1]);
    assert.equal(repaintEvaluations(6, 2, 2), 10);
    assert.throws(() => repaintSchedule(4, 0, 2), /jumpLength must be a positive integer, got 0/);
    assert.throws(() => repaintSchedule(4, 4, 2), /jumpLength 4 must be smaller than steps 4/);
  });

  it('plan: the network runs on the way down (at the level it leaves), not on the jumps back up', () => {
    const s = linearSchedule(100);
    // 6 'trailing' steps of 100 are [99, 82, 66, 49, 32, 16]; level k is the k-th from the clean end.
    const grid = [16, 32, 49, 66, 82, 99];
    const plan = new RePaintSampler(s).timesteps(6, 2, 2);
    const levels = repaintSchedule(6, 2, 2);
    assert.deepEqual(
      plan,
      levels.slice(1).map((to, i) => (to < levels[i] ? grid[levels[i]] : null)),
    );
    assert.equal(plan.filter((t) => t !== null).length, repaintEvaluations(6, 2, 2));
    assert.deepEqual(new RePaintSampler(s, { jumpLength: 2, resamplings: 1 }).timesteps(3), [99, 66, 32]);
  });

  it('a hand-written loop over the plan calling step equals sample() exactly, leaving no tensors', () => {
    const unet = tinyUNet(8);
    const model = unetModel(unet);
    const sampler = new RePaintSampler(linearSchedule(100));
    const known = new Rng(2).uniformTensor([2, 8, 8, 1], -1, 1) as tf.Tensor4D;
    const mask = makeMasks('half', 2, 8, new Rng(0));
    const opts = { steps: 6, jumpLength: 2, resamplings: 2, known, mask };
    const before = tf.memory().numTensors;
    // As a lesson cell writes it: the network only where the plan has a timestep.
    const rng = new Rng(5);
    const run = sampler.start({ ...opts, rng }, model.prediction);
    let x = rng.normalTensor([2, 8, 8, 1]) as tf.Tensor4D;
    for (let i = 0; i < run.timesteps.length; i++) {
      const t = run.timesteps[i];
      const out = t === null ? null : model.predict(x, [t, t]);
      const { prev, x0 } = sampler.step(out, i, x, run);
      tf.dispose([x, x0]);
      out?.dispose();
      x = prev;
    }
    assert.equal(tf.memory().numTensors, before + 1, 'the hand-written loop left tensors behind');
    const seen: number[] = [];
    const y = sampler.sample(model, [2, 8, 8, 1], { ...opts, rng: new Rng(5), onStep: (i) => seen.push(i.t) });
    assert.deepEqual(
      seen,
      run.timesteps.filter((t) => t !== null),
      'onStep once per network call, with its timestep',
    );
    assert.equal(maxAbs(values(x), values(y)), 0);
    // A step handed the wrong kind of input says which transition it is.
    assert.throws(() => sampler.step(null, 0, x, run), /transition 0 \(level 5 -> 4\) needs the network output/);
    assert.throws(() => sampler.step(x, 3, x, run), /transition 3 \(level 2 -> 3\) takes no network output/);
    tf.dispose([x, y]);
    assert.equal(tf.memory().numTensors, before);
    tf.dispose([known, mask]);
    unet.dispose();
  });

  it('each step with the exact Gaussian denoiser: jump coefficients, known-region noise level, posterior, moments', async () => {
    // Independent reference (the method of tests/samplers.spec.ts): data x0 ~ N(mu, sd^2) per pixel has the
    // exact denoiser E[x0 | x_t] = k x_t + d, so every transition is affine in x plus Gaussian noise. Checked
    // per transition, in float64 from the textbook formulas (not the library's coefficients), on 10^4 pixels:
    //  - a jump up from level a to b: x_b - sqrt(abar_b / abar_a) x_a ~ N(0, 1 - abar_b / abar_a), and
    //    uncorrelated with x_a (a wrong coefficient leaves a slope);
    //  - a step down, known pixels: x_b - sqrt(abar_b) known ~ N(0, 1 - abar_b) (the original noised to the
    //    target level, not the level left), and exactly the original at the end;
    //  - a step down, missing pixels: x_b minus the posterior mean of q(x_b | x_a, x0 = k x_a + d) (Ho et al.
    //    eq. 7) ~ N(0, posterior variance);
    // and the missing region's final mean and std against the moments propagated through the whole walk.
    const [mu, sd] = [0.3, 0.5];
    const s = linearSchedule(100);
    const grid = [16, 32, 49, 66, 82, 99]; // 6 'trailing' steps of 100, level k -> timestep (plan test above)
    const levels = [5, 4, 3, 2, 3, 4, 3, 2, 1, 0, 1, 2, 1, 0, -1]; // repaintSchedule(6, 2, 2), checked above
    const abar = (k: number) => (k < 0 ? 1 : s.alphasCumprod[grid[k]]);
    const oracle = (xt: Float64Array, t: number): { eps: Float64Array; k: number; d: number } => {
      const a = Math.sqrt(s.alphasCumprod[t]);
      const k = (a * sd * sd) / (a * a * sd * sd + 1 - s.alphasCumprod[t]);
      const d = mu * (1 - k * a);
      return { eps: xt.map((x) => (x - a * (k * x + d)) / Math.sqrt(1 - s.alphasCumprod[t])), k, d };
    };
    const shape: [number, number, number, number] = [4, 50, 50, 1];
    const n = 4 * 50 * 50;
    const missing = (i: number) => i % 50 < 25; // left half of every image generated, right half known
    const known = new Rng(3).normalTensor(shape, mu, sd) as tf.Tensor4D;
    const mask = tf.tensor4d(
      Float32Array.from({ length: n }, (_, i) => (missing(i) ? 1 : 0)),
      shape,
    );
    const kn = Float64Array.from(await known.data());
    const sampler = new RePaintSampler(s);
    const rng = new Rng(9);
    const run = sampler.start(
      { steps: 6, jumpLength: 2, resamplings: 2, rng, known, mask, clipDenoised: false },
      'eps',
    );
    assert.deepEqual(run.levels, levels);
    assert.deepEqual(run.grid, grid);
    /** Residuals r: mean 0 and std `sigma` within 4 standard errors, and no slope on x. */
    const check = (r: number[], x: number[], sigma: number, what: string) => {
      const m = r.reduce((a, b) => a + b, 0) / r.length;
      const sdr = Math.sqrt(r.reduce((a, b) => a + (b - m) ** 2, 0) / r.length);
      assert.ok(Math.abs(m) < (4 * sigma) / Math.sqrt(r.length), `${what}: residual mean ${m} (noise std ${sigma})`);
      assert.ok(
        Math.abs(sdr - sigma) < (4 * sigma) / Math.sqrt(2 * r.length),
        `${what}: noise std ${sdr}, not ${sigma}`,
      );
      const mx = x.reduce((a, b) => a + b, 0) / x.length;
      const sxx = x.reduce((a, b) => a + (b - mx) ** 2, 0);
      const slope = r.reduce((a, b, i) => a + b * (x[i] - mx), 0) / sxx;
      assert.ok(
        Math.abs(slope) < (4 * sigma) / Math.sqrt(sxx),
        `${what}: the residual still depends on x (slope ${slope})`,
      );
    };
    let x = rng.normalTensor(shape) as tf.Tensor4D;
    let [m, v] = [0, 1]; // closed-form moments of a missing pixel
    for (let i = 0; i + 1 < levels.length; i++) {
      const [from, to] = [levels[i], levels[i + 1]];
      const xa = Float64Array.from(await x.data());
      const t = run.timesteps[i];
      const o = t === null ? null : oracle(xa, t);
      const out = o === null ? null : tf.tensor4d(Float32Array.from(o.eps), shape);
      const { prev, x0 } = sampler.step(out, i, x, run);
      const xb = Float64Array.from(await prev.data());
      tf.dispose([out, x, x0] as tf.Tensor[]);
      x = prev;
      const all = Array.from({ length: n }, (_, j) => j);
      const what = `transition ${i} (level ${from} -> ${to})`;
      if (to > from) {
        const r = abar(to) / abar(from);
        check(
          all.map((j) => xb[j] - Math.sqrt(r) * xa[j]),
          all.map((j) => xa[j]),
          Math.sqrt(1 - r),
          `${what}, jump up`,
        );
        [m, v] = [Math.sqrt(r) * m, r * v + 1 - r];
        continue;
      }
      assert.ok(o !== null, `${what}: a step down has a network call`);
      const kIdx = all.filter((j) => !missing(j));
      const uIdx = all.filter(missing);
      if (to < 0) {
        assert.ok(Math.max(...kIdx.map((j) => Math.abs(xb[j] - kn[j]))) < 1e-6, `${what}: known pixels at the end`);
      } else {
        const residual = kIdx.map((j) => xb[j] - Math.sqrt(abar(to)) * kn[j]);
        check(
          residual,
          kIdx.map((j) => kn[j]),
          Math.sqrt(1 - abar(to)),
          `${what}, known region`,
        );
      }
      const [ab, abp] = [abar(from), abar(to)];
      const beta = 1 - ab / abp;
      const p = (Math.sqrt(abp) * beta) / (1 - ab);
      const q = (Math.sqrt(1 - beta) * (1 - abp)) / (1 - ab);
      const sigma2 = to < 0 ? 0 : ((1 - abp) / (1 - ab)) * beta;
      const resid = uIdx.map((j) => xb[j] - (p * (o.k * xa[j] + o.d) + q * xa[j]));
      if (to < 0) assert.ok(Math.max(...resid.map(Math.abs)) < 1e-5, `${what}: the last step adds no noise`);
      else
        check(
          resid,
          uIdx.map((j) => xa[j]),
          Math.sqrt(sigma2),
          `${what}, missing region`,
        );
      [m, v] = [(p * o.k + q) * m + p * o.d, (p * o.k + q) ** 2 * v + sigma2];
    }
    // The missing region's final distribution (n / 2 pixels) against the propagated moments.
    const fin = Float64Array.from(await x.data()).filter((_, j) => missing(j));
    const fm = fin.reduce((a, b) => a + b, 0) / fin.length;
    const fsd = Math.sqrt(fin.reduce((a, b) => a + (b - fm) ** 2, 0) / fin.length);
    const esd = Math.sqrt(v);
    assert.ok(Math.abs(fm - m) < (4 * esd) / Math.sqrt(fin.length), `final mean ${fm}, closed form ${m}`);
    assert.ok(Math.abs(fsd - esd) < (4 * esd) / Math.sqrt(2 * fin.length), `final std ${fsd}, closed form ${esd}`);
    tf.dispose([x, known, mask]);
  });

  // By construction (the last step pastes the original): this guards the plumbing and the memory, not the method.
  it('the final paste returns the known pixels unchanged, and memory stays flat', () => {
    const unet = tinyUNet(8);
    const sampler = new RePaintSampler(linearSchedule(100));
    const known = new Rng(2).uniformTensor([3, 8, 8, 1], -1, 1) as tf.Tensor4D;
    const mask = makeMasks('center', 3, 8, new Rng(0));
    const counts: number[] = [];
    for (let run = 0; run < 2; run++) {
      const before = tf.memory().numTensors;
      const out = sampler.sample(unetModel(unet), [3, 8, 8, 1], {
        steps: 6,
        jumpLength: 2,
        resamplings: 2,
        rng: new Rng(run),
        known,
        mask,
      });
      const k = values(known);
      const m = values(mask);
      const o = values(out);
      let diff = 0;
      let changed = 0;
      m.forEach((v, i) => {
        if (v === 0) diff = Math.max(diff, Math.abs(o[i] - k[i]));
        else if (Math.abs(o[i] - k[i]) > 1e-3) changed++;
      });
      assert.ok(diff < 1e-6, `known region moved by ${diff}`);
      assert.ok(changed > 0, 'the missing region was not generated');
      out.dispose();
      counts.push(tf.memory().numTensors - before);
    }
    assert.deepEqual(counts, [0, 0], `tensors left after each run: ${counts}`);
    assert.throws(
      () =>
        sampler.sample(unetModel(unet), [3, 8, 8, 1], {
          steps: 6,
          rng: new Rng(0),
          known,
          mask: tf.zeros([3, 8, 8, 2]) as tf.Tensor4D,
        }),
      /mask must have shape \[3, 8, 8, 1\]/,
    );
    tf.dispose([known, mask]);
    unet.dispose();
  });
});

describe('super-resolution and conditional inpainting plumbing', () => {
  const spec: SrSpec = { hrSize: 28, lrSizes: [7, 14] };

  it('an input of a size the model was not trained on is an error naming the sizes', async () => {
    const lr = tf.zeros([1, 10, 10, 1]) as tf.Tensor4D;
    assert.throws(() => srCondition(lr, spec), /trained on 7x7 and 14x14 inputs \(to 28x28\); got a 10x10 input/);
    assert.throws(() => checkLowRes(tf.zeros([1, 7, 14, 1]) as tf.Tensor4D, spec), /got a 7x14 input/);
    assert.throws(
      () => lowRes(tf.zeros([1, 28, 28, 1]) as tf.Tensor4D, 5),
      /lrSize 5 does not divide the image side 28/,
    );
    const unet = tinyUNet(28, 1);
    const model: SrModel = { task: 'sr3', unet, spec };
    await assert.rejects(superResolve(model, lr, { rng: new Rng(0), steps: 2 }), /got a 10x10 input/);
    const ok = await superResolve(model, tf.zeros([2, 7, 7, 1]) as tf.Tensor4D, { rng: new Rng(0), steps: 2 });
    assert.deepEqual(ok.shape, [2, 28, 28, 1]);
    tf.dispose([lr, ok]);
    unet.dispose();
  });

  it('SR batches cycle the input sizes; the regression baseline learns on them', async () => {
    const small: SrSpec = { hrSize: 8, lrSizes: [2, 4] };
    const set = randomSet(16, 8, 1);
    const source = srBatches(set, 8, 0, small);
    for (const step of [0, 1]) {
      const b = source(step);
      const want = tf.tidy(() => srCondition(lowRes(b.x, small.lrSizes[step]), small));
      assert.ok(
        maxAbs(values(b.cond!.concat!), values(want)) < 1e-6,
        `step ${step} uses lrSize ${small.lrSizes[step]}`,
      );
      tf.dispose([b.x, b.cond!.concat!, want]);
    }
    // Smaller still than tinyUNet: the cpu backend's convolution gradients are slow.
    const unet = new UNet(TINY_UNET_NO_ATTENTION, { seed: 1 });
    const before = tf.memory().numTensors;
    // One fixed batch (step 0 every time): the loss must fall.
    const { result: r, dataSync } = await countReads(() =>
      trainRegression(unet, () => source(0), { totalSteps: 25, learningRate: 5e-3, progress: false }),
    );
    assert.equal(tf.memory().numTensors, before, 'regression training leaked tensors');
    assert.equal(dataSync, 0, 'the loop read a tensor synchronously');
    const first = r.loss.slice(0, 5).reduce((p, q) => p + q, 0) / 5;
    const last = r.loss.slice(-5).reduce((p, q) => p + q, 0) / 5;
    assert.ok(last < 0.9 * first, `loss ${first} -> ${last}`);
    const pred = regressionPredict(r.model, tf.zeros([1, 8, 8, 1]) as tf.Tensor4D);
    assert.deepEqual(pred.shape, [1, 8, 8, 1]);
    pred.dispose();
    unet.dispose();
  });

  it('conditional inpainting keeps the known pixels and checks its model', async () => {
    const unet = tinyUNet(28, 2);
    const x = new Rng(4).uniformTensor([2, 28, 28, 1], -1, 1) as tf.Tensor4D;
    const mask = makeMasks('half', 2, 28, new Rng(1));
    const out = await inpaintWithModel(unet, x, mask, { steps: 3, rng: new Rng(0) });
    const k = values(x);
    const o = values(out);
    values(mask).forEach((m, i) => {
      if (m === 0) assert.equal(o[i], k[i]);
    });
    const wrong = tinyUNet(28, 1);
    await assert.rejects(
      inpaintWithModel(wrong, x, mask, { steps: 3, rng: new Rng(0) }),
      /condChannels 1, an inpainting model for 1-channel images needs 2/,
    );
    await assert.rejects(
      inpaintWithModel(unet, x, tf.fill([2, 28, 28, 1], 0.3) as tf.Tensor4D, { steps: 3, rng: new Rng(0) }),
      /the mask must be binary \(0 = known, 1 = missing\), found 0\.3\d* at flat index 0/,
    );
    tf.dispose([x, mask, out]);
    unet.dispose();
    wrong.dispose();
  });
});

describe('lesson 08 and 09 measurements (tiny random models, no FID)', () => {
  it('evaluateSuperResolution: rows per method, bicubic scored as computed directly, a JSON record', async () => {
    const spec: SrSpec = { hrSize: 28, lrSizes: [7, 14] };
    const sr3: SrModel = { task: 'sr3', unet: tinyUNet(28, 1), spec };
    const reg: SrModel = { task: 'sr-regression', unet: tinyUNet(28), spec };
    const before = tf.memory().numTensors;
    const r = await evaluateSuperResolution(sr3, reg, { n: 3, lrSize: 7, steps: 2, fid: false, keep: 2 });
    assert.deepEqual(
      r.rows.map((w) => w.method),
      ['bicubic', 'regression', 'sr3', 'original'],
    );
    const hr = testImages(3, 0);
    const bic = tf.tidy(() => tf.clipByValue(upsampleBicubic(lowRes(hr, 7), 28), -1, 1)) as tf.Tensor4D;
    const direct = (await psnr(bic, hr)).reduce((p, q) => p + q, 0) / 3;
    assert.ok(Math.abs(r.rows[0].psnr - direct) < 1e-9, `${r.rows[0].psnr} vs ${direct}`);
    assert.deepEqual(r.examples.sr3.shape, [2, 28, 28, 1]);
    const rec = srRecord([r]) as Record<string, Record<string, unknown>>;
    assert.equal(rec.lesson, '08');
    assert.equal((rec['4x'] as Record<string, unknown>).lr_size, 7);
    tf.dispose([hr, bic]);
    disposeSrResult(r);
    assert.equal(tf.memory().numTensors, before, 'evaluateSuperResolution leaked tensors');
    sr3.unet.dispose();
    reg.unet.dispose();
  });

  it('evaluateInpainting: every method and mask kind, known pixels kept, a JSON record', async () => {
    const cond = tinyUNet(28, 2);
    const base = tinyUNet(28);
    const r = await evaluateInpainting(
      { conditional: cond, unconditional: { unet: base, schedule: linearSchedule(100) } },
      { n: 2, steps: 2, repaint: { steps: 4, jumpLength: 2, resamplings: 2 }, fid: false, keep: 2 },
    );
    assert.equal(r.rows.length, 12);
    const x = r.examples.original;
    for (const kind of ['center', 'half', 'strokes']) {
      const e = r.examples.byKind[kind];
      const m = values(e.mask);
      for (const method of ['mean', 'nearest', 'conditional', 'repaint'] as const) {
        const o = values(e[method]!);
        const k = values(x);
        const moved = m.reduce((worst, v, i) => (v === 0 ? Math.max(worst, Math.abs(o[i] - k[i])) : worst), 0);
        assert.ok(moved < 1e-6, `${kind}/${method} changed known pixels by ${moved}`);
      }
    }
    for (const w of r.rows)
      assert.ok(Number.isFinite(w.holeMse) && w.holeMse >= 0, `${w.kind}/${w.method} hole MSE ${w.holeMse}`);
    const rec = inpaintRecord(r) as Record<string, Record<string, Record<string, unknown>>>;
    assert.ok(typeof rec.center.repaint.hole_mse === 'number');
    disposeInpaintResult(r);
    cond.dispose();
    base.dispose();
  });

  it('evaluateInpainting: samplingSeed changes the sampling only; inpaintFidSpread needs two seeds', async () => {
    const cond = tinyUNet(28, 2);
    const models = { conditional: cond, unconditional: null };
    const kinds = ['strokes'] as const;
    const opts = { n: 2, steps: 2, fid: false, keep: 2, kinds, methods: ['nearest', 'conditional'] as const };
    const [a, b, c] = [
      await evaluateInpainting(models, { ...opts, samplingSeed: 0 }),
      await evaluateInpainting(models, { ...opts, samplingSeed: 1 }),
      await evaluateInpainting(models, { ...opts, samplingSeed: undefined }),
    ];
    const out = (r: typeof a, m: 'nearest' | 'conditional') => values(r.examples.byKind.strokes[m]!);
    assert.equal(a.rows.length, 2);
    assert.deepEqual(values(a.examples.byKind.strokes.mask), values(b.examples.byKind.strokes.mask), 'same masks');
    assert.deepEqual(out(a, 'nearest'), out(b, 'nearest'), 'same images');
    assert.notDeepEqual(out(a, 'conditional'), out(b, 'conditional'), 'another sampling seed samples differently');
    assert.deepEqual(out(a, 'conditional'), out(c, 'conditional'), 'samplingSeed defaults to seed');
    [a, b, c].forEach(disposeInpaintResult);
    await assert.rejects(inpaintFidSpread(models, [0], opts), /need at least 2 sampling seeds, got 1/);
    cond.dispose();
  });
});
