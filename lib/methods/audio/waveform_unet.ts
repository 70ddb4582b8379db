// The road the lesson did not take, built so it can be measured: a class-conditional 1-D UNet that
// denoises the raw waveform (3,968 samples) instead of the 32x32 spectrogram (1,024 values).
//
// Made of the core's blocks where they fit a 1-D signal unchanged: the time embedding, GroupNorm (with
// its native kernels), Linear and the bottleneck's AttentionBlock all take a [B, 1, L, C] map, "an image
// one pixel high". Only the convolutions are new: the core's Conv2d has square k x k kernels, which on
// a map one pixel high would multiply k - 1 of every k rows by zero padding (k times the weights and
// FLOPs for nothing). Conv1d below is a conv2d with a [1, k] kernel and explicit padding along the
// time axis only; tf.conv1d is the same conv2d underneath, so nothing is lost, and the activations stay
// 4-D for the core's norm and attention (no reshape per block).
//
// Why it needs more than the 2-D model: a waveform must resolve one pitch period (C4 = 262 Hz is 31
// samples at 8 kHz, B4 16) AND the note's envelope over the whole clip. Levels 3,968 -> 992 -> 248 -> 62
// (factors 4, 4, 4): kernel-3 convolutions reach one period only after two down-samplings, 662 samples
// (83 ms) at the bottleneck, and the whole clip only through the bottleneck's attention over its 62
// tokens (waveformReceptiveField). A spectrogram has already factored time and frequency: the pitch is
// a row, the envelope a line along it.
import * as tf from '@tensorflow/tfjs-core';
import { Prediction } from '../../core/loss';
import { countParams, disposeParams, ParamMap, ParamStore } from '../../core/params';
import { Rng } from '../../core/random';
import { checkTimesteps, NoiseSchedule } from '../../core/schedule';
import { AttentionBlock } from '../../core/unet/attention';
import { Timesteps } from '../../core/unet/denoiser';
import { GroupNorm } from '../../core/unet/group_norm';
import { Linear, silu } from '../../core/unet/layers';
import { TimeEmbedding } from '../../core/unet/time_embedding';
import { makeTrainStep } from '../../core/train/train_step';
import { CLIP_LENGTH } from './clip';
import { NUM_CLASSES } from './dataset';

export interface WaveformUNetConfig {
  /** Samples per clip; divisible by the product of `factors`. */
  length: number;
  /** Channels of the first level; level i has baseChannels * channelMults[i]. */
  baseChannels: number;
  channelMults: number[];
  /** Down-sampling factor between level i and i + 1 (one fewer than channelMults). */
  factors: number[];
  /** Residual blocks per level on the way down (one more on the way up, for the extra skip). */
  numResBlocks: number;
  /** Odd kernel size of the convolutions inside the levels. */
  kernel: number;
  groups: number;
  attentionHeads: number;
  /** Self-attention between the two bottleneck ResBlocks: the only path over the whole clip. */
  midAttention: boolean;
  /** Class rows of the embedding (+1 null class, for classifier-free guidance). */
  numClasses?: number;
}

/**
 * The measured waveform model: 1,087,585 parameters, next to the spectrogram UNet's 1,067,233
 * (audioUNetConfig). Widths 32/64/96/96 over 3,968/992/248/62 samples, one ResBlock a level.
 */
export function waveformUNetConfig(overrides: Partial<WaveformUNetConfig> = {}): WaveformUNetConfig {
  const c: WaveformUNetConfig = {
    length: CLIP_LENGTH,
    baseChannels: 32,
    channelMults: [1, 2, 3, 3],
    factors: [4, 4, 4],
    numResBlocks: 1,
    kernel: 3,
    groups: 8,
    attentionHeads: 4,
    midAttention: true,
    numClasses: NUM_CLASSES,
    ...overrides,
  };
  c.channelMults = [...c.channelMults];
  c.factors = [...c.factors];
  validateWaveformConfig(c);
  return c;
}

function posInt(name: string, v: unknown): void {
  if (typeof v !== 'number' || !Number.isInteger(v) || v <= 0)
    throw new Error(`WaveformUNetConfig.${name} must be a positive integer, got ${String(v)}`);
}

export function validateWaveformConfig(c: WaveformUNetConfig): void {
  for (const k of ['length', 'baseChannels', 'numResBlocks', 'kernel', 'groups', 'attentionHeads'] as const)
    posInt(k, c[k]);
  if (c.kernel % 2 !== 1) throw new Error(`WaveformUNetConfig.kernel must be odd (symmetric padding), got ${c.kernel}`);
  if (!Array.isArray(c.channelMults) || c.channelMults.length === 0)
    throw new Error('WaveformUNetConfig.channelMults must list at least one level');
  c.channelMults.forEach((m, i) => posInt(`channelMults[${i}]`, m));
  if (!Array.isArray(c.factors) || c.factors.length !== c.channelMults.length - 1)
    throw new Error(
      `WaveformUNetConfig.factors must have ${c.channelMults.length - 1} entries (one per down-sampling), got ${String(c.factors)}`,
    );
  c.factors.forEach((f, i) => posInt(`factors[${i}]`, f));
  const total = c.factors.reduce((a, b) => a * b, 1);
  if (c.length % total !== 0)
    throw new Error(`WaveformUNetConfig: length ${c.length} is not divisible by the factors' product ${total}`);
  for (const m of c.channelMults) {
    const ch = c.baseChannels * m;
    if (ch % c.groups !== 0) throw new Error(`WaveformUNetConfig: ${ch} channels not divisible by groups=${c.groups}`);
  }
  const last = c.baseChannels * c.channelMults[c.channelMults.length - 1];
  if (c.midAttention && last % c.attentionHeads !== 0)
    throw new Error(`WaveformUNetConfig: ${last} bottleneck channels not divisible by ${c.attentionHeads} heads`);
  if (c.numClasses !== undefined) posInt('numClasses', c.numClasses);
}

/** Samples at each level: length, length / f0, length / (f0 f1), ... */
export function waveformLevels(c: WaveformUNetConfig): number[] {
  const out = [c.length];
  for (const f of c.factors) out.push(out[out.length - 1] / f);
  return out;
}

/**
 * Receptive field in input samples of one bottleneck position through the convolutions of the down path
 * and the first bottleneck ResBlock (before attention, which then sees all `length` samples).
 */
export function waveformReceptiveField(c: WaveformUNetConfig): number {
  let r = 1;
  let jump = 1;
  const conv = (k: number, stride = 1) => {
    r += (k - 1) * jump;
    jump *= stride;
  };
  conv(c.kernel); // convIn
  c.channelMults.forEach((_, i) => {
    for (let j = 0; j < c.numResBlocks; j++) (conv(c.kernel), conv(c.kernel));
    if (i < c.factors.length) conv(c.factors[i], c.factors[i]);
  });
  conv(c.kernel);
  conv(c.kernel); // mid.res1
  return Math.min(r, 2 * c.length - 1);
}

/** A 1-D convolution on [B, 1, L, C]: a conv2d with a [1, k] kernel, padded along time only. */
export class Conv1d {
  readonly weight: tf.Variable;
  readonly bias: tf.Variable;
  private readonly pad: [[number, number], [number, number], [number, number], [number, number]];

  /** stride > 1 with padding 0 is a down-sampler over non-overlapping windows of `kernel` = `stride` samples. */
  constructor(
    store: ParamStore,
    name: string,
    readonly inChannels: number,
    readonly outChannels: number,
    readonly kernel: number,
    readonly stride = 1,
  ) {
    const fanIn = inChannels * kernel;
    [this.weight, this.bias] = store.scope(name, () => [
      store.fanInUniform('weight', [1, kernel, inChannels, outChannels], fanIn),
      store.fanInUniform('bias', [outChannels], fanIn),
    ]);
    const p = stride === 1 ? (kernel - 1) / 2 : 0;
    this.pad = [
      [0, 0],
      [0, 0],
      [p, p],
      [0, 0],
    ];
  }

  apply(x: tf.Tensor4D): tf.Tensor4D {
    if (x.shape[3] !== this.inChannels)
      throw new Error(`Conv1d: expected ${this.inChannels} input channels, got ${x.shape[3]} (shape [${x.shape}])`);
    return tf.fused.conv2d({
      x,
      filter: this.weight as tf.Tensor4D,
      strides: [1, this.stride],
      pad: this.pad,
      bias: this.bias,
    });
  }
}

/** The core's ResBlock (GroupNorm-SiLU-conv, + time, GroupNorm-SiLU-conv, + shortcut) with 1-D convolutions. */
class ResBlock1d {
  readonly norm1: GroupNorm;
  readonly conv1: Conv1d;
  readonly temb: Linear;
  readonly norm2: GroupNorm;
  readonly conv2: Conv1d;
  readonly skip: Conv1d | null;

  constructor(
    store: ParamStore,
    name: string,
    inCh: number,
    readonly outCh: number,
    tembDim: number,
    c: WaveformUNetConfig,
  ) {
    [this.norm1, this.conv1, this.temb, this.norm2, this.conv2, this.skip] = store.scope(name, () => [
      new GroupNorm(store, 'norm1', c.groups, inCh),
      new Conv1d(store, 'conv1', inCh, outCh, c.kernel),
      new Linear(store, 'temb', tembDim, outCh),
      new GroupNorm(store, 'norm2', c.groups, outCh),
      new Conv1d(store, 'conv2', outCh, outCh, c.kernel),
      inCh !== outCh ? new Conv1d(store, 'skip', inCh, outCh, 1) : null,
    ]);
  }

  apply(x: tf.Tensor4D, tembAct: tf.Tensor2D): tf.Tensor4D {
    return tf.tidy(() => {
      let h = this.conv1.apply(this.norm1.apply(x, true));
      h = tf.add(h, tf.reshape(this.temb.apply(tembAct), [-1, 1, 1, this.outCh]));
      h = this.conv2.apply(this.norm2.apply(h, true));
      return tf.add(this.skip ? this.skip.apply(x) : x, h) as tf.Tensor4D;
    });
  }
}

interface Level1d {
  res: ResBlock1d[];
  resample: Conv1d | null;
}

export class WaveformUNet {
  readonly config: WaveformUNetConfig;
  readonly params: ParamMap;
  readonly tembDim: number;
  private readonly time: TimeEmbedding;
  private readonly classEmb: tf.Variable | null;
  private readonly convIn: Conv1d;
  private readonly down: Level1d[] = [];
  private readonly mid: { res1: ResBlock1d; attn: AttentionBlock | null; res2: ResBlock1d };
  private readonly up: Level1d[] = [];
  private readonly normOut: GroupNorm;
  private readonly convOut: Conv1d;

  constructor(config: Partial<WaveformUNetConfig> = {}, init: { seed?: number; rng?: Rng } = {}) {
    const c = (this.config = waveformUNetConfig(config));
    const store = new ParamStore(init.rng ?? new Rng(init.seed ?? 0));
    this.params = store.params;
    const base = c.baseChannels;
    const temb = (this.tembDim = 4 * base);
    const L = c.channelMults.length;
    this.time = new TimeEmbedding(store, 'time', base, temb);
    this.classEmb = c.numClasses === undefined ? null : store.normal('classEmb.weight', [c.numClasses + 1, temb], 1);
    this.convIn = new Conv1d(store, 'convIn', 1, base, c.kernel);
    const skips: number[] = [base];
    let ch = base;
    for (let i = 0; i < L; i++) {
      const w = base * c.channelMults[i];
      const level: Level1d = { res: [], resample: null };
      store.scope(`down.${i}`, () => {
        for (let j = 0; j < c.numResBlocks; j++) {
          level.res.push(new ResBlock1d(store, `res.${j}`, ch, w, temb, c));
          ch = w;
          skips.push(ch);
        }
        if (i < L - 1) {
          level.resample = new Conv1d(store, 'down', ch, ch, c.factors[i], c.factors[i]);
          skips.push(ch);
        }
      });
      this.down.push(level);
    }
    this.mid = store.scope('mid', () => ({
      res1: new ResBlock1d(store, 'res1', ch, ch, temb, c),
      attn: c.midAttention ? new AttentionBlock(store, 'attn', ch, c.attentionHeads, c.groups) : null,
      res2: new ResBlock1d(store, 'res2', ch, ch, temb, c),
    }));
    for (let i = L - 1; i >= 0; i--) {
      const w = base * c.channelMults[i];
      const level: Level1d = { res: [], resample: null };
      store.scope(`up.${i}`, () => {
        for (let j = 0; j <= c.numResBlocks; j++) {
          level.res.push(new ResBlock1d(store, `res.${j}`, ch + skips.pop()!, w, temb, c));
          ch = w;
        }
        if (i > 0) level.resample = new Conv1d(store, 'up', ch, ch, c.kernel);
      });
      this.up.push(level);
    }
    this.normOut = new GroupNorm(store, 'normOut', c.groups, ch);
    this.convOut = new Conv1d(store, 'convOut', ch, 1, c.kernel);
  }

  get paramCount(): number {
    return countParams(this.params);
  }

  /**
   * x [B, L, 1] noisy waveforms, t [B] integer timesteps, classLabels [B] ids in [0, numClasses]
   * (numClasses = null class; omitted: all null) -> the predicted noise [B, L, 1].
   */
  apply(x: tf.Tensor3D, t: Timesteps, classLabels?: readonly number[] | Int32Array): tf.Tensor3D {
    const c = this.config;
    if (x.rank !== 3 || x.shape[1] !== c.length || x.shape[2] !== 1)
      throw new Error(
        `WaveformUNet: x must be [B, ${c.length}, 1] (mono clips of ${c.length} samples), got [${x.shape}]`,
      );
    const b = x.shape[0];
    const tLen = t instanceof tf.Tensor ? t.shape[0] : t.length;
    if (tLen !== b) throw new Error(`WaveformUNet: ${tLen} timesteps for a batch of ${b}`);
    if (t instanceof tf.Tensor) {
      if (t.dtype !== 'int32') throw new Error(`WaveformUNet: a timesteps tensor must be int32, got ${t.dtype}`);
    } else checkTimesteps('WaveformUNet', t);
    if (classLabels !== undefined && !this.classEmb)
      throw new Error('WaveformUNet: class labels given but the config has no numClasses');
    return tf.tidy(() => {
      const tt = t instanceof tf.Tensor ? tf.cast(t, 'float32') : tf.tensor1d(Float32Array.from(t));
      let emb = this.time.apply(tt as tf.Tensor1D);
      if (this.classEmb) emb = tf.add(emb, this.classEmbedding(classLabels, b));
      const e = silu(emb);
      let h = this.convIn.apply(tf.reshape(x, [b, 1, c.length, 1]));
      const hs: tf.Tensor4D[] = [h];
      for (const level of this.down) {
        for (const rb of level.res) hs.push((h = rb.apply(h, e)));
        if (level.resample) hs.push((h = level.resample.apply(h)));
      }
      h = this.mid.res1.apply(h, e);
      if (this.mid.attn) h = this.mid.attn.apply(h);
      h = this.mid.res2.apply(h, e);
      this.up.forEach((level, i) => {
        for (const rb of level.res) h = rb.apply(tf.concat([h, hs.pop()!], 3), e);
        if (level.resample) {
          const f = c.factors[c.factors.length - 1 - i];
          h = level.resample.apply(tf.image.resizeNearestNeighbor(h, [1, f * h.shape[2]]));
        }
      });
      return tf.reshape(this.convOut.apply(this.normOut.apply(h, true)), [b, c.length, 1]) as tf.Tensor3D;
    });
  }

  private classEmbedding(labels: readonly number[] | Int32Array | undefined, batch: number): tf.Tensor2D {
    const n = this.config.numClasses!;
    const ids = labels === undefined ? new Array<number>(batch).fill(n) : Array.from(labels);
    if (ids.length !== batch) throw new Error(`WaveformUNet: ${ids.length} class labels for a batch of ${batch}`);
    for (const y of ids)
      if (!Number.isInteger(y) || y < 0 || y > n)
        throw new Error(`WaveformUNet: class label ${y} outside [0, ${n}] (${n} is the null class)`);
    // One-hot matmul, as the core UNet: its gradient needs no scatter kernel.
    return tf.matMul(tf.oneHot(tf.tensor1d(ids, 'int32'), n + 1), this.classEmb!) as tf.Tensor2D;
  }

  /** The core loss's DenoiseFn on the 4-D view [B, 1, L, 1] ("images" one pixel high) of waveforms. */
  denoiseFn(classLabels?: readonly number[] | Int32Array): (xt: tf.Tensor4D, t: number[]) => tf.Tensor4D {
    return (xt, t) =>
      tf.tidy(() => {
        const [b, , l] = xt.shape;
        return tf.reshape(this.apply(tf.reshape(xt, [b, l, 1]), t, classLabels), [b, 1, l, 1]) as tf.Tensor4D;
      });
  }

  dispose(): void {
    disposeParams(this.params);
  }
}

/**
 * FLOPs of one forward pass for a batch (convolutions and matrix products, 2 per multiply-add), counted
 * as lib/eval/unet_flops.ts counts the 2-D UNet; training is about 3x.
 */
export function waveformUNetFlops(config: Partial<WaveformUNetConfig>, batch: number): number {
  const c = waveformUNetConfig(config);
  const lens = waveformLevels(c);
  const base = c.baseChannels;
  const temb = 4 * base;
  let f = 2 * (base * temb + temb * temb + (c.numClasses !== undefined ? (c.numClasses + 1) * temb : 0));
  const conv = (outLen: number, cin: number, cout: number, k: number) => (f += 2 * outLen * k * cin * cout);
  const res = (len: number, cin: number, cout: number) => {
    conv(len, cin, cout, c.kernel);
    conv(len, cout, cout, c.kernel);
    f += 2 * temb * cout;
    if (cin !== cout) conv(len, cin, cout, 1);
  };
  conv(c.length, 1, base, c.kernel);
  const skips = [base];
  let ch = base;
  const L = c.channelMults.length;
  for (let i = 0; i < L; i++) {
    const w = base * c.channelMults[i];
    for (let j = 0; j < c.numResBlocks; j++) (res(lens[i], ch, w), (ch = w), skips.push(ch));
    if (i < L - 1) (conv(lens[i + 1], ch, ch, c.factors[i]), skips.push(ch));
  }
  const n = lens[L - 1];
  res(n, ch, ch);
  if (c.midAttention) f += 2 * n * ch * 3 * ch + 4 * n * n * ch + 2 * n * ch * ch;
  res(n, ch, ch);
  for (let i = L - 1; i >= 0; i--) {
    const w = base * c.channelMults[i];
    for (let j = 0; j <= c.numResBlocks; j++) (res(lens[i], ch + skips.pop()!, w), (ch = w));
    if (i > 0) conv(lens[i - 1], ch, ch, c.kernel);
  }
  conv(c.length, ch, 1, c.kernel);
  return f * batch;
}

export interface WaveformTrainStepOptions {
  schedule: NoiseSchedule;
  rng: Rng;
  /** Default 1e-3. */
  learningRate?: number;
  prediction?: Prediction;
}

export interface WaveformTrainStep {
  /** x0 [B, L, 1] clean clips, labels one class id per clip (or omitted: null class); resolves to the loss. */
  (x0: tf.Tensor3D, labels?: readonly number[] | Int32Array): Promise<number>;
  readonly optimizer: tf.Optimizer;
  dispose(): void;
}

/** The core's makeTrainStep (lib/core/train/train_step.ts) on the clips seen as [B, 1, L, 1] maps. */
export function makeWaveformTrainStep(model: WaveformUNet, opts: WaveformTrainStepOptions): WaveformTrainStep {
  type Labels = readonly number[] | Int32Array | undefined;
  const inner = makeTrainStep<Labels>(
    { params: model.params, apply: (x, t, labels) => model.denoiseFn(labels)(x, t) },
    { ...opts, learningRate: opts.learningRate ?? 1e-3 },
  );
  const step = async (x0: tf.Tensor3D, labels?: readonly number[] | Int32Array): Promise<number> => {
    const [b, l] = x0.shape;
    const x4 = tf.reshape(x0, [b, 1, l, 1]) as tf.Tensor4D;
    try {
      return await inner(x4, labels);
    } finally {
      x4.dispose();
    }
  };
  return Object.assign(step, { optimizer: inner.optimizer, dispose: () => inner.dispose() });
}
