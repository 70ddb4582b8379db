// The denoising UNet: input conv, a down path of ResBlocks (+ attention at chosen resolutions) that
// halves the side each level, a bottleneck, and an up path that doubles it back while concatenating
// the down path's activations (skips). Time enters every ResBlock.
//
// It knows generic conditions only (class labels, concatenated images, a context sequence to
// cross-attend to, a vector and a ready-made addition to the time embedding), checked against one
// table (FIELDS), plus one hook for layers after its attention blocks (hook.ts). Methods build on it
// without it knowing them, as glide-text2im's base UNet knows only `encoder_channels`: a text UNet
// (lib/methods/text/text_unet.ts) encodes captions and passes context + timeEmbedding; GLIGEN
// (lib/methods/gligen) adds its gated layers through the hook.
import * as tf from '@tensorflow/tfjs-core';
import { Condition, conditionFields } from '../condition';
import { countParams, disposeParams, ParamMap, ParamStore } from '../params';
import { Rng } from '../random';
import { AttentionBlock } from './attention';
import { resolveUNetConfig, UNetConfig, UNetConfigInput } from './config';
import { Denoiser, Timesteps } from './denoiser';
import { GroupNorm } from './group_norm';
import { AttentionHook, AttentionHookLayer } from './hook';
import { Conv2d, Linear, silu } from './layers';
import { ResBlock } from './resblock';
import { TimeEmbedding } from './time_embedding';
import { checkTimesteps } from '../schedule';

/** The core UNet's condition fields (its hook, if any, reads more). */
export type UNetCondition = {
  /** Class ids in [0, numClasses]; numClasses is the null class. Omitted: all null (unconditional). */
  classLabels?: readonly number[] | Int32Array | tf.Tensor1D;
  /** [B, H, W, condChannels] concatenated to the input (required iff config.condChannels). */
  concat?: tf.Tensor4D;
  /** [B, L, contextDim] for cross-attention (required iff config.contextDim). */
  context?: tf.Tensor3D;
  /** [B, L]: 1 for real tokens, 0 for padding. */
  contextMask?: tf.Tensor2D;
  /** [B, vectorDim], added to the time embedding through a learned projection (required iff config.vectorDim). */
  vector?: tf.Tensor2D;
  /** [B, tembDim] added to the time embedding as is: a wrapper's own projection of its condition. */
  timeEmbedding?: tf.Tensor2D;
};

/** One row of the condition table: when the config asks for the field, and the shape it must have. */
interface FieldRule {
  /** The config field that turns the condition on (named in errors); null: every UNet takes it. */
  config: keyof UNetConfig | null;
  need(c: UNetConfig): 'required' | 'optional' | 'forbidden';
  /** For a batch of b: numbers are exact sizes, strings name a free axis. */
  shape(c: UNetConfig, b: number, cond: UNetCondition, tembDim: number): (number | string)[];
  /** One id per image, as an array or a 1-D tensor (class labels); other fields are tensors. */
  ids?: true;
}

const onlyWith = (key: keyof UNetConfig, need: 'required' | 'optional') => (c: UNetConfig) =>
  c[key] === undefined ? 'forbidden' : need;

// The typed key set makes the compiler check that every UNetCondition field has exactly one rule.
const FIELDS: { readonly [K in keyof Required<UNetCondition>]: FieldRule } = {
  classLabels: { config: 'numClasses', need: onlyWith('numClasses', 'optional'), shape: (_, b) => [b], ids: true },
  concat: {
    config: 'condChannels',
    need: onlyWith('condChannels', 'required'),
    shape: (c, b) => [b, c.imageSize, c.imageSize, c.condChannels!],
  },
  context: { config: 'contextDim', need: onlyWith('contextDim', 'required'), shape: (c, b) => [b, 'L', c.contextDim!] },
  contextMask: {
    config: 'contextDim',
    need: onlyWith('contextDim', 'optional'),
    shape: (_, b, cond) => [b, cond.context?.shape[1] ?? 'L'],
  },
  vector: { config: 'vectorDim', need: onlyWith('vectorDim', 'required'), shape: (c, b) => [b, c.vectorDim!] },
  timeEmbedding: { config: null, need: () => 'optional', shape: (_, b, __, temb) => [b, temb] },
};
const CORE_FIELDS = Object.keys(FIELDS);

interface Level {
  res: ResBlock[];
  attn: (AttentionBlock | null)[];
  /** The hook's layer after each block (see hook.ts: attention blocks only unless everyBlock), else null. */
  hooked: (AttentionHookLayer<unknown> | null)[];
  resample: Conv2d | null;
}

export interface UNetInit {
  /** Draws the weights (default new Rng(seed), seed 0 by default). */
  rng?: Rng;
  seed?: number;
  /** An existing store to create the parameters in (a wrapper's, so all its parameters share one map); its rng draws them. */
  store?: ParamStore;
  /** Layers after every attention block (GLIGEN's) or every block (lesson 17's), built at fixed points; see hook.ts. */
  hook?: AttentionHook;
}

export class UNet implements Denoiser<UNetCondition> {
  readonly config: UNetConfig;
  /** Every parameter of the store it was built in (a wrapper's too, when it was given one). */
  readonly params: ParamMap;
  readonly tembDim: number;
  readonly hook: AttentionHook | null;
  private readonly hookShared: unknown;
  private readonly time: TimeEmbedding;
  private readonly classEmb: tf.Variable | null;
  /** The projection of cond.vector into the time embedding (config.vectorDim). */
  private readonly vectorToTime: Linear | null;
  private readonly convIn: Conv2d;
  private readonly down: Level[] = [];
  private readonly mid: {
    res1: ResBlock;
    attn: AttentionBlock | null;
    hooked: AttentionHookLayer<unknown> | null;
    res2: ResBlock;
  };
  private readonly up: Level[] = [];
  private readonly normOut: GroupNorm;
  private readonly convOut: Conv2d;

  /** Builds the network; the weights are drawn from `init.store`'s rng, `init.rng` or `new Rng(init.seed ?? 0)`. */
  constructor(config: UNetConfigInput, init: UNetInit = {}) {
    const c = (this.config = resolveUNetConfig(config));
    if (init.store && (init.rng || init.seed !== undefined))
      throw new Error('UNet: pass either a store (whose rng draws the weights) or rng/seed, not both');
    const store = init.store ?? new ParamStore(init.rng ?? new Rng(init.seed ?? 0));
    const hook = (this.hook = init.hook ?? null);
    this.params = store.params;
    const base = c.baseChannels;
    const temb = (this.tembDim = 4 * base);
    const L = c.channelMults.length;
    const attnAt = (side: number) => c.attentionResolutions.includes(side);
    const attention = (name: string, ch: number) =>
      new AttentionBlock(store, name, ch, c.attentionHeads, c.groups, c.contextDim);
    // Built right after its attention block, in the same scope: the hook names its parameters next
    // to the block's, and the creation order (hence the seeded weights) is fixed by the core.
    const hookLayer = (name: string, ch: number) => (hook ? hook.buildLayer(store, name, ch, c) : null);
    const hookAt = (j: number | null, attn: boolean, ch: number) => {
      if (!attn && !hook?.everyBlock) return null;
      return hookLayer(j === null ? (attn ? 'attn' : 'res1') : `${attn ? 'attn' : 'res'}.${j}`, ch);
    };

    this.time = new TimeEmbedding(store, 'time', base, temb);
    this.classEmb = c.numClasses === undefined ? null : store.normal('classEmb.weight', [c.numClasses + 1, temb], 1);
    this.vectorToTime = c.vectorDim === undefined ? null : new Linear(store, 'vectorToTime', c.vectorDim, temb);
    this.convIn = new Conv2d(
      store,
      'convIn',
      c.inChannels + (c.condChannels ?? 0) + (c.positionChannels ? 2 : 0),
      base,
      3,
    );

    const skips: number[] = [base];
    let ch = base;
    let side = c.imageSize;
    for (let i = 0; i < L; i++) {
      const w = base * c.channelMults[i];
      const level: Level = { res: [], attn: [], hooked: [], resample: null };
      store.scope(`down.${i}`, () => {
        for (let j = 0; j < c.numResBlocks; j++) {
          level.res.push(new ResBlock(store, `res.${j}`, ch, w, temb, c.groups));
          ch = w;
          level.attn.push(attnAt(side) ? attention(`attn.${j}`, ch) : null);
          level.hooked.push(hookAt(j, attnAt(side), ch));
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
      hooked: hookAt(null, c.midAttention, ch),
      res2: new ResBlock(store, 'res2', ch, ch, temb, c.groups),
    }));
    for (let i = L - 1; i >= 0; i--) {
      const w = base * c.channelMults[i];
      const level: Level = { res: [], attn: [], hooked: [], resample: null };
      store.scope(`up.${i}`, () => {
        for (let j = 0; j <= c.numResBlocks; j++) {
          level.res.push(new ResBlock(store, `res.${j}`, ch + skips.pop()!, w, temb, c.groups));
          ch = w;
          level.attn.push(attnAt(side) ? attention(`attn.${j}`, ch) : null);
          level.hooked.push(hookAt(j, attnAt(side), ch));
        }
        if (i > 0) {
          level.resample = new Conv2d(store, 'up', ch, ch, 3);
          side *= 2;
        }
      });
      this.up.push(level);
    }
    this.hookShared = hook ? hook.buildShared(store, c) : null;
    this.normOut = new GroupNorm(store, 'normOut', c.groups, ch);
    this.convOut = new Conv2d(store, 'convOut', ch, c.outChannels, 3);
  }

  get paramCount(): number {
    return countParams(this.params);
  }

  /**
   * x [B, S, S, inChannels], t [B] timesteps (integers 0..T-1, as numbers or a tensor) -> [B, S, S, outChannels].
   * cond holds the core fields (UNetCondition) and those the hook reads; any other field is an error.
   */
  apply(x: tf.Tensor4D, t: Timesteps, cond: UNetCondition & Condition = {}): tf.Tensor4D {
    const c = this.config;
    const [b, h, w, ch] = x.shape;
    if (x.rank !== 4) throw new Error(`UNet: x must be [B, H, W, C], got shape [${x.shape}]`);
    if (h !== c.imageSize || w !== c.imageSize)
      throw new Error(`UNet: expected ${c.imageSize}x${c.imageSize} images, got ${h}x${w}`);
    if (ch !== c.inChannels) throw new Error(`UNet: expected ${c.inChannels} input channels, got ${ch}`);
    const tLen = t instanceof tf.Tensor ? t.shape[0] : t.length;
    if (tLen !== b) throw new Error(`UNet: ${tLen} timesteps for a batch of ${b}`);
    // JS numbers are checked here (no read); a tensor must be int32, so at least it holds integers. The
    // upper bound T - 1 belongs to the schedule: the samplers check their plans against it, qSample its t.
    if (t instanceof tf.Tensor) {
      if (t.dtype !== 'int32') throw new Error(`UNet: a timesteps tensor must be int32, got ${t.dtype}`);
    } else checkTimesteps('UNet', t);
    this.checkCondition(cond, b);

    return tf.tidy(() => {
      const tt = t instanceof tf.Tensor ? tf.cast(t, 'float32') : tf.tensor1d(Float32Array.from(t));
      let emb: tf.Tensor2D = this.time.apply(tt as tf.Tensor1D);
      if (this.classEmb) emb = tf.add(emb, this.classEmbedding(cond.classLabels, b));
      if (cond.timeEmbedding) emb = tf.add(emb, cond.timeEmbedding);
      if (this.vectorToTime) emb = tf.add(emb, this.vectorToTime.apply(cond.vector!));
      const e = silu(emb);
      const ctx = cond.context;
      const mask = cond.contextMask;
      // The hook's state once per pass; null: its layers are skipped.
      const state = this.hook ? this.hook.state(cond, this.hookShared) : null;
      const after = (layer: AttentionHookLayer<unknown> | null, v: tf.Tensor4D) =>
        layer && state !== null ? layer.apply(v, state) : v;

      const inputs = [x, ...(cond.concat ? [cond.concat] : []), ...(c.positionChannels ? [positionGrid(b, h)] : [])];
      let hcur = this.convIn.apply(inputs.length > 1 ? tf.concat(inputs, 3) : x);
      const hs: tf.Tensor4D[] = [hcur];
      this.down.forEach((level, i) => {
        level.res.forEach((rb, j) => {
          hcur = rb.apply(hcur, e);
          const a = level.attn[j];
          hcur = after(level.hooked[j], a ? a.apply(hcur, ctx, mask) : hcur);
          hs.push(hcur);
        });
        if (i < this.down.length - 1) {
          hcur = level.resample ? level.resample.apply(hcur) : (tf.avgPool(hcur, 2, 2, 'valid') as tf.Tensor4D);
          hs.push(hcur);
        }
      });
      hcur = this.mid.res1.apply(hcur, e);
      hcur = after(this.mid.hooked, this.mid.attn ? this.mid.attn.apply(hcur, ctx, mask) : hcur);
      hcur = this.mid.res2.apply(hcur, e);
      for (const level of this.up) {
        level.res.forEach((rb, j) => {
          hcur = rb.apply(tf.concat([hcur, hs.pop()!], 3), e);
          const a = level.attn[j];
          hcur = after(level.hooked[j], a ? a.apply(hcur, ctx, mask) : hcur);
        });
        if (level.resample) {
          const [, hh, ww] = hcur.shape;
          hcur = level.resample.apply(tf.image.resizeNearestNeighbor(hcur, [2 * hh, 2 * ww]));
        }
      }
      return this.convOut.apply(this.normOut.apply(hcur, true));
    });
  }

  /** Every present field against FIELDS (and the hook's check); the first problem is an error naming the field and its expected shape. */
  private checkCondition(cond: UNetCondition & Condition, b: number): void {
    const c = this.config;
    const hook = this.hook;
    for (const k of conditionFields(cond)) {
      if (CORE_FIELDS.includes(k) || hook?.fields.includes(k)) continue;
      const reads = `it reads ${CORE_FIELDS.join(', ')}${hook ? `; its ${hook.name} hook reads ${hook.fields.join(', ')}` : ''}`;
      throw new Error(`UNet: condition field '${k}' is not read by this model (${reads})`);
    }
    for (const [k, rule] of Object.entries(FIELDS) as [keyof UNetCondition, FieldRule][]) {
      const v = cond[k];
      const need = rule.need(c);
      if (v !== undefined && need === 'forbidden')
        throw new Error(`UNet: cond.${k} given but the config has no ${rule.config}`);
      if (v === undefined && need !== 'required') continue;
      const want = rule.shape(c, b, cond, this.tembDim);
      const got =
        v === undefined ? null : v instanceof tf.Tensor ? v.shape : rule.ids && isIdList(v) ? [v.length] : null;
      if (got && got.length === want.length && want.every((d, i) => typeof d === 'string' || d === got[i])) continue;
      const built = rule.config ? `built with ${rule.config}=${String(c[rule.config])}, ` : '';
      const gotText = v === undefined ? 'none' : got ? `[${got}]` : `a ${typeof v}`;
      throw new Error(
        `UNet: ${built}pass cond.${k} [${want.join(', ')}]${rule.ids ? ' (one id per image)' : ''}, got ${gotText}`,
      );
    }
    hook?.check(cond, b);
  }

  /** Rows of the class table via a one-hot matmul (its gradient needs no scatter kernel, which wasm lacks). */
  private classEmbedding(labels: UNetCondition['classLabels'], batch: number): tf.Tensor2D {
    const n = this.config.numClasses!;
    if (labels instanceof tf.Tensor) {
      // A label tensor stays on the device (webgpu has no synchronous read): its length is checked here,
      // its values are not (an id outside [0, n] gives a zero row); JS arrays are checked below.
      if (labels.size !== batch) throw new Error(`UNet: ${labels.size} class labels for a batch of ${batch}`);
      return tf.tidy(() => tf.matMul(tf.oneHot(tf.cast(tf.reshape(labels, [-1]), 'int32'), n + 1), this.classEmb!));
    }
    const ids = labels === undefined ? new Array<number>(batch).fill(n) : Array.from(labels);
    if (ids.length !== batch) throw new Error(`UNet: ${ids.length} class labels for a batch of ${batch}`);
    for (const y of ids) {
      if (!Number.isInteger(y) || y < 0 || y > n)
        throw new Error(`UNet: class label ${y} outside [0, ${n}] (${n} is the null class)`);
    }
    return tf.matMul(tf.oneHot(tf.tensor1d(ids, 'int32'), n + 1), this.classEmb!) as tf.Tensor2D;
  }

  /** The same architecture (and hook) with fresh weights from seed 0. */
  emptyCopy(): UNet {
    return new UNet(this.config, { hook: this.hook ?? undefined });
  }

  /** Disposes every parameter of its store (a wrapper's too, when built in the wrapper's store). */
  dispose(): void {
    disposeParams(this.params);
  }
}

function isIdList(v: unknown): v is readonly unknown[] | Int32Array | Float32Array {
  return Array.isArray(v) || v instanceof Int32Array || v instanceof Float32Array;
}

/** [B, S, S, 2]: x (left -1 .. right 1) and y (top -1 .. bottom 1) of each pixel centre. */
export function positionGrid(batch: number, side: number): tf.Tensor4D {
  const g = new Float32Array(side * side * 2);
  for (let y = 0; y < side; y++) {
    for (let x = 0; x < side; x++) {
      g[(y * side + x) * 2] = (2 * x + 1) / side - 1;
      g[(y * side + x) * 2 + 1] = (2 * y + 1) / side - 1;
    }
  }
  return tf.tile(tf.tensor4d(g, [1, side, side, 2]), [batch, 1, 1, 1]) as tf.Tensor4D;
}

export { UNetConfig, UNetConfigInput, referenceUNetConfig, resolveUNetConfig } from './config';
export type { AttentionHook, AttentionHookLayer } from './hook';
export type { Denoiser, Timesteps } from './denoiser';
