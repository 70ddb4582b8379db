// Lesson 13: the KL autoencoder, the latent batches, layout tokens and latent sampling, on tiny
// models with the cpu backend. Independent references: the KL against its closed form in float64, the latent
// scale against the sample std of the latents it scales, decodeLatents against a plain-loop float64 decoder.
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
import { Rng } from '../lib/core/random';
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

  it('KL equals the closed form 0.5 (mu^2 + sigma^2 - log sigma^2 - 1) at several (mu, log sigma^2)', async () => {
    // Reference: the KL between N(mu, sigma^2) and N(0, 1) (Kingma & Welling 2014, appendix B), computed
    // here in float64, per value, then averaged over the values as klDivergence documents.
    const pairs: [number, number][] = [
      [0, 0],
      [1, 0],
      [-0.5, 0.7],
      [2, -1.5],
      [0.3, -4],
      [-1.2, 2.5],
    ];
    const closed = (mu: number, lv: number) => 0.5 * (mu * mu + Math.exp(lv) - lv - 1);
    for (const [mu, lv] of pairs) {
      const k = tf.tidy(() => klDivergence({ mean: tf.fill([1, 2, 2, 4], mu), logvar: tf.fill([1, 2, 2, 4], lv) }));
      const got = (await k.data())[0];
      k.dispose();
      const want = closed(mu, lv);
      assert.ok(Math.abs(got - want) <= 1e-6 * Math.max(1, want), `KL(${mu}, ${lv}) = ${got}, closed form ${want}`);
    }
    // All pairs in one posterior: the mean of the per-value closed forms.
    const mean = tf.tensor4d(
      pairs.map((p) => p[0]),
      [1, 1, 2, 3],
    );
    const logvar = tf.tensor4d(
      pairs.map((p) => p[1]),
      [1, 1, 2, 3],
    );
    const k = klDivergence({ mean, logvar });
    const want = pairs.reduce((s, [mu, lv]) => s + closed(mu, lv), 0) / pairs.length;
    const got = (await k.data())[0];
    assert.ok(Math.abs(got - want) <= 1e-6 * want, `mixed KL ${got}, closed form ${want}`);
    tf.dispose([mean, logvar, k]);
  });

  it('the fitted latent scale gives the training latents a std of 1.00 +- 0.02', async function () {
    this.timeout(240_000);
    // Reference: the sample standard deviation, computed here, of every scaled latent that latentBatches
    // hands the trainer over one epoch of the set the scale was fitted on (LDM's scale_factor = 1 / std(z)).
    // With the shipped autoencoder the posterior means dominate; with a fresh one the noise does.
    const set = loadShapes('train', { count: 64, minObjects: 1, maxObjects: 3 });
    const shipped = path.join(__dirname, '..', 'checkpoints', '13', 'autoencoder.safetensors');
    const aes = [
      new Autoencoder(tinyAe, { seed: 3 }),
      ...(fs.existsSync(shipped) ? [loadAutoencoder(shipped).ae] : []),
    ];
    for (const ae of aes) {
      const enc = await encodeImageSet(ae, set, 16);
      const scale = latentScaleFactor(enc);
      const data = latentBatches(enc, scale, 16, 5);
      let n = 0;
      let s1 = 0;
      let s2 = 0;
      for (let step = 0; step < 4; step++) {
        const { x } = data(step);
        for (const v of await x.data()) {
          n++;
          s1 += v;
          s2 += v * v;
        }
        x.dispose();
      }
      assert.equal(n, 64 * 8 * 8 * 4);
      const std = Math.sqrt((s2 - (s1 * s1) / n) / (n - 1));
      assert.ok(Math.abs(std - 1) <= 0.02, `std of the scaled latents ${std} (scale ${scale})`);
      ae.dispose();
    }
  });

  it('decodeLatents matches a float64 decoder forward written out here, then clipped', async () => {
    // Reference: the decoder of the tiny config computed by plain loops in float64 from the model's own
    // weights: conv3x3 (4 -> 8), a residual block (GN-SiLU-conv, GN-SiLU-conv, + input), GN-SiLU,
    // conv3x3 (8 -> 48), each cell's 48 channels laid out as a 4x4x3 pixel patch (row, column, channel).
    // GroupNorm scales and shifts are randomised so that they take part.
    const ae = new Autoencoder(tinyAe, { seed: 5 });
    const rng = new Rng(11);
    for (const [name, v] of ae.params)
      if (name.includes('norm'))
        v.assign(tf.add(name.endsWith('weight') ? 1 : 0, tf.mul(0.5, rng.normalTensor(v.shape))));
    const W = new Map<string, Float32Array>();
    for (const [name, v] of ae.params) W.set(name, (await v.data()) as Float32Array);
    const w = (n: string) => W.get(`decoder.${n}`)!;
    const conv = (x: Float64Array, s: number, cin: number, name: string, cout: number) => {
      const k = w(`${name}.weight`);
      const b = w(`${name}.bias`);
      const y = new Float64Array(s * s * cout);
      for (let i = 0; i < s; i++)
        for (let j = 0; j < s; j++)
          for (let o = 0; o < cout; o++) {
            let acc = b[o];
            for (let di = 0; di < 3; di++)
              for (let dj = 0; dj < 3; dj++) {
                const ii = i + di - 1;
                const jj = j + dj - 1;
                if (ii < 0 || jj < 0 || ii >= s || jj >= s) continue;
                for (let c = 0; c < cin; c++)
                  acc += x[(ii * s + jj) * cin + c] * k[((di * 3 + dj) * cin + c) * cout + o];
              }
            y[(i * s + j) * cout + o] = acc;
          }
      return y;
    };
    const gnSilu = (x: Float64Array, s: number, ch: number, name: string, groups: number) => {
      const g = w(`${name}.weight`);
      const bt = w(`${name}.bias`);
      const per = ch / groups;
      const y = new Float64Array(x.length);
      for (let gi = 0; gi < groups; gi++) {
        let m = 0;
        let q = 0;
        const cnt = s * s * per;
        for (let p = 0; p < s * s; p++) for (let c = gi * per; c < (gi + 1) * per; c++) m += x[p * ch + c] / cnt;
        for (let p = 0; p < s * s; p++)
          for (let c = gi * per; c < (gi + 1) * per; c++) q += (x[p * ch + c] - m) ** 2 / cnt;
        for (let p = 0; p < s * s; p++)
          for (let c = gi * per; c < (gi + 1) * per; c++) {
            const v = ((x[p * ch + c] - m) / Math.sqrt(q + 1e-5)) * g[c] + bt[c];
            y[p * ch + c] = v / (1 + Math.exp(-v));
          }
      }
      return y;
    };
    const decodeRef = (z: Float64Array): Float64Array => {
      const s = 8;
      const h = conv(z, s, 4, 'in', 8);
      let r = conv(gnSilu(h, s, 8, 'res.0.0.norm1', 4), s, 8, 'res.0.0.conv1', 8);
      r = conv(gnSilu(r, s, 8, 'res.0.0.norm2', 4), s, 8, 'res.0.0.conv2', 8);
      const cells = conv(
        gnSilu(
          h.map((v, i) => v + r[i]),
          s,
          8,
          'norm',
          4,
        ),
        s,
        8,
        'out',
        48,
      );
      const img = new Float64Array(32 * 32 * 3);
      for (let Y = 0; Y < 32; Y++)
        for (let X = 0; X < 32; X++)
          for (let c = 0; c < 3; c++)
            img[(Y * 32 + X) * 3 + c] = cells[((Y >> 2) * s + (X >> 2)) * 48 + ((Y % 4) * 4 + (X % 4)) * 3 + c];
      return img;
    };
    const scaleFactor = 0.6;
    const z = rng.normalTensor([2, 8, 8, 4]) as tf.Tensor4D;
    const zv = await z.data();
    const out = decodeLatents({ ae, scaleFactor }, z);
    const got = await out.data();
    let inside = 0;
    let clipped = 0;
    let err = 0;
    for (let b = 0; b < 2; b++) {
      const ref = decodeRef(Float64Array.from(zv.subarray(b * 256, (b + 1) * 256), (v) => v / scaleFactor));
      ref.forEach((v, i) => {
        if (Math.abs(v) < 1) inside++;
        else clipped++;
        err = Math.max(err, Math.abs(got[b * ref.length + i] - Math.min(1, Math.max(-1, v))));
      });
    }
    // Both regimes occur, so the comparison covers the network values and the clip.
    assert.ok(inside > 1000 && clipped > 50, `${inside} values inside (-1, 1), ${clipped} clipped`);
    assert.ok(err < 1e-4, `decodeLatents vs the float64 reference: max |diff| = ${err}`);
    tf.dispose([z, out]);
    ae.dispose();
  });

  it('training lowers the reconstruction error, keeps the tensor count flat, and save/load round-trips', async function () {
    this.timeout(240_000); // the pure-JS cpu backend's conv gradients are slow
    const set = loadShapes('train', { count: 8, minObjects: 1, maxObjects: 2 });
    const ae = new Autoencoder(tinyAe, { seed: 1 });
    const before = (await reconstructionPsnr(ae, set)).mean;
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
    assert.ok((await reconstructionPsnr(ae, set)).mean > before);
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

  it('latent batches: scaled posterior samples, the same batch for the same step, the condition per index', async () => {
    const set = loadShapes('train', { count: 24, minObjects: 1, maxObjects: 2 });
    const ae = new Autoencoder(tinyAe);
    const enc = await encodeImageSet(ae, set, 16);
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
