// Frame prediction by replacement (lib/methods/video/predict_frames.ts) on a tiny video UNet with the cpu
// backend: against the algorithm written out here (DDIM steps, then the given frame pasted at the next
// level), frame 0 exact, the other frames depending on it only through the temporal layers, seeds,
// tensor counts and bad input.
import { strict as assert } from 'assert';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '../lib/core/tfjs_setup';
import { Rng } from '../lib/core/random';
import { DDIMSampler } from '../lib/core/samplers/ddim';
import { cfgConditionModel } from '../lib/methods/guidance/cfg';
import { composite } from '../lib/methods/inpaint/masks';
import { GLIDE_PREDICTION, glideSchedule } from '../lib/methods/text/glide';
import { TextUNet } from '../lib/methods/text/text_unet';
import {
  TemporalHook,
  firstFrameLayout,
  isTemporalParam,
  predictFrames,
  sampleVideo,
  videoCondition,
  videoTokenizer,
} from '../lib/methods/video/index';

const tok = videoTokenizer();
const captions = ['a red circle moves right', 'a blue ring grows'];
const F = 4;

function videoUNet(seed = 3): TextUNet {
  return new TextUNet(
    {
      imageSize: 8,
      inChannels: 3,
      outChannels: 3,
      baseChannels: 8,
      channelMults: [1, 2],
      numResBlocks: 1,
      attentionResolutions: [4],
      attentionHeads: 2,
      groups: 4,
      positionChannels: true,
      text: { vocab: [...tok.vocab], contextLength: 12, width: 8, layers: 1, heads: 2 },
    },
    { seed, hook: new TemporalHook({ maxFrames: 8 }) },
  );
}

/** Temporal layers that have "trained a little": their zero output projections get seeded values. */
function wakeTemporal(model: TextUNet): TextUNet {
  let k = 0;
  for (const [n, p] of model.params)
    if (isTemporalParam(n) && n.endsWith('proj.weight'))
      tf.tidy(() => p.assign(new Rng(20 + k++).normalTensor(p.shape, 0, 0.3)));
  return model;
}

async function maxAbsDiff(a: tf.Tensor, b: tf.Tensor): Promise<number> {
  const d = tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))));
  const v = (await d.data())[0];
  d.dispose();
  return v;
}

/** Frame f of every clip of x [B*F, ...]. */
function frameOf(x: tf.Tensor4D, f: number): tf.Tensor4D {
  return tf.tidy(() =>
    tf.gather(
      x,
      Array.from({ length: x.shape[0] / F }, (_, b) => b * F + f),
    ),
  );
}

describe('frame prediction by replacement (lesson 17)', function () {
  this.timeout(300_000);
  let model: TextUNet;
  let first: tf.Tensor4D;
  before(async () => {
    await tf.setBackend('cpu');
    model = wakeTemporal(videoUNet());
    first = tf.tidy(() => tf.clipByValue(new Rng(5).normalTensor([2, 8, 8, 3], 0, 0.6), -1, 1) as tf.Tensor4D);
  });
  after(() => {
    model.dispose();
    first.dispose();
  });

  it('is the written-out algorithm: DDIM step, then the given frame noised to the next level pasted in', async () => {
    const o = { guidance: 2, steps: 3, seed: 7 };
    const lib = predictFrames(model, first, captions, F, o);
    const shape: [number, number, number, number] = [2 * F, 8, 8, 3];
    const s = glideSchedule();
    const ddim = new DDIMSampler(s);
    const rng = new Rng(o.seed);
    const cfg = cfgConditionModel(model, videoCondition(captions, F), videoCondition(['', ''], F), o.guidance, {
      prediction: GLIDE_PREDICTION,
    });
    const run = ddim.start({ steps: o.steps, rng }, GLIDE_PREDICTION);
    const ts = run.timesteps;
    const { known, mask } = firstFrameLayout(first, F);
    const q = (t: number) => s.qSample(known, new Array<number>(2 * F).fill(t), rng.normalTensor(shape)) as tf.Tensor4D;
    let x = tf.tidy(() => composite(rng.normalTensor(shape) as tf.Tensor4D, q(ts[0]), mask));
    for (let i = 0; i < ts.length; i++) {
      const next = tf.tidy(() => {
        const { prev } = ddim.step(cfg.predict(x, new Array<number>(2 * F).fill(ts[i])), i, x, run);
        return composite(prev, i + 1 < ts.length ? q(ts[i + 1]) : known, mask);
      });
      x.dispose();
      x = next;
    }
    assert.deepEqual(lib.shape, shape);
    const d = await maxAbsDiff(lib, x);
    assert.ok(d < 1e-5, `predictFrames differs from the written-out loop by ${d}`);
    tf.dispose([lib, x, known, mask]);
  });

  it('frame 0 is the given frame exactly; the others are sampled (neither it nor plain sampleVideo)', async () => {
    const out = predictFrames(model, first, captions, F, { guidance: 3, steps: 3, seed: 1 });
    const f0 = frameOf(out, 0);
    assert.equal(await maxAbsDiff(f0, first), 0);
    const f1 = frameOf(out, 1);
    assert.ok((await maxAbsDiff(f1, first)) > 0.05);
    const plain = sampleVideo(model, captions, F, { guidance: 3, steps: 3, seed: 1 });
    assert.ok((await maxAbsDiff(plain, out)) > 1e-3);
    tf.dispose([out, f0, f1, plain]);
  });

  it('the given frame reaches the others only through the temporal layers', async () => {
    const other = tf.tidy(() => tf.neg(first));
    const o = { guidance: 2, steps: 3, seed: 2 };
    // Awake temporal layers: another first frame changes frame 1.
    const [a, b] = [predictFrames(model, first, captions, F, o), predictFrames(model, other, captions, F, o)];
    const [a1, b1] = [frameOf(a, 1), frameOf(b, 1)];
    assert.ok((await maxAbsDiff(a1, b1)) > 1e-3, 'awake temporal layers: frame 1 must depend on frame 0');
    // Zero temporal layers (a fresh build): every frame is an independent image, frame 1 does not move.
    const fresh = videoUNet();
    const [c, d] = [predictFrames(fresh, first, captions, F, o), predictFrames(fresh, other, captions, F, o)];
    const [c1, d1] = [frameOf(c, 1), frameOf(d, 1)];
    assert.ok((await maxAbsDiff(c1, d1)) < 1e-5, 'zero temporal layers: frame 1 must not depend on frame 0');
    tf.dispose([other, a, b, a1, b1, c, d, c1, d1]);
    fresh.dispose();
  });

  it('same seed, same clips; another seed, other clips; no tensors left behind', async () => {
    const n0 = tf.memory().numTensors;
    const a = predictFrames(model, first, captions, F, { guidance: 2, steps: 2, seed: 4 });
    const b = predictFrames(model, first, captions, F, { guidance: 2, steps: 2, seed: 4 });
    const c = predictFrames(model, first, captions, F, { guidance: 2, steps: 2, seed: 5 });
    assert.equal(await maxAbsDiff(a, b), 0);
    assert.ok((await maxAbsDiff(a, c)) > 1e-3);
    tf.dispose([a, b, c]);
    assert.equal(tf.memory().numTensors, n0);
  });

  it('bad input is a clear error (and leaks nothing)', () => {
    const n0 = tf.memory().numTensors;
    const o = { guidance: 2, steps: 2, seed: 0 };
    assert.throws(() => predictFrames(model, first, captions.slice(0, 1), F, o), /1 captions for 2 first frames/);
    assert.throws(() => predictFrames(model, first, captions, 1, o), /frames must be an integer >= 2/);
    const wrong = tf.zeros([2, 16, 16, 3]) as tf.Tensor4D;
    assert.throws(() => predictFrames(model, wrong, captions, F, o), /must be \[B, 8, 8, 3\], got \[2,16,16,3\]/);
    const flat = tf.zeros([2, 8, 8]);
    assert.throws(() => predictFrames(model, flat as unknown as tf.Tensor4D, captions, F, o), /\[B, H, W, C\] tensor/);
    assert.throws(() => predictFrames(model, first, captions, 12, o), /maxFrames/);
    tf.dispose([wrong, flat]);
    assert.equal(tf.memory().numTensors, n0);
  });
});
