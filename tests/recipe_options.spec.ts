// Training options the lesson-05 recipe study uses: min-SNR-γ loss weighting and EMA warm-up, each
// against a direct computation written here from the papers' formulas (Hang et al. 2023 eq. for the
// weight; diffusers' EMAModel warm-up), on the cpu backend.
import { strict as assert } from 'assert';
import * as tf from '@tensorflow/tfjs-core';
import '../lib/core/tfjs_setup';
import { diffusionLoss, minSnrWeight, predictionTarget } from '../lib/core/loss';
import { Rng } from '../lib/core/random';
import { linearSchedule } from '../lib/core/schedule';
import { Ema } from '../lib/core/train/ema';

describe('recipe options', () => {
  before(async () => {
    await tf.setBackend('cpu');
  });

  it('min-SNR weight: min(SNR, γ) over SNR (eps), SNR + 1 (v), 1 (x0), with SNR = abar / (1 - abar)', () => {
    const s = linearSchedule(1000);
    for (const t of [0, 10, 100, 500, 999]) {
      const abar = s.alphasCumprod[t];
      const snr = abar / (1 - abar);
      const m = Math.min(snr, 5);
      assert.ok(Math.abs(minSnrWeight(s, t, 5, 'eps') - m / snr) < 1e-12);
      assert.ok(Math.abs(minSnrWeight(s, t, 5, 'v') - m / (snr + 1)) < 1e-12);
      assert.ok(Math.abs(minSnrWeight(s, t, 5, 'x0') - m) < 1e-12);
    }
    // High noise: SNR < γ, so eps keeps weight 1; low noise: the weight falls as γ / SNR.
    assert.equal(minSnrWeight(s, 999, 5, 'eps'), 1);
    assert.ok(minSnrWeight(s, 0, 5, 'eps') < 0.01);
    assert.throws(() => minSnrWeight(s, 10, 0, 'eps'), /gamma must be a positive number/);
  });

  it("the weighted loss is the mean over images of weight(t_i) times image i's mean squared error", async () => {
    const s = linearSchedule(1000);
    const rng = new Rng(3);
    const x0 = rng.normalTensor([3, 4, 4, 1]) as tf.Tensor4D;
    const noise = rng.normalTensor([3, 4, 4, 1]) as tf.Tensor4D;
    const t = [5, 300, 900];
    const model = (xt: tf.Tensor4D) => tf.mul(xt, 0.5) as tf.Tensor4D; // any fixed function of x_t
    for (const p of ['eps', 'v'] as const) {
      const got = (await diffusionLoss(model, s, x0, t, noise, p, { minSnrGamma: 5 }).data())[0];
      const xt = s.qSample(x0, t, noise);
      const err = await tf.squaredDifference(model(xt as tf.Tensor4D), predictionTarget(s, x0, noise, t, p)).data();
      let want = 0;
      for (let i = 0; i < 3; i++) {
        let e = 0;
        for (let j = 0; j < 16; j++) e += err[i * 16 + j];
        want += (minSnrWeight(s, t[i], 5, p) * e) / 16 / 3;
      }
      assert.ok(Math.abs(got - want) < 1e-6 * Math.max(1, want), `${p}: ${got} vs ${want}`);
      const plain = (await diffusionLoss(model, s, x0, t, noise, p).data())[0];
      assert.notEqual(got, plain, 'the weighting changes the loss');
    }
  });

  it('EMA warm-up: update k uses min(decay, (1 + k) / (10 + k)); without warm-up the decay is fixed', async () => {
    const w = new Map([['w', tf.variable(tf.scalar(0))]]);
    const e = new Map([['w', tf.variable(tf.scalar(0))]]);
    const ema = new Ema(w, e, 0.99, true);
    let want = 0;
    for (let k = 0; k < 50; k++) {
      w.get('w')!.assign(tf.scalar(k + 1));
      ema.update(k);
      const d = Math.min(0.99, (1 + k) / (10 + k));
      want = d * want + (1 - d) * (k + 1);
    }
    assert.ok(Math.abs((await e.get('w')!.data())[0] - want) < 1e-3, 'closed form of the warm-up average');
    assert.equal(ema.decayAt(0), 0.1);
    assert.equal(new Ema(w, e, 0.99).decayAt(0), 0.99);
    tf.dispose([...w.values(), ...e.values()]);
  });
});
