// Lesson 12: the CLIP-like model, the diffusion prior, the decoder's condition and unCLIP's three
// uses (text -> image, variations, interpolation), on the cpu backend with tiny models. Independent references:
// the prior's loop against the tested DDIMSampler driving the tested CFG mix (same model and noise), and unCLIP's
// generate() against both DDIM loops written out here in float64.
import * as assert from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { loadShapes } from '../datasets/shapes';
import {
  Clip,
  clipAttributeProbe,
  clipConfig,
  clipLoss,
  clipScore,
  HARD_NEGATIVE_ATTRIBUTES,
  hardNegativeCaption,
  loadClip,
  saveClip,
  shapesImages,
  trainClip,
} from '../lib/methods/clip/index';
import {
  decoderBatches,
  DiffusionPrior,
  embeddingContext,
  loadPrior,
  priorConfig,
  samplePrior,
  savePrior,
  slerp,
  trainPrior,
  UnClip,
  unclipDiagramSvg,
  unclipStructure,
} from '../lib/methods/dalle2/index';
import { Rng } from '../lib/core/random';
import { DDIMSampler } from '../lib/core/samplers/ddim';
import { DiffusionModel } from '../lib/core/samplers/types';
import { Denoiser } from '../lib/core/unet/denoiser';
import { cfgConditionModel } from '../lib/methods/guidance/cfg';
import { loadPretrained } from '../lib/course/models';
import { parseCaption, POSITION_WORDS } from '../lib/eval/shapes/parse_caption';
import { shapesTextEncoderConfig, shapesTokenizer } from '../lib/methods/text/shapes_text';
import { UNet } from '../lib/core/unet/unet';
import { countReads, firstDifference, interruptAt, tempDir } from './helpers/training';

const E = 8;
const tok = shapesTokenizer();
const tinyClip = (seed = 0, imageSize = 8) =>
  new Clip(
    clipConfig(shapesTextEncoderConfig(tok, { width: 16, layers: 1, heads: 2 }), {
      embedDim: E,
      imageSize,
      imageChannels: [4, 8],
      imageHidden: 16,
    }),
    { seed },
  );
const tinyDecoder = (vectorDim: number | null = E) =>
  new UNet({
    imageSize: 8,
    inChannels: 3,
    outChannels: 3,
    baseChannels: 8,
    channelMults: [1, 2],
    numResBlocks: 1,
    attentionResolutions: [4],
    attentionHeads: 2,
    groups: 4,
    midAttention: true,
    contextDim: E,
    ...(vectorDim === null ? {} : { vectorDim }),
    positionChannels: true,
  });
const rowNorms = (x: tf.Tensor2D) => tf.tidy(() => Array.from(tf.sqrt(tf.sum(tf.square(x), 1)).dataSync()));

describe('lesson 12: DALL·E 2 (unCLIP)', function () {
  this.timeout(60000);
  before(async () => {
    await tf.setBackend('cpu');
  });

  describe('CLIP-like model', () => {
    it('encodes captions and images to unit-norm [B, E] and rejects bad input', () => {
      const clip = tinyClip();
      const t = clip.encodeText(['a small red circle in the center', '']);
      const x = tf.randomUniform([3, 8, 8, 3], -1, 1) as tf.Tensor4D;
      const i = clip.encodeImages(x);
      assert.deepStrictEqual(t.shape, [2, E]);
      assert.deepStrictEqual(i.shape, [3, E]);
      for (const n of [...rowNorms(t), ...rowNorms(i)]) assert.ok(Math.abs(n - 1) < 1e-5, `norm ${n}`);
      const bad = tf.zeros([1, 16, 16, 3]) as tf.Tensor4D;
      assert.throws(() => clip.encodeImages(bad), /must be \[B, 8, 8, 3\], got \[1,16,16,3\]/);
      assert.throws(() => clip.encodeText([]), /non-empty array/);
      assert.throws(() => tinyClip(0, 9), /imageSize 9 is not divisible by 2/);
      tf.dispose([t, x, i, bad]);
      clip.dispose();
    });

    it('symmetric InfoNCE is log(B) for equal logits and near 0 for a confident diagonal', () => {
      const flat = tf.zeros([4, 4]) as tf.Tensor2D;
      const diag = tf.mul(tf.eye(4), 50) as tf.Tensor2D;
      const withNegs = tf.concat([diag, tf.zeros([4, 4])], 1) as tf.Tensor2D;
      const [a, b, c] = [clipLoss(flat), clipLoss(diag), clipLoss(withNegs)].map((l) => l.dataSync()[0]);
      assert.ok(Math.abs(a - Math.log(4)) < 1e-5, `flat ${a}`);
      assert.ok(b < 1e-6 && c < 1e-6, `diag ${b}, with negatives ${c}`);
      assert.throws(() => clipLoss(tf.zeros([4, 3]) as tf.Tensor2D), /\[B, >= B\]/);
      tf.dispose([flat, diag, withNegs]);
    });

    it('hard negatives change exactly one attribute of one object (or swap two colours)', () => {
      const set = loadShapes('train', { count: 40, minObjects: 1, maxObjects: 2 });
      const rng = new Rng(3);
      for (let i = 0; i < set.count; i++) {
        const neg = hardNegativeCaption(set.objects[i], rng);
        assert.notStrictEqual(neg, set.captions[i]);
        const a = parseCaption(set.captions[i]);
        const b = parseCaption(neg);
        assert.strictEqual(a.length, b.length);
        let diffs = 0;
        a.forEach((o, k) =>
          (['colour', 'shape', 'size', 'position'] as const).forEach((f) => (diffs += o[f] !== b[k][f] ? 1 : 0)),
        );
        assert.ok(
          diffs === 1 || (diffs === 2 && a.length === 2 && a[0].colour === b[1].colour),
          `'${set.captions[i]}' vs '${neg}'`,
        );
      }
      assert.throws(() => hardNegativeCaption([], rng), /no objects/);
    });

    it('a focus attribute is always the one a hard negative changes', () => {
      const set = loadShapes('train', { count: 30, minObjects: 1, maxObjects: 2 });
      const rng = new Rng(4);
      for (const attr of HARD_NEGATIVE_ATTRIBUTES) {
        for (let i = 0; i < set.count; i++) {
          const a = parseCaption(set.captions[i]);
          const b = parseCaption(hardNegativeCaption(set.objects[i], rng, attr));
          const changed = new Set<string>();
          a.forEach((o, k) => HARD_NEGATIVE_ATTRIBUTES.forEach((f) => o[f] !== b[k][f] && changed.add(f)));
          assert.deepStrictEqual([...changed], [attr], `${attr}: '${set.captions[i]}'`);
        }
      }
      assert.throws(() => hardNegativeCaption(set.objects[0], rng, 'texture' as never), /unknown attribute 'texture'/);
    });

    it('the attribute probe reads colour from the shipped CLIP, and takes only one-object scenes', async function () {
      this.timeout(120000);
      const clip = loadPretrained('12/clip');
      const p = await clipAttributeProbe(clip, loadShapes('test', { count: 400, minObjects: 1, maxObjects: 1 }));
      // The shipped model retrieves 98 % of captions among 100 (manifest): colour and position must be readable.
      assert.ok(p.colour.image.accuracy >= 0.9 && p.position.image.accuracy >= 0.9, JSON.stringify(p));
      assert.strictEqual(p.shape.text.tested, 120);
      assert.strictEqual(p.position.image.chance, 1 / POSITION_WORDS.length);
      await assert.rejects(
        clipAttributeProbe(clip, loadShapes('test', { count: 10, minObjects: 2, maxObjects: 2 })),
        /exactly one object/,
      );
      clip.dispose();
    });

    it('trains (loss falls) with a flat tensor count, and saves/loads to the same embeddings', async function () {
      this.timeout(240000); // the cpu backend's conv gradients are slow
      const set = loadShapes('train', { count: 16, minObjects: 1, maxObjects: 1 });
      // 8x8 crops of the 32x32 scenes are enough to exercise the loop.
      const small = {
        ...set,
        images: tf
          .tidy(() => tf.image.resizeBilinear(tf.tensor4d(set.images, [16, 32, 32, 3]), [8, 8]))
          .dataSync()
          .map(Math.round) as unknown as Uint8Array,
        height: 8,
        width: 8,
      };
      const clip = tinyClip(1);
      const counts: number[] = [];
      const o = { steps: 12, batch: 8, learningRate: 3e-3 };
      const { result: h, dataSync } = await countReads(() =>
        trainClip(clip, small, { ...o, onStep: () => counts.push(tf.memory().numTensors) }),
      );
      assert.strictEqual(dataSync, 0, 'the loop read a tensor synchronously');
      assert.ok(
        h.loss.slice(-3).reduce((p, q) => p + q) < h.loss.slice(0, 3).reduce((p, q) => p + q),
        `loss ${h.loss[0]} -> ${h.loss[11]}`,
      );
      assert.strictEqual(counts[11], counts[2], `tensors ${counts[2]} -> ${counts[11]}`);
      // Resume against the uninterrupted run above: 12 steps = 8 + resume + 4, bit for bit (batches
      // from (seed, epoch), hard negatives from (seed, step), Adam restored), from other initial weights.
      const states = tempDir('clip-resume-');
      const straight = tinyClip(1);
      await trainClip(straight, small, { ...o, checkpointDir: states, checkpointEvery: 4, keepLast: 10 });
      interruptAt(states, 8);
      const resumed = tinyClip(4);
      const hr = await trainClip(resumed, small, { ...o, checkpointDir: states, checkpointEvery: 4, keepLast: 10 });
      assert.strictEqual(firstDifference(clip.params, resumed.params), null);
      assert.deepStrictEqual(hr.loss, h.loss);
      straight.dispose();
      resumed.dispose();
      fs.rmSync(states, { recursive: true, force: true });
      const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'clip-')), 'clip.safetensors');
      await saveClip(file, clip);
      const back = loadClip(file);
      const x = shapesImages(small, [0, 1, 2]);
      const caps = small.captions.slice(0, 3);
      const s1 = await clipScore(clip, x, caps);
      const s2 = await clipScore(back, x, caps);
      s1.forEach((v, i) => assert.ok(Math.abs(v - s2[i]) < 1e-4 && v <= 100 && v >= -100));
      await assert.rejects(clipScore(clip, x, caps.slice(0, 2)), /3 images but 2 captions/);
      x.dispose();
      clip.dispose();
      back.dispose();
    });
  });

  describe('embedding space', () => {
    it('slerp keeps unit norm, hits both ends, and checks its input', () => {
      const a = tf.tensor2d([[1, 0, 0]]);
      const b = tf.tensor2d([[0, 1, 0]]);
      const mid = slerp(a, b, 0.5);
      assert.ok(Math.abs(rowNorms(mid)[0] - 1) < 1e-5);
      assert.ok(Math.abs(mid.dataSync()[0] - Math.SQRT1_2) < 1e-5);
      assert.deepStrictEqual(
        Array.from(slerp(a, b, 1).dataSync()).map((v) => Math.round(v * 1e5) / 1e5),
        [0, 1, 0],
      );
      assert.deepStrictEqual(
        Array.from(slerp(a, a, 0.3).dataSync()).map((v) => Math.round(v * 1e5) / 1e5),
        [1, 0, 0],
      );
      assert.throws(() => slerp(a, b, 1.5), /fraction must be in \[0, 1\], got 1.5/);
      tf.dispose([a, b, mid]);
    });

    it('the decoder context is one sqrt(E)-long token per image, zero where dropped', () => {
      const emb = tf.tidy(() => tf.div(tf.ones([3, 4]), 2)) as tf.Tensor2D;
      const { context, contextMask } = embeddingContext(emb, [1, 0, 1]);
      assert.deepStrictEqual(context.shape, [3, 1, 4]);
      assert.deepStrictEqual(Array.from(contextMask.dataSync()), [1, 1, 1]);
      const v = Array.from(context.dataSync());
      assert.deepStrictEqual(v.slice(4, 8), [0, 0, 0, 0]);
      assert.ok(Math.abs(Math.hypot(...v.slice(0, 4)) - 2) < 1e-5);
      assert.throws(() => embeddingContext(emb, [1, 1]), /keep has 2 entries for a batch of 3/);
      // With `vector`, the same scaled rows also come as cond.vector [B, E] (for the time embedding).
      const withVector = embeddingContext(emb, [1, 0, 1], true);
      assert.deepStrictEqual(withVector.vector!.shape, [3, 4]);
      assert.deepStrictEqual(Array.from(withVector.vector!.dataSync()), v);
      tf.dispose([emb, context, contextMask, withVector.context, withVector.contextMask, withVector.vector!]);
    });
  });

  describe('prior', () => {
    it('samplePrior is the tested DDIM sampler on the tested CFG mix, x0 put on the sphere', async () => {
      // Reference: DDIMSampler (lib/core/samplers/ddim.ts, checked against a float64 loop in
      // samplers.spec.ts) driving cfgConditionModel (lib/methods/guidance/cfg.ts, guidance.spec.ts) around
      // the same prior, seen as a network on [B, 1, 1, E] "images" with the text as a context token;
      // the one step of the prior's own, x0 -> sqrt(E) x0 / |x0|, is a model wrapper here.
      const prior = new DiffusionPrior(priorConfig(E, { hidden: 16, blocks: 2, T: 50 }), { seed: 4 });
      const text = tf.tidy(() => {
        const r = new Rng(5).normalTensor([3, E]);
        return tf.div(r, tf.norm(r, 2, 1, true));
      }) as tf.Tensor2D;
      const net = {
        apply: (x: tf.Tensor4D, t: number[], c: { context: tf.Tensor3D }) =>
          tf.tidy(() => {
            const b = x.shape[0];
            return tf.reshape(prior.apply(tf.reshape(x, [b, E]), t, tf.reshape(c.context, [b, E])), [b, 1, 1, E]);
          }),
      } as unknown as Denoiser<{ context: tf.Tensor3D }>;
      const cond = { context: tf.tidy(() => tf.reshape(tf.mul(text, Math.sqrt(E)), [3, 1, E])) as tf.Tensor3D };
      const uncond = { context: tf.zeros([3, 1, E]) as tf.Tensor3D };
      const samples: tf.Tensor2D[] = [];
      for (const guidance of [1, 3]) {
        const got = samplePrior(prior, text, { steps: 6, guidance, rng: new Rng(7) });
        const mix = cfgConditionModel(net, cond, uncond, guidance, { prediction: 'x0' });
        const onSphere: DiffusionModel = {
          prediction: 'x0',
          predict: (xt, t) =>
            tf.tidy(() => {
              const x0 = mix.predict(xt, t);
              return tf.mul(tf.div(x0, tf.norm(x0, 2, 3, true)), Math.sqrt(E)) as tf.Tensor4D;
            }),
        };
        const z = new DDIMSampler(prior.schedule).sample(onSphere, [3, 1, 1, E], {
          steps: 6,
          rng: new Rng(7),
          clipDenoised: false,
        });
        const want = tf.tidy(() => tf.reshape(tf.div(z, tf.norm(z, 2, 3, true)), [3, E])) as tf.Tensor2D;
        const diff = (await tf.tidy(() => tf.max(tf.abs(tf.sub(got, want)))).data())[0];
        assert.ok(diff < 1e-5, `guidance ${guidance}: samplePrior vs DDIM + CFG max |diff| = ${diff}`);
        samples.push(got);
        tf.dispose([z, want]);
      }
      // Guidance changes the samples, so the guided comparison is not the unguided one again.
      const gap = (await tf.tidy(() => tf.max(tf.abs(tf.sub(samples[0], samples[1])))).data())[0];
      assert.ok(gap > 1e-2, `guidance 1 and 3 differ by only ${gap}`);
      tf.dispose([...samples, text, cond.context, uncond.context]);
      prior.dispose();
    });

    it('predicts [B, E], trains with a flat tensor count, samples unit-norm embeddings, round-trips a file', async () => {
      const prior = new DiffusionPrior(priorConfig(E, { hidden: 16, blocks: 1, T: 50 }));
      const z = tf.randomNormal([2, E]) as tf.Tensor2D;
      const out = prior.apply(z, [0, 49], tf.zerosLike(z));
      assert.deepStrictEqual(out.shape, [2, E]);
      assert.throws(() => prior.apply(z, [0], z), /1 timesteps for a batch of 2/);
      const rng = new Rng(0);
      const img = tf.tidy(() => tf.div(tf.randomNormal([20, E]), 3)) as tf.Tensor2D;
      const txt = tf.tidy(() => tf.div(tf.randomNormal([20, E]), 3)) as tf.Tensor2D;
      const counts: number[] = [];
      const { result: h, dataSync } = await countReads(() =>
        trainPrior(prior, txt, img, {
          steps: 40,
          batch: 8,
          learningRate: 3e-3,
          onStep: () => counts.push(tf.memory().numTensors),
        }),
      );
      assert.strictEqual(dataSync, 0, 'the loop read a tensor synchronously');
      assert.strictEqual(counts[39], counts[2]);
      assert.ok(
        h.loss.slice(-10).reduce((p, q) => p + q) < h.loss.slice(0, 10).reduce((p, q) => p + q),
        'prior loss did not fall',
      );
      const three = txt.slice(0, 3);
      const before = tf.memory().numTensors;
      const s = samplePrior(prior, three, { steps: 5, guidance: 2, rng });
      assert.deepStrictEqual(s.shape, [3, E]);
      rowNorms(s).forEach((n) => assert.ok(Math.abs(n - 1) < 1e-4));
      s.dispose();
      assert.strictEqual(tf.memory().numTensors, before, 'samplePrior leaked tensors');
      three.dispose();
      assert.throws(
        () => samplePrior(prior, txt, { steps: 0, guidance: 1, rng }),
        /steps must be an integer in \[1, 50\], got 0/,
      );
      const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'prior-')), 'prior.safetensors');
      await savePrior(file, prior);
      const back = loadPrior(file);
      const gap = tf.tidy(
        () =>
          tf
            .max(tf.abs(tf.sub(prior.apply(z, [3, 30], txt.slice(0, 2)), back.apply(z, [3, 30], txt.slice(0, 2)))))
            .dataSync()[0],
      );
      assert.ok(gap < 1e-6, `loaded prior differs by ${gap}`);
      tf.dispose([z, out, img, txt]);
      prior.dispose();
      back.dispose();
    });
  });

  describe('decoder and unCLIP', () => {
    it('decoder batches carry one embedding token per image and drop some to zero', () => {
      const set = loadShapes('train', { count: 32, minObjects: 1, maxObjects: 1 });
      const clip = tinyClip(0, 32);
      const src = decoderBatches(set, clip, 16, 0, 0.5, true);
      const { x, cond } = src(0);
      assert.deepStrictEqual(Array.from(cond!.vector!.dataSync()), Array.from(cond!.context!.dataSync()));
      assert.deepStrictEqual(x.shape, [16, 32, 32, 3]);
      assert.deepStrictEqual(cond!.context!.shape, [16, 1, E]);
      const norms = tf.tidy(() => tf.sqrt(tf.sum(tf.square(tf.squeeze(cond!.context!, [1])), 1))).dataSync();
      const zeros = Array.from(norms).filter((n) => n === 0).length;
      assert.ok(zeros > 0 && zeros < 16, `${zeros} of 16 dropped at p = 0.5`);
      Array.from(norms)
        .filter((n) => n > 0)
        .forEach((n) => assert.ok(Math.abs(n - Math.sqrt(E)) < 1e-4));
      assert.throws(() => decoderBatches(set, clip, 16, 0, 2), /embeddingDropout must be in \[0, 1\], got 2/);
      tf.dispose([x, cond!.context!, cond!.contextMask!, cond!.vector!]);
      clip.dispose();
    });

    it('generate() equals the pipeline computed step by step here (text -> prior -> decoder)', async () => {
      // Reference: unCLIP's two samplers written out in float64 from their equations (DDIM eta 0,
      // Song et al. 2021 eq. 12; CFG eps_u + w (eps_c - eps_u), Ho & Salimans 2022; trailing timesteps
      // round(T - i T / n) - 1), calling only the networks: the prior on sqrt(E) * text (zeros for no
      // text), x0 put on the radius-sqrt(E) sphere; the decoder with the sampled embedding, scaled by
      // sqrt(E), as its context token and condition vector (zeros for no embedding), x0 clipped to [-1, 1].
      // One Rng in order: the prior's z_T, then the decoder's x_T. Tolerance: float32 vs float64, with x0 at
      // t = 999 dividing by sqrt(abar) = 0.0064 (observed 5e-5; a wrong step gives > 0.05).
      const clip = tinyClip(2);
      const prior = new DiffusionPrior(priorConfig(E, { hidden: 16, blocks: 1, T: 50 }), { seed: 6 });
      const decoder = tinyDecoder();
      const u = new UnClip(clip, prior, decoder);
      const captions = ['a small red circle in the center', 'a large blue square at the top left'];
      const o = { steps: 3, guidance: 2.5, priorSteps: 4, priorGuidance: 2 };
      const got = u.generate(captions, 11, o);
      const B = captions.length;
      const rng = new Rng(11);
      const trailing = (T: number, n: number) => Array.from({ length: n }, (_, i) => Math.round(T - (i * T) / n) - 1);
      const ddim = (x: Float64Array, x0: Float64Array, ab: number, abPrev: number) => {
        const eps = x.map((v, i) => (v - Math.sqrt(ab) * x0[i]) / Math.sqrt(1 - ab));
        return x0.map((v, i) => Math.sqrt(abPrev) * v + Math.sqrt(1 - abPrev) * eps[i]);
      };
      const cfg = (c: Float32Array, un: Float32Array, w: number) =>
        Float64Array.from(c, (v, i) => un[i] + w * (v - un[i]));
      const read = async (t: tf.Tensor) => {
        const v = await t.data();
        t.dispose();
        return v as Float32Array;
      };
      // Stage 1: the CLIP text embedding, scaled to diffusion space.
      const text = clip.encodeText(captions);
      const textD = await read(tf.mul(text, Math.sqrt(E)));
      text.dispose();
      // Stage 2: the prior.
      const pts = trailing(50, o.priorSteps);
      let z = Float64Array.from(await read(rng.normalTensor([B, E])));
      for (let i = 0; i < pts.length; i++) {
        const ab = prior.schedule.alphasCumprod[pts[i]];
        const abPrev = i + 1 < pts.length ? prior.schedule.alphasCumprod[pts[i + 1]] : 1;
        const zt = tf.tensor2d(Float32Array.from(z), [B, E]);
        const c = await read(prior.apply(zt, [pts[i], pts[i]], tf.tensor2d(textD, [B, E])));
        const un = await read(prior.apply(zt, [pts[i], pts[i]], tf.zeros([B, E]) as tf.Tensor2D));
        zt.dispose();
        const x0 = cfg(c, un, o.priorGuidance);
        for (let b = 0; b < B; b++) {
          const row = x0.subarray(b * E, (b + 1) * E);
          const n = Math.hypot(...row);
          for (let e = 0; e < E; e++) row[e] *= Math.sqrt(E) / n;
        }
        z = ddim(z, x0, ab, abPrev);
      }
      // The sampled image embedding, back to unit norm and then to diffusion space for the decoder.
      const embD = new Float64Array(B * E);
      for (let b = 0; b < B; b++) {
        const n = Math.hypot(...z.subarray(b * E, (b + 1) * E));
        for (let e = 0; e < E; e++) embD[b * E + e] = (z[b * E + e] / n) * Math.sqrt(E);
      }
      // Stage 3: the decoder.
      const ctx = tf.tensor3d(Float32Array.from(embD), [B, 1, E]);
      const vec = tf.tensor2d(Float32Array.from(embD), [B, E]);
      const mask = tf.ones([B, 1]) as tf.Tensor2D;
      const zeros = { context: tf.zeros([B, 1, E]) as tf.Tensor3D, vector: tf.zeros([B, E]) as tf.Tensor2D };
      const shape = [B, 8, 8, 3];
      const dts = trailing(1000, o.steps);
      let x = Float64Array.from(await read(rng.normalTensor(shape)));
      for (let i = 0; i < dts.length; i++) {
        const ab = u.schedule.alphasCumprod[dts[i]];
        const abPrev = i + 1 < dts.length ? u.schedule.alphasCumprod[dts[i + 1]] : 1;
        const xt = tf.tensor4d(Float32Array.from(x), shape as [number, number, number, number]);
        const t = [dts[i], dts[i]];
        const c = await read(decoder.apply(xt, t, { context: ctx, contextMask: mask, vector: vec }));
        const un = await read(decoder.apply(xt, t, { ...zeros, contextMask: mask }));
        xt.dispose();
        const eps = cfg(c, un, o.guidance);
        const x0 = x.map((v, k) => Math.min(1, Math.max(-1, (v - Math.sqrt(1 - ab) * eps[k]) / Math.sqrt(ab))));
        x = ddim(x, x0, ab, abPrev);
      }
      const g = await got.data();
      let err = 0;
      for (let k = 0; k < x.length; k++) err = Math.max(err, Math.abs(g[k] - x[k]));
      assert.ok(err < 3e-4, `UnClip.generate vs the step-by-step pipeline: max |diff| = ${err}`);
      tf.dispose([got, ctx, vec, mask, zeros.context, zeros.vector]);
      clip.dispose();
      prior.dispose();
      decoder.dispose();
    });

    it('generates, varies and interpolates with the right shapes; interpolation varies only the embedding', () => {
      const clip = tinyClip();
      const prior = new DiffusionPrior(priorConfig(E, { hidden: 16, blocks: 1, T: 50 }));
      const decoder = tinyDecoder();
      const u = new UnClip(clip, prior, decoder);
      const o = { steps: 3, guidance: 2, priorSteps: 3, priorGuidance: 1 };
      const before = tf.memory().numTensors;
      const g = u.generate(['a small red circle in the center', 'a large blue square at the top left'], 0, o);
      assert.deepStrictEqual(g.shape, [2, 8, 8, 3]);
      const imgs = tf.randomUniform([2, 8, 8, 3], -1, 1) as tf.Tensor4D;
      const v = u.variations(imgs, 3, 1, o);
      assert.deepStrictEqual(v.shape, [6, 8, 8, 3]);
      const [a, b, c] = tf.tidy(() => tf.split(tf.randomUniform([3, 8, 8, 3], -1, 1), 3, 0)) as tf.Tensor4D[];
      const ab = u.interpolate(a, b, 4, 7, o);
      const ac = u.interpolate(a, c, 4, 7, o);
      assert.deepStrictEqual(ab.shape, [4, 8, 8, 3]);
      // Same seed, same first image: the f = 0 frames agree; the f = 1 frames differ (b vs c).
      const d0 = tf.tidy(() => tf.max(tf.abs(tf.sub(ab.slice(0, 1), ac.slice(0, 1)))).dataSync()[0]);
      const d3 = tf.tidy(() => tf.max(tf.abs(tf.sub(ab.slice(3, 1), ac.slice(3, 1)))).dataSync()[0]);
      assert.ok(d0 < 1e-5 && d3 > 1e-4, `f=0 differs by ${d0}, f=1 by ${d3}`);
      assert.throws(() => u.interpolate(imgs, b, 4, 0, o), /one image each/);
      assert.throws(() => u.variations(imgs, 0, 0, o), /count must be a positive integer, got 0/);
      tf.dispose([g, imgs, v, a, b, c, ab, ac]);
      assert.strictEqual(tf.memory().numTensors, before, 'unCLIP leaked tensors');
      const svg = unclipDiagramSvg(unclipStructure(u));
      assert.ok(svg.includes(`text embedding (${E})`) && svg.startsWith('<svg'));
      assert.throws(
        () => new UnClip(clip, prior, decoder, { prediction: 'noise' as never }),
        /prediction must be 'eps', 'v' or 'x0', got 'noise'/,
      );
      assert.throws(
        () => new UnClip(clip, new DiffusionPrior(priorConfig(E + 1, { hidden: 8, blocks: 1 })), decoder),
        /9-dim embeddings, the CLIP model makes 8/,
      );
      const wrongVector = tinyDecoder(E + 1);
      assert.throws(() => new UnClip(clip, prior, wrongVector), /decoder's vectorDim is 9, the CLIP embedding has 8/);
      wrongVector.dispose();
      // A decoder without the time-embedding path (the first shipped ones) still decodes.
      const crossOnly = tinyDecoder(null);
      const g0 = new UnClip(clip, prior, crossOnly).generate(['a small red circle in the center'], 0, o);
      assert.deepStrictEqual(g0.shape, [1, 8, 8, 3]);
      tf.dispose(g0);
      crossOnly.dispose();
      clip.dispose();
      prior.dispose();
      decoder.dispose();
    });
  });
});
