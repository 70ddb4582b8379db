// The text encoder, a small transformer: token + position embeddings, a few transformer blocks, a final
// LayerNorm. It returns every token's vector (what cross-attention reads) and a pooled vector, the
// [EOS] token's (what GLIDE adds to the time embedding and CLIP projects into the joint space).
// The config holds the vocabulary, so a checkpoint's config is enough to rebuild its tokenizer.
import * as tf from '@tensorflow/tfjs-core';
import { ParamStore } from '../../core/params';
import { EncodedBatch, Tokenizer } from './tokenizer';
import { LayerNorm } from './layer_norm';
import { TransformerBlock } from './transformer_block';

export interface TextEncoderConfig {
  /** The tokenizer's vocabulary (special tokens first, see tokenizer.ts). */
  vocab: string[];
  /** Tokens per caption including [BOS] and [EOS]. */
  contextLength: number;
  width: number;
  layers: number;
  heads: number;
}

export interface TextEncoding {
  /** [B, L, width] per-token vectors. */
  tokens: tf.Tensor3D;
  /** [B, L]: 1 real token, 0 padding. */
  mask: tf.Tensor2D;
  /** [B, width]: the [EOS] token's vector. */
  pooled: tf.Tensor2D;
}

export function validateTextEncoderConfig(c: TextEncoderConfig): void {
  for (const k of ['contextLength', 'width', 'layers', 'heads'] as const) {
    if (!Number.isInteger(c[k]) || c[k] < 1)
      throw new Error(`TextEncoderConfig.${k} must be a positive integer, got ${String(c[k])}`);
  }
  if (c.width % c.heads !== 0)
    throw new Error(`TextEncoderConfig: width ${c.width} is not divisible by heads ${c.heads}`);
  new Tokenizer(c.vocab, c.contextLength); // checks the vocabulary
}

export class TextTransformer {
  readonly tokenizer: Tokenizer;
  readonly tokenEmb: tf.Variable;
  readonly posEmb: tf.Variable;
  readonly blocks: TransformerBlock[];
  readonly lnOut: LayerNorm;

  /** Creates its parameters in `store` (under the store's current scope). */
  constructor(
    store: ParamStore,
    readonly config: TextEncoderConfig,
  ) {
    validateTextEncoderConfig(config);
    const c = config;
    this.tokenizer = new Tokenizer(c.vocab, c.contextLength);
    this.tokenEmb = store.normal('tokenEmb', [c.vocab.length, c.width], 0.02);
    this.posEmb = store.normal('posEmb', [c.contextLength, c.width], 0.01);
    this.blocks = Array.from(
      { length: c.layers },
      (_, i) => new TransformerBlock(store, `block.${i}`, c.width, c.heads),
    );
    this.lnOut = new LayerNorm(store, 'lnOut', c.width);
  }

  /** Captions (strings, tokenized here) or an already encoded batch -> per-token and pooled vectors. */
  apply(text: readonly string[] | EncodedBatch): TextEncoding {
    const enc = isEncoded(text) ? text : this.tokenizer.encodeBatch(text);
    const L = this.config.contextLength;
    if (enc.contextLength !== L)
      throw new Error(`TextTransformer: tokens are ${enc.contextLength} long, the encoder takes ${L}`);
    const b = enc.batch;
    return tf.tidy(() => {
      // One-hot matmul instead of a gather: its gradient needs no scatter kernel (wasm has none).
      const ids = tf.tensor1d(enc.ids, 'int32');
      const emb = tf.reshape(tf.matMul(tf.oneHot(ids, this.config.vocab.length), this.tokenEmb), [
        b,
        L,
        this.config.width,
      ]);
      let h = tf.add(emb, this.posEmb) as tf.Tensor3D;
      const mask = tf.tensor2d(enc.mask, [b, L]);
      for (const blk of this.blocks) h = blk.apply(h, mask);
      const tokens = this.lnOut.apply(h);
      // [EOS] sits at (number of real tokens - 1).
      const eosAt = tf.sub(tf.sum(mask, 1), 1);
      const pick = tf.oneHot(tf.cast(eosAt, 'int32'), L) as tf.Tensor2D;
      const pooled = tf.squeeze(tf.matMul(tf.expandDims(pick, 1), tokens), [1]) as tf.Tensor2D;
      return { tokens, mask, pooled };
    });
  }
}

function isEncoded(t: readonly string[] | EncodedBatch): t is EncodedBatch {
  return !Array.isArray(t);
}
