// What the rest of the course needs from a denoising network, whatever conditions it reads: the
// core UNet, a text-conditioned UNet that encodes captions and calls it, a UNet with GLIGEN's layers.
// Samplers wrap one as a DiffusionModel (samplers/types.ts unetModel); the Trainer trains its params
// and keeps an EMA copy made by emptyCopy(); checkpoints store its config.
import * as tf from '@tensorflow/tfjs-core';
import { Condition } from '../condition';
import { ParamMap } from '../params';
import { UNetConfig } from './config';

export interface Denoiser<C extends Condition = Condition> {
  /** The JSON a checkpoint stores to rebuild this network (the core UNet's fields, plus a wrapper's own). */
  readonly config: UNetConfig;
  /** Every trainable parameter under its stable dotted name (the checkpoint's tensor names). */
  readonly params: ParamMap;
  /** x [B, S, S, inChannels], one integer timestep per image in [0, T-1] -> [B, S, S, outChannels]. */
  apply(x: tf.Tensor4D, t: tf.Tensor1D | number[] | Float32Array | Int32Array, cond?: C): tf.Tensor4D;
  /** A network of the same architecture and config with freshly drawn weights (an EMA target). */
  emptyCopy(): Denoiser<C>;
  dispose(): void;
}
