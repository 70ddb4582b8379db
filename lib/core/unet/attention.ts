// Attention over the pixels of a low-resolution feature map: self-attention (every pixel looks at
// every other), and optionally cross-attention to a context sequence (text tokens, boxes), the hook
// that later lessons (latent diffusion, GLIGEN) condition through.
import * as tf from '@tensorflow/tfjs-core';
import { ParamStore } from '../params';
import { GroupNorm } from './group_norm';
import { Linear } from './layers';

/**
 * Scaled dot-product attention with `heads` heads. q [B,N,C], k and v [B,M,C] -> [B,N,C].
 * mask [B,M] (1 keep, 0 ignore) blanks padded context tokens. bias [B or 1, heads, N, M] is added to
 * the scores before the softmax: a learned position bias (lesson 17's temporal attention).
 */
export function multiHeadAttention(
  q: tf.Tensor3D,
  k: tf.Tensor3D,
  v: tf.Tensor3D,
  heads: number,
  mask?: tf.Tensor2D,
  bias?: tf.Tensor4D,
): tf.Tensor3D {
  return tf.tidy(() => {
    const [b, n, c] = q.shape;
    const m = k.shape[1];
    const d = c / heads;
    const split = (x: tf.Tensor3D, len: number) =>
      tf.reshape(tf.transpose(tf.reshape(x, [b, len, heads, d]), [0, 2, 1, 3]), [b * heads, len, d]) as tf.Tensor3D;
    let scores = tf.mul(tf.matMul(split(q, n), split(k, m), false, true), 1 / Math.sqrt(d));
    if (mask) {
      const maskBias = tf.reshape(tf.mul(tf.sub(1, tf.cast(mask, 'float32')), -1e9), [b, 1, 1, m]);
      scores = tf.reshape(tf.add(tf.reshape(scores, [b, heads, n, m]), maskBias), [b * heads, n, m]);
    }
    if (bias) {
      const [bb, bh, bn, bm] = bias.shape;
      if ((bb !== 1 && bb !== b) || bh !== heads || bn !== n || bm !== m)
        throw new Error(`multiHeadAttention: bias must be [1 or ${b}, ${heads}, ${n}, ${m}], got [${bias.shape}]`);
      scores = tf.reshape(tf.add(tf.reshape(scores, [b, heads, n, m]), bias), [b * heads, n, m]);
    }
    const out = tf.matMul(tf.softmax(scores), split(v, m));
    return tf.reshape(tf.transpose(tf.reshape(out, [b, heads, n, d]), [0, 2, 1, 3]), [b, n, c]) as tf.Tensor3D;
  });
}

export class AttentionBlock {
  readonly norm: GroupNorm;
  readonly qkv: Linear;
  readonly proj: Linear;
  readonly cross: {
    norm: GroupNorm;
    q: Linear;
    kv: Linear;
    proj: Linear;
  } | null;

  constructor(
    store: ParamStore,
    name: string,
    readonly channels: number,
    readonly heads: number,
    groups: number,
    readonly contextDim?: number,
  ) {
    if (channels % heads !== 0)
      throw new Error(`AttentionBlock '${name}': ${channels} channels not divisible by ${heads} heads`);
    [this.norm, this.qkv, this.proj, this.cross] = store.scope(name, () => [
      new GroupNorm(store, 'norm', groups, channels),
      new Linear(store, 'qkv', channels, 3 * channels),
      new Linear(store, 'proj', channels, channels),
      contextDim === undefined
        ? null
        : store.scope('cross', () => ({
            norm: new GroupNorm(store, 'norm', groups, channels),
            q: new Linear(store, 'q', channels, channels),
            kv: new Linear(store, 'kv', contextDim, 2 * channels),
            proj: new Linear(store, 'proj', channels, channels),
          })),
    ]);
  }

  /** x [B,H,W,C]; context [B,L,contextDim] is required iff the block was built with contextDim. */
  apply(x: tf.Tensor4D, context?: tf.Tensor3D, contextMask?: tf.Tensor2D): tf.Tensor4D {
    const [b, h, w, c] = x.shape;
    return tf.tidy(() => {
      const tokens = (t: tf.Tensor4D) => tf.reshape(t, [b, h * w, c]) as tf.Tensor3D;
      const qkv = this.qkv.apply(tokens(this.norm.apply(x)));
      const [q, k, v] = tf.split(qkv, 3, 2) as tf.Tensor3D[];
      let y = tf.add(
        x,
        tf.reshape(this.proj.apply(multiHeadAttention(q, k, v, this.heads)), [b, h, w, c]),
      ) as tf.Tensor4D;
      if (this.cross) {
        if (!context)
          throw new Error(
            `AttentionBlock: built with contextDim=${this.contextDim}, so a context [B, L, ${this.contextDim}] is required`,
          );
        if (context.rank !== 3 || context.shape[0] !== b || context.shape[2] !== this.contextDim) {
          throw new Error(`AttentionBlock: context must be [${b}, L, ${this.contextDim}], got [${context.shape}]`);
        }
        const cq = this.cross.q.apply(tokens(this.cross.norm.apply(y))) as tf.Tensor3D;
        const [ck, cv] = tf.split(this.cross.kv.apply(context), 2, 2) as tf.Tensor3D[];
        const att = multiHeadAttention(cq, ck, cv, this.heads, contextMask);
        y = tf.add(y, tf.reshape(this.cross.proj.apply(att), [b, h, w, c])) as tf.Tensor4D;
      }
      return y;
    });
  }
}
