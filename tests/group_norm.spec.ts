// The custom-gradient GroupNorm(+SiLU) against autodiff of the same formula written as plain ops.
import { strict as assert } from 'assert';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '../lib/core/tfjs_setup';
import { groupNorm } from '../lib/core/unet/group_norm';
import { Rng } from '../lib/core/random';

function reference(x: tf.Tensor4D, g: tf.Tensor, b: tf.Tensor, groups: number, silu: boolean): tf.Tensor {
  const [n, h, w, c] = x.shape;
  const xg = tf.reshape(x, [n, h, w, groups, c / groups]);
  const { mean, variance } = tf.moments(xg, [1, 2, 4], true);
  const y = tf.add(tf.mul(tf.reshape(tf.div(tf.sub(xg, mean), tf.sqrt(tf.add(variance, 1e-5))), [n, h, w, c]), g), b);
  return silu ? tf.mul(y, tf.sigmoid(y)) : y;
}

function maxRelErr(a: tf.Tensor, b: tf.Tensor): number {
  const d = tf.max(tf.abs(tf.sub(a, b))).dataSync()[0];
  return d / Math.max(1e-12, tf.max(tf.abs(b)).dataSync()[0]);
}

describe('GroupNorm custom gradient', () => {
  before(async () => {
    await tf.setBackend('cpu');
  });

  for (const silu of [false, true]) {
    for (const [shape, groups] of [
      [[2, 5, 3, 8], 4],
      [[3, 4, 4, 6], 3],
      [[1, 7, 5, 4], 1],
    ] as [number[], number][]) {
      it(`matches autodiff of the plain formula (silu=${silu}, x[${shape}], ${groups} groups)`, () => {
        const rng = new Rng(shape.reduce((a, v) => a * 10 + v, groups));
        const c = shape[3];
        const x = rng.normalTensor(shape, 0.5, 2) as tf.Tensor4D;
        const g = rng.normalTensor([c], 1, 0.3);
        const b = rng.normalTensor([c], 0, 0.3);
        const up = rng.normalTensor(shape); // a random upstream gradient
        const loss =
          (f: (x: tf.Tensor4D, g: tf.Tensor, b: tf.Tensor) => tf.Tensor) =>
          (xa: tf.Tensor, ga: tf.Tensor, ba: tf.Tensor) =>
            tf.sum(tf.mul(f(xa as tf.Tensor4D, ga, ba), up));
        const ours = tf.grads(loss((xa, ga, ba) => groupNorm(xa, ga, ba, groups, 1e-5, silu)))([x, g, b]);
        const ref = tf.grads(loss((xa, ga, ba) => reference(xa, ga, ba, groups, silu)))([x, g, b]);
        const fwd = maxRelErr(groupNorm(x, g, b, groups, 1e-5, silu), reference(x, g, b, groups, silu));
        const errs = ours.map((t, i) => maxRelErr(t, ref[i]));
        console.log(
          `      forward ${fwd.toExponential(2)}, dx ${errs[0].toExponential(2)}, dγ ${errs[1].toExponential(2)}, dβ ${errs[2].toExponential(2)}`,
        );
        assert.ok(fwd < 1e-5 && errs.every((e) => e < 1e-4), `errors ${fwd} ${errs}`);
      });
    }
  }

  it('keeps fewer tensors alive for the backward pass than the composed ops', () => {
    const x = new Rng(1).normalTensor([4, 8, 8, 16]) as tf.Tensor4D;
    const g = tf.ones([16]);
    const b = tf.zeros([16]);
    const peak = (f: (xa: tf.Tensor) => tf.Tensor) => {
      const info = tf.memory().numBytes;
      let most = 0;
      tf.tidy(() => {
        // Hold the forward's tape alive (as a training step does) and measure what it keeps.
        const { value, grads } = tf.valueAndGrads((xa: tf.Tensor) => {
          const out = tf.sum(f(xa));
          most = tf.memory().numBytes - info;
          return out;
        })([x]);
        tf.dispose([value, ...grads]);
      });
      return most;
    };
    const fused = peak((xa) => groupNorm(xa as tf.Tensor4D, g, b, 4, 1e-5, true));
    const plain = peak((xa) => reference(xa as tf.Tensor4D, g, b, 4, true));
    console.log(`      bytes held after the forward pass: fused ${fused}, composed ${plain}`);
    assert.ok(fused * 3 < plain, `fused ${fused} vs composed ${plain}`);
  });
});
