// Lesson 17's space-time factorised layers (lib/methods/video) on tiny models with the cpu backend. References:
// the frame <-> sequence layout against indices computed here; the relative position bias against its table;
// attention with a bias that leaves only the diagonal against v itself; zero-initialised layers against the
// identity (and the image model), with a perturbed projection showing those tests can fail.
import { strict as assert } from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '../lib/core/tfjs_setup';
import { ParamStore } from '../lib/core/params';
import { Rng } from '../lib/core/random';
import { multiHeadAttention } from '../lib/core/unet/attention';
import { cfgConditionModel } from '../lib/methods/guidance/cfg';
import { TextUNet, TextUNetConfigInput } from '../lib/methods/text/text_unet';
import { Tokenizer } from '../lib/methods/text/tokenizer';
import { shapesTokenizer } from '../lib/methods/text/shapes_text';
import {
  RelativePositionBias,
  TemporalAttention,
  TemporalConv,
  TemporalHook,
  clipTimesteps,
  clipsToFrames,
  framesToClips,
  framesToSequences,
  isTemporalParam,
  sequencesToFrames,
  videoCaptionWords,
  videoBatches,
  videoCondition,
  videoFromImageModel,
  saveVideoModel,
  sampleVideo,
  loadVideoModel,
  videoStepLoss,
  videoTokenizer,
} from '../lib/methods/video/index';
import { loadVideoShapes } from '../datasets/video_shapes';
import { diffusionLoss } from '../lib/core/loss';
import { saveUNetWeights } from '../lib/core/checkpoint/unet_checkpoint';
import { linearSchedule } from '../lib/core/schedule';

function maxAbsDiff(a: tf.Tensor, b: tf.Tensor): number {
  return tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]);
}

/** Sets a parameter to seeded normal values (a layer that has trained a little). */
function perturb(v: tf.Variable, seed: number, std = 0.3): void {
  tf.tidy(() => v.assign(new Rng(seed).normalTensor(v.shape, 0, std)));
}

const captions = ['a red circle moves right', 'a blue ring changes colour to green'];
const tok = videoTokenizer();

function videoUNet(hook: TemporalHook | undefined, seed = 3): TextUNet {
  const config: TextUNetConfigInput = {
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
  };
  return new TextUNet(config, { seed, hook });
}

describe('video layers (lesson 17)', function () {
  this.timeout(120_000);
  before(async () => {
    await tf.setBackend('cpu');
  });

  it('frames <-> per-pixel sequences: sequence b*H*W + y*W + x holds that pixel of clip b, frame by frame', () => {
    const [B, F, H, W, C] = [2, 3, 2, 4, 5];
    const code = (b: number, f: number, y: number, x: number, c: number) => (((b * F + f) * H + y) * W + x) * C + c;
    const vals = Float32Array.from({ length: B * F * H * W * C }, (_, i) => i); // value = its own index
    const clips = tf.tensor5d(vals, [B, F, H, W, C]);
    const frames = clipsToFrames(clips);
    assert.deepStrictEqual(frames.shape, [B * F, H, W, C]);
    const seq = framesToSequences(frames, F);
    assert.deepStrictEqual(seq.shape, [B * H * W, F, C]);
    const s = seq.arraySync();
    for (let b = 0; b < B; b++)
      for (let y = 0; y < H; y++)
        for (let x = 0; x < W; x++)
          for (let f = 0; f < F; f++)
            for (let c = 0; c < C; c++) assert.equal(s[(b * H + y) * W + x][f][c], code(b, f, y, x, c));
    const back = sequencesToFrames(seq, H, W);
    assert.equal(maxAbsDiff(back, frames), 0);
    assert.equal(maxAbsDiff(framesToClips(back, F), clips), 0);
    assert.throws(() => framesToSequences(frames, 4), /a batch of 6 frames is not a whole number of 4-frame clips/);
    tf.dispose([clips, frames, seq, back]);
  });

  it('the relative position bias: entry (h, i, j) is table[h, j - i + maxFrames - 1], for any clip length', () => {
    const store = new ParamStore(new Rng(0));
    const rel = new RelativePositionBias(store, 'pos', 2, 5);
    assert.deepStrictEqual(rel.table.shape, [2, 9]);
    assert.equal(maxAbsDiff(rel.table, tf.zeros([2, 9])), 0); // starts with no preference
    perturb(rel.table, 1);
    const table = rel.table.arraySync() as number[][];
    for (const F of [1, 3, 5]) {
      const b = rel.apply(F);
      assert.deepStrictEqual(b.shape, [1, 2, F, F]);
      const a = b.arraySync()[0];
      for (let h = 0; h < 2; h++)
        for (let i = 0; i < F; i++) for (let j = 0; j < F; j++) assert.equal(a[h][i][j], table[h][j - i + 4]);
      b.dispose();
    }
    assert.throws(() => rel.apply(6), /frames must be an integer from 1 to 5 \(maxFrames\), got 6/);
    rel.table.dispose();
  });

  it('multiHeadAttention adds a [1, heads, N, M] bias to the scores (a diagonal-only bias returns v)', () => {
    const rng = new Rng(4);
    const [q, k, v] = [0, 1, 2].map(() => rng.normalTensor([3, 4, 6]) as tf.Tensor3D);
    const eye = tf.tidy(() => tf.tile(tf.reshape(tf.mul(tf.sub(1, tf.eye(4)), -1e9), [1, 1, 4, 4]), [1, 2, 1, 1]));
    const out = multiHeadAttention(q, k, v, 2, undefined, eye as tf.Tensor4D);
    assert.ok(maxAbsDiff(out, v) < 1e-6);
    const plain = multiHeadAttention(q, k, v, 2);
    assert.ok(maxAbsDiff(plain, v) > 1e-2); // without the bias every frame mixes
    assert.throws(
      () => multiHeadAttention(q, k, v, 2, undefined, tf.zeros([1, 3, 4, 4]) as tf.Tensor4D),
      /bias must be \[1 or 3, 2, 4, 4\], got \[1,3,4,4\]/,
    );
    tf.dispose([q, k, v, eye, out, plain]);
  });

  describe('TemporalAttention', () => {
    const [B, F, H, W, C] = [2, 4, 3, 3, 8];
    const make = () =>
      new TemporalAttention(new ParamStore(new Rng(2)), 'temporal', C, { heads: 2, groups: 4, maxFrames: 8 });
    const input = () => new Rng(5).normalTensor([B * F, H, W, C]) as tf.Tensor4D;
    const vars = (l: TemporalAttention) => [
      l.norm.weight,
      l.norm.bias,
      l.qkv.weight,
      l.qkv.bias,
      l.position.table,
      l.proj.weight,
      l.proj.bias,
    ];

    it('keeps the shape; zero-initialised, it is the identity; clips never see each other', () => {
      const l = make();
      const x = input();
      const y0 = l.apply(x, F);
      assert.deepStrictEqual(y0.shape, [B * F, H, W, C]);
      assert.equal(maxAbsDiff(y0, x), 0);
      perturb(l.proj.weight, 6);
      const y = l.apply(x, F);
      assert.ok(maxAbsDiff(y, x) > 1e-2, 'an open projection changes the output');
      // Change clip 0's frame 1 (not by a constant: the per-frame GroupNorm would remove that): clip 0's other
      // frames change, clip 1's do not.
      const x2 = tf.tidy(() => {
        const onlyFrame1 = tf.reshape(tf.oneHot(tf.tensor1d([1], 'int32'), B * F), [B * F, 1, 1, 1]);
        return tf.add(x, tf.mul(onlyFrame1, new Rng(10).normalTensor([B * F, H, W, C])));
      });
      const y2 = l.apply(x2 as tf.Tensor4D, F);
      const frameDiff = (i: number) =>
        tf.tidy(() => maxAbsDiff(tf.slice(y2, [i, 0, 0, 0], [1, H, W, C]), tf.slice(y, [i, 0, 0, 0], [1, H, W, C])));
      assert.ok(frameDiff(0) > 1e-4, 'frame 0 sees frame 1');
      for (let i = F; i < 2 * F; i++) assert.equal(frameDiff(i), 0, `clip 1 frame ${i - F}`);
      assert.throws(() => l.apply(x, 3), /a batch of 8 frames is not a whole number of 3-frame clips/);
      assert.throws(() => l.apply(x, 9), /frames must be an integer from 1 to 8 \(maxFrames\), got 9/);
      tf.dispose([x, y0, y, x2, y2]);
      vars(l).forEach((v) => v.dispose());
    });

    it('knows frame order only through its position bias: reversed frames, reversed output, until it moves', () => {
      const l = make();
      perturb(l.proj.weight, 6);
      perturb(l.qkv.weight, 7);
      const x = input();
      const rev = (t: tf.Tensor) => tf.reshape(tf.reverse(tf.reshape(t, [B, F, H, W, C]), 1), [B * F, H, W, C]);
      const equivariance = () => tf.tidy(() => maxAbsDiff(l.apply(rev(x) as tf.Tensor4D, F), rev(l.apply(x, F))));
      assert.ok(equivariance() < 1e-5);
      perturb(l.position.table, 8, 1);
      assert.ok(equivariance() > 1e-3);
      x.dispose();
      vars(l).forEach((v) => v.dispose());
    });

    it('with a frame embedding: the identity at init, then each frame knows its index; its table learns', () => {
      const l = new TemporalAttention(new ParamStore(new Rng(2)), 'temporal', C, {
        heads: 2,
        groups: 4,
        maxFrames: 8,
        frameEmbedding: true,
      });
      const table = l.frameTable!;
      assert.deepEqual(table.shape, [8, C]);
      const x = input();
      assert.ok(tf.tidy(() => maxAbsDiff(l.apply(x, F), x)) === 0); // zero projection: the identity
      perturb(l.proj.weight, 6);
      perturb(l.qkv.weight, 7);
      // Clips whose frames are all the same image: without an index every frame's output would be equal.
      const same = tf.tidy(() => tf.tile(tf.slice(x, [0, 0, 0, 0], [1, H, W, C]), [B * F, 1, 1, 1])) as tf.Tensor4D;
      const spread = () =>
        tf.tidy(() => maxAbsDiff(tf.slice(l.apply(same, F), [0], [1]), tf.slice(l.apply(same, F), [1], [1])));
      assert.ok(spread() < 1e-5);
      perturb(table, 8, 1);
      assert.ok(spread() > 1e-3);
      const { value, grads } = tf.variableGrads(() => tf.sum(tf.square(l.apply(x, F))) as tf.Scalar, [table]);
      assert.ok(tf.tidy(() => tf.norm(Object.values(grads)[0]).dataSync()[0]) > 0);
      tf.dispose([value, ...Object.values(grads), x, same]);
      [...vars(l), table].forEach((v) => v.dispose());
    });

    it('gradients: only the projection at zero init, every parameter once it is open; tensor count flat', () => {
      const l = make();
      const x = input();
      const target = new Rng(9).normalTensor([B * F, H, W, C]);
      const grads = () => {
        const { value, grads } = tf.variableGrads(() => tf.sum(tf.mul(l.apply(x, F), target)) as tf.Scalar, vars(l));
        const norms = Object.fromEntries(
          Object.entries(grads).map(([k, g]) => [k.split('#')[0], tf.tidy(() => tf.norm(g).dataSync()[0])]),
        );
        tf.dispose([value, ...Object.values(grads)]);
        return norms;
      };
      const g0 = grads();
      const name = (v: tf.Variable) => v.name.split('#')[0];
      assert.ok(g0[name(l.proj.weight)] > 0 && g0[name(l.proj.bias)] > 0);
      for (const v of [l.qkv.weight, l.qkv.bias, l.position.table, l.norm.weight])
        assert.equal(g0[name(v)], 0, name(v));
      perturb(l.proj.weight, 6);
      const g1 = grads();
      for (const v of vars(l)) assert.ok(g1[name(v)] > 0 && Number.isFinite(g1[name(v)]), `${name(v)}: ${g1[name(v)]}`);
      const n0 = tf.memory().numTensors;
      for (let i = 0; i < 3; i++) {
        grads();
        tf.dispose(l.apply(x, F));
      }
      assert.equal(tf.memory().numTensors, n0);
      tf.dispose([x, target]);
      vars(l).forEach((v) => v.dispose());
    });
  });

  describe('TemporalConv', () => {
    const [B, F, H, W, C] = [2, 3, 4, 4, 4];
    const x = () => new Rng(21).normalTensor([B * F, H, W, C]) as tf.Tensor4D;

    it('is a 3x3x3 convolution across frames (written out here), zero at init, each clip on its own', async () => {
      const l = new TemporalConv(new ParamStore(new Rng(20)), 'conv', C, 2);
      const xs = x();
      const y0 = l.apply(xs, F);
      assert.equal(maxAbsDiff(y0, xs), 0, 'zero weights: the identity');
      perturb(l.weight, 22);
      perturb(l.bias, 23);
      // The written-out convolution: out[b,f,i,j,o] = bias[o] + sum over df, di, dj, c of
      // h[b, f+df, i+di, j+dj, c] * w[di+1, dj+1, (df+1)*C + c, o], zero outside the clip and the frame.
      const h = (await tf.tidy(() => l.norm.apply(xs, true)).array()) as number[][][][];
      const w = (await l.weight.array()) as number[][][][];
      const bias = (await l.bias.array()) as number[];
      const xv = (await xs.array()) as number[][][][];
      const want: number[][][][] = xv.map((frame, n) =>
        frame.map((row, i) =>
          row.map((px, j) =>
            px.map((xo, o) => {
              let acc = bias[o];
              const [b, f] = [Math.floor(n / F), n % F];
              for (let df = -1; df <= 1; df++)
                for (let di = -1; di <= 1; di++)
                  for (let dj = -1; dj <= 1; dj++) {
                    const [ff, ii, jj] = [f + df, i + di, j + dj];
                    if (ff < 0 || ff >= F || ii < 0 || ii >= H || jj < 0 || jj >= W) continue;
                    for (let c = 0; c < C; c++)
                      acc += h[b * F + ff][ii][jj][c] * w[di + 1][dj + 1][(df + 1) * C + c][o];
                  }
              return xo + acc;
            }),
          ),
        ),
      );
      const y = l.apply(xs, F);
      const ref = tf.tensor4d(want);
      assert.ok(maxAbsDiff(y, ref) < 1e-4, `layer vs written-out convolution: ${maxAbsDiff(y, ref)}`);
      // One frame per clip: no neighbours, the centre slice of the kernel only.
      const y1 = l.apply(xs, 1);
      assert.deepStrictEqual(y1.shape, xs.shape);
      const n0 = tf.memory().numTensors;
      tf.dispose(l.apply(xs, F));
      assert.equal(tf.memory().numTensors, n0, 'no tensors left behind');
      assert.throws(() => l.apply(xs, 4), /a batch of 6 frames is not a whole number of 4-frame clips/);
      tf.dispose([xs, y0, y, ref, y1]);
      [l.norm.weight, l.norm.bias, l.weight, l.bias].forEach((v) => v.dispose());
    });
  });

  describe('TemporalHook in a text UNet', () => {
    const clipsX = () => new Rng(11).normalTensor([2 * 4, 8, 8, 3]) as tf.Tensor4D;
    const t = new Array<number>(8).fill(0).map((_, i) => (i < 4 ? 250 : 700));

    /** The image model's weights copied in by name: what loading its checkpoint does. */
    function fromBase(base: TextUNet): TextUNet {
      const v = videoUNet(new TemporalHook({ maxFrames: 8 }), 5);
      for (const [n, p] of base.params) v.params.get(n)!.assign(p);
      return v;
    }

    it("adds '<level>.temporal.attn.<j>.*' after each attention block; the image model's names unchanged", () => {
      const base = videoUNet(undefined);
      const v = fromBase(base);
      assert.deepStrictEqual(
        [...v.params.keys()].filter((n) => !isTemporalParam(n)),
        [...base.params.keys()],
      );
      const layers = [
        ...new Set([...v.params.keys()].filter(isTemporalParam).map((n) => n.split('.').slice(0, -2).join('.'))),
      ];
      assert.deepStrictEqual(layers, [
        'down.1.temporal.attn.0',
        'mid.temporal.attn',
        'up.1.temporal.attn.0',
        'up.1.temporal.attn.1',
      ]);
      assert.ok(v.params.has('mid.temporal.attn.position.table') && v.params.has('up.1.temporal.attn.1.proj.weight'));
      base.dispose();
      v.dispose();
    });

    it("everyBlock: a layer after every block at every resolution ('res.<j>' where there is no attention)", () => {
      const v = videoUNet(new TemporalHook({ maxFrames: 8, everyBlock: true }), 5);
      const layers = [
        ...new Set([...v.params.keys()].filter(isTemporalParam).map((n) => n.split('.').slice(0, -2).join('.'))),
      ];
      assert.deepStrictEqual(layers, [
        'down.0.temporal.res.0',
        'down.1.temporal.attn.0',
        'mid.temporal.attn',
        'up.1.temporal.attn.0',
        'up.1.temporal.attn.1',
        'up.0.temporal.res.0',
        'up.0.temporal.res.1',
      ]);
      // conv: a 3-D convolution after every block, attention after the attention blocks only.
      const withConv = videoUNet(new TemporalHook({ maxFrames: 8, conv: true }), 5);
      const convLayers = [
        ...new Set(
          [...withConv.params.keys()]
            .filter(isTemporalParam)
            .map((n) =>
              n.includes('.conv.') ? n.replace(/\.(norm\.)?(weight|bias)$/, '') : n.split('.').slice(0, -2).join('.'),
            ),
        ),
      ];
      assert.deepStrictEqual(convLayers, [
        'down.0.temporal.conv.res.0',
        'down.1.temporal.conv.attn.0',
        'down.1.temporal.attn.0',
        'mid.temporal.conv.attn',
        'mid.temporal.attn',
        'up.1.temporal.conv.attn.0',
        'up.1.temporal.attn.0',
        'up.1.temporal.conv.attn.1',
        'up.1.temporal.attn.1',
        'up.0.temporal.conv.res.0',
        'up.0.temporal.conv.res.1',
      ]);
      withConv.dispose();
      // Open every layer: frames of a clip now reach each other at the 8-px level too, and only with frames.
      for (const [n, p] of v.params) if (isTemporalParam(n) && n.endsWith('proj.weight')) perturb(p, 14);
      const x = clipsX();
      const cond = videoCondition(captions, 4);
      const [a, b] = [v.apply(x, t, cond), v.apply(x, t, { text: cond.text })];
      assert.ok(maxAbsDiff(a, b) > 1e-4);
      tf.dispose([x, a, b]);
      v.dispose();
    });

    it('at initialisation the video model computes exactly the image model, with or without frames', () => {
      const base = videoUNet(undefined);
      const v = fromBase(base);
      const x = clipsX();
      const cond = videoCondition(captions, 4);
      assert.deepStrictEqual(cond.text.slice(3, 5), [captions[0], captions[1]]);
      const image = base.apply(x, t, { text: cond.text });
      assert.equal(maxAbsDiff(v.apply(x, t, cond), image), 0);
      perturb(v.params.get('mid.temporal.attn.proj.weight')!, 12);
      const moved = v.apply(x, t, cond);
      assert.ok(maxAbsDiff(moved, image) > 1e-4, 'an open temporal layer changes the output');
      // Without cond.frames the temporal layers are skipped: images again.
      assert.equal(maxAbsDiff(v.apply(x, t, { text: cond.text }), image), 0);
      tf.dispose([x, image, moved]);
      base.dispose();
      v.dispose();
    });

    it("classifier-free guidance's [cond; uncond] batch keeps each clip's frames together", () => {
      const v = fromBase(videoUNet(undefined));
      for (const [n, p] of v.params) if (isTemporalParam(n) && n.endsWith('proj.weight')) perturb(p, 13);
      const x = clipsX();
      const cond = videoCondition(captions, 4);
      const uncond = videoCondition(['', ''], 4);
      const c = v.apply(x, t, cond);
      const u = v.apply(x, t, uncond);
      const g = cfgConditionModel(v, cond, uncond, 3).predict(x, t);
      assert.ok(maxAbsDiff(g, tf.add(u, tf.mul(tf.sub(c, u), 3))) < 1e-4);
      tf.dispose([x, c, u, g]);
      v.dispose();
    });

    it('sampleVideo: B*F frames, the same for the same seed, no tensors left behind', () => {
      const v = fromBase(videoUNet(undefined));
      const n0 = tf.memory().numTensors;
      const a = sampleVideo(v, captions, 4, { guidance: 2, steps: 2, seed: 3 });
      const b = sampleVideo(v, captions, 4, { guidance: 2, steps: 2, seed: 3 });
      assert.deepStrictEqual(a.shape, [8, 8, 8, 3]);
      assert.equal(maxAbsDiff(a, b), 0);
      tf.dispose([a, b]);
      assert.equal(tf.memory().numTensors, n0);
      assert.throws(() => sampleVideo(v, [], 4, { guidance: 2, steps: 2, seed: 3 }), /no captions/);
      v.dispose();
    });

    it('gradients reach every temporal layer through the network; tensor count flat; bad frames are errors', () => {
      const v = fromBase(videoUNet(undefined));
      for (const [n, p] of v.params) if (isTemporalParam(n) && n.endsWith('proj.weight')) perturb(p, 14);
      const temporal = [...v.params].filter(([n]) => isTemporalParam(n));
      const x = clipsX();
      const cond = videoCondition(captions, 4);
      const step = () => {
        const { value, grads } = tf.variableGrads(
          () => tf.mean(tf.square(v.apply(x, t, cond))) as tf.Scalar,
          temporal.map(([, p]) => p),
        );
        const norms = Object.values(grads).map((g) => tf.tidy(() => tf.norm(g).dataSync()[0]));
        tf.dispose([value, ...Object.values(grads)]);
        return norms;
      };
      const norms = step();
      assert.equal(norms.length, temporal.length);
      assert.ok(
        norms.every((n) => n > 0 && Number.isFinite(n)),
        norms.join(),
      );
      const n0 = tf.memory().numTensors;
      step();
      step();
      assert.equal(tf.memory().numTensors, n0);
      const bad = (frames: readonly number[] | tf.Tensor) => () => v.apply(x, t, { text: cond.text, frames } as never);
      assert.throws(bad(new Array(8).fill(3)), /a batch of 8 frames is not a whole number of 3-frame clips/);
      assert.throws(bad(new Array(8).fill(9)), /frame count from 1 to 8 \(maxFrames\), got 9/);
      assert.throws(bad([4, 4, 4, 4, 4, 4, 4, 2]), /the same frame count for each of the 8 images/);
      const ft = tf.ones([8]);
      assert.throws(bad(ft), /cond.frames must be an array \(or Int32Array\)/);
      tf.dispose([x, ft]);
      v.dispose();
    });
  });

  it("a video model from an image model's file: its weights, new words appended, it at init; save/load", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'video-'));
    const file = path.join(dir, 'image.safetensors');
    const imageTok = shapesTokenizer();
    const image = new TextUNet(
      {
        imageSize: 8,
        inChannels: 3,
        outChannels: 3,
        baseChannels: 8,
        channelMults: [1, 2],
        attentionResolutions: [4],
        attentionHeads: 2,
        groups: 4,
        positionChannels: true,
        text: { vocab: [...imageTok.vocab], contextLength: imageTok.contextLength, width: 8, layers: 1, heads: 2 },
      },
      { seed: 4 },
    );
    await saveUNetWeights(file, image);
    const video = videoFromImageModel(file, { maxFrames: 8, seed: 1 });
    assert.deepStrictEqual(
      [...video.params.keys()].filter((n) => !isTemporalParam(n)),
      [...image.params.keys()],
    );
    const vocab = video.config.text.vocab;
    assert.deepStrictEqual(vocab.slice(0, imageTok.size), [...imageTok.vocab]);
    assert.ok(['moves', 'grows', 'changes', 'colour'].every((w) => vocab.slice(imageTok.size).includes(w)));
    const rows = video.text.tokenEmb.arraySync() as number[][];
    assert.deepStrictEqual(rows.slice(0, imageTok.size), image.text.tokenEmb.arraySync());
    assert.ok(
      rows.slice(imageTok.size).every((r) => r.some((v) => v !== 0)),
      'new words get drawn vectors',
    );
    const x = new Rng(3).normalTensor([4, 8, 8, 3]) as tf.Tensor4D;
    const old = videoCondition(['a small red circle at the top left'], 4);
    const ref = image.apply(x, [40, 40, 40, 40], { text: old.text });
    assert.equal(maxAbsDiff(video.apply(x, [40, 40, 40, 40], old), ref), 0);
    const moving = videoCondition(['a red circle moves right'], 4);
    assert.deepStrictEqual(new Tokenizer(vocab, imageTok.contextLength).encode(moving.text[0]).unknown, []);
    // saveVideoModel / loadVideoModel rebuild the same network, temporal layers included.
    perturb(video.params.get('mid.temporal.attn.proj.weight')!, 2);
    const videoFile = path.join(dir, 'video.safetensors');
    await saveVideoModel(videoFile, video);
    const loaded = loadVideoModel(videoFile);
    assert.deepStrictEqual(loaded.config, video.config);
    const [y1, y2] = [video.apply(x, [40, 40, 40, 40], moving), loaded.apply(x, [40, 40, 40, 40], moving)];
    assert.equal(maxAbsDiff(y1, y2), 0);
    assert.throws(() => loadVideoModel(file), /is not a video model \(its config kind is not 'video-unet'\)/);
    // Going on from the video model with temporal layers after every block: its weights (temporal ones
    // included) fill the new model, the new layers start as the identity, so it computes the same.
    const more = videoFromImageModel(videoFile, { maxFrames: 8, everyBlock: true });
    assert.ok(more.paramCount > loaded.paramCount && more.params.has('down.0.temporal.res.0.proj.weight'));
    const y3 = more.apply(x, [40, 40, 40, 40], moving);
    assert.equal(maxAbsDiff(y3, y1), 0);
    assert.throws(
      () => videoFromImageModel(videoFile, { maxFrames: 8, frameEmbedding: false }),
      /temporal layers differ in frameEmbedding/,
    );
    y3.dispose();
    more.dispose();
    tf.dispose([x, ref, y1, y2]);
    image.dispose();
    video.dispose();
    loaded.dispose();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('video batches: whole clips as frames, a caption per clip (dropped per clip), the same for a step', () => {
    const set = loadVideoShapes('train', { count: 12, frames: 4 });
    const batches = videoBatches(set, 3, 5, { captionDropout: 0.5 });
    const a = batches(2);
    assert.deepStrictEqual(a.x.shape, [12, 32, 32, 3]);
    const text = a.cond!.text!;
    assert.deepStrictEqual(a.cond!.frames, new Array(12).fill(4));
    // The frames of each clip are one clip of the set, in order, with its caption or ''.
    const clips = tf.tidy(() => tf.reshape(a.x, [3, 4 * 32 * 32 * 3]).arraySync()) as number[][];
    let dropped = 0;
    for (let b = 0; b < 3; b++) {
      const i = [...Array(set.count).keys()].find((k) =>
        clips[b].every((v, j) => Math.abs(v - (set.clips[k * clips[b].length + j] / 127.5 - 1)) < 1e-6),
      );
      assert.ok(i !== undefined, `batch clip ${b} is a clip of the set`);
      const caps = text.slice(4 * b, 4 * b + 4);
      assert.ok(caps.every((c) => c === caps[0]) && (caps[0] === set.captions[i!] || caps[0] === ''));
      if (caps[0] === '') dropped++;
    }
    const again = batches(2);
    assert.deepStrictEqual(again.cond, a.cond);
    assert.equal(maxAbsDiff(again.x, a.x), 0);
    let all = 0;
    for (let s = 0; s < 40; s++) {
      const c = batches(s);
      all += c.cond!.text!.filter((t) => t === '').length / 4;
      c.x.dispose();
    }
    assert.ok(all > 30 && all < 90, `${all} of 120 clips dropped at p = 0.5 (this step: ${dropped})`);
    assert.throws(() => videoBatches(set, 3, 0, { captionDropout: 2 }), /captionDropout must be in \[0, 1\], got 2/);
    tf.dispose([a.x, again.x]);
  });

  it('the video loss: one timestep per clip, shared by its frames, then the core diffusion loss', () => {
    const t = clipTimesteps(new Rng(1), 12, 4, 1000);
    assert.equal(t.length, 12);
    for (let b = 0; b < 3; b++) assert.deepStrictEqual(t.slice(4 * b, 4 * b + 4), new Array(4).fill(t[4 * b]));
    assert.ok(new Set(t).size === 3, `three clips, three timesteps: ${t}`);
    assert.throws(
      () => clipTimesteps(new Rng(1), 6, 4, 1000),
      /a batch of 6 frames is not a whole number of 4-frame clips/,
    );
    // shift 1 is the uniform draw of the image trainer, value for value; shift 3 puts 3/4 of clips at t >= T/2.
    const uniform = new Rng(5);
    assert.deepStrictEqual(
      clipTimesteps(new Rng(5), 400, 1, 1000, 1),
      Array.from({ length: 400 }, () => uniform.int(1000)),
    );
    const shifted = clipTimesteps(new Rng(5), 4000, 1, 1000, 3);
    const high = shifted.filter((v) => v >= 500).length / shifted.length;
    assert.ok(Math.abs(high - 0.75) < 0.03, `share at t >= 500 with shift 3: ${high}`);
    assert.ok(Math.min(...shifted) >= 0 && Math.max(...shifted) <= 999);
    assert.throws(() => clipTimesteps(new Rng(1), 4, 4, 1000, 0), /shift must be > 0, got 0/);
    const schedule = linearSchedule(1000);
    const model = { apply: (x: tf.Tensor4D) => tf.mul(x, 0.5) as tf.Tensor4D };
    const x = new Rng(2).normalTensor([8, 4, 4, 3]) as tf.Tensor4D;
    const loss = videoStepLoss(model, schedule, 4)({ x }, new Rng(3), 0) as tf.Scalar;
    // The same draws by hand: the clips' timesteps, then the noise.
    const rng = new Rng(3);
    const tt = clipTimesteps(rng, 8, 4, 1000);
    const noise = rng.normalTensor([8, 4, 4, 3]) as tf.Tensor4D;
    const ref = diffusionLoss((xt) => model.apply(xt), schedule, x, tt, noise);
    assert.equal(loss.dataSync()[0], ref.dataSync()[0]);
    tf.dispose([x, loss, noise, ref]);
  });

  it("the video tokenizer: every caption's words; appended to an image model's vocabulary, old ids unchanged", () => {
    const words = videoCaptionWords();
    for (const w of ['moves', 'left', 'grows', 'shrinks', 'changes', 'colour', 'to', 'ring', 'magenta'])
      assert.ok(words.includes(w), w);
    const set = loadVideoShapes('test', { count: 50 });
    for (const c of set.captions) assert.deepStrictEqual(tok.encode(c).unknown, []);
    const base: Tokenizer = shapesTokenizer();
    const ext = videoTokenizer(base);
    assert.deepStrictEqual(ext.vocab.slice(0, base.size), [...base.vocab]);
    assert.ok(ext.size > base.size && ext.vocab.slice(base.size).includes('moves'));
    assert.equal(ext.contextLength, base.contextLength);
    assert.deepStrictEqual(ext.encode(set.captions[0]).unknown, []);
  });
});
