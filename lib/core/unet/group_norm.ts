// GroupNorm (Wu & He 2018): normalise each group of channels over H, W and the group's channels,
// independent of batch size (batches of 1 at sampling time behave as in training).
//
// Written as one custom-gradient op, optionally fused with the SiLU that follows it in every ResBlock:
// autodiff of the composed ops keeps about ten full-size intermediates per norm alive until the
// backward pass, which put a batch-64 training step of the reference UNet past the 4 GB wasm heap.
// The custom gradient keeps only x and the per-group mean and 1/std, and recomputes the rest.
// On the onednn backend both passes are native kernels (lib/runtime/native/group_norm_kernel.ts) that read and
// write the activation a few times instead of once per composed op.
import * as tf from '@tensorflow/tfjs-core';
import { GROUP_NORM, GROUP_NORM_GRAD } from './group_norm_kernels';
import type { GroupNormAttrs } from './group_norm_kernels';
import { ParamStore } from '../params';

export class GroupNorm {
  readonly weight: tf.Variable;
  readonly bias: tf.Variable;

  constructor(
    store: ParamStore,
    name: string,
    readonly groups: number,
    readonly channels: number,
    readonly eps = 1e-5,
  ) {
    if (channels % groups !== 0)
      throw new Error(`GroupNorm '${name}': ${channels} channels not divisible by ${groups} groups`);
    [this.weight, this.bias] = store.scope(name, () => [
      store.constant('weight', [channels], 1),
      store.constant('bias', [channels], 0),
    ]);
  }

  /** GroupNorm(x), or SiLU(GroupNorm(x)) with `silu` set. */
  apply(x: tf.Tensor4D, silu = false): tf.Tensor4D {
    if (x.shape[3] !== this.channels)
      throw new Error(`GroupNorm: expected ${this.channels} channels, got ${x.shape[3]}`);
    return groupNorm(x, this.weight, this.bias, this.groups, this.eps, silu);
  }
}

/** y = γ·(x − mean)/sqrt(var + eps) + β per group of channels; SiLU(y) when `silu`. */
export function groupNorm(
  x: tf.Tensor4D,
  gamma: tf.Tensor,
  beta: tf.Tensor,
  groups: number,
  eps = 1e-5,
  silu = false,
): tf.Tensor4D {
  if (tf.getKernel(GROUP_NORM, tf.getBackend()) !== undefined)
    return fusedGroupNorm(x, gamma, beta, { groups, eps, silu });
  const [b, h, w, c] = x.shape;
  const grouped = [b, h, w, groups, c / groups];
  const axes = [1, 2, 4];
  // x̂ and y from x and the saved statistics (used by both passes).
  const normalise = (xg: tf.Tensor, mean: tf.Tensor, rstd: tf.Tensor, g: tf.Tensor, bt: tf.Tensor) => {
    const xhat = tf.reshape(tf.mul(tf.sub(xg, mean), rstd), [b, h, w, c]);
    return { xhat, y: tf.add(tf.mul(xhat, g), bt) };
  };
  const op = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const [xIn, g, bt] = args as tf.Tensor[];
    const save = args[3] as tf.GradSaveFunc;
    const xg = tf.reshape(xIn, grouped);
    const { mean, variance } = tf.moments(xg, axes, true);
    const rstd = tf.rsqrt(tf.add(variance, eps));
    const { y } = normalise(xg, mean, rstd, g, bt);
    save([xIn, mean, rstd, g, bt]);
    return {
      value: silu ? tf.mul(y, tf.sigmoid(y)) : y,
      gradFunc: (dOut: tf.Tensor, saved: tf.Tensor[]) => {
        const [xs, m, r, gs, bs] = saved;
        const { xhat, y: ys } = normalise(tf.reshape(xs, grouped), m, r, gs, bs);
        let dy = dOut;
        if (silu) {
          const s = tf.sigmoid(ys); // d/dy [y·σ(y)] = σ(y)·(1 + y·(1 − σ(y)))
          dy = tf.mul(dOut, tf.mul(s, tf.add(1, tf.mul(ys, tf.sub(1, s)))));
        }
        const dGamma = tf.sum(tf.mul(dy, xhat), [0, 1, 2]);
        const dBeta = tf.sum(dy, [0, 1, 2]);
        const dXhat = tf.reshape(tf.mul(dy, gs), grouped);
        const xhatG = tf.reshape(xhat, grouped);
        // dx = rstd · (dx̂ − mean(dx̂) − x̂ · mean(dx̂ · x̂)), means over each group's elements.
        const dx = tf.mul(
          r,
          tf.sub(tf.sub(dXhat, tf.mean(dXhat, axes, true)), tf.mul(xhatG, tf.mean(tf.mul(dXhat, xhatG), axes, true))),
        );
        return [tf.reshape(dx, [b, h, w, c]), dGamma, dBeta];
      },
    };
  });
  return op(x, gamma, beta) as tf.Tensor4D;
}

/** The same op through the backend's own GroupNorm kernels (registered by the onednn backend). */
function fusedGroupNorm(x: tf.Tensor4D, gamma: tf.Tensor, beta: tf.Tensor, attrs: GroupNormAttrs): tf.Tensor4D {
  const run = (name: string, inputs: tf.NamedTensorMap) =>
    tf.engine().runKernel(name, inputs, attrs as unknown as tf.NamedAttrMap) as tf.Tensor[];
  const op = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const [xIn, g, bt] = args as tf.Tensor[];
    const save = args[3] as tf.GradSaveFunc;
    const [y, mean, rstd] = run(GROUP_NORM, { x: xIn, gamma: g, beta: bt });
    save([xIn, g, bt, mean, rstd]);
    return {
      value: y,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [xs, gs, bs, m, r] = saved;
        return run(GROUP_NORM_GRAD, { dy, x: xs, gamma: gs, beta: bs, mean: m, rstd: r });
      },
    };
  });
  return op(x, gamma, beta) as tf.Tensor4D;
}
