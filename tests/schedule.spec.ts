// Noise schedules, q_sample, the loss parameterisations and DDIM. Independent references: golden values
// printed by PyTorch (the schedules' betas, alphaBar, SNR), a float64 recomputation by sums of logs,
// the moments of q(x_t | x_0) (mean sqrt(abar) x0, variance 1 - abar), the eps/x0/v identities checked
// elementwise in JS, and DDIM with the exact denoiser of Gaussian data against its closed-form moments.
import * as assert from 'assert';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { diffusionLoss, Prediction, PREDICTIONS, predictionTarget, predictionToEpsX0 } from '../lib/core/loss';
import { Rng } from '../lib/core/random';
import { DDIMSampler } from '../lib/core/samplers/ddim';
import { DiffusionModel } from '../lib/core/samplers/types';
import {
  cosineSchedule,
  linearSchedule,
  makeSchedule,
  NoiseSchedule,
  respaceTimesteps,
  scheduleFromBetas,
  sigmoidSchedule,
} from '../lib/core/schedule';

// Golden values computed once with PyTorch 1.13 in float64 (torch.linspace / torch.sigmoid /
// torch.cumprod; cosine from Nichol & Dhariwal's formula), at t = 0, 1, 249, 499, 999 of T = 1000.
const IDX = [0, 1, 249, 499, 999];
const GOLDEN = {
  linear: {
    betas: [0.0001, 0.00011991991991991993, 0.00506006006006006, 0.01004004004004004, 0.02],
    abar: [0.9999, 0.9997800920720721, 0.5240853738253606, 0.07858724288177824, 4.035829765375676e-5],
    snr: [9999.0000000011, 4546.357657463682, 1.101217203677713, 0.08528994446263685, 4.0359926511684205e-5],
  },
  cosine: {
    betas: [4.128422482196914e-5, 4.614175273665033e-5, 0.0013214966366292824, 0.0031458862304780677, 0.999],
    abar: [0.999958715775178, 0.9999125759273678, 0.847012161326905, 0.4938435904406382, 2.4287669070348567e-9],
    snr: [24221.32715552543, 11437.497085434357, 5.536467268727184, 0.975673884818642, 2.4287669129337654e-9],
  },
  sigmoid: {
    betas: [
      0.00014920520081703202, 0.00014979833041933025, 0.0010357085800540718, 0.010020120209938985, 0.01995079479918297,
    ],
    abar: [0.9998507947991829, 0.9997010188194536, 0.903744665400934, 0.30193105660219516, 3.968181990533208e-5],
    snr: [6701.179243912713, 3343.692124676554, 9.389034583540926, 0.4325232621473826, 3.968339461465041e-5],
  },
};

function close(a: number, b: number, rel: number, what: string): void {
  assert.ok(Math.abs(a - b) <= rel * Math.abs(b) + 1e-15, `${what}: ${a} vs ${b}`);
}

describe('noise schedules', () => {
  before(async () => {
    await tf.setBackend('cpu');
  });

  for (const kind of ['linear', 'cosine', 'sigmoid'] as const) {
    it(`${kind}: betas, alphaBar and SNR match PyTorch golden values`, () => {
      const s = makeSchedule(kind, 1000);
      IDX.forEach((t, i) => {
        close(s.betas[t], GOLDEN[kind].betas[i], 1e-12, `beta[${t}]`);
        close(s.alphasCumprod[t], GOLDEN[kind].abar[i], 1e-9, `abar[${t}]`);
        close(s.snr(t), GOLDEN[kind].snr[i], 1e-7, `snr[${t}]`);
      });
    });

    it(`${kind}: derived tables agree with an independent float64 computation (sum of logs)`, () => {
      const s = makeSchedule(kind, 300);
      let logSum = 0;
      for (let t = 0; t < s.T; t++) {
        logSum += Math.log1p(-s.betas[t]);
        const abar = Math.exp(logSum);
        close(s.alphas[t], 1 - s.betas[t], 1e-15, `alpha[${t}]`);
        close(s.alphasCumprod[t], abar, 1e-10, `abar[${t}]`);
        close(s.sqrtAlphasCumprod[t] ** 2, abar, 1e-10, `sqrtAbar[${t}]`);
        close(s.sqrtOneMinusAlphasCumprod[t] ** 2, 1 - abar, 1e-9, `sqrt(1-abar)[${t}]`);
        if (t > 0) assert.ok(s.alphasCumprod[t] < s.alphasCumprod[t - 1], 'alphaBar must decrease');
      }
    });
  }

  it('rejects bad T, betas and timesteps with clear errors', () => {
    assert.throws(() => linearSchedule(0), /T must be a positive integer, got 0/);
    assert.throws(() => cosineSchedule(-5), /T must be a positive integer/);
    assert.throws(() => sigmoidSchedule(2.5), /T must be a positive integer/);
    assert.throws(() => scheduleFromBetas([0.1, 1.2]), /beta\[1\] = 1.2 is outside \(0, 1\)/);
    assert.throws(() => scheduleFromBetas([0, 0.1]), /beta\[0\] = 0 is outside/);
    assert.throws(() => scheduleFromBetas([]), /at least one beta/);
    assert.throws(() => linearSchedule(10, { betaStart: 0.5, betaEnd: 1 }), /outside \(0, 1\)/);
    const s = linearSchedule(10);
    assert.throws(() => s.snr(10), /timestep 10 is not an integer in \[0, 9\]/);
    assert.throws(() => s.qSample(tf.zeros([2, 1]), [0, 1.5], tf.zeros([2, 1])), /timestep 1.5/);
    assert.throws(() => s.qSample(tf.zeros([2, 1]), [0], tf.zeros([2, 1])), /1 timesteps for a batch of 2/);
    assert.throws(
      () => s.qSample(tf.zeros([2, 1]), [0, 1], tf.zeros([2, 2])),
      /x0 shape \[2,1\] and noise shape \[2,2\] differ/,
    );
    assert.throws(() => respaceTimesteps(10, 11), /steps must be an integer in \[1, 10\]/);
  });

  it('qSample: per-example mean sqrt(abar) x0 and variance 1 - abar', () => {
    const s = cosineSchedule(1000);
    const rng = new Rng(42);
    const ts = [10, 300, 700];
    const n = 20000;
    const x0 = tf.tidy(() => tf.mul(tf.ones([3, n]), tf.tensor2d([0.8, -0.5, 1.0], [3, 1])));
    const noise = rng.normalTensor([3, n]);
    const xt = s.qSample(x0, ts, noise);
    const data = xt.arraySync() as number[][];
    ts.forEach((t, i) => {
      const row = data[i];
      const mean = row.reduce((a, b) => a + b, 0) / n;
      const v = row.reduce((a, b) => a + (b - mean) ** 2, 0) / (n - 1);
      const expMean = s.sqrtAlphasCumprod[t] * [0.8, -0.5, 1.0][i];
      const expVar = 1 - s.alphasCumprod[t];
      const se = Math.sqrt(expVar / n);
      assert.ok(Math.abs(mean - expMean) < 5 * se + 1e-6, `t=${t}: mean ${mean} vs ${expMean}`);
      assert.ok(Math.abs(v - expVar) < 5 * expVar * Math.sqrt(2 / n) + 1e-7, `t=${t}: var ${v} vs ${expVar}`);
    });
    tf.dispose([x0, noise, xt]);
  });

  it('respaces timesteps: descending, in range, trailing starts at T-1', () => {
    assert.deepStrictEqual(respaceTimesteps(1000, 4), [999, 749, 499, 249]);
    assert.deepStrictEqual(respaceTimesteps(1000, 4, 'leading'), [750, 500, 250, 0]);
    assert.deepStrictEqual(respaceTimesteps(10, 4, 'linspace'), [9, 6, 3, 0]);
    for (const sp of ['trailing', 'leading', 'linspace'] as const) {
      const ts = respaceTimesteps(1000, 50, sp);
      assert.strictEqual(new Set(ts).size, 50);
      ts.forEach((t, i) => assert.ok(t >= 0 && t < 1000 && (i === 0 || t < ts[i - 1])));
    }
    assert.deepStrictEqual(respaceTimesteps(5, 5), [4, 3, 2, 1, 0]);
  });
});

describe('loss parameterisations', () => {
  before(async () => {
    await tf.setBackend('cpu');
  });

  for (const p of PREDICTIONS) {
    it(`${p}: the target converts back to the true eps and x0, and a perfect model has zero loss`, () => {
      const s = linearSchedule(1000);
      const rng = new Rng(1);
      const x0 = rng.normalTensor([3, 4, 4, 1]) as tf.Tensor4D;
      const noise = rng.normalTensor([3, 4, 4, 1]) as tf.Tensor4D;
      const t = [0, 500, 999];
      const xt = s.qSample(x0, t, noise);
      const target = predictionTarget(s, x0, noise, t, p);
      const back = predictionToEpsX0(s, xt, t, target, p);
      const err = (a: tf.Tensor, b: tf.Tensor) => tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]);
      // At t=999 x0 is recovered from x_t / sqrt(abar) ~ 160x amplification: float32 tolerance.
      assert.ok(err(back.eps, noise) < 1e-3, `${p}: eps error ${err(back.eps, noise)}`);
      assert.ok(err(back.x0, x0) < 2e-2, `${p}: x0 error ${err(back.x0, x0)}`);
      const perfect = diffusionLoss(
        (xx, tt) => predictionTarget(s, x0, noise, tt, p) as tf.Tensor4D,
        s,
        x0,
        t,
        noise,
        p,
      );
      const zero = diffusionLoss((xx) => tf.zerosLike(xx), s, x0, t, noise, p);
      const meanSq = tf.tidy(() => tf.mean(tf.square(target)).dataSync()[0]);
      assert.ok(perfect.dataSync()[0] < 1e-10);
      close(zero.dataSync()[0], meanSq, 1e-5, 'zero-model loss');
      tf.dispose([x0, noise, xt, target, back.eps, back.x0, perfect, zero]);
    });
  }

  it('v target equals sqrt(abar) eps - sqrt(1-abar) x0 (checked elementwise in JS)', () => {
    const s = cosineSchedule(100);
    const x0 = tf.tensor4d([0.5, -1], [2, 1, 1, 1]);
    const eps = tf.tensor4d([1.5, 0.25], [2, 1, 1, 1]);
    const v = predictionTarget(s, x0, eps, [20, 80], 'v').dataSync();
    close(v[0], Math.sqrt(s.alphasCumprod[20]) * 1.5 - Math.sqrt(1 - s.alphasCumprod[20]) * 0.5, 1e-5, 'v[0]');
    close(v[1], Math.sqrt(s.alphasCumprod[80]) * 0.25 + Math.sqrt(1 - s.alphasCumprod[80]) * 1, 1e-5, 'v[1]');
    tf.dispose([x0, eps]);
    assert.throws(() => predictionTarget(s, x0, eps, [1, 2], 'score' as Prediction), /Unknown prediction 'score'/);
  });
});

/**
 * The exact denoiser for data x0 ~ N(mu, sd^2) per pixel: E[x0 | x_t] in closed form. A sampler fed
 * this model must reproduce N(mu, sd^2): an independent check of the DDIM update.
 */
function gaussianOracle(s: NoiseSchedule, mu: number, sd: number, prediction: Prediction): DiffusionModel {
  return {
    prediction,
    predict: (xt, t) =>
      tf.tidy(() => {
        const a = Math.sqrt(s.alphasCumprod[t[0]]);
        const b2 = 1 - s.alphasCumprod[t[0]];
        const x0 = tf.add(mu, tf.mul((a * sd * sd) / (a * a * sd * sd + b2), tf.sub(xt, a * mu)));
        const eps = tf.div(tf.sub(xt, tf.mul(a, x0)), Math.sqrt(b2));
        if (prediction === 'eps') return eps as tf.Tensor4D;
        if (prediction === 'x0') return x0 as tf.Tensor4D;
        return tf.sub(tf.mul(a, eps), tf.mul(Math.sqrt(b2), x0)) as tf.Tensor4D;
      }),
  };
}

function meanStd(x: tf.Tensor): [number, number] {
  const d = Array.from(x.dataSync());
  const m = d.reduce((a, b) => a + b, 0) / d.length;
  return [m, Math.sqrt(d.reduce((a, b) => a + (b - m) ** 2, 0) / d.length)];
}

describe('DDIM sampler', () => {
  before(async () => {
    await tf.setBackend('cpu');
  });
  const s = linearSchedule(1000);
  const shape: [number, number, number, number] = [4, 50, 50, 1];

  it('eta = 0 is deterministic: same seed same samples; given x_T the step noise is irrelevant', () => {
    const m = gaussianOracle(s, 0.2, 0.4, 'eps');
    const d = new DDIMSampler(s);
    const a = d.sample(m, [2, 4, 4, 1], { steps: 10, rng: new Rng(9) });
    const b = d.sample(m, [2, 4, 4, 1], { steps: 10, rng: new Rng(9) });
    const xT = new Rng(3).normalTensor([2, 4, 4, 1]) as tf.Tensor4D;
    const c1 = d.sample(m, [2, 4, 4, 1], { steps: 10, rng: new Rng(1), xT });
    const c2 = d.sample(m, [2, 4, 4, 1], { steps: 10, rng: new Rng(2), xT });
    const e1 = d.sample(m, [2, 4, 4, 1], { steps: 10, rng: new Rng(1), xT, eta: 1 });
    const e2 = d.sample(m, [2, 4, 4, 1], { steps: 10, rng: new Rng(2), xT, eta: 1 });
    const diff = (p: tf.Tensor, q: tf.Tensor) => tf.tidy(() => tf.max(tf.abs(tf.sub(p, q))).dataSync()[0]);
    assert.strictEqual(diff(a, b), 0);
    assert.strictEqual(diff(c1, c2), 0);
    assert.ok(diff(e1, e2) > 1e-3, 'eta = 1 must use the step noise');
    tf.dispose([a, b, xT, c1, c2, e1, e2]);
  });

  /**
   * Moments after DDIM on the exact Gaussian denoiser, propagated in float64: every step is affine,
   * x' = c x + d + sigma z, so mean and variance follow exactly. Few steps shrink the spread
   * (0.471 instead of 0.5 at 50 steps); that is DDIM's discretisation, not a bug.
   */
  function expectedMoments(mu: number, sd: number, eta: number, steps: number): [number, number] {
    const ts = respaceTimesteps(s.T, steps);
    let m = 0;
    let v = 1;
    ts.forEach((t, i) => {
      const ab = s.alphasCumprod[t];
      const abp = i + 1 < ts.length ? s.alphasCumprod[ts[i + 1]] : 1;
      const a = Math.sqrt(ab);
      const k = (a * sd * sd) / (ab * sd * sd + 1 - ab);
      const sigma = eta * Math.sqrt(((1 - abp) / (1 - ab)) * (1 - ab / abp));
      const dir = Math.sqrt(1 - abp - sigma * sigma);
      const [cx0, dx0] = [k, mu * (1 - k * a)];
      const [ce, de] = [(1 - a * cx0) / Math.sqrt(1 - ab), (-a * dx0) / Math.sqrt(1 - ab)];
      const c = Math.sqrt(abp) * cx0 + dir * ce;
      m = c * m + Math.sqrt(abp) * dx0 + dir * de;
      v = c * c * v + sigma * sigma;
    });
    return [m, Math.sqrt(v)];
  }

  for (const [pred, eta, steps] of [
    ['eps', 0, 50],
    ['x0', 0, 20],
    ['v', 0, 50],
    ['eps', 1, 100],
    ['v', 0.5, 50],
  ] as [Prediction, number, number][]) {
    it(`exact ${pred}-denoiser for N(0.3, 0.5^2): sample moments match (eta=${eta}, ${steps} steps)`, () => {
      const before = tf.memory().numTensors;
      let calls = 0;
      const out = new DDIMSampler(s, { eta }).sample(gaussianOracle(s, 0.3, 0.5, pred), shape, {
        steps,
        rng: new Rng(5),
        clipDenoised: false,
        onStep: () => calls++,
      });
      const [m, sd] = meanStd(out);
      const [em, esd] = expectedMoments(0.3, 0.5, eta, steps);
      const n = out.size;
      assert.strictEqual(calls, steps);
      assert.ok(Math.abs(m - em) < (4 * esd) / Math.sqrt(n), `mean ${m}, expected ${em}`);
      assert.ok(Math.abs(sd - esd) < (4 * esd) / Math.sqrt(2 * n), `std ${sd}, expected ${esd}`);
      // And close to the data distribution itself.
      assert.ok(Math.abs(m - 0.3) < 0.02 && Math.abs(sd - 0.5) < 0.08, `N(${m}, ${sd}^2) is far from N(0.3, 0.5^2)`);
      out.dispose();
      assert.strictEqual(tf.memory().numTensors, before, 'the sampler leaked tensors');
    });
  }

  it('rejects bad options', () => {
    const d = new DDIMSampler(s);
    const m = gaussianOracle(s, 0, 1, 'eps');
    assert.throws(() => d.sample(m, [1, 2, 2, 1], { steps: 0, rng: new Rng(0) }), /steps must be an integer/);
    assert.throws(() => d.sample(m, [1, 2, 2, 1], { steps: 5, rng: new Rng(0), eta: 2 }), /eta must be in \[0, 1\]/);
  });
});
