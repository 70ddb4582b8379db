// The course's CLIP-like model (DALL·E 2's first stage): a text tower and an image tower that map a
// caption and an image into one E-dimensional space where matching pairs have a high cosine. It is
// trained contrastively (train_clip.ts) on captioned shapes, since no pretrained CLIP can be downloaded
// here, and serves lesson 12 (the prior and the decoder read its embeddings) and every text-to-image
// lesson as a CLIP-like score (score.ts).
import * as tf from '@tensorflow/tfjs-core';
import '../../core/tfjs_setup';
import { countParams, disposeParams, ParamMap, ParamStore } from '../../core/params';
import { Rng } from '../../core/random';
import { TextEncoderConfig, TextTransformer, validateTextEncoderConfig } from '../text/text_transformer';
import { Conv2d, Linear } from '../../core/unet/layers';
import { positionGrid } from '../../core/unet/unet';

export interface ClipConfig {
  /** The text tower (a TextTransformer; its config holds the vocabulary). */
  text: TextEncoderConfig;
  /** Width of the joint embedding space. */
  embedDim: number;
  /** Square input side; images are [B, imageSize, imageSize, 3] in [-1, 1]. */
  imageSize: number;
  /** Channels of the image tower's conv stages; each stage after the first halves the side. */
  imageChannels: number[];
  /** Hidden width of the image tower's MLP head. */
  imageHidden: number;
}

export function clipConfig(text: TextEncoderConfig, overrides: Partial<Omit<ClipConfig, 'text'>> = {}): ClipConfig {
  return { text, embedDim: 64, imageSize: 32, imageChannels: [32, 64, 64, 128], imageHidden: 256, ...overrides };
}

export function validateClipConfig(c: ClipConfig): void {
  validateTextEncoderConfig(c.text);
  for (const k of ['embedDim', 'imageSize', 'imageHidden'] as const) {
    if (!Number.isInteger(c[k]) || c[k] < 1)
      throw new Error(`ClipConfig.${k} must be a positive integer, got ${String(c[k])}`);
  }
  if (!Array.isArray(c.imageChannels) || c.imageChannels.length < 1)
    throw new Error('ClipConfig.imageChannels must list at least one stage');
  c.imageChannels.forEach((ch, i) => {
    if (!Number.isInteger(ch) || ch < 1)
      throw new Error(`ClipConfig.imageChannels[${i}] must be a positive integer, got ${ch}`);
  });
  const f = 2 ** (c.imageChannels.length - 1);
  if (c.imageSize % f !== 0)
    throw new Error(
      `ClipConfig: imageSize ${c.imageSize} is not divisible by ${f} (${c.imageChannels.length - 1} stride-2 stages)`,
    );
}

/** Rows scaled to unit length (a tiny epsilon keeps an all-zero row finite). */
export function l2Normalize(x: tf.Tensor2D): tf.Tensor2D {
  return tf.tidy(() => tf.div(x, tf.sqrt(tf.add(tf.sum(tf.square(x), 1, true), 1e-12))) as tf.Tensor2D);
}

export class Clip {
  readonly config: ClipConfig;
  readonly params: ParamMap;
  readonly text: TextTransformer;
  private readonly textProj: Linear;
  private readonly convs: Conv2d[];
  private readonly fc1: Linear;
  private readonly fc2: Linear;
  /** log of the softmax temperature's inverse, learned (CLIP starts it at log(1/0.07)). */
  readonly logitScale: tf.Variable;

  constructor(config: ClipConfig, init: { seed?: number } = {}) {
    validateClipConfig(config);
    this.config = {
      ...config,
      text: { ...config.text, vocab: [...config.text.vocab] },
      imageChannels: [...config.imageChannels],
    };
    const c = this.config;
    const store = new ParamStore(new Rng(init.seed ?? 0));
    this.params = store.params;
    this.text = store.scope('text', () => new TextTransformer(store, c.text));
    this.textProj = new Linear(store, 'textProj', c.text.width, c.embedDim);
    // Stage 0 keeps the side; the others halve it. Two CoordConv channels (x, y) join the RGB input:
    // captions name positions, and a conv stack alone barely knows where it is.
    let ch = 3 + 2;
    this.convs = store.scope('image', () =>
      c.imageChannels.map((w, i) => {
        const conv = new Conv2d(store, `conv.${i}`, ch, w, 3, i === 0 ? 1 : 2);
        ch = w;
        return conv;
      }),
    );
    const side = c.imageSize / 2 ** (c.imageChannels.length - 1);
    // Flatten, not global pooling: the head must still know where each feature was.
    this.fc1 = new Linear(store, 'image.fc1', side * side * ch, c.imageHidden);
    this.fc2 = new Linear(store, 'image.fc2', c.imageHidden, c.embedDim);
    this.logitScale = store.constant('logitScale', [], Math.log(1 / 0.07));
  }

  get embedDim(): number {
    return this.config.embedDim;
  }

  get paramCount(): number {
    return countParams(this.params);
  }

  /** Captions -> unit-norm [B, E]: the pooled [EOS] vector, projected. */
  encodeText(captions: readonly string[]): tf.Tensor2D {
    if (!Array.isArray(captions) || captions.length === 0)
      throw new Error(
        `Clip.encodeText: captions must be a non-empty array, got ${Array.isArray(captions) ? 'an empty one' : typeof captions}`,
      );
    return tf.tidy(() => {
      const enc = this.text.apply(this.text.tokenizer.encodeBatch(captions, { warn: false }));
      return l2Normalize(this.textProj.apply(enc.pooled) as tf.Tensor2D);
    });
  }

  /** Images [B, S, S, 3] in [-1, 1] -> unit-norm [B, E]. */
  encodeImages(x: tf.Tensor4D): tf.Tensor2D {
    const S = this.config.imageSize;
    if (x.rank !== 4 || x.shape[1] !== S || x.shape[2] !== S || x.shape[3] !== 3) {
      throw new Error(`Clip.encodeImages: images must be [B, ${S}, ${S}, 3], got [${x.shape}]`);
    }
    return tf.tidy(() => {
      let h: tf.Tensor4D = tf.concat([x, positionGrid(x.shape[0], S)], 3);
      for (const conv of this.convs) h = tf.relu(conv.apply(h));
      const flat = tf.reshape(h, [x.shape[0], -1]);
      return l2Normalize(this.fc2.apply(tf.relu(this.fc1.apply(flat))) as tf.Tensor2D);
    });
  }

  /** exp(logitScale), capped at 100 as in CLIP (keeps the softmax from collapsing to one-hot). */
  scale(): tf.Scalar {
    return tf.tidy(() => tf.minimum(tf.exp(this.logitScale), 100) as tf.Scalar);
  }

  dispose(): void {
    disposeParams(this.params);
  }
}
