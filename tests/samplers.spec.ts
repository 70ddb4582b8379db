// DDPM ancestral, DPM-Solver++(2M) and PLMS samplers (and the registry), checked three independent ways:
// the exact denoiser of Gaussian data N(0.3, 0.5^2), where every step is affine so the sample
// moments follow in closed form (propagated here in float64); agreement between DDIM(eta=1) and
// DDPM(posterior variance), which are the same process; and full sampling loops with a tiny random
// UNet against a float64 re-implementation of diffusers' update formulas written in this file.
// Then the step interface: a hand-written loop over a sampler's plan calling `step` (what a lesson
// cell shows) equals sample() exactly, and the one loop frees everything even when onStep throws.
import * as assert from 'assert';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { Prediction, predictionToEpsX0 } from '../lib/core/loss';
import { Rng } from '../lib/core/random';
import { DDIMSampler } from '../lib/core/samplers/ddim';
import { DDPMSampler } from '../lib/core/samplers/ddpm';
import { DPMSolverSampler, logSnrTimesteps } from '../lib/core/samplers/dpm_solver';
import { PLMSSampler } from '../lib/core/samplers/plms';
import { makeSampler, SAMPLER_NAMES, SamplerName } from '../lib/core/samplers/index';
import { DiffusionModel, SampleOptions, Sampler, unetModel } from '../lib/core/samplers/types';
import { cosineSchedule, linearSchedule, NoiseSchedule, respaceTimesteps } from '../lib/core/schedule';
import { UNet } from '../lib/core/unet/unet';

type Shape = [number, number, number, number];

/** E[x0 | x_t] for x0 ~ N(mu, sd^2) per pixel is k x_t + d; returns (k, d) at step t. */
function oracleCoefs(s: NoiseSchedule, mu: number, sd: number, t: number): [number, number] {
  const a = Math.sqrt(s.alphasCumprod[t]);
  const k = (a * sd * sd) / (a * a * sd * sd + 1 - s.alphasCumprod[t]);
  return [k, mu * (1 - k * a)];
}

function gaussianOracle(s: NoiseSchedule, mu: number, sd: number, prediction: Prediction): DiffusionModel {
  return {
    prediction,
    predict: (xt, t) =>
      tf.tidy(() => {
        const a = Math.sqrt(s.alphasCumprod[t[0]]);
        const b = Math.sqrt(1 - s.alphasCumprod[t[0]]);
        const [k, d] = oracleCoefs(s, mu, sd, t[0]);
        const x0 = tf.add(tf.mul(k, xt), d);
        const eps = tf.div(tf.sub(xt, tf.mul(a, x0)), b);
        if (prediction === 'eps') return eps as tf.Tensor4D;
        if (prediction === 'x0') return x0 as tf.Tensor4D;
        return tf.sub(tf.mul(a, eps), tf.mul(b, x0)) as tf.Tensor4D;
      }),
  };
}

function meanStd(x: tf.Tensor): [number, number] {
  const d = x.dataSync();
  let m = 0;
  for (let i = 0; i < d.length; i++) m += d[i];
  m /= d.length;
  let v = 0;
  for (let i = 0; i < d.length; i++) v += (d[i] - m) ** 2;
  return [m, Math.sqrt(v / d.length)];
}

function maxAbsDiff(a: tf.Tensor, b: tf.Tensor): number {
  return tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]);
}

/** Sample mean/std within 4 standard errors of the expected N(m, sd^2). */
function assertMoments(out: tf.Tensor, em: number, esd: number, what: string): void {
  const [m, sd] = meanStd(out);
  const n = out.size;
  assert.ok(Math.abs(m - em) < (4 * esd) / Math.sqrt(n), `${what}: mean ${m}, expected ${em}`);
  assert.ok(Math.abs(sd - esd) < (4 * esd) / Math.sqrt(2 * n), `${what}: std ${sd}, expected ${esd}`);
}

/**
 * DDPM's moments with the exact Gaussian denoiser, in float64, from the textbook posterior
 * q(x_s | x_t, x0) of Ho et al. eq. 6-7 with beta_t replaced by the respaced 1 - abar_t/abar_s.
 */
function ddpmExpectedMoments(
  s: NoiseSchedule,
  mu: number,
  sd: number,
  steps: number,
  variance: 'posterior' | 'beta',
): [number, number] {
  const ts = respaceTimesteps(s.T, steps);
  let m = 0;
  let v = 1;
  ts.forEach((t, i) => {
    const last = i + 1 === ts.length;
    const ab = s.alphasCumprod[t];
    const abp = last ? 1 : s.alphasCumprod[ts[i + 1]];
    const beta = 1 - ab / abp;
    const [k, d] = oracleCoefs(s, mu, sd, t);
    // mu~ = sqrt(abp) beta/(1-ab) x0 + sqrt(1-beta)(1-abp)/(1-ab) x_t, x0 = k x_t + d.
    const p = (Math.sqrt(abp) * beta) / (1 - ab);
    const q = (Math.sqrt(1 - beta) * (1 - abp)) / (1 - ab);
    const c = p * k + q;
    const noiseVar = last ? 0 : variance === 'beta' ? beta : ((1 - abp) / (1 - ab)) * beta;
    m = c * m + p * d;
    v = c * c * v + noiseVar;
  });
  return [m, Math.sqrt(v)];
}

/**
 * DPM-Solver++(2M) with the exact Gaussian denoiser is deterministic and affine in x_T: each x_i is
 * A_i x_T + B_i. Follows diffusers' multistep_dpm_solver_second_order_update (midpoint) literally,
 * with lambda, h, r0, D0, D1 and the final first-order step to sigma = 0.
 */
function dpmExpectedMoments(s: NoiseSchedule, mu: number, sd: number, ts: number[]): [number, number] {
  const lam = (ab: number) => Math.log(Math.sqrt(ab)) - Math.log(Math.sqrt(1 - ab));
  let x: [number, number] = [1, 0]; // x_T = 1 * x_T + 0
  let prev: [number, number] | null = null;
  ts.forEach((t, i) => {
    const ab = s.alphasCumprod[t];
    const [k, d] = oracleCoefs(s, mu, sd, t);
    const m0: [number, number] = [k * x[0], k * x[1] + d];
    if (i + 1 === ts.length) {
      x = m0; // sigma_next = 0: x = alpha_next * x0 = x0
    } else {
      const abn = s.alphasCumprod[ts[i + 1]];
      const h = lam(abn) - lam(ab);
      const ratio = Math.sqrt(1 - abn) / Math.sqrt(1 - ab);
      const f = Math.sqrt(abn) * (Math.exp(-h) - 1);
      if (prev === null) {
        x = [ratio * x[0] - f * m0[0], ratio * x[1] - f * m0[1]];
      } else {
        const r0 = (lam(ab) - lam(s.alphasCumprod[ts[i - 1]])) / h;
        const D1 = [(m0[0] - prev[0]) / r0, (m0[1] - prev[1]) / r0];
        x = [ratio * x[0] - f * m0[0] - 0.5 * f * D1[0], ratio * x[1] - f * m0[1] - 0.5 * f * D1[1]];
      }
    }
    prev = m0;
  });
  return [x[1], Math.abs(x[0])];
}

type Affine = [number, number]; // a * x_T + b

/**
 * PLMS with the exact Gaussian denoiser, affine in x_T, following diffusers' PNDMScheduler.step_plms
 * (skip_prk_steps) literally: the plan with its second timestep repeated, `counter`, `ets` (the last
 * four outputs), `cur_sample` for the corrector, and PNDM's transfer formula (Liu et al. eq. 11) in
 * its own arrangement, not DDIM's.
 */
function plmsExpectedMoments(s: NoiseSchedule, mu: number, sd: number, grid: number[]): [number, number] {
  const plan = [grid[0], grid[1], ...grid.slice(1)];
  const epsAt = (t: number, x: Affine): Affine => {
    const [k, d] = oracleCoefs(s, mu, sd, t);
    const a = Math.sqrt(s.alphasCumprod[t]);
    const b = Math.sqrt(1 - s.alphasCumprod[t]);
    return [(x[0] - a * k * x[0]) / b, (x[1] - a * (k * x[1] + d)) / b];
  };
  const transfer = (x: Affine, e: Affine, ab: number, abPrev: number): Affine => {
    const sampleCoeff = Math.sqrt(abPrev / ab);
    const denom = ab * Math.sqrt(1 - abPrev) + Math.sqrt(ab * (1 - ab) * abPrev);
    return [0, 1].map((i) => sampleCoeff * x[i] - ((abPrev - ab) * e[i]) / denom) as Affine;
  };
  const mix = (w: number[], es: Affine[]): Affine =>
    [0, 1].map((i) => w.reduce((acc, wk, k) => acc + wk * es[es.length - 1 - k][i], 0)) as Affine;
  let x: Affine = [1, 0];
  let ets: Affine[] = [];
  let cur: Affine | null = null;
  plan.forEach((t, counter) => {
    let e = epsAt(t, x);
    let from = t;
    const to = counter === 1 ? plan[1] : counter + 1 < plan.length ? plan[counter + 1] : null;
    if (counter !== 1) ets = [...ets.slice(-3), e];
    else from = plan[0];
    if (ets.length === 1 && counter === 0) cur = x;
    else if (ets.length === 1 && counter === 1) {
      e = mix([0.5, 0.5], [e, ets[0]]);
      x = cur!;
    } else if (ets.length === 2) e = mix([3 / 2, -1 / 2], ets);
    else if (ets.length === 3) e = mix([23 / 12, -16 / 12, 5 / 12], ets);
    else e = mix([55 / 24, -59 / 24, 37 / 24, -9 / 24], ets);
    x = transfer(x, e, s.alphasCumprod[from], to === null ? 1 : s.alphasCumprod[to]);
  });
  return [x[1], Math.abs(x[0])];
}

describe('DDPM ancestral sampler', function () {
  before(async () => {
    await tf.setBackend('cpu');
  });
  const s = linearSchedule(1000);
  const shape: Shape = [4, 50, 50, 1];

  for (const [variance, steps, pred] of [
    ['posterior', 1000, 'eps'],
    ['beta', 1000, 'v'],
    ['posterior', 100, 'x0'],
  ] as const) {
    it(`exact ${pred}-denoiser for N(0.3, 0.5^2): ${steps} steps (${variance} variance) reproduce the data moments`, () => {
      const before = tf.memory().numTensors;
      let calls = 0;
      const out = new DDPMSampler(s, { variance }).sample(gaussianOracle(s, 0.3, 0.5, pred), shape, {
        steps,
        rng: new Rng(11),
        clipDenoised: false,
        onStep: () => calls++,
      });
      assert.strictEqual(calls, steps);
      const [em, esd] = ddpmExpectedMoments(s, 0.3, 0.5, steps, variance);
      assertMoments(out, em, esd, `DDPM ${variance} ${steps}`);
      // With all 1000 steps, ancestral sampling reaches the data distribution itself; with 100 the
      // posterior variance under-disperses (0.467 instead of 0.5), which the closed form above predicts.
      const [m, sd] = meanStd(out);
      const tol = steps === 1000 ? 0.02 : 0.05;
      assert.ok(Math.abs(m - 0.3) < 0.02 && Math.abs(sd - 0.5) < tol, `N(${m}, ${sd}^2) is far from N(0.3, 0.5^2)`);
      out.dispose();
      assert.strictEqual(tf.memory().numTensors, before, 'the sampler leaked tensors');
    });
  }

  it('DDIM with eta = 1 and DDPM with the posterior variance are the same process (same seed, same samples)', () => {
    const m = gaussianOracle(s, 0.3, 0.5, 'eps');
    for (const steps of [50, 7]) {
      const a = new DDPMSampler(s).sample(m, shape, { steps, rng: new Rng(4), clipDenoised: false });
      const b = new DDIMSampler(s, { eta: 1 }).sample(m, shape, { steps, rng: new Rng(4), clipDenoised: false });
      assert.ok(maxAbsDiff(a, b) < 1e-4, `${steps} steps: max |DDPM - DDIM(eta=1)| = ${maxAbsDiff(a, b)}`);
      // And in distribution on independent seeds.
      const c = new DDIMSampler(s, { eta: 1 }).sample(m, shape, { steps, rng: new Rng(5), clipDenoised: false });
      const [ma, sa] = meanStd(a);
      const [mc, sc] = meanStd(c);
      const se = 0.5 / Math.sqrt(a.size);
      assert.ok(
        Math.abs(ma - mc) < 6 * se && Math.abs(sa - sc) < 6 * se,
        `DDPM N(${ma}, ${sa}^2) vs DDIM N(${mc}, ${sc}^2)`,
      );
      tf.dispose([a, b, c]);
    }
  });

  it('the beta variance adds more noise than the posterior one', () => {
    const m = gaussianOracle(s, 0.3, 0.5, 'eps');
    const a = new DDPMSampler(s, { variance: 'beta' }).sample(m, shape, {
      steps: 5,
      rng: new Rng(3),
      clipDenoised: false,
    });
    const [ema, esda] = ddpmExpectedMoments(s, 0.3, 0.5, 5, 'beta');
    const [, esdp] = ddpmExpectedMoments(s, 0.3, 0.5, 5, 'posterior');
    assert.ok(esda > esdp + 0.05, `expected std with beta ${esda} vs posterior ${esdp}`);
    assertMoments(a, ema, esda, 'DDPM beta 5 steps');
    a.dispose();
  });

  it('same seed gives the same samples; the seed matters; bad options are rejected', () => {
    const m = gaussianOracle(s, 0, 1, 'eps');
    const d = new DDPMSampler(s);
    const a = d.sample(m, [2, 4, 4, 1], { steps: 20, rng: new Rng(9) });
    const b = d.sample(m, [2, 4, 4, 1], { steps: 20, rng: new Rng(9) });
    const c = d.sample(m, [2, 4, 4, 1], { steps: 20, rng: new Rng(10) });
    assert.strictEqual(maxAbsDiff(a, b), 0);
    assert.ok(maxAbsDiff(a, c) > 1e-3);
    tf.dispose([a, b, c]);
    assert.throws(() => d.sample(m, [1, 2, 2, 1], { steps: 0, rng: new Rng(0) }), /steps must be an integer/);
    assert.throws(
      () => d.sample(m, [1, 2, 2, 1], { steps: 5, rng: new Rng(0), variance: 'large' as 'beta' }),
      /variance must be 'posterior' or 'beta'/,
    );
    const xT = tf.zeros([1, 3, 3, 1]) as tf.Tensor4D;
    assert.throws(() => d.sample(m, [1, 2, 2, 1], { steps: 5, rng: new Rng(0), xT }), /xT shape \[1,3,3,1\] differs/);
    xT.dispose();
  });
});

describe('DPM-Solver++(2M) sampler', function () {
  before(async () => {
    await tf.setBackend('cpu');
  });
  const s = linearSchedule(1000);
  const shape: Shape = [4, 50, 50, 1];

  for (const [steps, pred] of [
    [10, 'eps'],
    [20, 'v'],
    [15, 'x0'],
  ] as const) {
    it(`exact ${pred}-denoiser for N(0.3, 0.5^2): ${steps} steps reproduce the data moments`, () => {
      const before = tf.memory().numTensors;
      let calls = 0;
      const out = new DPMSolverSampler(s).sample(gaussianOracle(s, 0.3, 0.5, pred), shape, {
        steps,
        rng: new Rng(5),
        clipDenoised: false,
        onStep: () => calls++,
      });
      assert.strictEqual(calls, steps);
      const [em, esd] = dpmExpectedMoments(s, 0.3, 0.5, logSnrTimesteps(s, steps));
      assertMoments(out, em, esd, `DPM++2M ${steps}`);
      const [m, sd] = meanStd(out);
      assert.ok(Math.abs(m - 0.3) < 0.02 && Math.abs(sd - 0.5) < 0.02, `N(${m}, ${sd}^2) is far from N(0.3, 0.5^2)`);
      out.dispose();
      assert.strictEqual(tf.memory().numTensors, before, 'the sampler leaked tensors');
    });
  }

  it('is more accurate than DDIM at the same (small) step count', () => {
    // With the exact denoiser the only error is discretisation: the spread should be closer to 0.5.
    const m = gaussianOracle(s, 0.3, 0.5, 'eps');
    const xT = new Rng(2).normalTensor(shape) as tf.Tensor4D;
    const dpm = new DPMSolverSampler(s).sample(m, shape, { steps: 10, rng: new Rng(0), xT, clipDenoised: false });
    const ddim = new DDIMSampler(s).sample(m, shape, { steps: 10, rng: new Rng(0), xT, clipDenoised: false });
    const [, sdDpm] = meanStd(dpm);
    const [, sdDdim] = meanStd(ddim);
    assert.ok(Math.abs(sdDpm - 0.5) < Math.abs(sdDdim - 0.5) / 4, `10 steps: DPM++ std ${sdDpm}, DDIM std ${sdDdim}`);
    tf.dispose([dpm, ddim, xT]);
  });

  it('logsnr spacing: distinct descending steps from T-1 to 0, evenly spaced in log SNR', () => {
    const lam = (t: number) => 0.5 * Math.log(s.alphasCumprod[t] / (1 - s.alphasCumprod[t]));
    const ts = logSnrTimesteps(s, 10);
    assert.strictEqual(ts[0], 999);
    assert.strictEqual(ts[9], 0);
    const ideal = (lam(0) - lam(999)) / 9;
    for (let i = 1; i < 10; i++) {
      assert.ok(ts[i] < ts[i - 1], `not descending: ${ts}`);
      // Integer timesteps cannot hit the grid exactly; near t = 0 one step moves lambda by ~0.4.
      assert.ok(
        Math.abs(lam(ts[i]) - lam(ts[i - 1]) - ideal) < 0.45,
        `gap ${i}: ${lam(ts[i]) - lam(ts[i - 1])} vs ${ideal} (${ts})`,
      );
    }
    // The cosine schedule's lambda is so steep near T-1 that nearest steps collide: still distinct.
    for (const n of [10, 50, 1000]) {
      const c = logSnrTimesteps(cosineSchedule(1000), n);
      assert.strictEqual(new Set(c).size, n);
      c.forEach((t, i) => assert.ok(t >= 0 && t < 1000 && (i === 0 || t < c[i - 1])));
    }
    assert.throws(() => logSnrTimesteps(s, 0), /steps must be an integer in \[1, 1000\]/);
  });

  it('is deterministic for a fixed x_T (the Rng only draws x_T)', () => {
    const m = gaussianOracle(s, 0.2, 0.4, 'eps');
    const d = new DPMSolverSampler(s);
    const xT = new Rng(3).normalTensor([2, 4, 4, 1]) as tf.Tensor4D;
    const a = d.sample(m, [2, 4, 4, 1], { steps: 10, rng: new Rng(1), xT });
    const b = d.sample(m, [2, 4, 4, 1], { steps: 10, rng: new Rng(2), xT });
    const c = d.sample(m, [2, 4, 4, 1], { steps: 10, rng: new Rng(1) });
    const e = d.sample(m, [2, 4, 4, 1], { steps: 10, rng: new Rng(1) });
    assert.strictEqual(maxAbsDiff(a, b), 0);
    assert.strictEqual(maxAbsDiff(c, e), 0);
    tf.dispose([xT, a, b, c, e]);
  });
});

describe('PLMS sampler', function () {
  before(async () => {
    await tf.setBackend('cpu');
  });
  const s = linearSchedule(1000);
  const shape: Shape = [4, 50, 50, 1];

  for (const [steps, pred] of [
    [20, 'eps'],
    [25, 'v'],
    [15, 'x0'],
  ] as const) {
    it(`exact ${pred}-denoiser for N(0.3, 0.5^2): ${steps} network calls reproduce the data moments`, () => {
      const before = tf.memory().numTensors;
      let calls = 0;
      const sampler = new PLMSSampler(s);
      const out = sampler.sample(gaussianOracle(s, 0.3, 0.5, pred), shape, {
        steps,
        rng: new Rng(5),
        clipDenoised: false,
        onStep: () => calls++,
      });
      assert.strictEqual(calls, steps);
      const [em, esd] = plmsExpectedMoments(s, 0.3, 0.5, sampler.grid(steps));
      assertMoments(out, em, esd, `PLMS ${steps}`);
      const [m, sd] = meanStd(out);
      assert.ok(Math.abs(m - 0.3) < 0.02 && Math.abs(sd - 0.5) < 0.02, `N(${m}, ${sd}^2) is far from N(0.3, 0.5^2)`);
      out.dispose();
      assert.strictEqual(tf.memory().numTensors, before, 'the sampler leaked tensors');
    });
  }

  it('is more accurate than DDIM at the same number of network calls (10)', () => {
    // Closed form (float64): PLMS-10 spreads to 0.483, DDIM-10 to 0.370, for the data's 0.5.
    const m = gaussianOracle(s, 0.3, 0.5, 'eps');
    const xT = new Rng(2).normalTensor(shape) as tf.Tensor4D;
    const plms = new PLMSSampler(s).sample(m, shape, { steps: 10, rng: new Rng(0), xT, clipDenoised: false });
    const ddim = new DDIMSampler(s).sample(m, shape, { steps: 10, rng: new Rng(0), xT, clipDenoised: false });
    const [, sdPlms] = meanStd(plms);
    const [, sdDdim] = meanStd(ddim);
    assert.ok(Math.abs(sdPlms - 0.5) < Math.abs(sdDdim - 0.5) / 4, `10 calls: PLMS std ${sdPlms}, DDIM std ${sdDdim}`);
    tf.dispose([plms, ddim, xT]);
  });

  it('plan: the second timestep twice (predictor, corrector), steps calls in all; state held and freed', () => {
    const p = new PLMSSampler(s);
    const g = respaceTimesteps(1000, 5, 'trailing');
    assert.deepStrictEqual(p.grid(6), g);
    assert.deepStrictEqual(p.timesteps(6), [g[0], g[1], g[1], g[2], g[3], g[4]]);
    assert.deepStrictEqual(p.timesteps(2), respaceTimesteps(1000, 2, 'trailing')); // too short for a corrector
    assert.deepStrictEqual(p.timesteps(1), [999]);
    const m = gaussianOracle(s, 0.3, 0.5, 'eps');
    const before = tf.memory().numTensors;
    const run = p.start({ steps: 6, rng: new Rng(0) }, 'eps');
    let x = new Rng(0).normalTensor([1, 2, 2, 1]) as tf.Tensor4D;
    const held: [number, boolean][] = [];
    for (let i = 0; i < run.timesteps.length; i++) {
      const out = m.predict(x, [run.timesteps[i]]);
      const r = p.step(out, i, x, run);
      held.push([run.eps.length, run.xStart !== null]);
      tf.dispose([out, x, r.x0]);
      x = r.prev;
    }
    // After the predictor: e_0 and x_T; after the corrector: e_0 only; then up to three outputs; nothing at the end.
    const expected: [number, boolean][] = [
      [1, true],
      [1, false],
      [2, false],
      [3, false],
      [3, false],
      [0, false],
    ];
    assert.deepStrictEqual(held, expected);
    x.dispose();
    assert.strictEqual(tf.memory().numTensors, before);
  });

  it('is deterministic for a fixed x_T; short runs work; leaves nothing when onStep throws', () => {
    const m = gaussianOracle(s, 0.2, 0.4, 'eps');
    const p = new PLMSSampler(s);
    const xT = new Rng(3).normalTensor([2, 4, 4, 1]) as tf.Tensor4D;
    const a = p.sample(m, [2, 4, 4, 1], { steps: 10, rng: new Rng(1), xT });
    const b = p.sample(m, [2, 4, 4, 1], { steps: 10, rng: new Rng(2), xT });
    assert.strictEqual(maxAbsDiff(a, b), 0);
    // One and two calls: a DDIM step, then DDIM + Adams-Bashforth 2 (no corrector).
    const one = p.sample(m, [2, 4, 4, 1], { steps: 1, rng: new Rng(1), xT });
    const ddim1 = new DDIMSampler(s).sample(m, [2, 4, 4, 1], { steps: 1, rng: new Rng(1), xT });
    assert.ok(maxAbsDiff(one, ddim1) < 1e-6, `PLMS-1 vs DDIM-1: ${maxAbsDiff(one, ddim1)}`);
    const two = p.sample(m, [2, 4, 4, 1], { steps: 2, rng: new Rng(1), xT });
    assert.ok(Number.isFinite(meanStd(two)[1]));
    tf.dispose([xT, a, b, one, ddim1, two]);
    for (const at of [0, 1, 3]) {
      const before = tf.memory().numTensors;
      const boom = ({ index }: { index: number }) => {
        if (index === at) throw new Error('stop');
      };
      assert.throws(() => p.sample(m, [1, 3, 3, 1], { steps: 6, rng: new Rng(0), onStep: boom }), /stop/);
      assert.strictEqual(tf.memory().numTensors, before, `leaked after an error at call ${at}`);
    }
  });
});

// ---- Full loops with a tiny random UNet against a float64 re-implementation ----

/**
 * diffusers-style reference loop in float64. The network is the only float32 part: its input is
 * the reference's own x rounded to float32. Noise comes from the same Rng stream in the same order
 * (x_T, then one draw per noisy step).
 */
function referenceLoop(
  name: 'ddpm' | 'dpm++2m',
  s: NoiseSchedule,
  unet: UNet,
  shape: Shape,
  steps: number,
  seed: number,
): Float64Array {
  const rng = new Rng(seed);
  const size = shape.reduce((a, b) => a * b, 1);
  let x = Float64Array.from(rng.normalArray(size));
  const ts = respaceTimesteps(s.T, steps);
  const x0Of = (t: number): Float64Array => {
    const out = tf.tidy(() =>
      unet.apply(tf.tensor4d(Float32Array.from(x), shape), new Array<number>(shape[0]).fill(t)).dataSync(),
    );
    const a = Math.sqrt(s.alphasCumprod[t]);
    const b = Math.sqrt(1 - s.alphasCumprod[t]);
    return x.map((xi, i) => Math.min(1, Math.max(-1, (xi - b * out[i]) / a)));
  };
  let prevX0: Float64Array | null = null;
  const lam = (ab: number) => 0.5 * Math.log(ab / (1 - ab));
  ts.forEach((t, i) => {
    const last = i + 1 === ts.length;
    const alphaProdT = s.alphasCumprod[t];
    const alphaProdPrev = last ? 1 : s.alphasCumprod[ts[i + 1]];
    if (name === 'ddpm') {
      // diffusers DDPMScheduler.step with a custom timestep list (prev_t from the list).
      const betaProdT = 1 - alphaProdT;
      const betaProdPrev = 1 - alphaProdPrev;
      const currentAlpha = alphaProdT / alphaProdPrev;
      const currentBeta = 1 - currentAlpha;
      const z = last ? null : rng.normalArray(size);
      const x0 = x0Of(t);
      const cOrig = (Math.sqrt(alphaProdPrev) * currentBeta) / betaProdT;
      const cCur = (Math.sqrt(currentAlpha) * betaProdPrev) / betaProdT;
      const std = Math.sqrt((betaProdPrev / betaProdT) * currentBeta);
      x = x.map((xi, j) => cOrig * x0[j] + cCur * xi + (z ? std * z[j] : 0));
    } else {
      const x0 = x0Of(t);
      if (last) {
        x = x0; // to sigma = 0
      } else {
        const sigT = Math.sqrt(1 - alphaProdPrev);
        const alT = Math.sqrt(alphaProdPrev);
        const sigS0 = Math.sqrt(1 - alphaProdT);
        const h = lam(alphaProdPrev) - lam(alphaProdT);
        if (prevX0 === null) {
          x = x.map((xi, j) => (sigT / sigS0) * xi - alT * (Math.exp(-h) - 1) * x0[j]);
        } else {
          const r0 = (lam(alphaProdT) - lam(s.alphasCumprod[ts[i - 1]])) / h;
          const p = prevX0;
          x = x.map((xi, j) => {
            const D1 = (x0[j] - p[j]) / r0;
            return (sigT / sigS0) * xi - alT * (Math.exp(-h) - 1) * x0[j] - 0.5 * alT * (Math.exp(-h) - 1) * D1;
          });
        }
      }
      prevX0 = x0;
    }
  });
  return x;
}

/**
 * PLMS in float64 as diffusers' PNDMScheduler(skip_prk_steps) runs it: `steps` network calls on the
 * plan t_0, t_1, t_1, t_2, ... (the grid of steps - 1 trailing timesteps), ets and cur_sample as
 * there. Without clipping the step is PNDM's transfer formula (eq. 11); with it, DDIMScheduler's
 * clip_sample step (x0 clipped, eps re-derived), which is what clipping means for this family.
 */
function plmsReferenceLoop(
  s: NoiseSchedule,
  unet: UNet,
  shape: Shape,
  steps: number,
  seed: number,
  clip: boolean,
): Float64Array {
  const rng = new Rng(seed);
  const size = shape.reduce((a, b) => a * b, 1);
  let x = Float64Array.from(rng.normalArray(size));
  const grid = respaceTimesteps(s.T, steps - 1);
  const plan = [grid[0], grid[1], ...grid.slice(1)];
  const epsOf = (t: number): Float64Array =>
    Float64Array.from(
      tf.tidy(() =>
        unet.apply(tf.tensor4d(Float32Array.from(x), shape), new Array<number>(shape[0]).fill(t)).dataSync(),
      ),
    );
  const stepTo = (xs: Float64Array, e: Float64Array, ab: number, abPrev: number): Float64Array => {
    if (!clip) {
      const sampleCoeff = Math.sqrt(abPrev / ab);
      const denom = ab * Math.sqrt(1 - abPrev) + Math.sqrt(ab * (1 - ab) * abPrev);
      return xs.map((xi, j) => sampleCoeff * xi - ((abPrev - ab) * e[j]) / denom);
    }
    return xs.map((xi, j) => {
      const x0 = Math.min(1, Math.max(-1, (xi - Math.sqrt(1 - ab) * e[j]) / Math.sqrt(ab)));
      const eps = (xi - Math.sqrt(ab) * x0) / Math.sqrt(1 - ab);
      return Math.sqrt(abPrev) * x0 + Math.sqrt(1 - abPrev) * eps;
    });
  };
  const w: Record<number, number[]> = {
    2: [3 / 2, -1 / 2],
    3: [23 / 12, -16 / 12, 5 / 12],
    4: [55 / 24, -59 / 24, 37 / 24, -9 / 24],
  };
  let ets: Float64Array[] = [];
  let cur: Float64Array | null = null;
  plan.forEach((t, counter) => {
    let e = epsOf(t);
    let from = t;
    const to = counter === 1 ? plan[1] : counter + 1 < plan.length ? plan[counter + 1] : null;
    if (counter !== 1) ets = [...ets.slice(-3), e];
    else from = plan[0];
    if (ets.length === 1 && counter === 0) cur = x;
    else if (ets.length === 1 && counter === 1) {
      const e0 = ets[0];
      e = e.map((v, j) => (v + e0[j]) / 2);
      x = cur!;
    } else {
      const wk = w[ets.length];
      e = e.map((_, j) => wk.reduce((acc, c, k) => acc + c * ets[ets.length - 1 - k][j], 0));
    }
    x = stepTo(x, e, s.alphasCumprod[from], to === null ? 1 : s.alphasCumprod[to]);
  });
  return x;
}

// Sum and sum of squares of the float64 reference loops (computed once by referenceLoop above,
// which shares no code with lib/core/samplers); a change in the UNet's initialisation, the Rng stream or
// the samplers moves them.
const GOLDEN: Record<'ddpm' | 'dpm++2m' | 'plms', { sum: number; sumSq: number }> = {
  ddpm: { sum: 17.097164688393033, sumSq: 86.70724392870487 },
  'dpm++2m': { sum: 25.44221088263472, sumSq: 126.99965063382813 },
  plms: { sum: 25.220786534324567, sumSq: 126.15708164985618 },
};

describe('sampling loops with a tiny random UNet', function () {
  before(async () => {
    await tf.setBackend('cpu');
  });
  const s = linearSchedule(1000);
  const shape: Shape = [2, 8, 8, 1];
  const tiny = {
    imageSize: 8,
    inChannels: 1,
    outChannels: 1,
    baseChannels: 8,
    channelMults: [1, 2],
    attentionResolutions: [4],
    attentionHeads: 2,
    groups: 4,
  };

  for (const name of ['ddpm', 'dpm++2m', 'plms'] as const) {
    it(`${name}: 8 steps match a float64 diffusers-style loop and the golden sums`, () => {
      const unet = new UNet(tiny, { seed: 7 });
      const ref =
        name === 'plms' ? plmsReferenceLoop(s, unet, shape, 8, 123, true) : referenceLoop(name, s, unet, shape, 8, 123);
      const refSum = ref.reduce((a, b) => a + b, 0);
      const refSq = ref.reduce((a, b) => a + b * b, 0);
      if (process.env.PRINT_GOLDEN) console.log(`      ${name} golden: sum ${refSum}, sumSq ${refSq}`);
      const out = makeSampler(name, s, { spacing: 'trailing' }).sample(unetModel(unet), shape, {
        steps: 8,
        rng: new Rng(123),
      });
      const got = Float64Array.from(out.dataSync());
      let maxDiff = 0;
      for (let i = 0; i < got.length; i++) maxDiff = Math.max(maxDiff, Math.abs(got[i] - ref[i]));
      assert.ok(maxDiff < 1e-4, `max |lib - reference| = ${maxDiff}`);
      const sum = got.reduce((a, b) => a + b, 0);
      const sumSq = got.reduce((a, b) => a + b * b, 0);
      assert.ok(Math.abs(sum - GOLDEN[name].sum) < 1e-3, `sum ${sum} vs golden ${GOLDEN[name].sum}`);
      assert.ok(
        Math.abs(sumSq - GOLDEN[name].sumSq) < 1e-3 * GOLDEN[name].sumSq,
        `sum of squares ${sumSq} vs golden ${GOLDEN[name].sumSq}`,
      );
      out.dispose();
      unet.dispose();
    });
  }

  it("plms without clipping: 8 calls match PNDM's own transfer formula in float64", () => {
    const unet = new UNet(tiny, { seed: 7 });
    const ref = plmsReferenceLoop(s, unet, shape, 8, 123, false);
    const out = makeSampler('plms', s).sample(unetModel(unet), shape, {
      steps: 8,
      rng: new Rng(123),
      clipDenoised: false,
    });
    const got = out.dataSync();
    let maxDiff = 0;
    let maxRef = 0;
    for (let i = 0; i < got.length; i++) {
      maxDiff = Math.max(maxDiff, Math.abs(got[i] - ref[i]));
      maxRef = Math.max(maxRef, Math.abs(ref[i]));
    }
    // Unclipped, a random network's x0 estimates run away (|x| reaches ~570 here): compare relative to that scale,
    // at a few float32 roundings (2e-7 measured).
    assert.ok(maxDiff < 1e-6 * maxRef, `max |lib - reference| = ${maxDiff} for values up to ${maxRef}`);
    out.dispose();
    unet.dispose();
  });

  it('makeSampler knows every name and rejects unknown ones and misplaced options', () => {
    for (const n of SAMPLER_NAMES) assert.strictEqual(makeSampler(n, s).name, n);
    assert.throws(() => makeSampler('euler' as SamplerName, s), /Unknown sampler 'euler': use ddpm, ddim, dpm\+\+2m/);
    assert.throws(() => makeSampler('ddpm', s, { eta: 1 }), /eta applies to 'ddim' only/);
    assert.throws(() => makeSampler('ddim', s, { variance: 'beta' }), /variance applies to 'ddpm' only/);
    assert.throws(() => makeSampler('ddpm', s, { spacing: 'logsnr' }), /spacing 'logsnr' applies to 'dpm\+\+2m' only/);
  });

  it('predictionToEpsX0 round trip used by the reference matches the library (sanity of the reference)', () => {
    const x = tf.tensor4d([0.5, -0.2], [2, 1, 1, 1]);
    const out = tf.tensor4d([0.1, 0.3], [2, 1, 1, 1]);
    const { x0 } = predictionToEpsX0(s, x, [500, 500], out, 'eps');
    const a = Math.sqrt(s.alphasCumprod[500]);
    const b = Math.sqrt(1 - s.alphasCumprod[500]);
    const d = x0.dataSync();
    assert.ok(Math.abs(d[0] - (0.5 - b * 0.1) / a) < 1e-5 && Math.abs(d[1] - (-0.2 - b * 0.3) / a) < 1e-5);
    tf.dispose([x, out, x0]);
  });
});

// ---- The step interface: a lesson's loop equals sample() ----

/**
 * The reverse loop as a lesson cell writes it: x_T from the Rng, then for each point of the plan
 * the network, then `step`. No tf.tidy: the UNet and step free their own intermediates, and the
 * cell disposes what it is handed (the network output, the old x, the x0 estimate).
 */
function lessonLoop<O extends SampleOptions>(
  sampler: Sampler<O>,
  model: DiffusionModel,
  shape: Shape,
  opts: O,
): tf.Tensor4D {
  const run = sampler.start(opts, model.prediction);
  let x = opts.rng.normalTensor(shape) as tf.Tensor4D;
  for (let i = 0; i < run.timesteps.length; i++) {
    const t = run.timesteps[i] as number; // DDPM, DDIM, DPM-Solver++ and PLMS run the network at every point
    const out = model.predict(x, new Array<number>(shape[0]).fill(t));
    const { prev, x0 } = sampler.step(out, i, x, run);
    tf.dispose([out, x, x0]);
    x = prev;
  }
  return x;
}

describe('samplers as a plan plus a step', function () {
  before(async () => {
    await tf.setBackend('cpu');
  });
  const s = linearSchedule(1000);
  const shape: Shape = [2, 8, 8, 1];
  const tiny = {
    imageSize: 8,
    inChannels: 1,
    outChannels: 1,
    baseChannels: 8,
    channelMults: [1, 2],
    attentionResolutions: [4],
    attentionHeads: 2,
    groups: 4,
  };
  // A stand-in for classifier guidance: any function of (x_t, t, sigma^2) that returns a tensor.
  const shift = (xt: tf.Tensor4D, t: number, v: number) =>
    tf.tidy(() => tf.mul(tf.sin(xt), (v * t) / 1000) as tf.Tensor4D);
  const cases: [string, Sampler, Record<string, unknown>][] = [
    ['ddpm', new DDPMSampler(s), {}],
    ['ddpm, beta variance, meanShift', new DDPMSampler(s, { variance: 'beta' }), { meanShift: shift }],
    ['ddim eta 0', new DDIMSampler(s), {}],
    ['ddim eta 0.5', new DDIMSampler(s, { eta: 0.5 }), {}],
    ['dpm++2m', new DPMSolverSampler(s), {}],
    ['plms', new PLMSSampler(s), {}],
  ];

  for (const [what, sampler, extra] of cases) {
    for (const pred of ['eps', 'v'] as const) {
      it(`${what} (${pred}): a hand-written loop over the plan calling step equals sample() exactly, leaving no tensors`, () => {
        const unet = new UNet(tiny, { seed: 3 });
        const model = unetModel(unet, pred);
        const before = tf.memory().numTensors;
        const a = lessonLoop(sampler, model, shape, { steps: 6, rng: new Rng(21), ...extra });
        assert.strictEqual(tf.memory().numTensors, before + 1, 'the hand-written loop left tensors behind');
        let calls = 0;
        const b = sampler.sample(model, shape, { steps: 6, rng: new Rng(21), onStep: () => calls++, ...extra });
        assert.strictEqual(calls, 6);
        assert.strictEqual(maxAbsDiff(a, b), 0, `max |hand loop - sample()| = ${maxAbsDiff(a, b)}`);
        tf.dispose([a, b]);
        assert.strictEqual(tf.memory().numTensors, before, 'sample() left tensors behind');
        unet.dispose();
      });
    }
  }

  it('plans: timesteps(steps) is what a run walks; DPM-Solver++ carries its history in the run and frees it at the end', () => {
    assert.deepStrictEqual(new DDPMSampler(s).timesteps(4), respaceTimesteps(1000, 4, 'trailing'));
    assert.deepStrictEqual(
      new DDIMSampler(s, { spacing: 'leading' }).start({ steps: 4, rng: new Rng(0) }, 'eps').timesteps,
      respaceTimesteps(1000, 4, 'leading'),
    );
    assert.deepStrictEqual(new DPMSolverSampler(s).timesteps(5), logSnrTimesteps(s, 5));
    const d = new DPMSolverSampler(s);
    const m = gaussianOracle(s, 0.3, 0.5, 'eps');
    const before = tf.memory().numTensors;
    const run = d.start({ steps: 3, rng: new Rng(0) }, 'eps');
    let x = new Rng(0).normalTensor([1, 2, 2, 1]) as tf.Tensor4D;
    const held: boolean[] = [];
    for (let i = 0; i < 3; i++) {
      const out = m.predict(x, [run.timesteps[i]]);
      const r = d.step(out, i, x, run);
      held.push(run.prevX0 !== null);
      tf.dispose([out, x, r.x0]);
      x = r.prev;
    }
    assert.deepStrictEqual(held, [true, true, false], 'prevX0 after each step');
    x.dispose();
    assert.strictEqual(tf.memory().numTensors, before);
  });

  it('the one loop frees x, x0 and the run state when onStep throws', () => {
    const m = gaussianOracle(s, 0.3, 0.5, 'eps');
    for (const name of SAMPLER_NAMES) {
      const before = tf.memory().numTensors;
      const boom = ({ index }: { index: number }) => {
        if (index === 2) throw new Error('stop');
      };
      assert.throws(
        () => makeSampler(name, s).sample(m, [1, 3, 3, 1], { steps: 5, rng: new Rng(0), onStep: boom }),
        /stop/,
      );
      assert.strictEqual(tf.memory().numTensors, before, `${name} leaked after an error`);
    }
  });
});
