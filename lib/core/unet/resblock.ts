// Residual block: GroupNorm-SiLU-conv, add the projected time embedding, GroupNorm-SiLU-conv,
// plus a 1x1 conv on the shortcut when the width changes (DDPM's block without dropout).
import * as tf from '@tensorflow/tfjs-core';
import { ParamStore } from '../params';
import { GroupNorm } from './group_norm';
import { Conv2d, Linear } from './layers';

export class ResBlock {
  readonly norm1: GroupNorm;
  readonly conv1: Conv2d;
  readonly temb: Linear;
  readonly norm2: GroupNorm;
  readonly conv2: Conv2d;
  readonly skip: Conv2d | null;

  constructor(
    store: ParamStore,
    name: string,
    readonly inCh: number,
    readonly outCh: number,
    tembDim: number,
    groups: number,
  ) {
    [this.norm1, this.conv1, this.temb, this.norm2, this.conv2, this.skip] = store.scope(name, () => [
      new GroupNorm(store, 'norm1', groups, inCh),
      new Conv2d(store, 'conv1', inCh, outCh, 3),
      new Linear(store, 'temb', tembDim, outCh),
      new GroupNorm(store, 'norm2', groups, outCh),
      new Conv2d(store, 'conv2', outCh, outCh, 3),
      inCh !== outCh ? new Conv2d(store, 'skip', inCh, outCh, 1) : null,
    ]);
  }

  /** x [B,H,W,inCh]; tembAct = SiLU(time embedding) [B, tembDim], computed once per forward pass. */
  apply(x: tf.Tensor4D, tembAct: tf.Tensor2D): tf.Tensor4D {
    return tf.tidy(() => {
      let h = this.conv1.apply(this.norm1.apply(x, true));
      h = tf.add(h, tf.reshape(this.temb.apply(tembAct), [-1, 1, 1, this.outCh]));
      h = this.conv2.apply(this.norm2.apply(h, true));
      const s = this.skip ? this.skip.apply(x) : x;
      return tf.add(s, h) as tf.Tensor4D;
    });
  }
}
