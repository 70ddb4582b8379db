// The text-conditioning stack of lessons 10-12: tokenizer, text transformer, the UNet's text input,
// caption batches with dropout, classifier-free guidance for any condition, and the text-to-image
// scoring (cpu backend, tiny models, seconds). References: token ids against the vocabulary written here, the text
// UNet against the core UNet given the same context, CFG at w = 0 and 1 against the single passes; the PyTorch
// mirror (tests/unet.spec.ts) checks the text transformer and cross-attention values.
import { strict as assert } from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '../lib/core/tfjs_setup';
import { loadShapes } from '../datasets/shapes';
import { cfgConditionModel, concatConditions } from '../lib/methods/guidance/cfg';
import { ParamStore } from '../lib/core/params';
import { Rng } from '../lib/core/random';
import { linearSchedule } from '../lib/core/schedule';
import { TextTransformer } from '../lib/methods/text/text_transformer';
import { BOS, EOS, SPECIAL_TOKENS, Tokenizer, UNK } from '../lib/methods/text/tokenizer';
import { BatchSource, imageBatches } from '../lib/core/train/batch_source';
import { Trainer } from '../lib/core/train/trainer';
import { positionGrid, UNet } from '../lib/core/unet/unet';
import { TextCondition, TextUNet, TextUNetConfigInput } from '../lib/methods/text/text_unet';
import { loadDenoiserCheckpoint, loadTextUNetCheckpoint } from '../lib/methods/text/checkpoint';
import { loadUNetCheckpoint, saveUNetWeights } from '../lib/core/checkpoint/unet_checkpoint';
import { Condition } from '../lib/core/condition';
import { evalCaptions, evaluateTextToImage, disposeTextToImageResult } from '../lib/eval/text_to_image';
import { sampleFromText } from '../lib/methods/text/glide';

const captions = [
  'a small red circle at the top left',
  'a large blue square in the center and a small green ring on the right',
];
const tok = Tokenizer.fromCaptions(captions, 12);

function withWarnings<T>(fn: () => T): { value: T; warnings: string[] } {
  const warnings: string[] = [];
  const orig = console.warn;
  console.warn = (...a: unknown[]) => void warnings.push(a.join(' '));
  try {
    return { value: fn(), warnings };
  } finally {
    console.warn = orig;
  }
}

function textUNet(seed = 1, extra: Partial<TextUNetConfigInput> = {}): TextUNet {
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
      ...extra,
    },
    { seed },
  );
}

const maxAbs = (a: tf.Tensor, b: tf.Tensor) => tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]);

describe('tokenizer', () => {
  it('builds a sorted word vocabulary after the special tokens and round-trips captions', () => {
    assert.deepEqual(tok.vocab.slice(0, SPECIAL_TOKENS.length), [...SPECIAL_TOKENS]);
    const ws = tok.vocab.slice(SPECIAL_TOKENS.length);
    assert.deepEqual(ws, [...ws].sort());
    assert.ok(ws.includes('circle') && ws.includes('ring') && !ws.includes('triangle'));
    const e = tok.encode(captions[0]);
    assert.equal(e.ids[0], BOS);
    assert.equal(e.ids[e.length - 1], EOS);
    assert.equal(e.length, 8 + 2);
    assert.equal(tok.decode(e.ids), `[BOS] ${captions[0]} [EOS]`);
  });

  it("'' is [BOS] [EOS]; unknown words become [UNK]; long captions are truncated with one warning", () => {
    const empty = tok.encode('');
    assert.equal(empty.length, 2);
    assert.deepEqual(Array.from(empty.ids.slice(0, 3)), [BOS, EOS, 0]);
    const u = tok.encode('a purple circle');
    assert.deepEqual(u.unknown, ['purple']);
    assert.equal(u.ids[2], UNK);
    const long = tok.encode(captions[1]);
    assert.equal(long.length, 12);
    // 15 words, room for 12 - 2 = 10: the last 5 are dropped.
    assert.deepEqual(long.truncated, ['green', 'ring', 'on', 'the', 'right']);
    const { value, warnings } = withWarnings(() => tok.encodeBatch([captions[1], captions[1], 'a purple circle']));
    assert.equal(warnings.length, 2, warnings.join('\n'));
    assert.match(warnings[0], /2 caption\(s\) longer than 10 words were truncated/);
    assert.match(warnings[1], /unknown word\(s\) encoded as \[UNK\]: purple/);
    assert.equal(
      withWarnings(() => tok.encodeBatch([captions[1], 'a purple circle'])).warnings.length,
      0,
      'warned twice about the same captions',
    );
    assert.deepEqual(Array.from(value.mask.slice(24, 36)), [1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0]);
  });

  it('rejects bad vocabularies, context lengths, ids and non-string captions', () => {
    assert.throws(() => new Tokenizer(['a', 'b'], 8), /vocab\[0\] must be '\[PAD\]'/);
    assert.throws(() => new Tokenizer([...SPECIAL_TOKENS, 'a', 'a'], 8), /'a' appears twice/);
    assert.throws(() => new Tokenizer([...SPECIAL_TOKENS], 2), /contextLength must be an integer >= 3/);
    assert.throws(() => tok.decode([999]), /id 999 outside the vocabulary/);
    assert.throws(() => tok.encode(42 as unknown as string), /a caption must be a string, got number/);
  });
});

describe('text transformer', () => {
  before(async () => {
    await tf.setBackend('cpu');
  });

  it('gives per-token vectors, a mask, and the [EOS] vector as the pooled one; rows are independent', () => {
    const enc = new TextTransformer(new ParamStore(new Rng(3)), {
      vocab: [...tok.vocab],
      contextLength: 12,
      width: 8,
      layers: 2,
      heads: 2,
    });
    const a = enc.apply([captions[0], '']);
    const b = enc.apply([captions[0], 'a red square']);
    assert.deepEqual(a.tokens.shape, [2, 12, 8]);
    assert.deepEqual(a.pooled.shape, [2, 8]);
    assert.deepEqual(Array.from(a.mask.dataSync().slice(12, 24)), [1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    // [EOS] of caption 0 is token 9, of '' token 1.
    assert.ok(
      maxAbs(tf.slice(a.pooled, [0, 0], [1, 8]), tf.reshape(tf.slice(a.tokens, [0, 9, 0], [1, 1, 8]), [1, 8])) < 1e-6,
    );
    assert.ok(
      maxAbs(tf.slice(a.pooled, [1, 0], [1, 8]), tf.reshape(tf.slice(a.tokens, [1, 1, 0], [1, 1, 8]), [1, 8])) < 1e-6,
    );
    // Row 0 does not see row 1, and real tokens do not see padding.
    assert.ok(maxAbs(tf.slice(a.tokens, [0, 0, 0], [1, 10, 8]), tf.slice(b.tokens, [0, 0, 0], [1, 10, 8])) < 1e-6);
    assert.ok(maxAbs(tf.slice(a.pooled, [1, 0], [1, 8]), tf.slice(b.pooled, [1, 0], [1, 8])) > 1e-3);
    tf.dispose([a.tokens, a.mask, a.pooled, b.tokens, b.mask, b.pooled]);
    assert.throws(
      () =>
        new TextTransformer(new ParamStore(new Rng(3)), {
          vocab: [...tok.vocab],
          contextLength: 12,
          width: 10,
          layers: 1,
          heads: 4,
        }),
      /width 10 is not divisible by heads 4/,
    );
  });
});

describe('UNet with a text encoder', () => {
  before(async () => {
    await tf.setBackend('cpu');
  });

  it('reads captions: different captions, different outputs; errors for missing or extra text', () => {
    const m = textUNet();
    assert.equal(m.config.contextDim, 8);
    const x = new Rng(5).normalTensor([2, 8, 8, 3]) as tf.Tensor4D;
    const a = m.apply(x, [10, 500], { text: captions });
    const b = m.apply(x, [10, 500], { text: [captions[0], ''] });
    assert.ok(maxAbs(tf.slice(a, 0, 1), tf.slice(b, 0, 1)) < 1e-5, 'row 0 changed with row 1');
    assert.ok(maxAbs(tf.slice(a, 1, 1), tf.slice(b, 1, 1)) > 1e-4, 'the caption had no effect');
    assert.throws(() => m.apply(x, [1, 1]), /built with a text encoder \(config.text\): pass cond.text/);
    assert.throws(() => m.apply(x, [1, 1], { text: [''] }), /1 captions for a batch of 2/);
    const ctx = tf.zeros([2, 3, 8]) as tf.Tensor3D;
    assert.throws(
      () => m.apply(x, [1, 1], { text: captions, context: ctx } as Condition),
      /cond.context given, but the text UNet makes it from cond.text itself/,
    );
    const plain = new UNet({
      imageSize: 8,
      inChannels: 3,
      outChannels: 3,
      baseChannels: 8,
      channelMults: [1, 2],
      numResBlocks: 1,
      groups: 4,
      attentionHeads: 2,
    });
    assert.throws(
      () => plain.apply(x, [1, 1], { text: captions } as Condition),
      /condition field 'text' is not read by this model/,
    );
    assert.throws(() => textUNet(1, { contextDim: 16 }), /contextDim 16 must equal the text encoder's width 8/);
    tf.dispose([x, a, b, ctx]);
    m.dispose();
    plain.dispose();
  });

  it("keeps the core's parameter names beside text.* and textToTime.*, in one map; computes what the core computes from its context", () => {
    const m = textUNet(6);
    const core = new UNet({ ...m.core.config }, { seed: 99 });
    const textNames = [...m.params.keys()].filter((n) => !core.params.has(n));
    assert.ok(
      textNames.length > 0 && textNames.every((n) => n.startsWith('text.') || n.startsWith('textToTime.')),
      textNames.join(),
    );
    assert.deepStrictEqual(
      [...core.params.keys()],
      [...m.params.keys()].filter((n) => core.params.has(n)),
      'core names or their order changed',
    );
    assert.strictEqual(m.params, m.core.params);
    assert.strictEqual(m.paramCount, core.paramCount + textNames.reduce((n, k) => n + m.params.get(k)!.size, 0));
    // The text UNet = the core fed with the encoder's tokens, mask and projected pooled vector.
    for (const [n, v] of core.params) v.assign(m.params.get(n)!);
    const x = new Rng(8).normalTensor([2, 8, 8, 3]) as tf.Tensor4D;
    tf.tidy(() => {
      const enc = m.text.apply(captions);
      const tEmb = tf.add(
        tf.matMul(enc.pooled, m.params.get('textToTime.weight')!),
        m.params.get('textToTime.bias')!,
      ) as tf.Tensor2D;
      const want = core.apply(x, [3, 600], { context: enc.tokens, contextMask: enc.mask, timeEmbedding: tEmb });
      assert.ok(maxAbs(m.apply(x, [3, 600], { text: captions }), want) < 1e-6);
    });
    const copy = m.emptyCopy();
    assert.deepStrictEqual(copy.config, m.config);
    assert.deepStrictEqual([...copy.params.keys()], [...m.params.keys()]);
    x.dispose();
    [m, core, copy].forEach((u) => u.dispose());
  });

  it('loads from a checkpoint with the same config fields; the core loader refuses it, naming the right one', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'text-unet-'));
    const file = path.join(dir, 'm.safetensors');
    const m = textUNet(7);
    await saveUNetWeights(file, m);
    const back = loadTextUNetCheckpoint(file);
    const any = loadDenoiserCheckpoint(file);
    assert.ok(any instanceof TextUNet);
    assert.deepStrictEqual(back.config, m.config);
    assert.ok('text' in back.config && back.config.contextDim === 8);
    for (const [n, v] of m.params) assert.equal(maxAbs(v, back.params.get(n)!), 0, n);
    assert.throws(
      () => loadUNetCheckpoint(file),
      /a text-conditioned UNet \(its config has 'text'\): load it with loadTextUNetCheckpoint or loadDenoiserCheckpoint/,
    );
    const plainFile = path.join(dir, 'plain.safetensors');
    const plain = new UNet(m.core.config);
    await saveUNetWeights(plainFile, plain);
    assert.ok(!(loadDenoiserCheckpoint(plainFile) instanceof TextUNet));
    assert.throws(() => loadTextUNetCheckpoint(plainFile), /not a text-conditioned UNet/);
    [m, back, any, plain].forEach((u) => u.dispose());
    fs.rmSync(dir, { recursive: true });
  });

  it('position channels hold pixel-centre coordinates in [-1, 1]', () => {
    const g = positionGrid(2, 4);
    const v = g.arraySync() as number[][][][];
    assert.deepEqual(g.shape, [2, 4, 4, 2]);
    assert.deepEqual(v[1][0][0], [-0.75, -0.75]);
    assert.deepEqual(v[0][3][0], [-0.75, 0.75]);
    assert.deepEqual(v[0][0][3], [0.75, -0.75]);
    g.dispose();
  });

  it('trains end to end on caption batches: every weight (the text encoder too) gets a gradient; tensor count flat', async () => {
    const set = loadShapes('train', { count: 16, maxObjects: 2 });
    const small = {
      ...set,
      images: tf.tidy(() =>
        tf.image
          .resizeBilinear(tf.tensor4d(set.images, [16, 32, 32, 3], 'float32'), [8, 8])
          .round()
          .dataSync(),
      ),
    };
    const data = { ...set, images: Uint8Array.from(small.images), height: 8, width: 8 };
    const m = new TextUNet({
      ...textUNet().config,
      text: {
        vocab: Tokenizer.fromCaptions(set.captions, 24).vocab.slice(),
        contextLength: 24,
        width: 8,
        layers: 1,
        heads: 2,
      },
    });
    const before = m.text.tokenEmb.dataSync().slice();
    const trainer = new Trainer(m, {
      schedule: linearSchedule(1000),
      totalSteps: 4,
      learningRate: 1e-3,
      emaDecay: null,
      progress: false,
    });
    const batches = imageBatches(data, 4, 0, { captions: set.captions, captionDropout: 0.5 });
    await trainer.trainStep(batches(0));
    const n0 = tf.memory().numTensors;
    await trainer.trainStep(batches(1));
    await trainer.trainStep(batches(2));
    assert.equal(tf.memory().numTensors, n0);
    const after = m.text.tokenEmb.dataSync();
    assert.ok(
      after.some((v, i) => v !== before[i]),
      'the text encoder did not train',
    );
    trainer.dispose();
    m.dispose();
  });
});

describe('caption batches', () => {
  it('drop captions to "" at the asked rate, the same way for the same step; reject bad options', () => {
    const set = loadShapes('train', { count: 64 });
    const b = imageBatches(set, 32, 3, { captions: set.captions, captionDropout: 0.25 }) as BatchSource<TextCondition>;
    let dropped = 0;
    for (let s = 0; s < 50; s++) {
      const x = b(s);
      dropped += x.cond!.text!.filter((c) => c === '').length;
      x.x.dispose();
    }
    const rate = dropped / (50 * 32);
    assert.ok(Math.abs(rate - 0.25) < 0.04, `dropout rate ${rate}`);
    const [p, q] = [b(7), b(7)];
    assert.deepEqual(p.cond!.text, q.cond!.text);
    tf.dispose([p.x, q.x]);
    assert.throws(() => imageBatches(set, 8, 0, { captions: set.captions.slice(1) }), /63 captions for 64 images/);
    assert.throws(() => imageBatches(set, 8, 0, { captionDropout: 0.1 }), /captionDropout needs captions/);
    assert.throws(
      () => imageBatches(set, 8, 0, { captions: set.captions, captionDropout: 2 }),
      /captionDropout must be in \[0, 1\], got 2/,
    );
  });
});

describe('classifier-free guidance on any condition', () => {
  before(async () => {
    await tf.setBackend('cpu');
  });

  it('w = 0 is the unconditional pass, w = 1 the conditional one, other w mix two passes batched as one', () => {
    const m = textUNet(2);
    const x = new Rng(9).normalTensor([2, 8, 8, 3]) as tf.Tensor4D;
    const t = [300, 700];
    const cond = { text: captions };
    const uncond = { text: ['', ''] };
    const c = m.apply(x, t, cond);
    const u = m.apply(x, t, uncond);
    const mix = tf.add(u, tf.mul(tf.sub(c, u), 3));
    const counter = { calls: 0, images: 0 };
    const g0 = cfgConditionModel(m, cond, uncond, 0).predict(x, t);
    const g1 = cfgConditionModel(m, cond, uncond, 1).predict(x, t);
    const g3 = cfgConditionModel(m, cond, uncond, 3, { counter }).predict(x, t);
    assert.equal(maxAbs(g0, u), 0);
    assert.equal(maxAbs(g1, c), 0);
    assert.ok(maxAbs(g3, mix) < 1e-4, `guided differs by ${maxAbs(g3, mix)}`);
    assert.deepEqual(counter, { calls: 1, images: 4 });
    assert.throws(
      () => cfgConditionModel(m, cond, { classLabels: [0, 0] }, 2),
      /differ in kind \(text vs classLabels\)/,
    );
    const both = concatConditions({ classLabels: [1, 2] }, { classLabels: [3, 3] });
    assert.deepEqual(both.classLabels, [1, 2, 3, 3]);
    tf.dispose([x, c, u, mix, g0, g1, g3]);
    m.dispose();
  });

  it('sampleFromText: same seed, same images; no tensors left behind', () => {
    const m = textUNet(4);
    const n0 = tf.memory().numTensors;
    const a = sampleFromText(m, captions, { guidance: 2, steps: 3, seed: 5 });
    const b = sampleFromText(m, captions, { guidance: 2, steps: 3, seed: 5 });
    assert.equal(maxAbs(a, b), 0);
    tf.dispose([a, b]);
    assert.equal(tf.memory().numTensors, n0);
    assert.throws(() => sampleFromText(m, [], { guidance: 2, steps: 3, seed: 5 }), /no captions/);
    m.dispose();
  });
});

describe('text-to-image scoring', () => {
  before(async () => {
    await tf.setBackend('cpu');
  });

  it('real images of the captions score 100%, black images 0%; a wrong image size is an error', async () => {
    const byCaption = new Map<string, Uint8Array>();
    for (const k of [1, 2] as const) {
      const ev = evalCaptions(k, 12);
      ev.captions.forEach((c, i) => byCaption.set(c, ev.images.subarray(i * 3072, (i + 1) * 3072)));
    }
    const real = {
      name: 'real',
      generate: (caps: string[]) =>
        tf.tidy(
          () =>
            tf.sub(
              tf.div(
                tf.tensor4d(
                  Uint8Array.from(caps.flatMap((c) => Array.from(byCaption.get(c)!))),
                  [caps.length, 32, 32, 3],
                  'float32',
                ),
                127.5,
              ),
              1,
            ) as tf.Tensor4D,
        ),
    };
    const r = await evaluateTextToImage(real, { n: 12, seed: 0, batch: 5, keep: 3 });
    for (const g of [r.single, r.multi]) {
      for (const k of ['colour', 'shape', 'size', 'position', 'all', 'count', 'imageCorrect'] as const)
        assert.equal(g[k], 1, `${k} ${g[k]}`);
    }
    assert.equal(r.single.objects, 12);
    assert.equal(r.multi.objects, 24);
    assert.equal(r.clipScore, null);
    assert.deepEqual(r.samples.multi.images.shape, [3, 32, 32, 3]);
    disposeTextToImageResult(r);
    const black = await evaluateTextToImage(
      { name: 'black', generate: (caps) => tf.fill([caps.length, 32, 32, 3], -1) as tf.Tensor4D },
      { n: 6, seed: 0, batch: 6 },
    );
    assert.equal(black.single.all, 0);
    assert.equal(black.multi.count, 0);
    disposeTextToImageResult(black);
    await assert.rejects(
      evaluateTextToImage(
        { name: 'small', generate: (caps) => tf.zeros([caps.length, 16, 16, 3]) as tf.Tensor4D },
        { n: 2, seed: 0, batch: 2 },
      ),
      /small returned \[2,16,16,3\] for 2 captions, expected \[2, 32, 32, 3\]/,
    );
  });
});
