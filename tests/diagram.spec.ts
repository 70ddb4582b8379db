// Figure 11 drawn from the real model: the structure read off the UNet's weights must list every
// level, side and channel count that the config implies (computed here independently from the
// config's own formulas), its parts must add up to the model's parameter count, and the SVG must
// change with the config and with each condition hook, so a hard-coded picture would fail.
import * as assert from 'assert';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { countParams } from '../lib/core/params';
import { paramCountsByPart, unetDiagramSvg, unetStructure } from '../lib/course/diagrams/unet';
import { referenceUNetConfig, UNetConfig } from '../lib/core/unet/config';
import { UNet } from '../lib/core/unet/unet';
import { TextUNet } from '../lib/methods/text/text_unet';
import { shapesTextEncoderConfig, shapesTokenizer } from '../lib/methods/text/shapes_text';
import { latentUNetConfig } from '../lib/methods/latent/ldm';
import { GroundingHook } from '../lib/methods/gligen/grounding_hook';
import { gateValues, groundingConfigFor } from '../lib/methods/gligen/model';

/** The text content of every <text> element of an SVG. */
function svgTexts(svg: string): string[] {
  return [...svg.matchAll(/<text[^>]*>([^<]*)<\/text>/g)].map((m) =>
    m[1].replace(/&gt;/g, '>').replace(/&lt;/g, '<').replace(/&amp;/g, '&'),
  );
}

/** What the config says, without the diagram code: side and width per level. */
function expectedLevels(c: UNetConfig): { side: number; channels: number }[] {
  return c.channelMults.map((m, i) => ({ side: c.imageSize / 2 ** i, channels: c.baseChannels * m }));
}

describe('UNet diagram (figure 11)', function () {
  this.timeout(120000);
  before(async () => {
    await tf.setBackend('cpu');
  });

  const models: { dispose(): void }[] = [];
  const build = (c: UNetConfig) => {
    const u = new UNet(c);
    models.push(u);
    return u;
  };
  after(() => models.forEach((m) => m.dispose()));

  for (const [name, cfg] of [
    ['reference', referenceUNetConfig()],
    [
      '4 levels, avg-pool, attention at 8',
      referenceUNetConfig({
        imageSize: 32,
        baseChannels: 16,
        channelMults: [1, 2, 4, 4],
        numResBlocks: 1,
        attentionResolutions: [8],
        downsample: 'avgpool',
      }),
    ],
  ] as const) {
    it(`structure of the ${name} config: every level, side, channel count, block and skip`, () => {
      const u = build(cfg);
      const s = unetStructure(u);
      const exp = expectedLevels(cfg);
      assert.deepStrictEqual(
        s.levels.map((l) => ({ side: l.side, channels: l.channels })),
        exp,
      );
      const L = cfg.channelMults.length;
      s.levels.forEach((l, i) => {
        const downRes = l.down.filter((b) => b.kind === 'res');
        const upRes = l.up.filter((b) => b.kind === 'res');
        assert.strictEqual(downRes.length, cfg.numResBlocks);
        assert.strictEqual(upRes.length, cfg.numResBlocks + 1);
        for (const b of [...downRes, ...upRes]) {
          assert.strictEqual(b.outChannels, exp[i].channels, b.id);
          assert.strictEqual(b.side, exp[i].side, b.id);
        }
        const attn = cfg.attentionResolutions.includes(exp[i].side);
        assert.strictEqual(
          l.down.filter((b) => b.kind === 'attn').length,
          attn ? cfg.numResBlocks : 0,
          `attention at level ${i}`,
        );
        assert.strictEqual(
          l.down.some((b) => b.kind === 'downsample'),
          i < L - 1,
        );
        assert.strictEqual(
          l.up.some((b) => b.kind === 'upsample'),
          i > 0,
        );
        if (i < L - 1) assert.strictEqual(l.down[l.down.length - 1].params === 0, cfg.downsample === 'avgpool');
      });
      // One skip per down-path output: the input conv, every ResBlock and every downsample.
      assert.strictEqual(s.skips.length, 1 + L * cfg.numResBlocks + (L - 1));
      // Each skip joins two blocks at the same resolution.
      const all = [s.convIn, ...s.levels.flatMap((l) => [...l.down, ...l.up])];
      for (const e of s.skips) {
        assert.strictEqual(all.find((b) => b.id === e.from)!.side, e.side, `${e.from} -> ${e.to}`);
        assert.strictEqual(all.find((b) => b.id === e.to)!.side, e.side, `${e.from} -> ${e.to}`);
      }
      assert.strictEqual(s.time.sinusoidDim, cfg.baseChannels);
      assert.strictEqual(s.time.embDim, 4 * cfg.baseChannels);
      // The parts add up to the model's real parameter count.
      assert.strictEqual(
        paramCountsByPart(s).reduce((a, p) => a + p.params, 0),
        countParams(u.params),
      );
      assert.strictEqual(s.totalParams, countParams(u.params));
    });
  }

  it('the SVG names every level side and channel count, and changes with the config', () => {
    const a = unetDiagramSvg(build(referenceUNetConfig()));
    const b = unetDiagramSvg(
      build(
        referenceUNetConfig({
          imageSize: 32,
          baseChannels: 16,
          channelMults: [1, 2, 4],
          numResBlocks: 1,
          attentionResolutions: [8],
        }),
      ),
    );
    const ta = svgTexts(a);
    const tb = svgTexts(b);
    for (const t of ['28×28', '14×14', '7×7', '32 ch', '64 ch'])
      assert.ok(ta.includes(t), `reference diagram lacks '${t}'`);
    assert.ok(
      ta.includes('ResBlock 32→64') && ta.includes('ResBlock 64+32→64'),
      'reference: the width change and a skip concat',
    );
    for (const t of ['32×32', '16×16', '8×8', '16 ch', '32 ch', '64 ch'])
      assert.ok(tb.includes(t), `second diagram lacks '${t}'`);
    assert.ok(!tb.includes('28×28') && !tb.includes('7×7'), 'second diagram still shows the reference sides');
    // Box counts follow the config: 2 vs 1 ResBlocks a level.
    const resBoxes = (t: string[]) => t.filter((x) => x.startsWith('ResBlock')).length;
    assert.strictEqual(resBoxes(ta), 3 * 2 + 3 * 3 + 2);
    assert.strictEqual(resBoxes(tb), 3 * 1 + 3 * 2 + 2);
    assert.notStrictEqual(a, b);
  });

  it('each condition hook shows up where it enters: class with t, concat at the input, context in every attention', () => {
    const base = svgTexts(unetDiagramSvg(build(referenceUNetConfig())));
    const cls = svgTexts(unetDiagramSvg(build(referenceUNetConfig({ numClasses: 10 }))));
    const cat = svgTexts(unetDiagramSvg(build(referenceUNetConfig({ condChannels: 2 }))));
    const ctxModel = build(referenceUNetConfig({ contextDim: 24 }));
    const ctx = svgTexts(unetDiagramSvg(ctxModel));
    assert.ok(!base.includes('t+y') && base.includes('t'));
    assert.ok(cls.includes('+ class y: table 11×128'));
    assert.strictEqual(cls.filter((t) => t === 't+y').length, 17, 'every ResBlock gets the class embedding with t');
    assert.ok(cat.includes('x_t 28×28×1 ⊕ cond 2ch') && cat.includes('conv3×3 3→32'));
    const nAttn =
      unetStructure(ctxModel)
        .levels.flatMap((l) => [...l.down, ...l.up])
        .filter((b) => b.kind === 'attn').length + 1;
    assert.strictEqual(ctx.filter((t) => t === 'ctx').length, nAttn);
    assert.ok(ctx.includes('context [L×24] (text, boxes)'));
    assert.ok(!base.includes('ctx'));
    const vecModel = build(referenceUNetConfig({ vectorDim: 16 }));
    const vec = svgTexts(unetDiagramSvg(vecModel));
    assert.ok(vec.includes('+ vector v: linear 16 → 128'));
    assert.strictEqual(vec.filter((t) => t === 't+v').length, 17, 'every ResBlock gets the vector with t');
    assert.strictEqual(
      paramCountsByPart(unetStructure(vecModel)).reduce((a, p) => a + p.params, 0),
      countParams(vecModel.params),
    );
  });

  it('GLIGEN (figure 28): a gated layer drawn after every attention block, the grounding MLP in the header', async () => {
    const text = shapesTextEncoderConfig(shapesTokenizer(), { width: 16, layers: 1, heads: 2 });
    const cfg = latentUNetConfig({ baseChannels: 16, groups: 4, attentionHeads: 2, text });
    const plain = new TextUNet(cfg, { seed: 1 });
    const grounded = new TextUNet(cfg, { seed: 1, hook: new GroundingHook(groundingConfigFor(cfg, 12)) });
    models.push(plain, grounded);
    const s = unetStructure(grounded);
    const blocks = [...s.levels.flatMap((l) => [...l.down, ...l.up]), ...s.mid];
    const attn = blocks.filter((b) => b.kind === 'attn');
    const gated = blocks.filter((b) => b.kind === 'gated');
    // One per attention block, right after it, with its width; the skips leave from the gated layer's output.
    assert.strictEqual(gated.length, attn.length);
    assert.deepStrictEqual(
      gated.map((b) => b.id).sort(),
      Object.keys(await gateValues(grounded))
        .map((k) => k.replace('attn', 'gligen.attn'))
        .sort(),
    );
    for (const list of [...s.levels.flatMap((l) => [l.down, l.up]), s.mid])
      list.forEach((b, i) => {
        if (b.kind === 'gated') {
          assert.strictEqual(list[i - 1].kind, 'attn', `${b.id} follows ${list[i - 1].id}`);
          assert.strictEqual(b.outChannels, list[i - 1].outChannels, b.id);
        }
      });
    assert.ok(
      s.skips.some((e) => e.from.includes('gligen')),
      'a down-path skip leaves from a gated layer',
    );
    assert.deepStrictEqual(s.grounding && { i: s.grounding.inputDim, t: s.grounding.tokenDim }, {
      i: groundingConfigFor(cfg, 12).inputDim,
      t: 12,
    });
    assert.strictEqual(
      paramCountsByPart(s).reduce((a, p) => a + p.params, 0),
      countParams(grounded.params),
    );
    const tg = svgTexts(unetDiagramSvg(s));
    const tp = svgTexts(unetDiagramSvg(plain));
    const mid = s.mid.some((b) => b.kind === 'gated') ? 1 : 0;
    assert.strictEqual(tg.filter((t) => t === 'gated SA').length, gated.length - mid);
    assert.strictEqual(tg.filter((t) => t === 'gated self-attn').length, mid);
    assert.strictEqual(tg.filter((t) => t === 'hᵉ').length, gated.length);
    assert.ok(tg.includes(`grounding hᵉ = MLP([Fourier(box), phrase]) ${s.grounding!.inputDim}→12`));
    assert.ok(!tp.some((t) => t.includes('gated') || t.includes('hᵉ')), 'the frozen base alone has no gated layers');
    assert.strictEqual(unetStructure(plain).grounding, null);
  });

  it('reads the weights, not the config: a missing or reshaped parameter is reported', () => {
    const u = build(referenceUNetConfig());
    const v = u.params.get('up.1.res.0.conv1.weight')!;
    u.params.delete('up.1.res.0.conv1.weight');
    assert.throws(() => unetStructure(u), /up\.1\.res\.0\.conv1\.weight/);
    // A wrong input width (as if the skip wiring had changed) fails the concat check.
    u.params.set('up.1.res.0.conv1.weight', tf.variable(tf.zeros([3, 3, 96, 64])));
    assert.throws(() => unetStructure(u), /takes 96 channels, but 64 \+ skip 64/);
    u.params.get('up.1.res.0.conv1.weight')!.dispose();
    u.params.set('up.1.res.0.conv1.weight', v);
  });
});
