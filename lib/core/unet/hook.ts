// The one extension point of the core UNet: layers inserted after its attention blocks (or, when the
// hook asks, after every block), with parameters shared by all of them and a per-pass state computed
// from the condition. GLIGEN's gated self-attention (lib/methods/gligen) and lesson 17's temporal layers
// are built this way, so the core knows no method: it calls the hook at fixed points while it builds and
// runs, and accepts the condition fields the hook declares.
//
// The hook is a description (its own config, no weights): the UNet stores what it builds, so one hook
// object can build several networks (a model and its EMA copy).
import * as tf from '@tensorflow/tfjs-core';
import { Condition } from '../condition';
import { ParamStore } from '../params';
import { UNetConfig } from './config';

export interface AttentionHookLayer<State> {
  /** x [B, H, W, C] (the attention block's output) -> the same shape. */
  apply(x: tf.Tensor4D, state: State): tf.Tensor4D;
}

export interface AttentionHook<Shared = unknown, State = unknown> {
  /** Names the hook in errors ('GLIGEN'). */
  readonly name: string;
  /** The condition fields the hook reads; the UNet accepts them besides its own. */
  readonly fields: readonly string[];
  /**
   * false or absent: a layer after each attention block only. true: after every block of every level
   * (its attention block where it has one, else its ResBlock; in the middle, after the attention block
   * or the first ResBlock), so every resolution gets one; the attention positions keep their names.
   */
  readonly everyBlock?: boolean;
  /**
   * The layer that follows one block. Called while the UNet is built, inside the level's parameter
   * scope ('down.0', 'mid', 'up.1') right after the block: `block` is the block's name in that scope
   * ('attn.0', 'attn', or with everyBlock 'res.1', 'res1'), `channels` its width.
   */
  buildLayer(store: ParamStore, block: string, channels: number, config: UNetConfig): AttentionHookLayer<State>;
  /** Parameters the layers share, built once after the up path (before the output norm), at the root scope. */
  buildShared(store: ParamStore, config: UNetConfig): Shared;
  /** Checks the hook's fields of `cond` for a batch of `batch` images; throws naming the field and the expected shape. */
  check(cond: Condition, batch: number): void;
  /**
   * The pass's state, computed once per forward pass inside the UNet's tf.tidy. null skips every
   * layer: the UNet then computes exactly the network without them.
   */
  state(cond: Condition, shared: Shared): State | null;
}
