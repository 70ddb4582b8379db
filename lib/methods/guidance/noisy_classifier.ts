// The classifier that classifier guidance needs: p(y | x_t, t) for NOISY images x_t. The project's
// clean classifier (lib/eval/metrics/classifier.ts) has never seen noise, so its gradient at large t
// says nothing useful; Dhariwal & Nichol train theirs on q(x_t | x_0) at random t, with t as an
// input, and so do we. A small conv net: per level two 3x3 convs (the first of levels > 0 has
// stride 2: 28 -> 14 -> 7), the UNet's time embedding added as a per-channel bias after each
// level's first conv, SiLU, then a global average pool and a linear head. Stride-2 convs and
// SiLU instead of max-pool and ReLU: the gradient with respect to the input is what guidance uses,
// and it is smoother without max-pool's winner-takes-all routing.
import * as tf from '@tensorflow/tfjs-core';
import '../../core/tfjs_setup';
import { checkConfig, fillFromCheckpoint, readCheckpoint, saveCheckpoint } from '../../core/checkpoint/checkpoint';
import { countParams, disposeParams, ParamMap, ParamStore } from '../../core/params';
import { Rng } from '../../core/random';
import { Conv2d, Linear, silu } from '../../core/unet/layers';
import { TimeEmbedding } from '../../core/unet/time_embedding';
import { checkTimesteps } from '../../core/schedule';

export interface NoisyClassifierConfig {
  imageSize: number;
  inChannels: number;
  numClasses: number;
  /** Channels per level; level i > 0 halves the side. */
  channels: number[];
  /** Width of the sinusoidal time features (the MLP widens them to 4x). */
  timeDim: number;
}

export function noisyClassifierConfig(overrides: Partial<NoisyClassifierConfig> = {}): NoisyClassifierConfig {
  const c: NoisyClassifierConfig = {
    imageSize: 28,
    inChannels: 1,
    numClasses: 10,
    channels: [32, 64, 128],
    timeDim: 32,
    ...overrides,
  };
  c.channels = [...c.channels];
  const posInt = (name: string, v: number) => {
    if (!Number.isInteger(v) || v <= 0)
      throw new Error(`NoisyClassifierConfig.${name} must be a positive integer, got ${v}`);
  };
  posInt('imageSize', c.imageSize);
  posInt('inChannels', c.inChannels);
  posInt('numClasses', c.numClasses);
  posInt('timeDim', c.timeDim);
  if (c.timeDim % 2 !== 0) throw new Error(`NoisyClassifierConfig.timeDim must be even, got ${c.timeDim}`);
  if (c.channels.length === 0) throw new Error('NoisyClassifierConfig.channels must list at least one level');
  c.channels.forEach((v, i) => posInt(`channels[${i}]`, v));
  return c;
}

interface Level {
  a: Conv2d;
  temb: Linear;
  b: Conv2d;
}

export class NoisyClassifier {
  readonly config: NoisyClassifierConfig;
  readonly params: ParamMap;
  private readonly time: TimeEmbedding;
  private readonly levels: Level[] = [];
  private readonly head: Linear;

  constructor(config: Partial<NoisyClassifierConfig> = {}, init: { rng?: Rng; seed?: number } = {}) {
    const c = (this.config = noisyClassifierConfig(config));
    const store = new ParamStore(init.rng ?? new Rng(init.seed ?? 0));
    this.params = store.params;
    const temb = 4 * c.timeDim;
    this.time = new TimeEmbedding(store, 'time', c.timeDim, temb);
    let ch = c.inChannels;
    c.channels.forEach((w, i) => {
      this.levels.push(
        store.scope(`level.${i}`, () => ({
          a: new Conv2d(store, 'a', ch, w, 3, i === 0 ? 1 : 2),
          temb: new Linear(store, 'temb', temb, w),
          b: new Conv2d(store, 'b', w, w, 3),
        })),
      );
      ch = w;
    });
    this.head = new Linear(store, 'head', ch, c.numClasses);
  }

  get paramCount(): number {
    return countParams(this.params);
  }

  /** x_t [B, S, S, C] in the diffusion range, t [B] timesteps -> class logits [B, numClasses]. */
  logits(x: tf.Tensor4D, t: number[]): tf.Tensor2D {
    const c = this.config;
    const [b, h, w, ch] = x.shape;
    if (x.rank !== 4 || h !== c.imageSize || w !== c.imageSize || ch !== c.inChannels) {
      throw new Error(
        `NoisyClassifier: expects [B, ${c.imageSize}, ${c.imageSize}, ${c.inChannels}] images, got [${x.shape}]`,
      );
    }
    if (t.length !== b) throw new Error(`NoisyClassifier: ${t.length} timesteps for a batch of ${b}`);
    checkTimesteps('NoisyClassifier', t); // integers >= 0, as the UNet's (the schedule checks < T)
    return tf.tidy(() => {
      const e = silu(this.time.apply(tf.tensor1d(Float32Array.from(t))));
      let y: tf.Tensor4D = x;
      for (const l of this.levels) {
        const bias = tf.reshape(l.temb.apply(e), [b, 1, 1, l.temb.outFeatures]);
        y = silu(tf.add(l.a.apply(y), bias)) as tf.Tensor4D;
        y = silu(l.b.apply(y));
      }
      return this.head.apply(tf.mean(y, [1, 2])) as tf.Tensor2D;
    });
  }

  /** log p(y | x_t) for each image's own label y: [B]. */
  logProb(x: tf.Tensor4D, t: number[], labels: ArrayLike<number>): tf.Tensor1D {
    const k = this.config.numClasses;
    if (labels.length !== x.shape[0])
      throw new Error(`NoisyClassifier.logProb: ${labels.length} labels for a batch of ${x.shape[0]}`);
    const ids = checkLabels(labels, k, 'NoisyClassifier.logProb');
    return tf.tidy(
      () => tf.sum(tf.mul(tf.logSoftmax(this.logits(x, t)), tf.oneHot(tf.tensor1d(ids, 'int32'), k)), 1) as tf.Tensor1D,
    );
  }

  dispose(): void {
    disposeParams(this.params);
  }
}

/** Labels as an int array, each an integer in [0, numClasses): a clear error names the bad one. */
export function checkLabels(labels: ArrayLike<number>, numClasses: number, who: string): Int32Array {
  const ids = new Int32Array(labels.length);
  for (let i = 0; i < labels.length; i++) {
    const y = labels[i];
    if (!Number.isInteger(y) || y < 0 || y >= numClasses)
      throw new Error(`${who}: class id ${y} (index ${i}) is outside [0, ${numClasses - 1}]`);
    ids[i] = y;
  }
  return ids;
}

/** Writes the classifier (weights + config) as a checkpoint file; `metadata` is free-form. */
export async function saveNoisyClassifier(
  file: string,
  model: NoisyClassifier,
  metadata: Record<string, string> = {},
  step = 0,
): Promise<void> {
  await saveCheckpoint(file, {
    config: { kind: 'noisy-classifier', ...model.config },
    params: model.params,
    metadata,
    step,
  });
}

export function loadNoisyClassifier(file: string): NoisyClassifier {
  const ckpt = readCheckpoint(file);
  const cfg = ckpt.config as Partial<NoisyClassifierConfig> & { kind?: string };
  if (cfg.kind !== 'noisy-classifier')
    throw new Error(`checkpoint ${file}: not a noisy classifier (config kind '${String(cfg.kind)}')`);
  const { kind, ...rest } = cfg;
  void kind;
  const model = new NoisyClassifier(rest);
  return fillFromCheckpoint(model, ckpt, 'params', () =>
    checkConfig(ckpt, { kind: 'noisy-classifier', ...model.config }),
  );
}
