// The UNet. Independent references: the PyTorch mirror (scripts/bench_torch.py, plain torch modules loaded
// with these weights) for the outputs and parameter names and count; a parameter count and FLOP count from
// the layer formulas written out here; autodiff reaching every parameter; conditions checked field by field
// against one table. Needs python3-torch (scripts/setup.sh installs it): without it those tests fail.
import * as assert from 'assert';
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { Rng } from '../lib/core/random';
import { AttentionHook, UNet } from '../lib/core/unet/unet';
import { referenceUNetConfig, resolveUNetConfig, UNetConfigInput } from '../lib/core/unet/config';
import { Condition } from '../lib/core/condition';
import { unetFlops } from '../lib/eval/unet_flops';
import { disposeParams, ParamStore } from '../lib/core/params';
import { TextUNet } from '../lib/methods/text/text_unet';
import { Tokenizer } from '../lib/methods/text/tokenizer';
import { GroundingHook } from '../lib/methods/gligen/grounding_hook';

import { hasTorch, PY } from './helpers/python';
import { requireDependency, TORCH_MISSING } from './helpers/require';

const BENCH_TORCH = path.join(__dirname, '..', 'scripts', 'bench_torch.py');

const tiny: UNetConfigInput = {
  imageSize: 8,
  inChannels: 1,
  outChannels: 1,
  baseChannels: 8,
  channelMults: [1, 2],
  numResBlocks: 1,
  attentionResolutions: [4],
  attentionHeads: 2,
  groups: 4,
};
const conditioned: UNetConfigInput = { ...tiny, numClasses: 3, condChannels: 2, contextDim: 6 };

function maxAbsDiff(a: tf.Tensor, b: tf.Tensor): number {
  return tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]);
}

/** Conditions for a batch of 2 of the `conditioned` config, drawn from rng. */
function condFor(rng: Rng): {
  classLabels: number[];
  concat: tf.Tensor4D;
  context: tf.Tensor3D;
  contextMask: tf.Tensor2D;
} {
  return {
    classLabels: [0, 2],
    concat: rng.normalTensor([2, 8, 8, 2]) as tf.Tensor4D,
    context: rng.normalTensor([2, 5, 6]) as tf.Tensor3D,
    contextMask: tf.tensor2d([1, 1, 1, 1, 1, 1, 1, 1, 0, 0], [2, 5]),
  };
}

describe('UNet', function () {
  before(async () => {
    await tf.setBackend('cpu');
  });

  it('maps [B,S,S,in] to [B,S,S,out] (reference config and a 3-channel one)', () => {
    const ref = new UNet(referenceUNetConfig({ baseChannels: 8, groups: 4 }));
    const rgb = new UNet({ ...tiny, inChannels: 3, outChannels: 6, downsample: 'avgpool' });
    tf.tidy(() => {
      assert.deepStrictEqual(ref.apply(tf.zeros([2, 28, 28, 1]), [0, 999]).shape, [2, 28, 28, 1]);
      assert.deepStrictEqual(rgb.apply(tf.zeros([3, 8, 8, 3]), [1, 2, 3]).shape, [3, 8, 8, 6]);
    });
    ref.dispose();
    rgb.dispose();
  });

  it('parameter count matches an independent count from the layer formulas', () => {
    // conv k x k: k*k*in*out + out; dense: in*out + out; GroupNorm: 2*ch.
    const conv = (k: number, i: number, o: number) => k * k * i * o + o;
    const dense = (i: number, o: number) => i * o + o;
    const gn = (c: number) => 2 * c;
    const res = (i: number, o: number, te: number) =>
      gn(i) + conv(3, i, o) + dense(te, o) + gn(o) + conv(3, o, o) + (i !== o ? conv(1, i, o) : 0);
    const attn = (c: number, ctx?: number) =>
      gn(c) + dense(c, 3 * c) + dense(c, c) + (ctx ? gn(c) + dense(c, c) + dense(ctx, 2 * c) + dense(c, c) : 0);
    // tiny: base 8, mults [1,2], one ResBlock a level, attention at 4 (level 1) and in the middle.
    const te = 32;
    const expected = (ctx?: number, classes?: number, condCh = 0) =>
      dense(8, te) +
      dense(te, te) +
      (classes ? (classes + 1) * te : 0) +
      conv(3, 1 + condCh, 8) +
      res(8, 8, te) +
      conv(3, 8, 8) + // down.0: res, stride-2 conv
      res(8, 16, te) +
      attn(16, ctx) + // down.1
      res(16, 16, te) +
      attn(16, ctx) +
      res(16, 16, te) + // mid
      res(16 + 16, 16, te) +
      attn(16, ctx) +
      res(16 + 8, 16, te) +
      attn(16, ctx) +
      conv(3, 16, 16) + // up.1 (+ up conv)
      res(16 + 8, 8, te) +
      res(8 + 8, 8, te) + // up.0
      gn(8) +
      conv(3, 8, 1);
    const a = new UNet(tiny);
    const b = new UNet(conditioned);
    assert.strictEqual(a.paramCount, expected());
    assert.strictEqual(b.paramCount, expected(6, 3, 2));
    a.dispose();
    b.dispose();
  });

  it('has stable parameter names (same list on every build, readable dotted paths)', () => {
    const a = new UNet(conditioned, { seed: 1 });
    const b = new UNet(conditioned, { seed: 2 });
    const names = [...a.params.keys()];
    assert.deepStrictEqual(names, [...b.params.keys()]);
    for (const n of [
      'time.lin1.weight',
      'classEmb.weight',
      'convIn.weight',
      'down.0.res.0.conv1.weight',
      'down.0.down.weight',
      'down.1.attn.0.qkv.weight',
      'down.1.attn.0.cross.kv.weight',
      'mid.attn.proj.bias',
      'up.1.res.1.skip.weight',
      'up.1.up.weight',
      'up.0.res.1.norm2.bias',
      'normOut.weight',
      'convOut.bias',
    ]) {
      assert.ok(a.params.has(n), `missing parameter ${n}`);
    }
    assert.ok(names.every((n) => /^[A-Za-z0-9.]+$/.test(n)));
    a.dispose();
    b.dispose();
  });

  it('same seed gives the same weights and output; another seed does not', () => {
    const x = new Rng(5).normalTensor([2, 8, 8, 1]) as tf.Tensor4D;
    const a = new UNet(tiny, { seed: 7 });
    const b = new UNet(tiny, { seed: 7 });
    const c = new UNet(tiny, { seed: 8 });
    const [ya, yb, yc] = [a, b, c].map((m) => m.apply(x, [10, 500]));
    assert.strictEqual(maxAbsDiff(ya, yb), 0);
    assert.ok(maxAbsDiff(ya, yc) > 1e-3);
    tf.dispose([x, ya, yb, yc]);
    [a, b, c].forEach((m) => m.dispose());
  });

  it('depends on t, and each condition hook changes the output', () => {
    const rng = new Rng(3);
    const m = new UNet(conditioned, { seed: 3 });
    const x = rng.normalTensor([2, 8, 8, 1]) as tf.Tensor4D;
    const c = condFor(rng);
    const base = m.apply(x, [100, 100], c);
    const variants: [string, tf.Tensor][] = [
      ['t', m.apply(x, [101, 700], c)],
      ['class', m.apply(x, [100, 100], { ...c, classLabels: [1, 1] })],
      ['null class', m.apply(x, [100, 100], { ...c, classLabels: undefined })],
      ['concat', m.apply(x, [100, 100], { ...c, concat: tf.zerosLike(c.concat) as tf.Tensor4D })],
      ['context', m.apply(x, [100, 100], { ...c, context: tf.mul(c.context, 2) as tf.Tensor3D })],
    ];
    for (const [name, y] of variants) assert.ok(maxAbsDiff(base, y) > 1e-4, `${name} did not change the output`);
    // Masked-out context tokens must not matter.
    const ctx2 = tf.concat([tf.slice(c.context, [0, 0, 0], [2, 4, 6]), tf.fill([2, 1, 6], 9)], 1) as tf.Tensor3D;
    const masked = m.apply(x, [100, 100], { ...c, context: ctx2 });
    const sample1 = (t: tf.Tensor) => tf.slice(t, [1, 0, 0, 0], [1, 8, 8, 1]);
    assert.ok(maxAbsDiff(sample1(base), sample1(masked)) < 1e-5, 'a masked context token changed the output');
    tf.dispose([x, base, masked, ctx2, c.concat, c.context, c.contextMask, ...variants.map((v) => v[1])]);
    m.dispose();
  });

  it('rejects bad configs and inputs with clear errors', () => {
    assert.throws(
      () => resolveUNetConfig({ ...tiny, imageSize: 28, channelMults: [1, 2, 2, 2] }),
      /imageSize 28 is not divisible by 8/,
    );
    assert.throws(() => resolveUNetConfig({ ...tiny, groups: 3 }), /not divisible by groups=3/);
    assert.throws(() => resolveUNetConfig({ ...tiny, attentionResolutions: [3] }), /attention resolution 3/);
    assert.throws(() => resolveUNetConfig({ ...tiny, attentionHeads: 3 }), /attentionHeads=3/);
    assert.throws(() => resolveUNetConfig({ ...tiny, baseChannels: 0 }), /baseChannels must be a positive integer/);
    const m = new UNet(tiny);
    assert.throws(() => m.apply(tf.zeros([1, 8, 8, 3]) as tf.Tensor4D, [0]), /expected 1 input channels, got 3/);
    assert.throws(() => m.apply(tf.zeros([1, 16, 16, 1]) as tf.Tensor4D, [0]), /expected 8x8 images, got 16x16/);
    assert.throws(() => m.apply(tf.zeros([2, 8, 8, 1]) as tf.Tensor4D, [0]), /1 timesteps for a batch of 2/);
    assert.throws(() => m.apply(tf.zeros([1, 8, 8, 1]) as tf.Tensor4D, [0], { classLabels: [1] }), /no numClasses/);
    const c = new UNet(conditioned);
    assert.throws(() => c.apply(tf.zeros([1, 8, 8, 1]) as tf.Tensor4D, [0]), /pass cond.concat/);
    assert.throws(
      () =>
        c.apply(tf.zeros([1, 8, 8, 1]) as tf.Tensor4D, [0], {
          concat: tf.zeros([1, 8, 8, 2]) as tf.Tensor4D,
          context: tf.zeros([1, 2, 6]) as tf.Tensor3D,
          classLabels: [4],
        }),
      /class label 4 outside \[0, 3\]/,
    );
    m.dispose();
    c.dispose();
  });

  it('a condition vector (vectorDim) enters through the time embedding: counted, used, trained, checked', () => {
    const rng = new Rng(13);
    const plain = new UNet(tiny, { seed: 13 });
    const m = new UNet({ ...tiny, vectorDim: 5 }, { seed: 13 });
    const te = m.tembDim;
    assert.strictEqual(m.paramCount - plain.paramCount, 5 * te + te);
    const x = rng.normalTensor([2, 8, 8, 1]) as tf.Tensor4D;
    const v = rng.normalTensor([2, 5]) as tf.Tensor2D;
    const y = m.apply(x, [50, 50], { vector: v });
    const y2 = m.apply(x, [50, 50], { vector: tf.mul(v, 2) as tf.Tensor2D });
    assert.ok(maxAbsDiff(y, y2) > 1e-4, 'the vector did not change the output');
    const { grads } = tf.variableGrads(
      () => tf.mean(tf.square(m.apply(x, [3, 900], { vector: v }))) as tf.Scalar,
      [m.params.get('vectorToTime.weight')!],
    );
    assert.ok(tf.tidy(() => tf.sum(tf.abs(Object.values(grads)[0])).dataSync()[0]) > 0, 'no gradient for vectorToTime');
    assert.throws(() => m.apply(x, [0, 0]), /built with vectorDim=5, pass cond.vector \[2, 5\], got none/);
    assert.throws(
      () => m.apply(x, [0, 0], { vector: tf.zeros([2, 4]) as tf.Tensor2D }),
      /pass cond.vector \[2, 5\], got \[2,4\]/,
    );
    assert.throws(() => plain.apply(x, [0, 0], { vector: v }), /cond.vector given but the config has no vectorDim/);
    assert.throws(() => resolveUNetConfig({ ...tiny, vectorDim: 0 }), /vectorDim must be a positive integer/);
    tf.dispose([x, v, y, y2, ...Object.values(grads)]);
    plain.dispose();
    m.dispose();
  });

  it('checks every condition field against one table, naming the field and the expected shape', () => {
    const c = new UNet(conditioned);
    const m = new UNet(tiny);
    const x = tf.zeros([2, 8, 8, 1]) as tf.Tensor4D;
    const concat = tf.zeros([2, 8, 8, 2]) as tf.Tensor4D;
    const ctx = tf.zeros([2, 3, 6]) as tf.Tensor3D;
    const ok = { concat, context: ctx };
    assert.throws(
      () => c.apply(x, [0, 0], { concat }),
      /built with contextDim=6, pass cond.context \[2, L, 6\], got none/,
    );
    assert.throws(
      () => c.apply(x, [0, 0], { ...ok, concat: tf.zeros([2, 8, 8, 3]) as tf.Tensor4D }),
      /built with condChannels=2, pass cond.concat \[2, 8, 8, 2\], got \[2,8,8,3\]/,
    );
    assert.throws(
      () => c.apply(x, [0, 0], { ...ok, contextMask: tf.ones([2, 4]) as tf.Tensor2D }),
      /pass cond.contextMask \[2, 3\], got \[2,4\]/,
    );
    assert.throws(
      () => c.apply(x, [0, 0], { ...ok, classLabels: [1] }),
      /built with numClasses=3, pass cond.classLabels \[2\] \(one id per image\), got \[1\]/,
    );
    assert.throws(
      () => c.apply(x, [0, 0], { ...ok, timeEmbedding: tf.zeros([2, 5]) as tf.Tensor2D }),
      /pass cond.timeEmbedding \[2, 32\], got \[2,5\]/,
    );
    assert.throws(() => m.apply(x, [0, 0], { context: ctx }), /cond.context given but the config has no contextDim/);
    // A field that no one reads is refused by name, never ignored.
    assert.throws(
      () => c.apply(x, [0, 0], { ...ok, text: ['a', 'b'] } as Condition),
      /condition field 'text' is not read by this model \(it reads classLabels, concat, context, contextMask, vector, timeEmbedding\)/,
    );
    assert.throws(() => m.apply(x, [0, 0], { contxt: ctx } as Condition), /condition field 'contxt' is not read/);
    // An unknown config field would be dropped silently: refused.
    assert.throws(() => new UNet({ ...tiny, text: {} } as UNetConfigInput), /UNetConfig: unknown field 'text'/);
    tf.dispose([x, concat, ctx]);
    c.dispose();
    m.dispose();
  });

  it('timeEmbedding is added to the time embedding as is; a shared store keeps one parameter map', () => {
    const rng = new Rng(17);
    const m = new UNet(tiny, { seed: 17 });
    const x = rng.normalTensor([2, 8, 8, 1]) as tf.Tensor4D;
    const y0 = m.apply(x, [40, 40]);
    const zero = tf.zeros([2, m.tembDim]) as tf.Tensor2D;
    const e = rng.normalTensor([2, m.tembDim]) as tf.Tensor2D;
    assert.equal(maxAbsDiff(y0, m.apply(x, [40, 40], { timeEmbedding: zero })), 0);
    assert.ok(maxAbsDiff(y0, m.apply(x, [40, 40], { timeEmbedding: e })) > 1e-4, 'timeEmbedding had no effect');
    // A wrapper's store: its own parameters sit in the same map as the core's, under their own names.
    const store = new ParamStore(new Rng(17));
    store.normal('wrapper.weight', [2], 1);
    const inStore = new UNet(tiny, { store });
    assert.strictEqual(inStore.params, store.params);
    assert.ok(inStore.params.has('wrapper.weight') && inStore.params.has('convIn.weight'));
    assert.throws(() => new UNet(tiny, { store, seed: 1 }), /either a store .* or rng\/seed/);
    const copy = m.emptyCopy();
    assert.deepStrictEqual(copy.config, m.config);
    assert.deepStrictEqual([...copy.params.keys()], [...m.params.keys()]);
    tf.dispose([x, y0, zero, e]);
    [m, inStore, copy].forEach((u) => u.dispose());
  });

  it('an attention hook adds layers after every attention block, named in its scope; null state skips them', () => {
    type Shared = tf.Variable;
    const built: string[] = [];
    // A toy hook: after each attention block add scale * cond.shift (per image) where scale is a layer parameter.
    const hook: AttentionHook<Shared, tf.Tensor> = {
      name: 'toy',
      fields: ['shift'],
      buildLayer(store, block, channels) {
        const scale = store.scope('toy', () => store.constant(`${block}.scale`, [channels], 1));
        built.push(block);
        return { apply: (xx, s) => tf.add(xx, tf.mul(scale, s)) as tf.Tensor4D };
      },
      buildShared: (store) => store.constant('toy.shared', [1], 2),
      check(cond, b) {
        const v = cond.shift;
        if (v !== undefined && (!(v instanceof tf.Tensor) || v.shape.join() !== `${b},1,1,1`))
          throw new Error(`toy: cond.shift must be [${b}, 1, 1, 1]`);
      },
      state: (cond, shared) => (cond.shift === undefined ? null : tf.mul(cond.shift as tf.Tensor, shared)),
    };
    const plain = new UNet(tiny, { seed: 4 });
    const hooked = new UNet(tiny, { seed: 4, hook });
    assert.deepStrictEqual(built, ['attn.0', 'attn', 'attn.0', 'attn.1']);
    // Same seed: the core's weights are drawn as without the hook up to the first hook layer.
    const extra = [...hooked.params.keys()].filter((n) => !plain.params.has(n));
    assert.deepStrictEqual(extra, [
      'down.1.toy.attn.0.scale',
      'mid.toy.attn.scale',
      'up.1.toy.attn.0.scale',
      'up.1.toy.attn.1.scale',
      'toy.shared',
    ]);
    const x = new Rng(4).normalTensor([2, 8, 8, 1]) as tf.Tensor4D;
    const shift = tf.fill([2, 1, 1, 1], 0.5) as tf.Tensor4D;
    // This hook draws no random numbers, so the core's weights are those of the plain model, and
    // without cond.shift (state null) the hooked model computes exactly the plain one.
    const ref = plain.apply(x, [9, 9]);
    const off = hooked.apply(x, [9, 9]);
    assert.equal(maxAbsDiff(off, ref), 0);
    const before = tf.memory().numTensors;
    const on = hooked.apply(x, [9, 9], { shift });
    assert.equal(tf.memory().numTensors, before + 1, 'the hook state leaked');
    assert.ok(maxAbsDiff(on, off) > 1e-4, 'the hook layers had no effect');
    const bad = tf.zeros([2]);
    assert.throws(() => hooked.apply(x, [9, 9], { shift: bad }), /toy: cond.shift must be \[2, 1, 1, 1\]/);
    assert.throws(() => plain.apply(x, [9, 9], { shift }), /condition field 'shift' is not read/);
    const copy = hooked.emptyCopy();
    assert.deepStrictEqual([...copy.params.keys()], [...hooked.params.keys()]);
    tf.dispose([x, shift, ref, off, on, bad]);
    [plain, hooked, copy].forEach((u) => u.dispose());
  });

  it('gradient reaches every parameter', () => {
    const rng = new Rng(11);
    const m = new UNet(conditioned, { seed: 11 });
    const x = rng.normalTensor([2, 8, 8, 1]) as tf.Tensor4D;
    const c = condFor(rng);
    const target = rng.normalTensor([2, 8, 8, 1]);
    const { grads } = tf.variableGrads(
      () => tf.mean(tf.square(tf.sub(m.apply(x, [3, 900], c), target))) as tf.Scalar,
      [...m.params.values()],
    );
    const byVar = new Map<string, tf.Tensor>(Object.entries(grads));
    for (const [name, v] of m.params) {
      const g = byVar.get(v.name);
      assert.ok(g, `no gradient for ${name}`);
      const norm = tf.tidy(() => tf.sum(tf.abs(g)).dataSync()[0]);
      assert.ok(norm > 0 && Number.isFinite(norm), `gradient of ${name} is ${norm}`);
    }
    tf.dispose([x, target, c.concat, c.context, c.contextMask, ...Object.values(grads)]);
    m.dispose();
  });

  it('FLOP count of one 3x3 conv level matches the hand count', () => {
    // One level, no attention, 1 ResBlock: convIn, res down, mid (2 res), up (2 res, the first with a 1x1 skip), convOut.
    const c: UNetConfigInput = {
      imageSize: 4,
      inChannels: 1,
      outChannels: 1,
      baseChannels: 4,
      channelMults: [1],
      groups: 2,
      midAttention: false,
    };
    const px = 16;
    const conv = (i: number, o: number, k = 3) => 2 * px * k * k * i * o;
    const res = (i: number, o: number) => conv(i, o) + conv(o, o) + 2 * 16 * o + (i !== o ? conv(i, o, 1) : 0);
    const expected =
      2 * 4 * 16 + 2 * 16 * 16 + conv(1, 4) + res(4, 4) + 2 * res(4, 4) + res(8, 4) + res(8, 4) + conv(4, 1);
    assert.strictEqual(unetFlops(c, 1).forward, expected);
    assert.strictEqual(unetFlops(c, 3).train, 9 * expected);
  });

  it('matches the PyTorch mirror numerically and in parameter count (scripts/bench_torch.py)', function () {
    requireDependency(this, 'torch', hasTorch, TORCH_MISSING);
    this.timeout(120000);
    const ref = resolveUNetConfig(referenceUNetConfig());
    const count = JSON.parse(execFileSync(PY, [BENCH_TORCH, '--count', '--config', JSON.stringify(ref)]).toString());
    const refNet = new UNet(ref);
    assert.strictEqual(refNet.paramCount, count.params);
    assert.deepStrictEqual([...refNet.params.keys()].sort(), count.names);
    refNet.dispose();

    const rng = new Rng(21);
    const cfg = resolveUNetConfig({ ...conditioned, imageSize: 8 });
    const m = new UNet(cfg, { seed: 21 });
    const x = rng.normalTensor([2, 8, 8, 1]) as tf.Tensor4D;
    const c = condFor(rng);
    const y = m.apply(x, [5, 640], c);
    const ser = (t: tf.Tensor) => ({ shape: t.shape, data: Array.from(t.dataSync()) });
    const params: Record<string, unknown> = {};
    for (const [n, v] of m.params) params[n] = ser(v);
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'unet-check-')), 'case.json');
    fs.writeFileSync(
      file,
      JSON.stringify({
        config: cfg,
        params,
        x: ser(x),
        t: [5, 640],
        labels: c.classLabels,
        concat: ser(c.concat),
        context: ser(c.context),
        mask: ser(c.contextMask),
      }),
    );
    const out = JSON.parse(execFileSync(PY, [BENCH_TORCH, '--check', file], { maxBuffer: 1 << 26 }).toString());
    const ty = tf.tensor(out.data, out.shape);
    const scale = tf.tidy(() => tf.max(tf.abs(ty)).dataSync()[0]);
    const diff = maxAbsDiff(y, ty);
    assert.ok(diff < 1e-4 * Math.max(1, scale), `TS vs PyTorch max |diff| = ${diff} (output scale ${scale})`);
    fs.rmSync(path.dirname(file), { recursive: true });
    tf.dispose([x, y, ty, c.concat, c.context, c.contextMask]);
    m.dispose();
  });
});

describe('the PyTorch mirror of the conditioned networks (scripts/bench_torch.py --check)', () => {
  before(async function () {
    requireDependency(this, 'torch', hasTorch, TORCH_MISSING);
    await tf.setBackend('cpu');
  });

  it('a text UNet with vectorDim, position channels and GLIGEN grounding matches PyTorch', async function () {
    this.timeout(120000);
    // Reference: scripts/bench_torch.py's torch modules (nn.GroupNorm, F.layer_norm, nn.Linear, embedding
    // lookup by index, its own attention with padded keys masked) loaded with this model's weights: the
    // text transformer (two captions of different lengths, so the token mask pads one), its pooled [EOS]
    // vector into the time embedding, cross-attention to the tokens with that mask, cond.vector through
    // vectorToTime, CoordConv channels, and GLIGEN's gated layers (gates open) with a padded grounding slot.
    const captions = ['a small red circle in the center', 'a blue square'];
    const tok = Tokenizer.fromCaptions(captions, 10);
    const text = { vocab: [...tok.vocab], contextLength: 10, width: 12, layers: 2, heads: 2 };
    const grounding = { inputDim: 7, tokenDim: 10 };
    const cfg = {
      ...tiny,
      inChannels: 3,
      outChannels: 3,
      attentionResolutions: [8, 4],
      midAttention: true,
      positionChannels: true,
      vectorDim: 5,
      text,
    };
    const m = new TextUNet(cfg, { seed: 23, hook: new GroundingHook(grounding) });
    const rng = new Rng(24);
    // Norm scales and shifts (1 and 0 at initialisation) and the gates (0) are drawn, so that they take part.
    for (const [n, v] of m.params) {
      if (/gligen\.attn.*\.gamma$/.test(n)) v.assign(tf.add(0.6, tf.mul(0.2, rng.normalTensor([1]))));
      else if (/(norm\w*|ln\d|lnOut)\.(weight|gamma)$/.test(n))
        v.assign(tf.add(1, tf.mul(0.3, rng.normalTensor(v.shape))));
      else if (/(norm\w*|ln\d|lnOut)\.(bias|beta)$/.test(n)) v.assign(tf.mul(0.3, rng.normalTensor(v.shape)));
    }
    const x = rng.normalTensor([2, 8, 8, 3]) as tf.Tensor4D;
    const vector = rng.normalTensor([2, 5]) as tf.Tensor2D;
    const g = rng.normalTensor([2, 3, 7]) as tf.Tensor3D;
    const gMask = tf.tensor2d([1, 1, 0, 1, 0, 0], [2, 3]);
    const t = [17, 803];
    const y = m.apply(x, t, { text: captions, vector, grounding: g, groundingMask: gMask });
    const enc = tok.encodeBatch(captions);
    assert.ok(Array.from(enc.mask).includes(0), 'no caption is padded');
    const ser = async (v: tf.Tensor) => ({ shape: v.shape, data: Array.from(await v.data()) });
    const params: Record<string, unknown> = {};
    for (const [n, v] of m.params) params[n] = await ser(v);
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'unet-cond-')), 'case.json');
    fs.writeFileSync(
      file,
      JSON.stringify({
        config: { ...m.config, grounding },
        params,
        x: await ser(x),
        t,
        ids: { shape: [2, 10], data: Array.from(enc.ids) },
        mask: { shape: [2, 10], data: Array.from(enc.mask) },
        vector: await ser(vector),
        grounding: await ser(g),
        groundingMask: await ser(gMask),
      }),
    );
    const out = JSON.parse(execFileSync(PY, [BENCH_TORCH, '--check', file], { maxBuffer: 1 << 26 }).toString());
    const ty = tf.tensor(out.data, out.shape);
    const [scale, diff] = await tf.tidy(() => tf.stack([tf.max(tf.abs(ty)), tf.max(tf.abs(tf.sub(y, ty)))])).data();
    assert.ok(diff < 1e-4 * Math.max(1, scale), `TS vs PyTorch max |diff| = ${diff} (output scale ${scale})`);
    fs.rmSync(path.dirname(file), { recursive: true });
    tf.dispose([x, vector, g, gMask, y, ty]);
    m.dispose();
  });
});

describe('scripts/bench_torch.py --profile', () => {
  before(function () {
    requireDependency(this, 'torch', hasTorch, TORCH_MISSING);
  });
  it('prints the ops of one profiled training step, largest first, and keeps the JSON result last', function () {
    this.timeout(120000);
    const cfg = resolveUNetConfig(referenceUNetConfig({ baseChannels: 8, groups: 4, numResBlocks: 1 }));
    const out = execFileSync(PY, [
      BENCH_TORCH,
      '--config',
      JSON.stringify(cfg),
      '--batch',
      '2',
      '--warmup',
      '1',
      '--train-steps',
      '1',
      '--sample-images',
      '0',
      '--profile',
      '5',
    ]).toString();
    const lines = out.trim().split('\n');
    const head = lines.findIndex((l) =>
      /^ops of one training step \(\d+ calls, [\d.]+ ms of CPU self time\):$/.test(l),
    );
    assert.ok(head >= 0, out);
    const rows = lines.slice(head + 1, -1).map((l) => /^ {2}(\S+) +x(\d+) +([\d.]+) ms +([\d.]+) %$/.exec(l));
    assert.ok(rows.length === 5 && rows.every((r) => r !== null), out);
    const ms = rows.map((r) => Number(r![3]));
    assert.deepEqual(
      ms,
      [...ms].sort((a, b) => b - a),
    );
    assert.ok(
      rows.some((r) => r![1] === 'aten::convolution_backward'),
      out,
    );
    const net = new UNet(cfg);
    assert.equal(JSON.parse(lines[lines.length - 1]).params, net.paramCount);
    net.dispose();
  });
});

describe('UNet memory', () => {
  it('disposing the parameters frees every tensor the model created', () => {
    const before = tf.memory().numTensors;
    const unet = new UNet(referenceUNetConfig({ baseChannels: 8, channelMults: [1, 2], attentionResolutions: [14] }), {
      seed: 0,
    });
    assert.ok(tf.memory().numTensors > before);
    disposeParams(unet.params);
    assert.equal(tf.memory().numTensors, before, 'tensors left after disposing the parameters');
  });
});
