// Lesson 14: GLIGEN's gated self-attention on a frozen text UNet, on tiny models with the cpu backend. Independent
// reference: the gated layer with an open gate against x + tanh(γ)·proj(TS(SelfAttn([GN(x), h]))) computed here in
// float64 arrays; the PyTorch mirror (tests/unet.spec.ts) covers the whole grounded network.
import { strict as assert } from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs-core';
import '../lib/core/tfjs_setup';
import { loadShapes } from '../datasets/shapes';
import { saveUNetWeights } from '../lib/core/checkpoint/unet_checkpoint';
import {
  allObjectPhrases,
  boxCentre,
  groundingInputs,
  groundingInputsPrepared,
  objectPhrase,
  PhraseEmbedder,
  pointFeatures,
} from '../lib/methods/gligen/grounding';
import { BOX_FEATURES, boxFeatures } from '../lib/methods/latent/layout';
import { disposeParams, ParamStore } from '../lib/core/params';
import { GatedSelfAttention } from '../lib/methods/gligen/gated_self_attention';
import {
  gatedLayerAt,
  gateValues,
  gligenParams,
  groundedFromBase,
  isGligenParam,
  loadGligen,
  saveGligen,
} from '../lib/methods/gligen/model';
import { trainGligen } from '../lib/methods/gligen/train_gligen';
import { Autoencoder, defaultAutoencoderConfig } from '../lib/methods/latent/autoencoder';
import { sampleGrounded } from '../lib/methods/gligen/sample';
import { LATENT_PREDICTION, latentSchedule, latentUNetConfig } from '../lib/methods/latent/ldm';
import { shapesTextEncoderConfig, shapesTokenizer } from '../lib/methods/text/shapes_text';
import { TextUNet } from '../lib/methods/text/text_unet';
import { GroundingHook, groundingOf } from '../lib/methods/gligen/grounding_hook';
import { Condition } from '../lib/core/condition';
import { readCheckpoint } from '../lib/core/checkpoint/checkpoint';
import { diffusionLoss } from '../lib/core/loss';
import { Rng } from '../lib/core/random';
import { countReads, firstDifference, interruptAt } from './helpers/training';

function maxAbsDiff(a: tf.Tensor, b: tf.Tensor): number {
  return tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]);
}

describe('GLIGEN (lesson 14)', function () {
  this.timeout(60_000);
  let dir: string;
  let baseFile: string;
  let base: TextUNet;

  before(async () => {
    await tf.setBackend('cpu');
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gligen-'));
    baseFile = path.join(dir, 'base.safetensors');
    const tok = shapesTokenizer();
    base = new TextUNet(
      latentUNetConfig({
        baseChannels: 16,
        groups: 4,
        attentionHeads: 2,
        text: shapesTextEncoderConfig(tok, { width: 16, layers: 1, heads: 2 }),
      }),
      { seed: 3 },
    );
    await saveUNetWeights(baseFile, base);
  });
  after(() => base.dispose());

  const scenes = () => {
    const set = loadShapes('train', { count: 2, minObjects: 1, maxObjects: 2 });
    return {
      captions: set.captions,
      objects: set.objects.map((objs) => objs.map((o) => ({ phrase: objectPhrase(o), box: o.box }))),
    };
  };

  it("adds its layers through the core's hook: names '<level>.gligen.attn.<j>.*' and 'gligen.tokenizer.*', base names unchanged", async () => {
    const g = groundedFromBase(baseFile, { seed: 9, tokenDim: 16 });
    assert.ok(g.hook instanceof GroundingHook);
    const added = [...g.params.keys()].filter((n) => !base.params.has(n));
    assert.ok(added.length > 0 && added.every(isGligenParam), added.join());
    assert.deepStrictEqual(
      [...g.params.keys()].filter((n) => !isGligenParam(n)),
      [...base.params.keys()],
    );
    // One gated layer after each attention block, in build order.
    assert.deepStrictEqual(Object.keys(await gateValues(g)), [
      'down.0.attn.0',
      'mid.attn',
      'up.0.attn.0',
      'up.0.attn.1',
    ]);
    assert.ok(g.params.has('gligen.tokenizer.fc1.weight') && g.params.has('down.0.gligen.attn.0.gamma'));
    g.dispose();
  });

  it('at initialisation (gates at 0) the grounded model computes exactly the frozen model', async () => {
    const g = groundedFromBase(baseFile, { seed: 9, tokenDim: 16 });
    assert.ok(gligenParams(g).size > 0);
    for (const v of Object.values(await gateValues(g))) assert.equal(v, 0);
    const s = scenes();
    const emb = new PhraseEmbedder(g.text);
    const gi = await groundingInputs(emb, s.objects);
    tf.tidy(() => {
      const x = tf.randomNormal([2, 8, 8, 4], 0, 1, 'float32', 1) as tf.Tensor4D;
      const frozen = base.apply(x, [10, 900], { text: s.captions });
      const grounded = g.apply(x, [10, 900], {
        text: s.captions,
        grounding: gi.grounding,
        groundingMask: gi.groundingMask,
      });
      assert.equal(maxAbsDiff(frozen, grounded), 0);
      // Opening one gate changes the output: the test above can fail.
      const gamma = [...g.params].find(([n]) => n.startsWith('mid.gligen') && n.endsWith('.gamma'))![1];
      gamma.assign(tf.tensor1d([0.5]));
      assert.ok(
        maxAbsDiff(
          frozen,
          g.apply(x, [10, 900], { text: s.captions, grounding: gi.grounding, groundingMask: gi.groundingMask }),
        ) > 1e-4,
      );
      // Without grounding the gated layers are skipped: the frozen model again.
      assert.equal(maxAbsDiff(frozen, g.apply(x, [10, 900], { text: s.captions })), 0);
    });
    tf.dispose([gi.grounding, gi.groundingMask]);
    g.dispose();
  });

  it('training changes only the GLIGEN parameters, keeps the tensor count flat, and save/load round-trips', async function () {
    this.timeout(240_000); // the pure-JS cpu backend's conv gradients are slow
    const g = groundedFromBase(baseFile, { seed: 9, tokenDim: 16 });
    const emb = new PhraseEmbedder(g.text);
    const s = scenes();
    const frozenBefore = new Map(
      [...g.params].filter(([n]) => !isGligenParam(n)).map(([n, v]) => [n, v.dataSync().slice()]),
    );
    await emb.prepare(s.objects.flatMap((objs) => objs.map((o) => o.phrase)));
    const data = () => {
      const gi = groundingInputsPrepared(emb, s.objects);
      return {
        x: tf.randomNormal([2, 8, 8, 4], 0, 1, 'float32', 2) as tf.Tensor4D,
        cond: { text: s.captions, grounding: gi.grounding, groundingMask: gi.groundingMask },
      };
    };
    const opts = { schedule: latentSchedule(), steps: 2, learningRate: 1e-2, warmupSteps: 1, seed: 0, progress: false };
    await trainGligen(g, data, opts);
    const n0 = tf.memory().numTensors;
    await trainGligen(g, data, { ...opts, steps: 3 });
    assert.equal(tf.memory().numTensors, n0, 'GLIGEN training leaks tensors');
    for (const [n, v] of g.params) {
      if (isGligenParam(n)) continue;
      assert.deepEqual(v.dataSync(), frozenBefore.get(n), `frozen parameter ${n} changed`);
    }
    assert.ok(
      Object.values(await gateValues(g)).some((v) => v !== 0),
      'no gate moved',
    );
    const file = path.join(dir, 'gligen.safetensors');
    await saveGligen(file, g, baseFile);
    const back = loadGligen(file, baseFile);
    for (const [n, v] of g.params) assert.equal(maxAbsDiff(v, back.params.get(n)!), 0, n);
    back.dispose();
    g.dispose();
  });

  it('GLIGEN training lowers the loss and resumes exactly: 6 steps straight = 3 + resume + 3, with only the GLIGEN subset in the checkpoint', async function () {
    this.timeout(240_000);
    // Reference: the uninterrupted run. The resumed model's GLIGEN layers start from other weights
    // (seed 5), so equality means the checkpoint restored them and their Adam state, and step k's
    // noise and timesteps come from (seed, k) alone.
    const s = scenes();
    const a = groundedFromBase(baseFile, { seed: 9, tokenDim: 16 });
    const gi = await groundingInputs(new PhraseEmbedder(a.text), s.objects);
    const x = tf.randomNormal([2, 8, 8, 4], 0, 1, 'float32', 2) as tf.Tensor4D;
    const cond = { text: s.captions, grounding: gi.grounding, groundingMask: gi.groundingMask };
    // The trainer disposes each batch: hand it copies.
    const data = () => ({
      x: x.clone(),
      cond: { text: s.captions, grounding: gi.grounding.clone(), groundingMask: gi.groundingMask.clone() },
    });
    const schedule = latentSchedule();
    // The training loss at 16 fixed (t, noise) draws: single-step losses jump with the drawn t.
    const fixedLoss = () => {
      let sum = 0;
      for (let k = 0; k < 16; k++) {
        const r = new Rng(100 + k);
        const t = [r.int(schedule.T), r.int(schedule.T)];
        sum += tf.tidy(
          () =>
            diffusionLoss(
              (xt, tt) => a.apply(xt, tt, cond),
              schedule,
              x,
              t,
              r.normalTensor(x.shape) as tf.Tensor4D,
              LATENT_PREDICTION,
            ).dataSync()[0],
        );
      }
      return sum / 16;
    };
    const before = fixedLoss();
    const states = path.join(dir, 'gligen-states');
    const opts = { schedule, steps: 6, learningRate: 2e-2, warmupSteps: 1, seed: 0, progress: false };
    const { result: ha, dataSync } = await countReads(() => trainGligen(a, data, opts));
    assert.equal(dataSync, 0, 'the loop read a tensor synchronously');
    const after = fixedLoss();
    assert.ok(after < before - 0.005, `the loss at fixed draws went ${before} -> ${after}`);
    const b = groundedFromBase(baseFile, { seed: 9, tokenDim: 16 });
    await trainGligen(b, data, { ...opts, checkpointDir: states, checkpointEvery: 3, keepLast: 10 });
    interruptAt(states, 3);
    const saved = readCheckpoint(path.join(states, 'step-00000003.safetensors'));
    const names = [...saved.tensors.keys()].filter((n) => !n.includes('/'));
    assert.ok(
      names.length > 0 && names.every(isGligenParam),
      `the checkpoint holds ${names.filter((n) => !isGligenParam(n)).join()}`,
    );
    const c = groundedFromBase(baseFile, { seed: 5, tokenDim: 16 });
    assert.notEqual(firstDifference(gligenParams(a), gligenParams(c)), null);
    const hc = await trainGligen(c, data, { ...opts, checkpointDir: states, checkpointEvery: 3, keepLast: 10 });
    assert.equal(hc.resumedAt, 3);
    assert.equal(firstDifference(a.params, c.params), null);
    assert.deepEqual(hc.loss, ha.loss);
    tf.dispose([x, gi.grounding, gi.groundingMask]);
    for (const m of [a, b, c]) m.dispose();
  });

  it('points: the token of the zero-size box [x, y, x, y]; one of box or point per object; bad points are errors', async () => {
    const g = groundedFromBase(baseFile, { tokenDim: 16 });
    const emb = new PhraseEmbedder(g.text);
    assert.deepEqual(Array.from(pointFeatures([0.25, 0.75])), Array.from(boxFeatures([0.25, 0.75, 0.25, 0.75])));
    assert.deepEqual(boxCentre([0, 0.5, 0.5, 1]), [0.25, 0.75]);
    const box = { phrase: 'a small red circle', box: [0.1, 0.1, 0.4, 0.4] as [number, number, number, number] };
    const point = { phrase: 'a small red circle', point: [0.25, 0.25] as [number, number] };
    const gi = await groundingInputs(emb, [[box], [point]], 1);
    const rows = gi.grounding.arraySync() as number[][][];
    assert.deepEqual(rows[1][0].slice(0, BOX_FEATURES), Array.from(pointFeatures([0.25, 0.25])));
    assert.deepEqual(rows[0][0].slice(BOX_FEATURES), rows[1][0].slice(BOX_FEATURES), 'same phrase, same embedding');
    tf.dispose([gi.grounding, gi.groundingMask]);
    await assert.rejects(groundingInputs(emb, [[{ ...point, point: [1.2, 0.5] }]]), /a point must be \[x, y\]/);
    await assert.rejects(groundingInputs(emb, [[{ ...box, point: [0.5, 0.5] } as never]]), /a box or a point \(one\)/);
    await assert.rejects(groundingInputs(emb, [[{ phrase: 'a small red circle' } as never]]), /a box or a point/);
    g.dispose();
  });

  it("gatedLayerAt: one gated layer rebuilt with copies of the model's weights (what lesson 14 checks by hand)", async () => {
    const g = groundedFromBase(baseFile, { seed: 9, tokenDim: 16 });
    const gamma = g.params.get('up.0.gligen.attn.1.gamma')!;
    gamma.assign(tf.tensor1d([0.7]));
    const { layer, tokenizer, params } = gatedLayerAt(g, 'up.0.attn.1');
    for (const [n, v] of params) assert.equal(maxAbsDiff(v, g.params.get(n)!), 0, n);
    assert.deepEqual(
      [...params.keys()].filter((n) => n.endsWith('gamma')),
      ['up.0.gligen.attn.1.gamma'],
    );
    const s = scenes();
    const gi = await groundingInputs(new PhraseEmbedder(g.text), s.objects);
    tf.tidy(() => {
      const x = tf.randomNormal([2, 8, 8, layer.channels], 0, 1, 'float32', 3) as tf.Tensor4D;
      const tokens = tokenizer.apply(gi.grounding);
      assert.ok(maxAbsDiff(layer.apply(x, tokens, gi.groundingMask), x) > 1e-3, 'an open gate changes v');
      layer.gamma.assign(tf.tensor1d([0]));
      assert.equal(maxAbsDiff(layer.apply(x, tokens, gi.groundingMask), x), 0, 'a closed gate is the identity');
    });
    assert.equal(gamma.dataSync()[0], 0.699999988079071, "the copy's gate is its own");
    assert.throws(
      () => gatedLayerAt(g, 'down.1.attn.0'),
      /no gated layer after 'down.1.attn.0' \(sites: down.0.attn.0/,
    );
    tf.dispose([gi.grounding, gi.groundingMask]);
    disposeParams(params);
    g.dispose();
  });

  it('an open gate computes x + tanh(gamma) TS(SelfAttn([x, h])), written out here with plain arrays', async () => {
    // Reference: GLIGEN's gated self-attention (Li et al. 2023, eq. 8) in float64 loops: GroupNorm of the
    // visual tokens, the grounding tokens projected to the layer's width, one qkv projection of both,
    // per-head softmax(q k^T / sqrt(d)) v over visual + real grounding tokens (padded slots excluded),
    // token selection (visual rows only), the output projection, the tanh(gamma) gate, the residual.
    const [B, H, W, C, D, G, heads, groups] = [2, 3, 3, 8, 6, 3, 2, 4];
    const store = new ParamStore(new Rng(12));
    const layer = new GatedSelfAttention(store, 'gsa', C, D, heads, groups);
    const rng = new Rng(13);
    layer.gamma.assign(tf.tensor1d([0.8]));
    layer.norm.weight.assign(tf.add(1, tf.mul(0.3, rng.normalTensor([C]))));
    layer.norm.bias.assign(tf.mul(0.3, rng.normalTensor([C])));
    const x = rng.normalTensor([B, H, W, C]) as tf.Tensor4D;
    const tokens = rng.normalTensor([B, G, D]) as tf.Tensor3D;
    const maskRows = [
      [1, 1, 0],
      [1, 0, 0],
    ];
    const mask = tf.tensor2d(maskRows);
    const y = layer.apply(x, tokens, mask);
    const got = await y.data();
    const [xv, tv] = [await x.data(), await tokens.data()];
    const arr = async (v: tf.Variable) => Float64Array.from(await v.data());
    const [gw, gb, tw, tb, qw, qb, pw, pb] = await Promise.all(
      [
        layer.norm.weight,
        layer.norm.bias,
        layer.tokenProj.weight,
        layer.tokenProj.bias,
        layer.qkv.weight,
        layer.qkv.bias,
        layer.proj.weight,
        layer.proj.bias,
      ].map(arr),
    );
    // rows [n, inF] times weight [inF, outF] plus bias.
    const dense = (rows: number[][], w: Float64Array, b: Float64Array) =>
      rows.map((r) => Array.from(b, (bo, o) => r.reduce((acc, v, i) => acc + v * w[i * b.length + o], bo)));
    const N = H * W;
    const per = C / groups;
    const d = C / heads;
    let err = 0;
    let moved = 0;
    for (let b = 0; b < B; b++) {
      const xs = Array.from({ length: N }, (_, p) => Array.from(xv.subarray((b * N + p) * C, (b * N + p + 1) * C)));
      const normed = xs.map((r) => r.slice());
      for (let g = 0; g < groups; g++) {
        const vals = xs.flatMap((r) => r.slice(g * per, (g + 1) * per));
        const m = vals.reduce((s, v) => s + v, 0) / vals.length;
        const v2 = vals.reduce((s, v) => s + (v - m) ** 2, 0) / vals.length;
        for (const r of normed)
          for (let c = g * per; c < (g + 1) * per; c++) r[c] = ((r[c] - m) / Math.sqrt(v2 + 1e-5)) * gw[c] + gb[c];
      }
      const ground = dense(
        Array.from({ length: G }, (_, j) => Array.from(tv.subarray((b * G + j) * D, (b * G + j + 1) * D))),
        tw,
        tb,
      );
      const qkv = dense([...normed, ...ground], qw, qb);
      const keep = [...new Array<number>(N).fill(1), ...maskRows[b]];
      const att = Array.from({ length: N }, () => new Array<number>(C).fill(0));
      for (let h = 0; h < heads; h++)
        for (let i = 0; i < N; i++) {
          const sc = qkv.map((kr, j) => {
            let s = 0;
            for (let e = 0; e < d; e++) s += qkv[i][h * d + e] * kr[C + h * d + e];
            return keep[j] ? s / Math.sqrt(d) : -Infinity;
          });
          const mx = Math.max(...sc);
          const ex = sc.map((s) => Math.exp(s - mx));
          const z = ex.reduce((s, v) => s + v, 0);
          qkv.forEach((vr, j) => {
            for (let e = 0; e < d; e++) att[i][h * d + e] += (ex[j] / z) * vr[2 * C + h * d + e];
          });
        }
      const delta = dense(att, pw, pb);
      for (let p = 0; p < N; p++)
        for (let c = 0; c < C; c++) {
          const want = xs[p][c] + Math.tanh(0.8) * delta[p][c];
          err = Math.max(err, Math.abs(got[(b * N + p) * C + c] - want));
          moved = Math.max(moved, Math.abs(want - xs[p][c]));
        }
    }
    assert.ok(moved > 0.1, `the open gate moves x by at most ${moved}`);
    assert.ok(err < 1e-5, `GatedSelfAttention vs the direct computation: max |diff| = ${err}`);
    tf.dispose([x, tokens, mask, y]);
    disposeParams(store.params);
  });

  it('grounding inputs: box features + phrase embedding per object; bad boxes and too many objects are errors', async () => {
    const g = groundedFromBase(baseFile, { tokenDim: 16 });
    const emb = new PhraseEmbedder(g.text);
    assert.equal(allObjectPhrases().length, 70);
    const ok = { phrase: 'a small red circle', box: [0.1, 0.1, 0.4, 0.4] as [number, number, number, number] };
    const gi = await groundingInputs(emb, [[ok], []], 2);
    assert.deepEqual(gi.grounding.shape, [2, 2, groundingOf(g)!.inputDim]);
    assert.deepEqual(Array.from(gi.groundingMask.dataSync()), [1, 0, 0, 0]);
    tf.dispose([gi.grounding, gi.groundingMask]);
    await assert.rejects(groundingInputs(emb, [[{ ...ok, box: [0.5, 0.5, 1.5, 0.9] }]]), /outside \[0, 1\]/);
    await assert.rejects(groundingInputs(emb, [[{ ...ok, box: [0.5, 0.5, 0.5, 0.9] }]]), /zero area/);
    await assert.rejects(groundingInputs(emb, [[ok, ok, ok]], 2), /at most 2 grounding tokens/);
    await assert.rejects(groundingInputs(emb, [[{ ...ok, phrase: ' ' }]]), /empty phrase/);
    const [z, g1, m1] = [
      tf.zeros([1, 8, 8, 4]) as tf.Tensor4D,
      tf.zeros([1, 1, 4]) as tf.Tensor3D,
      tf.ones([1, 1]) as tf.Tensor2D,
    ];
    assert.throws(
      () => base.apply(z, [0], { text: [''], grounding: g1, groundingMask: m1 } as Condition),
      /condition field 'grounding' is not read by this model/,
    );
    assert.throws(
      () => g.apply(z, [0], { text: [''], grounding: g1, groundingMask: m1 }),
      new RegExp(`GLIGEN: cond.grounding must be \\[1, G, ${groundingOf(g)!.inputDim}\\], got \\[1,1,4\\]`),
    );
    assert.throws(
      () => g.apply(z, [0], { text: [''], groundingMask: m1 }),
      /cond.groundingMask given without cond.grounding/,
    );
    tf.dispose([z, g1, m1]);
    g.dispose();
  });

  it('grounded sampling decodes images, with and without boxes from the same noise', async () => {
    const g = groundedFromBase(baseFile, { tokenDim: 16 });
    const emb = new PhraseEmbedder(g.text);
    const ae = new Autoencoder(defaultAutoencoderConfig({ channels: [16], blocks: 1, groups: 4 }));
    const auto = { ae, scaleFactor: 1 };
    const s = scenes();
    const a = await sampleGrounded(g, auto, emb, s.captions, s.objects, { guidance: 2, steps: 2, seed: 4 });
    const b = await sampleGrounded(g, auto, emb, s.captions, null, { guidance: 2, steps: 2, seed: 4 });
    assert.deepEqual(a.shape, [2, 32, 32, 3]);
    // Gates are 0 at initialisation, so grounding changes nothing yet.
    assert.equal(maxAbsDiff(a, b), 0);
    tf.dispose([a, b]);
    await assert.rejects(
      sampleGrounded(g, auto, emb, s.captions, [s.objects[0]], { guidance: 2, steps: 2, seed: 4 }),
      /1 layouts for 2 captions/,
    );
    ae.dispose();
    g.dispose();
  });
});
