// What the rest of the course needs from a denoising network, whatever conditions it reads: the
// core UNet, a text-conditioned UNet that encodes captions and calls it, a UNet with GLIGEN's layers.
// Samplers wrap one as a DiffusionModel (samplers/types.ts unetModel); the Trainer trains its params
// and keeps an EMA copy made by emptyCopy(); checkpoints store its config.
import * as tf from '@tensorflow/tfjs-core';
import { Condition } from '../condition';
import { ParamMap } from '../params';
import { UNetConfig } from './config';

/** One integer timestep per image, in [0, T-1]. */
export type Timesteps = tf.Tensor1D | number[] | Float32Array | Int32Array;

export interface Denoiser<C extends Condition = Condition> {
  /** The JSON a checkpoint stores to rebuild this network (the core UNet's fields, plus a wrapper's own). */
  readonly config: UNetConfig;
  /** Every trainable parameter under its stable dotted name (the checkpoint's tensor names). */
  readonly params: ParamMap;
  /** Number of trainable weights (the sum of the params' sizes). */
  readonly paramCount: number;
  /**
   * x [B, S, S, inChannels] -> [B, S, S, outChannels]. Each field of `cond` holds one entry per image;
   * a field the network does not read is an error naming it (never silently ignored).
   */
  apply(x: tf.Tensor4D, t: Timesteps, cond?: C): tf.Tensor4D;
  /** A network of the same architecture and config with freshly drawn weights (an EMA target). */
  emptyCopy(): Denoiser<C>;
  /** Frees every parameter. */
  dispose(): void;
}
