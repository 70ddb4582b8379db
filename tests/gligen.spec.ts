// Lesson 14: GLIGEN's gated self-attention on a frozen text UNet, on tiny models with the cpu backend.
import { strict as assert } from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs-core';
import '../lib/core/tfjs_setup';
import { loadShapes } from '../datasets/shapes';
import { saveUNetWeights } from '../lib/core/checkpoint/unet_checkpoint';
import { allObjectPhrases, groundingInputs, objectPhrase, PhraseEmbedder } from '../lib/methods/gligen/grounding';
import { gateValues, gligenParams, groundedFromBase, isGligenParam, loadGligen, saveGligen } from '../lib/methods/gligen/model';
import { trainGligen } from '../lib/methods/gligen/train_gligen';
import { Autoencoder, defaultAutoencoderConfig } from '../lib/methods/latent/autoencoder';
import { sampleGrounded } from '../lib/methods/gligen/sample';
import { latentSchedule, latentUNetConfig } from '../lib/methods/latent/ldm';
import { shapesTextEncoderConfig, shapesTokenizer } from '../lib/methods/text/shapes_text';
import { UNet } from '../lib/core/unet/unet';

function maxAbsDiff(a: tf.Tensor, b: tf.Tensor): number {
  return tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]);
}

describe('GLIGEN (lesson 14)', function () {
  this.timeout(60_000);
  let dir: string;
  let baseFile: string;
  let base: UNet;

  before(async () => {
    await tf.setBackend('cpu');
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gligen-'));
    baseFile = path.join(dir, 'base.safetensors');
    const tok = shapesTokenizer();
    base = new UNet(latentUNetConfig({ baseChannels: 16, groups: 4, attentionHeads: 2, text: shapesTextEncoderConfig(tok, { width: 16, layers: 1, heads: 2 }) }), { seed: 3 });
    await saveUNetWeights(baseFile, base);
  });
  after(() => base.dispose());

  const scenes = () => {
    const set = loadShapes('train', { count: 2, minObjects: 1, maxObjects: 2 });
    return { captions: set.captions, objects: set.objects.map((objs) => objs.map((o) => ({ phrase: objectPhrase(o), box: o.box }))) };
  };

  it('at initialisation (gates at 0) the grounded model computes exactly the frozen model', () => {
    const g = groundedFromBase(baseFile, { seed: 9, tokenDim: 16 });
    assert.ok(gligenParams(g).size > 0);
    for (const v of Object.values(gateValues(g))) assert.equal(v, 0);
    const s = scenes();
    const emb = new PhraseEmbedder(g.text!);
    const gi = groundingInputs(emb, s.objects);
    tf.tidy(() => {
      const x = tf.randomNormal([2, 8, 8, 4], 0, 1, 'float32', 1) as tf.Tensor4D;
      const frozen = base.apply(x, [10, 900], { text: s.captions });
      const grounded = g.apply(x, [10, 900], { text: s.captions, grounding: gi.grounding, groundingMask: gi.groundingMask });
      assert.equal(maxAbsDiff(frozen, grounded), 0);
      // Opening one gate changes the output: the test above can fail.
      const gamma = [...g.params].find(([n]) => n.startsWith('mid.gligen') && n.endsWith('.gamma'))![1];
      gamma.assign(tf.tensor1d([0.5]));
      assert.ok(maxAbsDiff(frozen, g.apply(x, [10, 900], { text: s.captions, grounding: gi.grounding, groundingMask: gi.groundingMask })) > 1e-4);
      // Without grounding the gated layers are skipped: the frozen model again.
      assert.equal(maxAbsDiff(frozen, g.apply(x, [10, 900], { text: s.captions })), 0);
    });
    tf.dispose([gi.grounding, gi.groundingMask]);
    g.dispose();
  });

  it('training changes only the GLIGEN parameters, keeps the tensor count flat, and save/load round-trips', async function () {
    this.timeout(240_000); // the pure-JS cpu backend's conv gradients are slow
    const g = groundedFromBase(baseFile, { seed: 9, tokenDim: 16 });
    const emb = new PhraseEmbedder(g.text!);
    const s = scenes();
    const frozenBefore = new Map([...g.params].filter(([n]) => !isGligenParam(n)).map(([n, v]) => [n, v.dataSync().slice()]));
    const data = () => {
      const gi = groundingInputs(emb, s.objects);
      return { x: tf.randomNormal([2, 8, 8, 4], 0, 1, 'float32', 2) as tf.Tensor4D, cond: { text: s.captions, grounding: gi.grounding, groundingMask: gi.groundingMask } };
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
    assert.ok(Object.values(gateValues(g)).some((v) => v !== 0), 'no gate moved');
    const file = path.join(dir, 'gligen.safetensors');
    await saveGligen(file, g, baseFile);
    const back = loadGligen(file, baseFile);
    for (const [n, v] of g.params) assert.equal(maxAbsDiff(v, back.params.get(n)!), 0, n);
    back.dispose();
    g.dispose();
  });

  it('grounding inputs: box features + phrase embedding per object; bad boxes and too many objects are errors', () => {
    const g = groundedFromBase(baseFile, { tokenDim: 16 });
    const emb = new PhraseEmbedder(g.text!);
    assert.equal(allObjectPhrases().length, 70);
    const ok = { phrase: 'a small red circle', box: [0.1, 0.1, 0.4, 0.4] as [number, number, number, number] };
    const gi = groundingInputs(emb, [[ok], []], 2);
    assert.deepEqual(gi.grounding.shape, [2, 2, g.config.grounding!.inputDim]);
    assert.deepEqual(Array.from(gi.groundingMask.dataSync()), [1, 0, 0, 0]);
    tf.dispose([gi.grounding, gi.groundingMask]);
    assert.throws(() => groundingInputs(emb, [[{ ...ok, box: [0.5, 0.5, 1.5, 0.9] }]]), /outside \[0, 1\]/);
    assert.throws(() => groundingInputs(emb, [[{ ...ok, box: [0.5, 0.5, 0.5, 0.9] }]]), /zero area/);
    assert.throws(() => groundingInputs(emb, [[ok, ok, ok]], 2), /at most 2 grounding tokens/);
    assert.throws(() => groundingInputs(emb, [[{ ...ok, phrase: ' ' }]]), /empty phrase/);
    assert.throws(() => base.apply(tf.zeros([1, 8, 8, 4]), [0], { text: [''], grounding: tf.zeros([1, 1, 4]) as tf.Tensor3D, groundingMask: tf.ones([1, 1]) as tf.Tensor2D }), /no grounding/);
    g.dispose();
  });

  it('grounded sampling decodes images, with and without boxes from the same noise', () => {
    const g = groundedFromBase(baseFile, { tokenDim: 16 });
    const emb = new PhraseEmbedder(g.text!);
    const ae = new Autoencoder(defaultAutoencoderConfig({ channels: [16], blocks: 1, groups: 4 }));
    const auto = { ae, scaleFactor: 1 };
    const s = scenes();
    const a = sampleGrounded(g, auto, emb, s.captions, s.objects, { guidance: 2, steps: 2, seed: 4 });
    const b = sampleGrounded(g, auto, emb, s.captions, null, { guidance: 2, steps: 2, seed: 4 });
    assert.deepEqual(a.shape, [2, 32, 32, 3]);
    // Gates are 0 at initialisation, so grounding changes nothing yet.
    assert.equal(maxAbsDiff(a, b), 0);
    tf.dispose([a, b]);
    assert.throws(() => sampleGrounded(g, auto, emb, s.captions, [s.objects[0]], { guidance: 2, steps: 2, seed: 4 }), /1 layouts for 2 captions/);
    ae.dispose();
    g.dispose();
  });
});
