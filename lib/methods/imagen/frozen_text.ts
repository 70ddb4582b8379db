// Imagen's central choice: the text encoder is pretrained on text alone and FROZEN while the
// diffusion models train. Its token vectors are computed outside the UNet (no gradient reaches the
// encoder) and enter as cond.context / cond.contextMask for cross-attention. The empty caption's
// encoding ([BOS][EOS]) is the "no text" context classifier-free guidance contrasts with.
import * as tf from '@tensorflow/tfjs-core';
import '../../core/tfjs_setup';
import { BatchSource } from '../../core/train/batch_source';
import { UNetCondition } from '../../core/unet/unet';
import { TextCondition } from '../text/text_unet';
import { MlmModel } from './mlm';

export class FrozenTextEncoder {
  constructor(readonly mlm: MlmModel) {}

  get width(): number {
    return this.mlm.config.width;
  }

  get contextLength(): number {
    return this.mlm.config.contextLength;
  }

  /** Captions -> { context [B, L, width], contextMask [B, L] } (new tensors: the caller disposes them). */
  encode(captions: readonly string[]): { context: tf.Tensor3D; contextMask: tf.Tensor2D } {
    if (!Array.isArray(captions) || captions.length === 0)
      throw new Error(
        `FrozenTextEncoder.encode: captions must be a non-empty array of strings, got ${String(captions)}`,
      );
    // tf.tidy keeps no gradient tape outside variableGrads; the encoder's variables never get updated.
    const e = tf.tidy(() => {
      const r = this.mlm.encoder.apply(captions);
      return { tokens: r.tokens, mask: r.mask };
    });
    return { context: e.tokens, contextMask: e.mask };
  }

  /** The condition for captions, and the "no text" one of the same batch size (for CFG). */
  conditions(captions: readonly string[]): { cond: UNetCondition; uncond: UNetCondition } {
    const c = this.encode(captions);
    const u = this.encode(captions.map(() => ''));
    return {
      cond: { context: c.context, contextMask: c.contextMask },
      uncond: { context: u.context, contextMask: u.contextMask },
    };
  }

  dispose(): void {
    this.mlm.dispose();
  }
}

/** Wraps a BatchSource that yields cond.text: the captions become the frozen encoder's context. */
export function frozenTextBatches(
  src: BatchSource<TextCondition>,
  encoder: FrozenTextEncoder,
): BatchSource<UNetCondition> {
  return (step) => {
    const b = src(step);
    const { text, ...rest } = b.cond ?? {};
    if (text === undefined) {
      tf.dispose(b.x);
      throw new Error('frozenTextBatches: the source gives no cond.text (pass captions to imageBatches)');
    }
    if (!Array.isArray(text)) throw new Error('frozenTextBatches: cond.text must be captions (strings)');
    const { context, contextMask } = encoder.encode(text);
    return { x: b.x, cond: { ...rest, context, contextMask } };
  };
}
