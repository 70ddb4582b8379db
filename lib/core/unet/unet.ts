// The denoising UNet: input conv, a down path of ResBlocks (+ attention at chosen resolutions) that
// halves the side each level, a bottleneck, and an up path that doubles it back while concatenating
// the down path's activations (skips). Time enters every ResBlock; class, concatenated images and a
// context sequence are the optional condition hooks used by the guidance and text lessons.
import * as tf from '@tensorflow/tfjs-core';
import { countParams, disposeParams, ParamMap, ParamStore } from '../params';
import { Rng } from '../random';
import { AttentionBlock } from './attention';
import { resolveUNetConfig, UNetConfig, UNetConfigInput } from './config';
import { GroupNorm } from './group_norm';
import { Conv2d, Linear, silu } from './layers';
import { ResBlock } from './resblock';
import { TimeEmbedding } from './time_embedding';
import { TextTransformer } from '../../methods/text/text_transformer';
import { EncodedBatch } from '../../methods/text/tokenizer';
import { GatedSelfAttention, GroundingTokenizer } from '../../methods/gligen/gated_self_attention';

export interface UNetCondition {
  /** Class ids in [0, numClasses]; numClasses is the null class. Omitted: all null (unconditional). */
  classLabels?: number[] | Int32Array | tf.Tensor1D;
  /** [B, H, W, condChannels] concatenated to the input (required iff config.condChannels). */
  concat?: tf.Tensor4D;
  /** [B, L, contextDim] for cross-attention (required iff config.contextDim). */
  context?: tf.Tensor3D;
  /** [B, L]: 1 for real tokens, 0 for padding. */
  contextMask?: tf.Tensor2D;
  /** Captions (or their tokens) for a UNet built with a text encoder (config.text); '' is "no text". */
  text?: readonly string[] | EncodedBatch;
  /** [B, vectorDim], added to the time embedding through a learned projection (required iff config.vectorDim). */
  vector?: tf.Tensor2D;
}

/** A condition with GLIGEN's grounding tokens (for a UNet built with config.grounding). */
export interface GroundedCondition extends UNetCondition {
  /** Grounding inputs [B, G, grounding.inputDim]; omitted: the gated layers are skipped. */
  grounding?: tf.Tensor3D;
  /** [B, G]: 1 for real objects, 0 for padding (required with cond.grounding). */
  groundingMask?: tf.Tensor2D;
}

interface Level {
  res: ResBlock[];
  attn: (AttentionBlock | null)[];
  /** GLIGEN's gated layer after each attention block (config.grounding), else null. */
  gated: (GatedSelfAttention | null)[];
  resample: Conv2d | null;
}

export class UNet {
  readonly config: UNetConfig;
  readonly params: ParamMap;
  readonly tembDim: number;
  private readonly time: TimeEmbedding;
  private readonly classEmb: tf.Variable | null;
  /** The jointly trained text encoder and the projection of its pooled vector into the time embedding. */
  readonly text: TextTransformer | null;
  private readonly textToTime: Linear | null;
  /** The projection of cond.vector into the time embedding (config.vectorDim). */
  private readonly vectorToTime: Linear | null;
  private readonly convIn: Conv2d;
  private readonly down: Level[] = [];
  private readonly mid: { res1: ResBlock; attn: AttentionBlock | null; gated: GatedSelfAttention | null; res2: ResBlock };
  /** GLIGEN's grounding MLP (config.grounding), 'gligen.tokenizer.*'; the gated layers are '<level>.gligen.attn.<j>.*'. */
  readonly groundingTokenizer: GroundingTokenizer | null;
  private readonly up: Level[] = [];
  private readonly normOut: GroupNorm;
  private readonly convOut: Conv2d;

  /** Builds the network; the weights are drawn from `rng` (or `new Rng(seed)`, seed 0 by default). */
  constructor(config: UNetConfigInput, init: { rng?: Rng; seed?: number } = {}) {
    const c = (this.config = resolveUNetConfig(config));
    const store = new ParamStore(init.rng ?? new Rng(init.seed ?? 0));
    this.params = store.params;
    const base = c.baseChannels;
    const temb = (this.tembDim = 4 * base);
    const L = c.channelMults.length;
    const attnAt = (side: number) => c.attentionResolutions.includes(side);
    const attention = (name: string, ch: number) => new AttentionBlock(store, name, ch, c.attentionHeads, c.groups, c.contextDim);
    // Named '<level>.gligen.attn.<j>' next to '<level>.attn.<j>': the base model's names (and
    // checkpoints) are unchanged, and every GLIGEN parameter has a 'gligen' path segment.
    const gated = (name: string, ch: number) => (c.grounding ? store.scope('gligen', () => new GatedSelfAttention(store, name, ch, c.grounding!.tokenDim, c.attentionHeads, c.groups)) : null);

    this.time = new TimeEmbedding(store, 'time', base, temb);
    this.classEmb = c.numClasses === undefined ? null : store.normal('classEmb.weight', [c.numClasses + 1, temb], 1);
    [this.text, this.textToTime] = c.text === undefined ? [null, null] : [store.scope('text', () => new TextTransformer(store, c.text!)), new Linear(store, 'textToTime', c.text.width, temb)];
    this.vectorToTime = c.vectorDim === undefined ? null : new Linear(store, 'vectorToTime', c.vectorDim, temb);
    this.convIn = new Conv2d(store, 'convIn', c.inChannels + (c.condChannels ?? 0) + (c.positionChannels ? 2 : 0), base, 3);

    const skips: number[] = [base];
    let ch = base;
    let side = c.imageSize;
    for (let i = 0; i < L; i++) {
      const w = base * c.channelMults[i];
      const level: Level = { res: [], attn: [], gated: [], resample: null };
      store.scope(`down.${i}`, () => {
        for (let j = 0; j < c.numResBlocks; j++) {
          level.res.push(new ResBlock(store, `res.${j}`, ch, w, temb, c.groups));
          ch = w;
          level.attn.push(attnAt(side) ? attention(`attn.${j}`, ch) : null);
          level.gated.push(attnAt(side) ? gated(`attn.${j}`, ch) : null);
          skips.push(ch);
        }
        if (i < L - 1) {
          level.resample = c.downsample === 'conv' ? new Conv2d(store, 'down', ch, ch, 3, 2) : null;
          skips.push(ch);
          side /= 2;
        }
      });
      this.down.push(level);
    }
    this.mid = store.scope('mid', () => ({
      res1: new ResBlock(store, 'res1', ch, ch, temb, c.groups),
      attn: c.midAttention ? attention('attn', ch) : null,
      gated: c.midAttention ? gated('attn', ch) : null,
      res2: new ResBlock(store, 'res2', ch, ch, temb, c.groups),
    }));
    for (let i = L - 1; i >= 0; i--) {
      const w = base * c.channelMults[i];
      const level: Level = { res: [], attn: [], gated: [], resample: null };
      store.scope(`up.${i}`, () => {
        for (let j = 0; j <= c.numResBlocks; j++) {
          level.res.push(new ResBlock(store, `res.${j}`, ch + skips.pop()!, w, temb, c.groups));
          ch = w;
          level.attn.push(attnAt(side) ? attention(`attn.${j}`, ch) : null);
          level.gated.push(attnAt(side) ? gated(`attn.${j}`, ch) : null);
        }
        if (i > 0) {
          level.resample = new Conv2d(store, 'up', ch, ch, 3);
          side *= 2;
        }
      });
      this.up.push(level);
    }
    this.groundingTokenizer = c.grounding ? store.scope('gligen', () => new GroundingTokenizer(store, 'tokenizer', c.grounding!)) : null;
    this.normOut = new GroupNorm(store, 'normOut', c.groups, ch);
    this.convOut = new Conv2d(store, 'convOut', ch, c.outChannels, 3);
  }

  get paramCount(): number {
    return countParams(this.params);
  }

  /** x [B, S, S, inChannels], t [B] timesteps (integers 0..T-1, as numbers or a tensor) -> [B, S, S, outChannels]. */
  apply(x: tf.Tensor4D, t: tf.Tensor1D | number[] | Float32Array | Int32Array, cond: GroundedCondition = {}): tf.Tensor4D {
    const c = this.config;
    const [b, h, w, ch] = x.shape;
    if (x.rank !== 4) throw new Error(`UNet: x must be [B, H, W, C], got shape [${x.shape}]`);
    if (h !== c.imageSize || w !== c.imageSize) throw new Error(`UNet: expected ${c.imageSize}x${c.imageSize} images, got ${h}x${w}`);
    if (ch !== c.inChannels) throw new Error(`UNet: expected ${c.inChannels} input channels, got ${ch}`);
    const tLen = t instanceof tf.Tensor ? t.shape[0] : t.length;
    if (tLen !== b) throw new Error(`UNet: ${tLen} timesteps for a batch of ${b}`);
    if (c.condChannels !== undefined) {
      const k = cond.concat;
      if (!k) throw new Error(`UNet: built with condChannels=${c.condChannels}, pass cond.concat [B, ${h}, ${w}, ${c.condChannels}]`);
      if (k.shape[0] !== b || k.shape[1] !== h || k.shape[2] !== w || k.shape[3] !== c.condChannels) {
        throw new Error(`UNet: cond.concat must be [${b}, ${h}, ${w}, ${c.condChannels}], got [${k.shape}]`);
      }
    } else if (cond.concat) {
      throw new Error('UNet: cond.concat given but the config has no condChannels');
    }
    if (cond.context && c.contextDim === undefined) throw new Error('UNet: cond.context given but the config has no contextDim');
    if (this.text) {
      if (cond.text === undefined) throw new Error("UNet: built with a text encoder (config.text): pass cond.text, captions ('' for none)");
      if (cond.context) throw new Error('UNet: built with a text encoder, which makes the context itself: pass cond.text, not cond.context');
      const n = Array.isArray(cond.text) ? cond.text.length : (cond.text as EncodedBatch).batch;
      if (n !== b) throw new Error(`UNet: ${n} captions for a batch of ${b}`);
    } else if (cond.text !== undefined) {
      throw new Error('UNet: cond.text given but the config has no text encoder');
    } else if (c.contextDim !== undefined && !cond.context) {
      throw new Error(`UNet: built with contextDim=${c.contextDim}, pass cond.context [B, L, ${c.contextDim}]`);
    }
    if (c.vectorDim !== undefined) {
      const v = cond.vector;
      if (!v || v.rank !== 2 || v.shape[0] !== b || v.shape[1] !== c.vectorDim) throw new Error(`UNet: built with vectorDim=${c.vectorDim}, pass cond.vector [${b}, ${c.vectorDim}], got ${v ? `[${v.shape}]` : 'none'}`);
    } else if (cond.vector) {
      throw new Error('UNet: cond.vector given but the config has no vectorDim');
    }
    if (cond.classLabels !== undefined && !this.classEmb) throw new Error('UNet: cond.classLabels given but the config has no numClasses');
    if (cond.grounding !== undefined) {
      if (!c.grounding) throw new Error('UNet: cond.grounding given but the config has no grounding');
      const g = cond.grounding;
      if (g.rank !== 3 || g.shape[0] !== b || g.shape[2] !== c.grounding.inputDim) throw new Error(`UNet: cond.grounding must be [${b}, G, ${c.grounding.inputDim}], got [${g.shape}]`);
      const m = cond.groundingMask;
      if (!m || m.rank !== 2 || m.shape[0] !== b || m.shape[1] !== g.shape[1]) throw new Error(`UNet: cond.groundingMask must be [${b}, ${g.shape[1]}] with cond.grounding, got ${m ? `[${m.shape}]` : 'none'}`);
    }

    return tf.tidy(() => {
      const tt = t instanceof tf.Tensor ? tf.cast(t, 'float32') : tf.tensor1d(Float32Array.from(t));
      let emb: tf.Tensor2D = this.time.apply(tt as tf.Tensor1D);
      if (this.classEmb) emb = tf.add(emb, this.classEmbedding(cond.classLabels, b));
      if (this.vectorToTime) emb = tf.add(emb, this.vectorToTime.apply(cond.vector!));
      let ctx = cond.context;
      let mask = cond.contextMask;
      if (this.text) {
        const enc = this.text.apply(cond.text!);
        ctx = enc.tokens;
        mask = enc.mask;
        emb = tf.add(emb, this.textToTime!.apply(enc.pooled));
      }
      const e = silu(emb);
      // GLIGEN: grounding tokens once per pass; without them the gated layers are skipped.
      const gTokens = this.groundingTokenizer && cond.grounding ? this.groundingTokenizer.apply(cond.grounding) : null;
      const gate = (layer: GatedSelfAttention | null, v: tf.Tensor4D) => (layer && gTokens ? layer.apply(v, gTokens, cond.groundingMask!) : v);

      const inputs = [x, ...(cond.concat ? [cond.concat] : []), ...(c.positionChannels ? [positionGrid(b, h)] : [])];
      let hcur = this.convIn.apply(inputs.length > 1 ? tf.concat(inputs, 3) : x);
      const hs: tf.Tensor4D[] = [hcur];
      this.down.forEach((level, i) => {
        level.res.forEach((rb, j) => {
          hcur = rb.apply(hcur, e);
          const a = level.attn[j];
          if (a) hcur = gate(level.gated[j], a.apply(hcur, ctx, mask));
          hs.push(hcur);
        });
        if (i < this.down.length - 1) {
          hcur = level.resample ? level.resample.apply(hcur) : (tf.avgPool(hcur, 2, 2, 'valid') as tf.Tensor4D);
          hs.push(hcur);
        }
      });
      hcur = this.mid.res1.apply(hcur, e);
      if (this.mid.attn) hcur = gate(this.mid.gated, this.mid.attn.apply(hcur, ctx, mask));
      hcur = this.mid.res2.apply(hcur, e);
      for (const level of this.up) {
        level.res.forEach((rb, j) => {
          hcur = rb.apply(tf.concat([hcur, hs.pop()!], 3), e);
          const a = level.attn[j];
          if (a) hcur = gate(level.gated[j], a.apply(hcur, ctx, mask));
        });
        if (level.resample) {
          const [, hh, ww] = hcur.shape;
          hcur = level.resample.apply(tf.image.resizeNearestNeighbor(hcur, [2 * hh, 2 * ww]));
        }
      }
      return this.convOut.apply(this.normOut.apply(hcur, true));
    });
  }

  /** Rows of the class table via a one-hot matmul (its gradient needs no scatter kernel, which wasm lacks). */
  private classEmbedding(labels: UNetCondition['classLabels'], batch: number): tf.Tensor2D {
    const n = this.config.numClasses!;
    const ids = labels === undefined ? new Array<number>(batch).fill(n) : labels instanceof tf.Tensor ? Array.from(labels.dataSync()) : Array.from(labels);
    if (ids.length !== batch) throw new Error(`UNet: ${ids.length} class labels for a batch of ${batch}`);
    for (const y of ids) {
      if (!Number.isInteger(y) || y < 0 || y > n) throw new Error(`UNet: class label ${y} outside [0, ${n}] (${n} is the null class)`);
    }
    return tf.matMul(tf.oneHot(tf.tensor1d(ids, 'int32'), n + 1), this.classEmb!) as tf.Tensor2D;
  }

  dispose(): void {
    disposeParams(this.params);
  }
}

/** [B, S, S, 2]: x (left -1 .. right 1) and y (top -1 .. bottom 1) of each pixel centre. */
export function positionGrid(batch: number, side: number): tf.Tensor4D {
  const g = new Float32Array(side * side * 2);
  for (let y = 0; y < side; y++) {
    for (let x = 0; x < side; x++) {
      g[(y * side + x) * 2] = ((2 * x + 1) / side) - 1;
      g[(y * side + x) * 2 + 1] = ((2 * y + 1) / side) - 1;
    }
  }
  return tf.tile(tf.tensor4d(g, [1, side, side, 2]), [batch, 1, 1, 1]) as tf.Tensor4D;
}

export { UNetConfig, UNetConfigInput, referenceUNetConfig, resolveUNetConfig } from './config';
