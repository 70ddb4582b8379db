// Finds which built-in wasm gradient kernels disagree with cpu. Usage: npx tsx tools/probe-grad-bugs.ts
import * as tf from '@tensorflow/tfjs-core';
import '../lib/core/tfjs_setup';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import { registerWasmTrainingKernels } from '../lib/runtime/wasm/register';
import { Rng } from '../lib/core/random';

const rng = new Rng(1);
async function cmp(name: string, shape: number[], f: (x: tf.Tensor) => tf.Tensor) {
  const xd = rng.normalArray(shape.reduce((a, b) => a * b, 1));
  const out: Float32Array[] = [];
  for (const be of ['cpu', 'wasm']) {
    await tf.setBackend(be);
    const g = tf.tidy(() => {
      const x = tf.tensor(xd, shape);
      const y = f(x);
      const r = tf.tensor(
        rng.normalArray(y.size).map((_, i) => Math.sin(i * 1.7)),
        y.shape,
      );
      return tf.grad((z: tf.Tensor) => tf.sum(tf.mul(f(z), r)))(x);
    });
    out.push(((await g.data()) as Float32Array).slice());
    g.dispose();
  }
  let d = 0,
    s = 0;
  for (let i = 0; i < out[0].length; i++) {
    d = Math.max(d, Math.abs(out[0][i] - out[1][i]));
    s = Math.max(s, Math.abs(out[0][i]));
  }
  console.log(`${name.padEnd(50)} rel ${(d / s).toExponential(2)}`);
}
(async () => {
  registerWasmTrainingKernels();
  await cmp('avgPool 2 s2 same [2,7,6,3]', [2, 7, 6, 3], (x) => tf.avgPool(x as tf.Tensor4D, 2, 2, 'same'));
  await cmp('avgPool 2 s2 valid [2,8,6,3]', [2, 8, 6, 3], (x) => tf.avgPool(x as tf.Tensor4D, 2, 2, 'valid'));
  await cmp('maxPool 3 s2 same [2,7,6,3]', [2, 7, 6, 3], (x) => tf.maxPool(x as tf.Tensor4D, 3, 2, 'same'));
  await cmp('maxPool 2 s2 valid [2,8,6,3]', [2, 8, 6, 3], (x) => tf.maxPool(x as tf.Tensor4D, 2, 2, 'valid'));
  await cmp('resizeNearest 7x6 -> 14x12', [2, 7, 6, 3], (x) =>
    tf.image.resizeNearestNeighbor(x as tf.Tensor4D, [14, 12]),
  );
  await cmp('resizeNearest 5x5 -> 10x10', [2, 5, 5, 3], (x) =>
    tf.image.resizeNearestNeighbor(x as tf.Tensor4D, [10, 10]),
  );
  await cmp('resizeBilinear 5x5 -> 10x10', [2, 5, 5, 3], (x) => tf.image.resizeBilinear(x as tf.Tensor4D, [10, 10]));
  await cmp('moments [4,9,9,2,4] axes 1,2,4', [4, 9, 9, 2, 4], (x) => {
    const m = tf.moments(x, [1, 2, 4], true);
    return tf.add(m.mean, m.variance);
  });
  await cmp('mean [4,9,9,8] axes 1,2', [4, 9, 9, 8], (x) => tf.mean(x, [1, 2], true));
  await cmp('sum 5d axes 1,2,4', [4, 3, 3, 2, 4], (x) => tf.sum(x, [1, 2, 4], true));
  await cmp('rsqrt', [10], (x) => tf.rsqrt(tf.add(tf.abs(x), 1)));
  await cmp('sigmoid*x', [4, 9, 9, 8], (x) => tf.mul(x, tf.sigmoid(x)));
  await cmp('softmax', [4, 25, 25], (x) => tf.softmax(x));
  await cmp('matMul q qT', [4, 25, 8], (x) => tf.matMul(x, x, false, true));
  await cmp('concat', [4, 9, 9, 8], (x) => tf.concat([x, tf.mul(x, 2)], 3));
  await cmp('slice', [4, 10, 10, 8], (x) => tf.slice(x, [0, 0, 0, 0], [4, 9, 9, 8]));
  await cmp('sub broadcast (x - mean)', [4, 9, 9, 2, 4], (x) => tf.sub(x, tf.mean(x, [1, 2, 4], true)));
  await cmp('add bias broadcast', [4, 9, 9, 8], (x) => tf.add(x, tf.reshape(tf.sum(x, [0, 1, 2]), [8])));
  await cmp('square', [4, 9, 9, 8], (x) => tf.square(x));
  await cmp('gather+reshape', [5, 8], (x) =>
    tf.reshape(tf.gather(x, tf.tensor1d([0, 4, 2, 4], 'int32')), [4, 1, 1, 8]),
  );
  await cmp('div', [4, 9, 9, 8], (x) => tf.div(x, tf.add(tf.abs(x), 1)));
  await cmp('depthwise', [2, 8, 8, 3], (x) =>
    tf.depthwiseConv2d(x as tf.Tensor4D, tf.ones([3, 3, 3, 1]) as tf.Tensor4D, 1, 'same'),
  );
})();
