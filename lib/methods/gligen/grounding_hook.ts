// GLIGEN's layers as the core UNet's attention hook: a gated self-attention layer after every
// attention block ('<level>.gligen.attn.<j>.*', built in the block's scope right after it) and the
// grounding tokenizer they share ('gligen.tokenizer.*', built after the up path). The core calls
// these at the points where it used to build them itself, so names and seeded initial weights are
// those of the GLIGEN models trained before the hook existed.
// Per pass the tokenizer turns cond.grounding into tokens once; without cond.grounding the layers are
// skipped and the network is exactly the frozen base.
import * as tf from '@tensorflow/tfjs-core';
import { Condition } from '../../core/condition';
import { ParamStore } from '../../core/params';
import { UNetConfig } from '../../core/unet/config';
import { Denoiser } from '../../core/unet/denoiser';
import { AttentionHook, AttentionHookLayer } from '../../core/unet/hook';
import { TextCondition } from '../text/text_unet';
import { GatedSelfAttention, GroundingConfig, GroundingTokenizer } from './gated_self_attention';

/** A text UNet's condition plus GLIGEN's grounding tokens. */
export type GroundedCondition = TextCondition & {
  /** Grounding inputs [B, G, grounding.inputDim] (one row per object); omitted: the gated layers are skipped. */
  grounding?: tf.Tensor3D;
  /** [B, G]: 1 for real objects, 0 for padding (required with cond.grounding). */
  groundingMask?: tf.Tensor2D;
};

export interface GroundingState {
  /** [B, G, tokenDim] */
  tokens: tf.Tensor3D;
  /** [B, G] */
  mask: tf.Tensor2D;
}

export class GroundingHook implements AttentionHook<GroundingTokenizer, GroundingState> {
  readonly name = 'GLIGEN';
  readonly fields: readonly string[] = ['grounding', 'groundingMask'];
  readonly config: GroundingConfig;

  constructor(config: GroundingConfig) {
    for (const k of ['inputDim', 'tokenDim'] as const) {
      if (!Number.isInteger(config[k]) || config[k] < 1)
        throw new Error(`GroundingConfig.${k} must be a positive integer, got ${String(config[k])}`);
    }
    this.config = { inputDim: config.inputDim, tokenDim: config.tokenDim };
  }

  buildLayer(store: ParamStore, block: string, channels: number, c: UNetConfig): AttentionHookLayer<GroundingState> {
    // '<level>.gligen.attn.<j>' next to '<level>.attn.<j>': every GLIGEN parameter has a 'gligen' path segment.
    const layer = store.scope(
      'gligen',
      () => new GatedSelfAttention(store, block, channels, this.config.tokenDim, c.attentionHeads, c.groups),
    );
    return { apply: (x, s) => layer.apply(x, s.tokens, s.mask) };
  }

  buildShared(store: ParamStore, c: UNetConfig): GroundingTokenizer {
    if (c.attentionResolutions.length === 0 && !c.midAttention)
      throw new Error(
        'GLIGEN: the UNet has no attention blocks (attentionResolutions or midAttention) for the gated layers to follow',
      );
    return store.scope('gligen', () => new GroundingTokenizer(store, 'tokenizer', this.config));
  }

  check(cond: Condition, b: number): void {
    const { grounding: g, groundingMask: m } = cond;
    if (g === undefined) {
      if (m !== undefined) throw new Error('GLIGEN: cond.groundingMask given without cond.grounding');
      return;
    }
    const D = this.config.inputDim;
    if (!(g instanceof tf.Tensor) || g.rank !== 3 || g.shape[0] !== b || g.shape[2] !== D) {
      throw new Error(
        `GLIGEN: cond.grounding must be [${b}, G, ${D}], got ${g instanceof tf.Tensor ? `[${g.shape}]` : `a ${typeof g}`}`,
      );
    }
    if (!(m instanceof tf.Tensor) || m.rank !== 2 || m.shape[0] !== b || m.shape[1] !== g.shape[1]) {
      throw new Error(
        `GLIGEN: cond.groundingMask must be [${b}, ${g.shape[1]}] with cond.grounding, got ${m instanceof tf.Tensor ? `[${m.shape}]` : 'none'}`,
      );
    }
  }

  state(cond: Condition, tokenizer: GroundingTokenizer): GroundingState | null {
    if (cond.grounding === undefined) return null;
    return { tokens: tokenizer.apply(cond.grounding as tf.Tensor3D), mask: cond.groundingMask as tf.Tensor2D };
  }
}

/** The grounding config of a network built with GLIGEN's hook, or null. */
export function groundingOf(unet: Denoiser): GroundingConfig | null {
  const hook = (unet as { hook?: unknown }).hook;
  return hook instanceof GroundingHook ? hook.config : null;
}
