// Every shipped checkpoint, loaded as the lessons load it (through the table of pretrained models),
// computes the same output on a fixed input as it did when these goldens were taken (tests/fixtures/golden_models.json, written before the
// library's redesign with GOLDEN_WRITE=1). The check is on two numbers per output: the sum of |y|
// and a fixed pseudo-random weighting of y (a plain sum could cancel), within 1e-5 of sum |y|.
// Independent reference: the outputs of the code as it was when the checkpoints were trained.
import { strict as assert } from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../lib/runtime/backend';
import { Rng } from '../lib/core/random';
import { Condition, ConditionValue, disposeCondition } from '../lib/core/condition';
import { Denoiser } from '../lib/core/unet/denoiser';
import { loadPretrained, PRETRAINED_IDS, PretrainedId } from '../lib/course/models';
import { isTextUNetConfig } from '../lib/methods/text/text_unet';
import { groundingOf } from '../lib/methods/gligen/grounding_hook';
import { videoCondition } from '../lib/methods/video/temporal_hook';

const GOLDEN = path.join(__dirname, 'fixtures', 'golden_models.json');
const CAPTIONS = ['a small red circle at the top left', 'a big blue square'];

type Stats = { abs: number; dot: number; n: number };

/** sum |y| and sum y * w for a fixed w in [-1, 1) (seeded), in float64. */
async function stats(t: tf.Tensor): Promise<Stats> {
  const y = await t.data();
  const w = new Rng(99);
  let abs = 0;
  let dot = 0;
  for (let i = 0; i < y.length; i++) {
    abs += Math.abs(y[i]);
    dot += y[i] * (2 * w.uniform() - 1);
  }
  return { abs, dot, n: y.length };
}

/** The condition a UNet of this config needs, from fixed seeded inputs (built generically from the config). */
function fixedCondition(unet: Denoiser, b: number, rng: Rng): Condition {
  const c = unet.config;
  const grounding = groundingOf(unet);
  const cond: Record<string, ConditionValue> = {};
  if (c.numClasses !== undefined)
    cond.classLabels = Array.from({ length: b }, (_, i) => (i === b - 1 ? c.numClasses! : i % c.numClasses!));
  if (c.condChannels !== undefined)
    cond.concat = rng.normalTensor([b, c.imageSize, c.imageSize, c.condChannels]) as tf.Tensor4D;
  if (isTextUNetConfig(c)) cond.text = CAPTIONS.slice(0, b);
  else if (c.contextDim !== undefined) {
    cond.context = rng.normalTensor([b, 3, c.contextDim]) as tf.Tensor3D;
    cond.contextMask = tf.tensor2d([1, 1, 0, 1, 0, 0].slice(0, 3 * b), [b, 3]);
  }
  if (c.vectorDim !== undefined) cond.vector = rng.normalTensor([b, c.vectorDim]) as tf.Tensor2D;
  if (grounding) {
    cond.grounding = rng.normalTensor([b, 2, grounding.inputDim]) as tf.Tensor3D;
    cond.groundingMask = tf.tensor2d([1, 1, 1, 0].slice(0, 2 * b), [b, 2]);
  }
  return cond;
}

/** Images in [-1, 1]: clipped normal noise. */
function noiseImages(rng: Rng, shape: [number, number, number, number]): tf.Tensor4D {
  return tf.tidy(() => tf.clipByValue(rng.normalTensor(shape), -1, 1) as tf.Tensor4D);
}

async function unetOutput(unet: Denoiser): Promise<Record<string, Stats>> {
  const rng = new Rng(7);
  const c = unet.config;
  const x = rng.normalTensor([2, c.imageSize, c.imageSize, c.inChannels]) as tf.Tensor4D;
  const cond = fixedCondition(unet, 2, rng);
  const y = unet.apply(x, [17, 731], cond);
  const out = { out: await stats(y) };
  tf.dispose([x, y]);
  disposeCondition(cond);
  unet.dispose();
  return out;
}

/** The golden's name of each shipped model (fixed by tests/fixtures/golden_models.json) -> its table id. */
const IDS: Record<string, PretrainedId> = {
  '01/toy-models': '01/toy-models',
  '05/model': '05/unet',
  '06/noisy_classifier': '06/noisy-classifier',
  '07/model': '07/cfg-unet',
  '08/sr3': '08/sr3',
  '08/regression': '08/regression',
  '09/inpaint': '09/inpaint',
  '10/model': '10/glide',
  '11/text_encoder': '11/text-encoder',
  '11/base': '11/base',
  '11/sr': '11/sr',
  '12/clip': '12/clip',
  '12/prior': '12/prior',
  '12/decoder': '12/decoder',
  '13/autoencoder': '13/autoencoder',
  '13/ldm-text': '13/ldm-text',
  '13/ldm-layout': '13/ldm-layout',
  '14/gligen': '14/gligen',
  '14/gligen-point': '14/gligen-point',
  '16/audio-unet': '16/audio-unet',
  '16/instrument-classifier': '16/instrument-classifier',
  '17/video-unet': '17/video-unet',
  classifier: 'classifier',
};

/** Each shipped model, loaded through the table as the lessons load it, and its outputs on fixed inputs. */
const MODELS: Record<string, () => Promise<Record<string, Stats>>> = {
  // Lesson 01's toy models came after the redesign: their golden was taken when they were trained (2026-12-07).
  '01/toy-models': async () => {
    const m = loadPretrained('01/toy-models');
    const rng = new Rng(7);
    const [z, x, zv] = [
      [2, m.gan.latentDim],
      [2, 2],
      [2, m.vae.latentDim],
    ].map((s) => rng.normalTensor(s) as tf.Tensor2D);
    // Far from the data: on it the trained D is near 1/2 (logits near 0, too small for a relative tolerance).
    const far = tf.mul(x, 4) as tf.Tensor2D;
    const ys = {
      generator: m.gan.generator.apply(z),
      discriminator: m.gan.discriminator.apply(far),
      encoder: m.vae.encoder.apply(x),
      decoder: m.vae.decoder.apply(zv),
      denoiser: m.diffusion.apply(x, [17, 73]),
    };
    const out: Record<string, Stats> = {};
    for (const [k, y] of Object.entries(ys)) out[k] = await stats(y);
    tf.dispose([z, x, zv, far, ...Object.values(ys)]);
    m.dispose();
    return out;
  },
  '05/model': () => unetOutput(loadPretrained('05/unet')),
  '07/model': () => unetOutput(loadPretrained('07/cfg-unet')),
  '08/sr3': () => unetOutput(loadPretrained('08/sr3').unet),
  '08/regression': () => unetOutput(loadPretrained('08/regression').unet),
  '09/inpaint': () => unetOutput(loadPretrained('09/inpaint')),
  '10/model': () => unetOutput(loadPretrained('10/glide')),
  '11/base': () => unetOutput(loadPretrained('11/base')),
  '11/sr': () => unetOutput(loadPretrained('11/sr')),
  '12/decoder': () => unetOutput(loadPretrained('12/decoder').unet),
  '13/ldm-text': () => unetOutput(loadPretrained('13/ldm-text')),
  '13/ldm-layout': () => unetOutput(loadPretrained('13/ldm-layout')),
  '14/gligen': () => unetOutput(loadPretrained('14/gligen')),
  '14/gligen-point': () => unetOutput(loadPretrained('14/gligen-point')),
  '06/noisy_classifier': async () => {
    const m = loadPretrained('06/noisy-classifier');
    const x = new Rng(7).normalTensor([2, 28, 28, 1]) as tf.Tensor4D;
    const y = m.logits(x, [17, 731]);
    const out = { logits: await stats(y) };
    tf.dispose([x, y]);
    m.dispose();
    return out;
  },
  '11/text_encoder': async () => {
    const m = loadPretrained('11/text-encoder');
    const y = m.logits(m.encoder.tokenizer.encodeBatch(CAPTIONS, { warn: false }));
    const out = { logits: await stats(y) };
    y.dispose();
    m.dispose();
    return out;
  },
  '12/clip': async () => {
    const m = loadPretrained('12/clip');
    const s = m.config.imageSize;
    const x = noiseImages(new Rng(7), [2, s, s, 3]);
    const [ti, ii] = [m.encodeText(CAPTIONS), m.encodeImages(x)];
    const out = { text: await stats(ti), images: await stats(ii) };
    tf.dispose([x, ti, ii]);
    m.dispose();
    return out;
  },
  '12/prior': async () => {
    const p = loadPretrained('12/prior');
    const rng = new Rng(7);
    const e = p.config.embedDim;
    const [z, text] = [rng.normalTensor([2, e]) as tf.Tensor2D, rng.normalTensor([2, e]) as tf.Tensor2D];
    const y = p.apply(z, [17, 731], text);
    const out = { out: await stats(y) };
    tf.dispose([z, text, y]);
    p.dispose();
    return out;
  },
  '13/autoencoder': async () => {
    const { ae } = loadPretrained('13/autoencoder');
    const s = ae.config.imageSize;
    const rng = new Rng(7);
    const x = noiseImages(rng, [2, s, s, ae.config.imageChannels]);
    const post = ae.encode(x);
    const dec = ae.decode(post.mean);
    const out = { mean: await stats(post.mean), logvar: await stats(post.logvar), decoded: await stats(dec) };
    tf.dispose([x, post.mean, post.logvar, dec]);
    ae.dispose();
    return out;
  },
  '16/audio-unet': () => unetOutput(loadPretrained('16/audio-unet')),
  '16/instrument-classifier': async () => {
    const model = loadPretrained('16/instrument-classifier');
    const x = noiseImages(new Rng(7), [2, 32, 32, 1]);
    const [f, l] = [model.features(x), model.logits(x)];
    const out = { features: await stats(f), logits: await stats(l) };
    tf.dispose([x, f, l]);
    model.dispose();
    return out;
  },
  // Lesson 17's model came after the redesign: its golden was taken when it was trained (2026-12-07).
  '17/video-unet': async () => {
    const m = loadPretrained('17/video-unet');
    const x = new Rng(7).normalTensor([2 * 4, 32, 32, 3]) as tf.Tensor4D;
    const cond = videoCondition(['a red circle moves right', 'a blue square grows'], 4); // 2 clips of 4 frames
    const y = m.apply(x, [17, 17, 17, 17, 731, 731, 731, 731], cond);
    const out = { out: await stats(y) };
    tf.dispose([x, y]);
    m.dispose();
    return out;
  },
  classifier: async () => {
    const model = loadPretrained('classifier');
    const x = noiseImages(new Rng(7), [2, 28, 28, 1]);
    const [f, l] = [model.features(x), model.logits(x)];
    const out = { features: await stats(f), logits: await stats(l) };
    tf.dispose([x, f, l]);
    model.dispose();
    return out;
  },
};

describe('shipped models: the same outputs as when the goldens were taken', function () {
  this.timeout(300_000);
  const write = process.env.GOLDEN_WRITE === '1';
  const golden: Record<string, Record<string, Stats>> = fs.existsSync(GOLDEN)
    ? JSON.parse(fs.readFileSync(GOLDEN, 'utf8'))
    : {};
  before(async () => {
    await initBackend();
  });
  after(() => {
    if (write) fs.writeFileSync(GOLDEN, JSON.stringify(golden, null, 1) + '\n');
  });

  it('has a golden for every shipped model, and checks every model of the table', () => {
    assert.deepEqual(Object.keys(IDS).sort(), Object.keys(MODELS).sort());
    assert.deepEqual(Object.values(IDS).sort(), [...PRETRAINED_IDS].sort());
    if (write) return;
    assert.deepEqual(Object.keys(golden).sort(), Object.keys(MODELS).sort());
  });

  for (const [id, run] of Object.entries(MODELS)) {
    it(id, async () => {
      const before = tf.memory().numTensors;
      const got = await run();
      assert.equal(tf.memory().numTensors, before, 'tensors left behind');
      if (write) {
        golden[id] = got;
        return;
      }
      const want = golden[id];
      assert.ok(want, `no golden for ${id}`);
      assert.deepEqual(Object.keys(got).sort(), Object.keys(want).sort());
      for (const k of Object.keys(want)) {
        const [g, w] = [got[k], want[k]];
        assert.equal(g.n, w.n, `${id} ${k}: output size`);
        const tol = 1e-5 * w.abs;
        assert.ok(Math.abs(g.abs - w.abs) <= tol, `${id} ${k}: sum |y| ${g.abs} vs golden ${w.abs}`);
        assert.ok(Math.abs(g.dot - w.dot) <= tol, `${id} ${k}: weighted sum ${g.dot} vs golden ${w.dot}`);
      }
    });
  }
});
