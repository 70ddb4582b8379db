// Lesson 11's Imagen-style pieces: masked-language-model pretraining, the frozen encoder as a batch
// wrapper, noise conditioning augmentation, the 16x16 data, the cascade and its diagram
// (cpu backend, tiny models, seconds). Independent references: the SDEdit start's moments against
// N(√ᾱ_t x, (1 − ᾱ_t) I) over many draws; the truncated SR sampler against the tested DDIMSampler.step.
import { strict as assert } from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '../lib/core/tfjs_setup';
import { COLOUR_NAMES, loadShapes } from '../datasets/shapes';
import { saveUNetWeights } from '../lib/core/checkpoint/unet_checkpoint';
import { downsampleArea } from '../lib/core/resize';
import {
  cascadeEvaluations,
  CascadeOptions,
  checkCascade,
  sampleCascade,
  truncatedDdim,
} from '../lib/methods/imagen/cascade';
import { cascadeSchedule, imagenBaseConfig, imagenSrConfig } from '../lib/methods/imagen/configs';
import { DiffusionModel } from '../lib/core/samplers/types';
import { DDIMSampler } from '../lib/core/samplers/ddim';
import { predictionToEpsX0 } from '../lib/core/loss';
import { cascadeDiagramSvg, cascadeStages } from '../lib/course/diagrams/imagen';
import { frozenTextBatches, FrozenTextEncoder } from '../lib/methods/imagen/frozen_text';
import { downsampleSet } from '../lib/methods/imagen/low_res';
import { loadMlm, maskBatch, maskedAccuracy, mlmLoss, MlmModel, saveMlm, trainMlm } from '../lib/methods/imagen/mlm';
import { augLevel, augmentLowRes, NOISE_AUG_BUCKETS, noiseAugBatches } from '../lib/methods/imagen/noise_aug';
import { shapesContentWords } from '../lib/methods/imagen/shapes_words';
import { wordProbe } from '../lib/methods/imagen/word_probe';
import { countParams } from '../lib/core/params';
import { Rng } from '../lib/core/random';
import { linearSchedule } from '../lib/core/schedule';
import { BOS, EOS, MASK, PAD, Tokenizer } from '../lib/methods/text/tokenizer';
import { imageBatches } from '../lib/core/train/batch_source';
import { Trainer } from '../lib/core/train/trainer';
import { UNet } from '../lib/core/unet/unet';
import { countReads } from './helpers/training';
import { absPercentile, clipX0, dynamicThreshold } from '../lib/core/samplers/threshold';
import { makeSampler } from '../lib/core/samplers/index';

const shapes = loadShapes('train', { count: 64, minObjects: 1, maxObjects: 2 });
const tok = Tokenizer.fromCaptions(shapes.captions, 24);
const tinyText = () => ({ vocab: [...tok.vocab], contextLength: 24, width: 16, layers: 1, heads: 2 });
const tinyUNet = { baseChannels: 8, channelMults: [1, 2], groups: 4, attentionHeads: 2 };

describe('imagen: masked-language-model pretraining', () => {
  before(async () => {
    await tf.setBackend('cpu');
  });

  it('masks only words, at least one per caption, and remembers the originals', () => {
    const enc = tok.encodeBatch([...shapes.captions.slice(0, 20), '']);
    const mb = maskBatch(enc, tok.size, new Rng(3), { rate: 0.15, maskProb: 1, randomProb: 0 });
    const L = enc.contextLength;
    for (let b = 0; b < 21; b++) {
      let chosen = 0;
      for (let i = 0; i < L; i++) {
        const p = b * L + i;
        if (mb.targets[p] < 0) {
          assert.equal(mb.input.ids[p], enc.ids[p], 'unchosen positions are left alone');
          continue;
        }
        chosen++;
        assert.ok(![PAD, BOS, EOS].includes(enc.ids[p]), 'special tokens are never chosen');
        assert.equal(mb.targets[p], enc.ids[p]);
        assert.equal(mb.input.ids[p], MASK);
      }
      assert.ok(b === 20 ? chosen === 0 : chosen >= 1, `caption ${b}: ${chosen} chosen`);
    }
    assert.throws(() => maskBatch(enc, tok.size, new Rng(0), { rate: 0 }), /rate must be in \(0, 1\]/);
    assert.throws(() => maskBatch(enc, tok.size, new Rng(0), { maskProb: 0.8, randomProb: 0.3 }), /summing to <= 1/);
  });

  it('scoreAll scores every word (the unchosen as themselves) and corrupts exactly what BERT would', () => {
    const enc = tok.encodeBatch(shapes.captions.slice(0, 20));
    const bert = maskBatch(enc, tok.size, new Rng(5));
    const all = maskBatch(enc, tok.size, new Rng(5), { scoreAll: true });
    assert.deepEqual(Array.from(all.input.ids), Array.from(bert.input.ids), 'same corruption from the same seed');
    enc.ids.forEach((id, p) => {
      const word = ![PAD, BOS, EOS].includes(id);
      assert.equal(all.targets[p], word ? id : -1, `position ${p}`);
      if (bert.targets[p] >= 0) assert.equal(bert.targets[p], id);
    });
    assert.ok(all.targets.filter((t) => t >= 0).length > 3 * bert.targets.filter((t) => t >= 0).length);
  });

  it('wordProbe reads colours from distinct word vectors and not from a collapsed encoder', async () => {
    const captions = loadShapes('test', { count: 150, minObjects: 1, maxObjects: 2 }).captions;
    const colours = COLOUR_NAMES.filter((c) => tok.vocab.includes(c));
    const m = new MlmModel(tinyText(), 2);
    const emb = m.encoder.tokenEmb;
    // Distinct, large word vectors: each colour is readable from its own position.
    emb.assign(tf.randomNormal(emb.shape, 0, 1, 'float32', 7));
    const distinct = await wordProbe(m.encoder, captions, { colour: colours });
    assert.ok(distinct.colour.accuracy > 0.9, `distinct embeddings: ${distinct.colour.accuracy}`);
    // Every colour word given the same vector: the encoder cannot tell them apart.
    const ids = colours.map((c) => tok.vocab.indexOf(c));
    emb.assign(
      tf.tidy(() => {
        const rows = tf.unstack(emb);
        return tf.stack(rows.map((r, i) => (ids.includes(i) ? rows[ids[0]] : r)));
      }),
    );
    const collapsed = await wordProbe(m.encoder, captions, { colour: colours });
    assert.ok(
      collapsed.colour.accuracy < 2.5 * collapsed.colour.chance,
      `collapsed embeddings: ${collapsed.colour.accuracy} (chance ${collapsed.colour.chance})`,
    );
    await assert.rejects(
      wordProbe(m.encoder, captions, { colour: ['mauve'] }),
      /'mauve' \(class colour\) is not in the vocabulary/,
    );
    m.dispose();
  });

  it('training lowers the loss; grammar words become predictable; save/load round-trips', async function () {
    this.timeout(60000);
    const m = new MlmModel(tinyText(), 1);
    const first = tf.tidy(
      () => mlmLoss(m, maskBatch(tok.encodeBatch(shapes.captions.slice(0, 32)), tok.size, new Rng(9))).dataSync()[0],
    );
    const { result: losses, dataSync } = await countReads(() =>
      trainMlm(m, shapes.captions, { steps: 100, batch: 16, lr: 1e-2, seed: 0 }),
    );
    assert.equal(dataSync, 0, 'the loop read a tensor synchronously');
    const mean = (a: number[]) => a.reduce((p, q) => p + q, 0) / a.length;
    assert.ok(mean(losses.slice(-10)) < 0.75 * first, `loss ${first} -> ${mean(losses.slice(-10))}`);
    const acc = await maskedAccuracy(m, shapes.captions, shapesContentWords(), 1);
    assert.ok(acc.grammar > 0.6, `grammar-word accuracy ${acc.grammar}`);
    assert.ok(acc.count > acc.contentCount && acc.contentCount > 0);

    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'mlm-')), 'enc.safetensors');
    await saveMlm(file, m);
    const back = loadMlm(file);
    const enc = tok.encodeBatch(shapes.captions.slice(0, 4));
    const [a, b] = [m.logits(enc), back.logits(enc)];
    assert.equal(
      tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]),
      0,
    );
    tf.dispose([a, b]);
    back.dispose();
    // A UNet checkpoint is not an encoder.
    const u = new UNet(imagenBaseConfig(16, tinyUNet));
    const ufile = file.replace('enc', 'unet');
    await saveUNetWeights(ufile, u);
    assert.throws(() => loadMlm(ufile), /not a masked-language-model text encoder/);
    u.dispose();
    m.dispose();
  });
});

describe('imagen: frozen encoder, noise augmentation, 16x16 data', () => {
  before(async () => {
    await tf.setBackend('cpu');
  });

  it('frozenTextBatches turns captions into context; training the UNet leaves the encoder unchanged', async function () {
    this.timeout(60000);
    const frozen = new FrozenTextEncoder(new MlmModel(tinyText(), 2));
    const small = downsampleSet(shapes, 2);
    const src = frozenTextBatches(
      imageBatches(small, 4, 0, { captions: shapes.captions, captionDropout: 0.5 }),
      frozen,
    );
    const b = src(0);
    assert.deepEqual(b.cond!.context!.shape, [4, 24, 16]);
    assert.deepEqual(b.cond!.contextMask!.shape, [4, 24]);
    assert.equal((b.cond as Record<string, unknown>).text, undefined);
    tf.dispose([b.x, b.cond!.context!, b.cond!.contextMask!]);

    const before = [...frozen.mlm.params.values()].map((v) => v.dataSync().slice());
    const unet = new UNet(imagenBaseConfig(16, tinyUNet), { seed: 1 });
    const trainer = new Trainer(unet, {
      schedule: linearSchedule(100),
      totalSteps: 3,
      learningRate: 1e-2,
      emaDecay: null,
      progress: false,
    });
    await trainer.trainStep(src(0)); // Adam creates its moments here
    const n0 = tf.memory().numTensors;
    await trainer.trainStep(src(1));
    await trainer.trainStep(src(2));
    assert.equal(tf.memory().numTensors, n0, 'batch tensors (context included) are disposed');
    [...frozen.mlm.params.values()].forEach((v, i) =>
      assert.deepEqual(v.dataSync(), before[i], 'encoder weights changed'),
    );
    assert.throws(() => frozenTextBatches(imageBatches(small, 4, 0), frozen)(0), /gives no cond.text/);
    trainer.dispose();
    unet.dispose();
    frozen.dispose();
  });

  it('downsampleSet is the 2x2 mean of the uint8 pixels (area down-sampling)', () => {
    const small = downsampleSet(shapes, 2);
    assert.deepEqual([small.height, small.width, small.channels, small.count], [16, 16, 3, 64]);
    const ref = tf.tidy(() =>
      downsampleArea(
        tf.tensor4d(Float32Array.from(shapes.images.subarray(0, 8 * 32 * 32 * 3)), [8, 32, 32, 3]),
        2,
      ).dataSync(),
    );
    let worst = 0;
    for (let i = 0; i < ref.length; i++) worst = Math.max(worst, Math.abs(ref[i] - small.images[i]));
    assert.ok(worst <= 0.5, `largest difference ${worst}`);
    assert.throws(() => downsampleSet(shapes, 3), /not divisible by factor 3/);
  });

  it('noise augmentation: bucket 0 is the identity, bucket k adds noise of std gamma_k, batches are seeded by step', () => {
    const zeros = tf.zeros([64, 16, 16, 3]) as tf.Tensor4D;
    const x = tf.randomUniform([2, 16, 16, 3], -1, 1, 'float32', 1) as tf.Tensor4D;
    const same = augmentLowRes(x, [0, 0], new Rng(1));
    assert.ok(tf.tidy(() => tf.max(tf.abs(tf.sub(same, x))).dataSync()[0]) < 1e-6);
    for (const k of [1, NOISE_AUG_BUCKETS - 1]) {
      const z = augmentLowRes(zeros, new Array(64).fill(k), new Rng(k));
      const std = tf.tidy(() => tf.moments(z).variance.sqrt().dataSync()[0]);
      assert.ok(
        Math.abs(std - augLevel(k)) < 0.02 * (1 + augLevel(k)),
        `bucket ${k}: std ${std}, gamma ${augLevel(k)}`,
      );
      z.dispose();
    }
    assert.throws(() => augLevel(NOISE_AUG_BUCKETS), /bucket must be an integer in/);
    assert.throws(() => augmentLowRes(x, [0], new Rng(0)), /1 buckets for a batch of 2/);

    const src = noiseAugBatches(imageBatches(shapes, 8, 0), 5);
    const [a, b] = [src(3), src(3)];
    assert.deepEqual(a.cond!.concat!.shape, [8, 32, 32, 3]);
    assert.deepEqual(a.cond!.classLabels, b.cond!.classLabels);
    assert.ok((a.cond!.classLabels as number[]).every((k) => Number.isInteger(k) && k >= 0 && k < NOISE_AUG_BUCKETS));
    assert.equal(
      tf.tidy(() => tf.max(tf.abs(tf.sub(a.cond!.concat!, b.cond!.concat!))).dataSync()[0]),
      0,
    );
    tf.dispose([zeros, x, same, a.x, b.x, a.cond!.concat!, b.cond!.concat!]);
  });
});

describe('imagen: the cascade', () => {
  before(async () => {
    await tf.setBackend('cpu');
  });

  it('samples 16x16 then 32x32, counts network evaluations, keeps the tensor count flat, and draws figure 20 from the objects', function () {
    this.timeout(60000);
    const encoder = new FrozenTextEncoder(new MlmModel(tinyText(), 3));
    const c = {
      encoder,
      base: new UNet(imagenBaseConfig(16, tinyUNet), { seed: 4 }),
      sr: new UNet(imagenSrConfig(16, tinyUNet), { seed: 5 }),
    };
    const counters = { base: { calls: 0, images: 0 }, sr: { calls: 0, images: 0 } };
    const o: CascadeOptions = { baseSteps: 3, srSteps: 2, guidance: 3, srGuidance: 1, augBucket: 1, counters };
    const caps = shapes.captions.slice(0, 2);
    const run = () => {
      const out = sampleCascade(c, caps, 7, o);
      const shapesOut = [out.base.shape, out.final.shape];
      const v = out.final.dataSync();
      tf.dispose([out.base, out.final]);
      return { shapesOut, v };
    };
    const r1 = run();
    assert.deepEqual(r1.shapesOut, [
      [2, 16, 16, 3],
      [2, 32, 32, 3],
    ]);
    const ev = cascadeEvaluations(o);
    assert.deepEqual(ev, { base: 6, sr: 2 });
    assert.deepEqual([counters.base.images / 2, counters.sr.images / 2], [ev.base, ev.sr]);
    const n0 = tf.memory().numTensors;
    const r2 = run();
    assert.equal(tf.memory().numTensors, n0, 'a cascade run leaks tensors');
    assert.deepEqual(r2.v, r1.v, 'the same seed gives the same images');

    // SDEdit-style SR start: from the up-sampled image noised to t0, srSteps DDIM steps.
    const t = sampleCascade(c, caps, 7, { ...o, srStart: 50, srSteps: 2 });
    assert.deepEqual(t.final.shape, [2, 32, 32, 3]);
    tf.dispose([t.base, t.final]);
    assert.throws(() => sampleCascade(c, caps, 7, { ...o, srStart: 1000 }), /t0 must be an integer in \[1, 999\]/);
    assert.equal(tf.memory().numTensors, n0, 'a failed or truncated run leaks tensors');

    const stages = cascadeStages(c);
    const svg = cascadeDiagramSvg(c);
    for (const u of [c.base, c.sr, encoder.mlm])
      assert.ok(svg.includes(countParams(u.params).toLocaleString('en')), 'parameter counts come from the objects');
    assert.equal(stages.length, 5);
    assert.match(svg, /^<svg[\s\S]*<\/svg>$/);

    const wrong = new UNet(imagenBaseConfig(8, tinyUNet));
    assert.throws(() => checkCascade({ ...c, base: wrong }), /contextDim 16/);
    assert.throws(() => checkCascade({ ...c, sr: c.base }), /SR UNet must be 32x32/);
    wrong.dispose();
    c.base.dispose();
    c.sr.dispose();
    encoder.dispose();
  });
});

describe('imagen: dynamic thresholding of x0_hat (lib/core/samplers/threshold.ts)', () => {
  before(async () => {
    await tf.setBackend('cpu');
  });

  // numpy.percentile's default (linear interpolation) written out on one sample's values.
  const percentile = (v: Float32Array, p: number) => {
    const a = Float64Array.from(v, Math.abs).sort();
    const q = (p / 100) * (a.length - 1);
    const lo = Math.floor(q);
    return lo + 1 < a.length ? a[lo] + (q - lo) * (a[lo + 1] - a[lo]) : a[lo];
  };
  const direct = (x: Float32Array, b: number, p: number) => {
    const d = x.length / b;
    const out = new Float64Array(x.length);
    for (let i = 0; i < b; i++) {
      const s = Math.max(1, percentile(x.subarray(i * d, (i + 1) * d), p));
      for (let j = i * d; j < (i + 1) * d; j++) out[j] = Math.min(Math.max(x[j], -s), s) / s;
    }
    return out;
  };
  const maxDiff = (a: ArrayLike<number>, b: ArrayLike<number>) => {
    let m = 0;
    for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
    return m;
  };

  it('matches a direct computation: s = max(1, percentile(|x0|, p)), clip to [-s, s], divide by s', () => {
    // Sample 0 overshoots (scale 3), sample 1 stays mostly inside [-1, 1] (s = 1: the static clip), sample 2 is constant.
    const rng = new Rng(11);
    const v = rng.normalArray(3 * 5 * 7 * 3);
    const per = 5 * 7 * 3;
    for (let j = 0; j < per; j++) {
      v[j] *= 3;
      v[per + j] *= 0.3;
      v[2 * per + j] = -2.5;
    }
    const x = tf.tensor4d(v, [3, 5, 7, 3]);
    for (const p of [99.5, 90, 50, 100]) {
      const y = dynamicThreshold(x, p);
      const want = direct(v, 3, p);
      assert.ok(maxDiff(y.dataSync(), want) < 1e-6, `p = ${p}: ${maxDiff(y.dataSync(), want)}`);
      assert.ok(
        maxDiff(
          absPercentile(x, p).dataSync(),
          [0, 1, 2].map((i) => percentile(v.subarray(i * per, (i + 1) * per), p)),
        ) < 1e-6,
      );
      y.dispose();
    }
    // Where the percentile is below 1 it is the static clip; a constant sample becomes -1 (not cut at -1 and kept).
    const yc = clipX0(x, true);
    const yd = dynamicThreshold(x, 99.5);
    assert.ok(percentile(v.subarray(per, 2 * per), 99.5) < 1);
    assert.deepEqual(tf.slice(yd, 1, 1).dataSync(), tf.slice(yc, 1, 1).dataSync());
    assert.ok(
      maxDiff(tf.slice(yd, 0, 1).dataSync(), tf.slice(yc, 0, 1).dataSync()) > 0.1,
      'sample 0 is scaled, not cut',
    );
    assert.deepEqual(Array.from(tf.slice(dynamicThreshold(x, 50), 2, 1).dataSync()), Array(per).fill(-1));
    assert.throws(() => dynamicThreshold(x, 0), /percentile must be in \(0, 100\], got 0/);
    assert.throws(() => dynamicThreshold(x, 101), /percentile must be in \(0, 100\]/);
    tf.dispose([x, yc, yd]);
  });

  it('every sampler applies it to x0_hat (one step from t to clean returns x0_hat itself)', () => {
    const s = linearSchedule(100);
    const shape: [number, number, number, number] = [2, 4, 4, 3];
    const x0 = tf.mul(new Rng(5).normalTensor(shape), 4) as tf.Tensor4D;
    const v = x0.dataSync() as Float32Array;
    // A network that predicts x0 directly, far outside the data range.
    const model = { prediction: 'x0' as const, predict: () => x0.clone() };
    const n0 = tf.memory().numTensors;
    for (const name of ['ddpm', 'ddim', 'dpm++2m'] as const) {
      for (const clip of [true, false, { percentile: 99.5 }, { percentile: 80 }]) {
        const y = makeSampler(name, s).sample(model, shape, { steps: 1, rng: new Rng(0), clipDenoised: clip });
        const want =
          clip === true
            ? Array.from(v, (a) => Math.min(Math.max(a, -1), 1))
            : clip === false
              ? v
              : direct(v, 2, clip.percentile);
        assert.ok(
          maxDiff(y.dataSync(), want) < 1e-5,
          `${name}, ${JSON.stringify(clip)}: ${maxDiff(y.dataSync(), want)}`,
        );
        y.dispose();
      }
    }
    assert.equal(tf.memory().numTensors, n0, 'thresholding leaks tensors');
    x0.dispose();
  });
});

describe("Imagen's SDEdit start (truncatedDdim, srStart)", () => {
  it('the noised start has mean sqrt(abar_t0) x, std sqrt(1 - abar_t0), and enters at t0', async function () {
    this.timeout(120_000);
    // Reference: SDEdit (Meng et al. 2022) starts from q(x_t0 | x) = N(sqrt(abar_t0) x, (1 - abar_t0) I);
    // the per-pixel mean and the standard deviation over N draws are compared with it, within 5 standard
    // errors (sqrt(1 - abar) / sqrt(N) for a mean, sqrt(1 - abar) / sqrt(2N) for a standard deviation).
    const ab = cascadeSchedule().alphasCumprod;
    const N = 4000;
    const x = new Rng(40).uniformTensor([1, 4, 4, 3], -1, 1) as tf.Tensor4D;
    const xv = await x.data();
    const start = tf.tile(x, [N, 1, 1, 1]) as tf.Tensor4D;
    for (const t0 of [100, 500, 900]) {
      let first: { xt: tf.Tensor4D; t: number[] } | null = null;
      const model: DiffusionModel = {
        prediction: 'eps',
        predict: (xt, t) => {
          if (!first) first = { xt: tf.keep(xt.clone()), t: [...t] };
          return tf.zerosLike(xt);
        },
      };
      tf.dispose(truncatedDdim(model, start, t0, 2, new Rng(t0)));
      const seen = first as { xt: tf.Tensor4D; t: number[] } | null;
      assert.ok(seen, 'the network was never called');
      assert.deepEqual(new Set(seen.t), new Set([t0]), 'the first network call is at t0');
      const v = await seen.xt.data();
      seen.xt.dispose();
      const P = xv.length;
      const sd = Math.sqrt(1 - ab[t0]);
      let pooled = 0;
      for (let p = 0; p < P; p++) {
        let s1 = 0;
        let s2 = 0;
        for (let n = 0; n < N; n++) {
          s1 += v[n * P + p];
          s2 += v[n * P + p] ** 2;
        }
        const m = s1 / N;
        const varP = s2 / N - m * m;
        pooled += varP / P;
        const want = Math.sqrt(ab[t0]) * xv[p];
        assert.ok(Math.abs(m - want) < (5 * sd) / Math.sqrt(N), `t0 ${t0} pixel ${p}: mean ${m}, want ${want}`);
        assert.ok(
          Math.abs(Math.sqrt(varP) - sd) < (5 * sd) / Math.sqrt(2 * N),
          `t0 ${t0} pixel ${p}: std ${Math.sqrt(varP)}, want ${sd}`,
        );
      }
      // Pooled over pixels the standard deviation is known to 5 / sqrt(2 N P).
      assert.ok(
        Math.abs(Math.sqrt(pooled) / sd - 1) < 5 / Math.sqrt(2 * N * P),
        `t0 ${t0}: pooled std ${Math.sqrt(pooled)}, want ${sd}`,
      );
    }
    tf.dispose([x, start]);
  });

  it('its steps are the tested DDIM step over the plan round(t0 - i t0 / n), from that start', async () => {
    // Reference: DDIMSampler.step (lib/core/samplers/ddim.ts, checked against a float64 loop in
    // samplers.spec.ts) on the same plan, from x_t0 = sqrt(abar) x + sqrt(1 - abar) eps drawn from the same
    // Rng. The model's x0 estimate leaves [-1, 1], so the clip and what follows from it take part.
    const s = cascadeSchedule();
    const x = new Rng(41).uniformTensor([2, 4, 4, 3], -1, 1) as tf.Tensor4D;
    const model: DiffusionModel = {
      prediction: 'eps',
      predict: (xt, t) => tf.tidy(() => tf.add(tf.mul(xt, 0.3 + t[0] / 2000), tf.sin(tf.mul(xt, 3)))) as tf.Tensor4D,
    };
    const [t0, n] = [300, 4];
    const got = truncatedDdim(model, x, t0, n, new Rng(9));
    const ts = Array.from({ length: n }, (_, i) => Math.round(t0 - (i * t0) / n));
    const rng = new Rng(9);
    const eps0 = rng.normalTensor(x.shape);
    let xt = tf.tidy(() =>
      tf.add(tf.mul(x, Math.sqrt(s.alphasCumprod[t0])), tf.mul(eps0, Math.sqrt(1 - s.alphasCumprod[t0]))),
    ) as tf.Tensor4D;
    const sampler = new DDIMSampler(s);
    const run = { timesteps: ts, prediction: model.prediction, rng, clip: true, eta: 0 };
    let clipped = 0;
    for (let i = 0; i < n; i++) {
      const { prev, x0 } = tf.tidy(() => sampler.step(model.predict(xt, [ts[i], ts[i]]), i, xt, run));
      const raw = tf.tidy(() => predictionToEpsX0(s, xt, [ts[i], ts[i]], model.predict(xt, [ts[i], ts[i]]), 'eps').x0);
      clipped += (await tf.tidy(() => tf.sum(tf.cast(tf.greater(tf.abs(raw), 1), 'float32'))).data())[0];
      tf.dispose([xt, x0, raw]);
      xt = prev;
    }
    assert.ok(clipped > 10, `only ${clipped} x0 values were clipped`);
    const diff = (await tf.tidy(() => tf.max(tf.abs(tf.sub(got, xt)))).data())[0];
    assert.ok(diff < 1e-5, `truncatedDdim vs DDIMSampler.step: max |diff| = ${diff}`);
    tf.dispose([x, eps0, got, xt]);
  });
});
