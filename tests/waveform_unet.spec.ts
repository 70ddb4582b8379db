// Lesson 16's waveform model (lib/methods/audio/waveform_unet.ts), the 1-D UNet measured against the
// spectrogram UNet. Independent references: a 1-D convolution written as loops, FLOPs and levels of a
// small config written out by hand; autodiff reaching every parameter; a few Adam steps on one fixed
// batch through the core's diffusionLoss lowering it; tensor counts; errors on bad shapes.
import * as assert from 'assert';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../lib/runtime/backend';
import { diffusionLoss } from '../lib/core/loss';
import { ParamStore } from '../lib/core/params';
import { Rng } from '../lib/core/random';
import { linearSchedule } from '../lib/core/schedule';
import {
  CLIP_LENGTH,
  Conv1d,
  makeWaveformTrainStep,
  waveformLevels,
  waveformReceptiveField,
  WaveformUNet,
  waveformUNetConfig,
  WaveformUNetConfig,
  waveformUNetFlops,
} from '../lib/methods/audio/index';

const tiny: Partial<WaveformUNetConfig> = {
  length: 64,
  baseChannels: 8,
  channelMults: [1, 2, 2],
  factors: [4, 2],
  groups: 4,
  attentionHeads: 2,
  numClasses: 3,
};

describe('lesson 16: the waveform UNet', function () {
  this.timeout(300_000);
  before(async () => {
    await initBackend();
  });

  it('its 1-D convolution equals the convolution written as loops (padding along time only, strides)', async () => {
    const rng = new Rng(1);
    const store = new ParamStore(rng);
    const [len, cin, cout] = [13, 3, 2];
    const x = rng.normalTensor([2, 1, len, cin]) as tf.Tensor4D;
    const xs = await x.data();
    for (const [k, stride] of [
      [3, 1],
      [5, 1],
      [4, 4],
    ]) {
      const conv = new Conv1d(store, `c${k}`, cin, cout, k, stride);
      const y = conv.apply(stride === 1 ? x : (tf.slice(x, [0, 0, 0, 0], [2, 1, 12, cin]) as tf.Tensor4D));
      const [w, bias, got] = await Promise.all([conv.weight.data(), conv.bias.data(), y.data()]);
      const outLen = stride === 1 ? len : 12 / stride;
      assert.deepEqual(y.shape, [2, 1, outLen, cout]);
      const pad = stride === 1 ? (k - 1) / 2 : 0;
      let maxErr = 0;
      for (let b = 0; b < 2; b++)
        for (let o = 0; o < outLen; o++)
          for (let co = 0; co < cout; co++) {
            let s = bias[co];
            for (let j = 0; j < k; j++) {
              const i = o * stride + j - pad;
              if (i < 0 || i >= len) continue;
              for (let ci = 0; ci < cin; ci++) s += xs[(b * len + i) * cin + ci] * w[(j * cin + ci) * cout + co];
            }
            maxErr = Math.max(maxErr, Math.abs(s - got[(b * outLen + o) * cout + co]));
          }
      assert.ok(maxErr < 1e-5, `kernel ${k} stride ${stride}: max error ${maxErr}`);
      y.dispose();
    }
    x.dispose();
    for (const v of store.params.values()) v.dispose();
  });

  it('maps [B, L, 1] to [B, L, 1], reads t and the class label, and leaks no tensor', async () => {
    const m = new WaveformUNet(tiny, { seed: 0 });
    const x = new Rng(2).normalTensor([3, 64, 1]) as tf.Tensor3D;
    const before = tf.memory().numTensors;
    const y = m.apply(x, [10, 500, 999], [0, 1, 3]);
    assert.deepEqual(y.shape, [3, 64, 1]);
    const yT = m.apply(x, [11, 500, 999], [0, 1, 3]);
    const yC = m.apply(x, [10, 500, 999], [2, 1, 3]);
    const rowDiff = async (a: tf.Tensor, b: tf.Tensor) => {
      const d = tf.tidy(() => tf.max(tf.abs(tf.sub(a, b)), [1, 2]));
      const v = Array.from(await d.data());
      d.dispose();
      return v;
    };
    const dT = await rowDiff(y, yT);
    const dC = await rowDiff(y, yC);
    assert.ok(dT[0] > 1e-6 && dT[1] === 0, `t changes only its own clip: ${dT}`);
    assert.ok(dC[0] > 1e-6 && dC[1] === 0, `the label changes only its own clip: ${dC}`);
    tf.dispose([y, yT, yC]);
    assert.equal(tf.memory().numTensors, before, 'apply left tensors behind');
    x.dispose();
    m.dispose();
  });

  it('gradients of the core diffusion loss reach every parameter', async () => {
    const m = new WaveformUNet(tiny, { seed: 1 });
    const rng = new Rng(3);
    const x0 = rng.normalTensor([2, 1, 64, 1]) as tf.Tensor4D;
    const noise = rng.normalTensor([2, 1, 64, 1]) as tf.Tensor4D;
    const schedule = linearSchedule(1000);
    const { value, grads } = tf.variableGrads(
      () => diffusionLoss(m.denoiseFn([0, 2]), schedule, x0, [100, 700], noise),
      [...m.params.values()],
    );
    const names = [...m.params.keys()];
    assert.equal(Object.keys(grads).length, names.length);
    const dead: string[] = [];
    for (const [name, v] of m.params) {
      const g = grads[v.name];
      if (!g || (await tf.max(tf.abs(g)).data())[0] === 0) dead.push(name);
    }
    assert.deepEqual(dead, [], `parameters without gradient: ${dead.join(', ')}`);
    assert.ok(names.includes('mid.attn.qkv.weight') && names.includes('classEmb.weight'));
    tf.dispose([value, x0, noise, ...Object.values(grads)]);
    m.dispose();
  });

  it('a few Adam steps on one fixed batch lower the loss; the train step keeps the tensor count flat', async () => {
    const m = new WaveformUNet(tiny, { seed: 2 });
    const rng = new Rng(4);
    // A fixed batch of two "notes": sines of periods 8 and 16 samples.
    const wave = (p: number) => Float32Array.from({ length: 64 }, (_, i) => 0.7 * Math.sin((2 * Math.PI * i) / p));
    const x0 = tf.tensor4d([...wave(8), ...wave(16)], [2, 1, 64, 1]);
    const noise = rng.normalTensor([2, 1, 64, 1]) as tf.Tensor4D;
    const schedule = linearSchedule(1000);
    const opt = tf.train.adam(3e-3);
    const loss = () => diffusionLoss(m.denoiseFn([0, 1]), schedule, x0, [200, 600], noise);
    const first = tf.tidy(loss);
    const l0 = (await first.data())[0];
    first.dispose();
    for (let i = 0; i < 30; i++) opt.minimize(loss, false, [...m.params.values()]);
    const last = tf.tidy(loss);
    const l1 = (await last.data())[0];
    last.dispose();
    assert.ok(l1 < 0.5 * l0, `loss ${l0} -> ${l1} after 30 steps`);
    opt.dispose();

    const step = makeWaveformTrainStep(m, { schedule, rng: new Rng(5) });
    const x3 = tf.reshape(x0, [2, 64, 1]) as tf.Tensor3D;
    await step(x3, [0, 1]); // the first step creates Adam's moments
    const before = tf.memory().numTensors;
    for (let i = 0; i < 3; i++) assert.ok(Number.isFinite(await step(x3, [0, 1])));
    assert.equal(tf.memory().numTensors, before, 'the train step leaks tensors');
    step.dispose();
    tf.dispose([x0, x3, noise]);
    m.dispose();
  });

  it('refuses bad shapes, labels and configs with a message saying what it expected', () => {
    const m = new WaveformUNet(tiny, { seed: 0 });
    const bad = (x: tf.Tensor, re: RegExp, t = [1, 1], labels?: number[]) => {
      assert.throws(() => m.apply(x as tf.Tensor3D, t, labels), re);
      x.dispose();
    };
    bad(tf.zeros([2, 64]), /x must be \[B, 64, 1\].*got \[2,64\]/);
    bad(tf.zeros([2, 60, 1]), /mono clips of 64 samples/);
    bad(tf.zeros([2, 64, 2]), /x must be \[B, 64, 1\]/);
    bad(tf.zeros([2, 64, 1]), /3 timesteps for a batch of 2/, [1, 2, 3]);
    bad(tf.zeros([2, 64, 1]), /1 class labels for a batch of 2/, [1, 1], [0]);
    bad(tf.zeros([2, 64, 1]), /class label 4 outside \[0, 3\]/, [1, 1], [0, 4]);
    assert.throws(
      () => waveformUNetConfig({ length: 100, factors: [4, 4, 4] }),
      /not divisible by the factors' product 64/,
    );
    assert.throws(() => waveformUNetConfig({ factors: [4, 4] }), /factors must have 3 entries/);
    assert.throws(() => waveformUNetConfig({ kernel: 4 }), /kernel must be odd/);
    m.dispose();
  });

  it("the lesson's config: levels, receptive field, parameters near the spectrogram UNet's, FLOPs by hand", () => {
    const c = waveformUNetConfig();
    assert.equal(c.length, CLIP_LENGTH);
    assert.deepEqual(waveformLevels(c), [3968, 992, 248, 62]);
    // convIn 3 (+2), level 0: 2 convs (+4), down 4 (+3) -> jump 4; level 1: +16, down +12 -> jump 16;
    // level 2: +64, down +48 -> jump 64; level 3: +256; mid.res1: +256.
    assert.equal(waveformReceptiveField(c), 1 + 2 + 4 + 3 + 16 + 12 + 64 + 48 + 256 + 256);
    const m = new WaveformUNet({}, { seed: 0 });
    assert.equal(m.paramCount, 1087585);
    m.dispose();
    // One level, no attention, no classes: convIn, 1 down ResBlock, mid (2), 2 up ResBlocks (with skips), convOut.
    const one = { length: 10, baseChannels: 4, channelMults: [1], factors: [], groups: 2, midAttention: false };
    const one0 = { ...one, numClasses: undefined };
    const L = 10;
    const conv = (cin: number, cout: number, k: number) => 2 * L * k * cin * cout;
    const res = (cin: number, cout: number) =>
      conv(cin, cout, 3) + conv(cout, cout, 3) + 2 * 16 * cout + (cin !== cout ? conv(cin, cout, 1) : 0);
    const want = 2 * (4 * 16 + 16 * 16) + conv(1, 4, 3) + res(4, 4) + 2 * res(4, 4) + 2 * res(8, 4) + conv(4, 1, 3);
    assert.equal(waveformUNetFlops(one0, 3), 3 * want);
  });
});
