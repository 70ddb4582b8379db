// GLIDE's text-conditioned UNet (glide-text2im's Text2ImUNet): a text transformer trained with the
// network encodes the captions; its token vectors become the core UNet's cross-attention context
// (contextDim = the text width) and its pooled [EOS] vector, projected by 'textToTime', is added to
// the time embedding. The core UNet knows nothing of text: it gets context, contextMask and
// timeEmbedding like any other caller's.
//
// All parameters live in one store (one map): the core's under their usual names, the encoder's under
// 'text.*', the projection 'textToTime.*', so checkpoints of lessons 10 and 13 load unchanged. The
// encoder is built after the core (the order the core's weights are drawn in does not depend on
// text), so a freshly initialised text UNet has other weights than one built before this file existed.
import * as tf from '@tensorflow/tfjs-core';
import { Condition } from '../../core/condition';
import { countParams, ParamMap, ParamStore } from '../../core/params';
import { Rng } from '../../core/random';
import { resolveUNetConfig, UNetConfig, UNetConfigInput } from '../../core/unet/config';
import { Denoiser, Timesteps } from '../../core/unet/denoiser';
import { AttentionHook } from '../../core/unet/hook';
import { Linear } from '../../core/unet/layers';
import { UNet, UNetCondition } from '../../core/unet/unet';
import { TextEncoderConfig, TextTransformer, validateTextEncoderConfig } from './text_transformer';

/** The core config plus the text encoder's; contextDim equals the text width. Stored in checkpoints as is. */
export type TextUNetConfig = UNetConfig & { text: TextEncoderConfig };
export type TextUNetConfigInput = UNetConfigInput & { text: TextEncoderConfig };

/**
 * Captions instead of a context: the text UNet makes context, contextMask and timeEmbedding itself.
 * The other core fields (class labels, concat, vector) pass through.
 */
export type TextCondition = Omit<UNetCondition, 'context' | 'contextMask' | 'timeEmbedding'> & {
  /** One caption per image; '' is "no caption" (what caption dropout trains the network on). */
  text?: readonly string[];
};

/** The fields the text UNet makes from the captions (the caller must not pass them). */
const MADE_HERE = ['context', 'contextMask', 'timeEmbedding'] as const;

/** Is this the config of a text UNet (a `text` field)? */
export function isTextUNetConfig(c: unknown): c is TextUNetConfig {
  return typeof c === 'object' && c !== null && (c as { text?: unknown }).text !== undefined;
}

/** Defaults filled in, contextDim set to the text width, everything checked; own copies of arrays. */
export function resolveTextUNetConfig(c: TextUNetConfigInput): TextUNetConfig {
  const { text, ...core } = c;
  if (text === undefined || text === null)
    throw new Error('TextUNetConfig: text (the text encoder config) is required');
  validateTextEncoderConfig(text);
  const contextDim = core.contextDim ?? text.width;
  if (contextDim !== text.width)
    throw new Error(`TextUNetConfig: contextDim ${contextDim} must equal the text encoder's width ${text.width}`);
  return { ...resolveUNetConfig({ ...core, contextDim }), text: { ...text, vocab: [...text.vocab] } };
}

export interface TextUNetInit {
  rng?: Rng;
  seed?: number;
  /** Passed to the core UNet (GLIGEN's gated layers). */
  hook?: AttentionHook;
}

export class TextUNet implements Denoiser<TextCondition> {
  readonly config: TextUNetConfig;
  readonly params: ParamMap;
  /** The core UNet it calls (its params are this model's params). */
  readonly core: UNet;
  /** The jointly trained text encoder, 'text.*' (GLIGEN embeds its phrases with it; lesson 12 copies the rest). */
  readonly text: TextTransformer;
  /** The pooled caption vector into the time embedding. */
  private readonly textToTime: Linear;

  /** Builds the network; the weights are drawn from `init.rng` (or `new Rng(init.seed ?? 0)`). */
  constructor(config: TextUNetConfigInput, init: TextUNetInit = {}) {
    const c = (this.config = resolveTextUNetConfig(config));
    const store = new ParamStore(init.rng ?? new Rng(init.seed ?? 0));
    const { text, ...core } = c;
    this.core = new UNet(core, { store, hook: init.hook });
    this.params = store.params;
    this.text = store.scope('text', () => new TextTransformer(store, text));
    this.textToTime = new Linear(store, 'textToTime', text.width, this.core.tembDim);
  }

  get paramCount(): number {
    return countParams(this.params);
  }

  /** The hook the core was built with (GLIGEN's), or null. */
  get hook(): AttentionHook | null {
    return this.core.hook;
  }

  /**
   * x [B, S, S, inChannels], one caption per image in cond.text -> [B, S, S, outChannels]. Other
   * fields go to the core UNet, which refuses those it (and its hook) does not read.
   */
  apply(x: tf.Tensor4D, t: Timesteps, cond: TextCondition & Condition = {}): tf.Tensor4D {
    const { text, ...rest } = cond;
    const b = x.shape[0];
    if (text === undefined)
      throw new Error(
        "TextUNet: built with a text encoder (config.text): pass cond.text, one caption per image ('' for none)",
      );
    if (!Array.isArray(text) || text.some((s) => typeof s !== 'string'))
      throw new Error('TextUNet: cond.text must be an array of captions (strings)');
    if (text.length !== b) throw new Error(`TextUNet: ${text.length} captions for a batch of ${b}`);
    for (const k of MADE_HERE) {
      if (rest[k] !== undefined)
        throw new Error(`TextUNet: cond.${k} given, but the text UNet makes it from cond.text itself`);
    }
    return tf.tidy(() => {
      const enc = this.text.apply(text);
      return this.core.apply(x, t, {
        ...rest,
        context: enc.tokens,
        contextMask: enc.mask,
        timeEmbedding: this.textToTime.apply(enc.pooled) as tf.Tensor2D,
      });
    });
  }

  /** The same architecture (and hook) with fresh weights from seed 0. */
  emptyCopy(): TextUNet {
    return new TextUNet(this.config, { hook: this.core.hook ?? undefined });
  }

  dispose(): void {
    this.core.dispose();
  }
}
