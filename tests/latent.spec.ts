// Lesson 13: the KL autoencoder, the latent batches, layout tokens and latent sampling, on tiny
// models with the cpu backend.
import { strict as assert } from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs-core';
import '../lib/core/tfjs_setup';
import { loadShapes } from '../datasets/shapes';
import {
  Autoencoder,
  AutoencoderConfig,
  defaultAutoencoderConfig,
  klDivergence,
  latentSide,
  patchify,
  unpatchify,
} from '../lib/methods/latent/autoencoder';
import { encodeImageSet, latentBatches, latentScaleFactor } from '../lib/methods/latent/latent_batches';
import { BOX_FEATURES, checkBox, LAYOUT_TOKEN_DIM, layoutContext } from '../lib/methods/latent/layout';
import { decodeLatents, latentUNetConfig, layoutUNetConfig, sampleLatentFromLayout } from '../lib/methods/latent/ldm';
import { imagesToTensor, reconstructionPsnr } from '../lib/methods/latent/reconstruct';
import { loadAutoencoder, saveAutoencoder, trainAutoencoder } from '../lib/methods/latent/train_autoencoder';
import { UNet } from '../lib/core/unet/unet';
import { countReads, firstDifference, interruptAt, tempDir } from './helpers/training';

const tinyAe: AutoencoderConfig = defaultAutoencoderConfig({ channels: [8], blocks: 1, groups: 4 });

describe('latent diffusion (lesson 13)', function () {
  this.timeout(60_000);
  before(async () => {
    await tf.setBackend('cpu');
  });

  it('patchify and unpatchify are inverse and keep each 4x4 patch in one cell', () => {
    tf.tidy(() => {
      const x = tf.randomNormal([2, 32, 32, 3]) as tf.Tensor4D;
      const p = patchify(x, 4);
      assert.deepEqual(p.shape, [2, 8, 8, 48]);
      assert.equal(tf.max(tf.abs(tf.sub(unpatchify(p, 4, 3), x))).dataSync()[0], 0);
      // Cell (1, 2) holds pixels rows 4..7, columns 8..11.
      const cell = tf.slice(p, [0, 1, 2, 0], [1, 1, 1, 48]).dataSync();
      const patch = tf.slice(x, [0, 4, 8, 0], [1, 4, 4, 3]).dataSync();
      assert.deepEqual(Array.from(cell), Array.from(patch));
    });
  });

  it('the autoencoder maps 32x32x3 to an 8x8x4 posterior and back, and rejects wrong shapes', () => {
    const ae = new Autoencoder(tinyAe);
    assert.equal(latentSide(ae.config), 8);
    tf.tidy(() => {
      const post = ae.encode(tf.zeros([3, 32, 32, 3]));
      assert.deepEqual(post.mean.shape, [3, 8, 8, 4]);
      assert.deepEqual(post.logvar.shape, [3, 8, 8, 4]);
      assert.deepEqual(ae.decode(post.mean).shape, [3, 32, 32, 3]);
    });
    assert.throws(() => ae.encode(tf.zeros([1, 28, 28, 3])), /must be \[B, 32, 32, 3\]/);
    assert.throws(() => ae.decode(tf.zeros([1, 8, 8, 3])), /z must be \[B, 8, 8, 4\]/);
    assert.throws(() => new Autoencoder({ ...tinyAe, patch: 3 }), /not divisible/);
    ae.dispose();
  });

  it('KL is 0 for the standard normal posterior and positive otherwise', () => {
    tf.tidy(() => {
      const z = tf.zeros([1, 8, 8, 4]) as tf.Tensor4D;
      assert.ok(Math.abs(klDivergence({ mean: z, logvar: z }).dataSync()[0]) < 1e-7);
      assert.ok(klDivergence({ mean: tf.onesLike(z), logvar: z }).dataSync()[0] > 0.49);
    });
  });

  it('training lowers the reconstruction error, keeps the tensor count flat, and save/load round-trips', async function () {
    this.timeout(240_000); // the pure-JS cpu backend's conv gradients are slow
    const set = loadShapes('train', { count: 8, minObjects: 1, maxObjects: 2 });
    const ae = new Autoencoder(tinyAe, { seed: 1 });
    const before = reconstructionPsnr(ae, set).mean;
    await trainAutoencoder(ae, set, {
      steps: 1,
      batch: 4,
      learningRate: 1e-2,
      klWeight: 1e-4,
      seed: 0,
      progress: false,
    });
    const n0 = tf.memory().numTensors;
    const h = await trainAutoencoder(ae, set, {
      steps: 4,
      batch: 4,
      learningRate: 1e-2,
      klWeight: 1e-4,
      seed: 0,
      progress: false,
    });
    assert.equal(tf.memory().numTensors, n0, 'training leaks tensors');
    assert.ok(h.rec[h.rec.length - 1] < h.rec[0], `MSE did not fall: ${h.rec[0]} -> ${h.rec[h.rec.length - 1]}`);
    assert.ok(reconstructionPsnr(ae, set).mean > before);
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'ae-')), 'ae.safetensors');
    await saveAutoencoder(file, ae, 0.5);
    const back = loadAutoencoder(file);
    assert.equal(back.scaleFactor, 0.5);
    tf.tidy(() => {
      const x = imagesToTensor(set, 4);
      assert.equal(
        tf.max(tf.abs(tf.sub(back.ae.decode(back.ae.encode(x).mean), ae.decode(ae.encode(x).mean)))).dataSync()[0],
        0,
      );
    });
    await assert.rejects(saveAutoencoder(file, ae, 0), /scaleFactor/);
    back.ae.dispose();
    ae.dispose();
  });

  it('autoencoder training resumes exactly: 4 steps straight = 2 + resume + 2, bit for bit; no synchronous read', async function () {
    this.timeout(240_000);
    // Reference: the same run without interruption. The resumed model starts from other weights, so
    // equality means the checkpoint restored weights, Adam's moments and step, and the batches and
    // posterior noise depend on (seed, step) alone.
    const set = loadShapes('train', { count: 8, minObjects: 1, maxObjects: 2 });
    const dir = tempDir('ae-resume-');
    const o = {
      steps: 4,
      batch: 4,
      learningRate: 1e-2,
      klWeight: 1e-4,
      seed: 0,
      progress: false,
      checkpointDir: dir,
      checkpointEvery: 2,
      keepLast: 10,
    };
    const a = new Autoencoder(tinyAe, { seed: 1 });
    const { result: ha, dataSync } = await countReads(() =>
      trainAutoencoder(a, set, { ...o, checkpointDir: undefined }),
    );
    assert.equal(dataSync, 0, 'the loop read a tensor synchronously');
    const b = new Autoencoder(tinyAe, { seed: 1 });
    await trainAutoencoder(b, set, o);
    interruptAt(dir, 2);
    const c = new Autoencoder(tinyAe, { seed: 7 });
    const hc = await trainAutoencoder(c, set, o);
    assert.equal(firstDifference(a.params, c.params), null);
    assert.deepEqual(hc.loss, ha.loss);
    assert.deepEqual(hc.rec, ha.rec);
    for (const m of [a, b, c]) m.dispose();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('latent batches: scaled posterior samples, the same batch for the same step, the condition per index', () => {
    const set = loadShapes('train', { count: 24, minObjects: 1, maxObjects: 2 });
    const ae = new Autoencoder(tinyAe);
    const enc = encodeImageSet(ae, set, 16);
    assert.equal(enc.count, 24);
    const scale = latentScaleFactor(enc);
    const seen: number[][] = [];
    const data = latentBatches(enc, scale, 8, 3, (idx) => {
      seen.push(Array.from(idx));
      return { text: Array.from(idx, (i) => set.captions[i]) };
    });
    const a = data(2);
    const b = data(2);
    assert.deepEqual(a.x.shape, [8, 8, 8, 4]);
    assert.deepEqual(Array.from(a.x.dataSync()), Array.from(b.x.dataSync()));
    assert.deepEqual(seen[0], seen[1]);
    assert.deepEqual(
      a.cond!.text,
      seen[0].map((i) => set.captions[i]),
    );
    // Scaled to about unit standard deviation over many batches.
    const all = tf.concat([0, 1, 2, 3, 4].map((k) => data(k).x));
    const std = tf.tidy(() => Math.sqrt(tf.moments(all).variance.dataSync()[0]));
    assert.ok(std > 0.6 && std < 1.6, `std ${std}`);
    tf.dispose([a.x, b.x, all]);
    assert.throws(() => latentBatches(enc, 0, 8, 0), /scaleFactor/);
    ae.dispose();
  });

  it('layout tokens: a null token, Fourier box features, one-hot labels, padding masked', () => {
    const { context, mask } = layoutContext([[{ box: [0.25, 0.5, 0.5, 0.75], colour: 'red', shape: 'circle' }], []], 3);
    assert.deepEqual(context.shape, [2, 4, LAYOUT_TOKEN_DIM]);
    assert.deepEqual(Array.from(mask.dataSync()), [1, 1, 0, 0, 1, 0, 0, 0]);
    const c = context.arraySync();
    assert.equal(c[0][0][0], 1); // null flag
    assert.deepEqual(c[0][1].slice(1, 5), [0.25, 0.5, 0.5, 0.75]);
    assert.ok(Math.abs(c[0][1][5] - Math.sin(Math.PI * 0.25)) < 1e-6);
    assert.equal(c[0][1][1 + BOX_FEATURES], 1); // red is the first colour
    assert.equal(c[0][1].reduce((s, v) => s + v, 0) > 0, true);
    assert.deepEqual(c[1][1], new Array(LAYOUT_TOKEN_DIM).fill(0));
    tf.dispose([context, mask]);
  });

  it('bad layouts are clear errors: outside [0, 1], zero area, too many objects, unknown labels', () => {
    const ok = {
      box: [0.1, 0.1, 0.3, 0.3] as [number, number, number, number],
      colour: 'red' as const,
      shape: 'circle' as const,
    };
    assert.throws(() => layoutContext([[{ ...ok, box: [-0.1, 0, 0.5, 0.5] }]]), /outside \[0, 1\]/);
    assert.throws(() => layoutContext([[{ ...ok, box: [0.2, 0.2, 1.2, 0.5] }]]), /outside \[0, 1\]/);
    assert.throws(() => layoutContext([[{ ...ok, box: [0.3, 0.2, 0.3, 0.5] }]]), /zero area/);
    assert.throws(() => layoutContext([[ok, ok, ok, ok]], 3), /at most 3 \(its token limit\)/);
    assert.throws(() => layoutContext([[{ ...ok, colour: 'purple' as never }]]), /unknown colour 'purple'/);
    assert.throws(() => layoutContext([[{ ...ok, shape: 'star' as never }]]), /unknown shape 'star'/);
    assert.throws(() => checkBox([0, 0, 1], 'x'), /4 finite numbers/);
  });

  it('latent UNets: 8x8x4 in and out, text and layout conditioning; sampling decodes to [-1, 1] with a flat tensor count', () => {
    const small = { baseChannels: 16, groups: 4, attentionHeads: 2 };
    const layout = new UNet(layoutUNetConfig(small));
    const ae = new Autoencoder(tinyAe);
    const auto = { ae, scaleFactor: 0.7 };
    const layouts = [
      [
        {
          box: [0, 0, 0.25, 0.25] as [number, number, number, number],
          colour: 'blue' as const,
          shape: 'square' as const,
        },
      ],
      [],
    ];
    const first = sampleLatentFromLayout(layout, auto, layouts, { guidance: 2, steps: 2, seed: 0 });
    first.dispose();
    const n0 = tf.memory().numTensors;
    const x = sampleLatentFromLayout(layout, auto, layouts, { guidance: 2, steps: 3, seed: 0 });
    assert.deepEqual(x.shape, [2, 32, 32, 3]);
    const v = x.dataSync();
    assert.ok(Math.max(...v) <= 1 && Math.min(...v) >= -1);
    x.dispose();
    assert.equal(tf.memory().numTensors, n0, 'sampling leaks tensors');
    assert.equal(latentUNetConfig().imageSize, 8);
    tf.tidy(() => assert.deepEqual(decodeLatents(auto, tf.zeros([1, 8, 8, 4])).shape, [1, 32, 32, 3]));
    layout.dispose();
    ae.dispose();
  });
});
