// Times candidate formulations of conv gradients on the wasm backend (tf ops on the same backend
// cost the same as composing kernelFuncs). Usage: npx tsx scripts/probe-conv-grads.ts
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-wasm';

function time(name: string, f: () => tf.Tensor, reps = 5) {
  const ts: number[] = [];
  for (let r = 0; r < reps; r++) {
    const t0 = performance.now();
    const y = f(); y.dataSync(); y.dispose();
    ts.push(performance.now() - t0);
  }
  ts.sort((a, b) => a - b);
  console.log(`${name.padEnd(40)} median ${ts[reps >> 1].toFixed(1)} ms`);
}

(async () => {
  await tf.setBackend('wasm');
  for (const [n, h, ci, co] of [[64, 28, 32, 32], [64, 14, 64, 64], [64, 7, 128, 128], [64, 28, 1, 32]]) {
    console.log(`--- x [${n},${h},${h},${ci}] -> ${co}, k3 s1 same`);
    const x = tf.randomNormal([n, h, h, ci]) as tf.Tensor4D;
    const w = tf.randomNormal([3, 3, ci, co]) as tf.Tensor4D;
    const dy = tf.randomNormal([n, h, h, co]) as tf.Tensor4D;
    time('forward conv2d', () => tf.conv2d(x, w, 1, 'same'));
    time('dW A: dilated conv, batch<->chan', () => tf.tidy(() => {
      const xt = tf.transpose(x, [3, 1, 2, 0]); const f = tf.transpose(dy, [1, 2, 0, 3]);
      const r = tf.conv2d(xt as tf.Tensor4D, f as tf.Tensor4D, 1, [[0, 0], [1, 1], [1, 1], [0, 0]]);
      return tf.transpose(r, [1, 2, 0, 3]);
    }));
    time('dW B: 9 taps matmul', () => tf.tidy(() => {
      const xp = tf.pad(x, [[0, 0], [1, 1], [1, 1], [0, 0]]);
      const d2 = tf.reshape(dy, [-1, co]);
      const taps: tf.Tensor[] = [];
      for (let a = 0; a < 3; a++) for (let b = 0; b < 3; b++) {
        const s = tf.reshape(tf.slice(xp, [0, a, b, 0], [n, h, h, ci]), [-1, ci]);
        taps.push(tf.matMul(s, d2, true, false));
      }
      return tf.reshape(tf.stack(taps), [3, 3, ci, co]);
    }));
    time('dW B2: 9 taps matmul, pre-transposed', () => tf.tidy(() => {
      const xp = tf.pad(x, [[0, 0], [1, 1], [1, 1], [0, 0]]);
      const d2 = tf.reshape(dy, [-1, co]);
      const taps: tf.Tensor[] = [];
      for (let a = 0; a < 3; a++) for (let b = 0; b < 3; b++) {
        const s = tf.reshape(tf.slice(xp, [0, a, b, 0], [n, h, h, ci]), [-1, ci]);
        taps.push(tf.matMul(tf.transpose(s), d2));
      }
      return tf.reshape(tf.stack(taps), [3, 3, ci, co]);
    }));
    time('dW C: im2col concat + 1 matmul', () => tf.tidy(() => {
      const xp = tf.pad(x, [[0, 0], [1, 1], [1, 1], [0, 0]]);
      const taps: tf.Tensor[] = [];
      for (let a = 0; a < 3; a++) for (let b = 0; b < 3; b++) taps.push(tf.slice(xp, [0, a, b, 0], [n, h, h, ci]));
      const col = tf.reshape(tf.concat(taps, 3), [-1, 9 * ci]);
      return tf.reshape(tf.matMul(col, tf.reshape(dy, [-1, co]), true, false), [3, 3, ci, co]);
    }));
    time('dX builtin Conv2DBackpropInput', () => tf.conv2dTranspose(dy, w, [n, h, h, ci], 1, 'same'));
    time('dX conv with flipped kernel', () => tf.tidy(() => {
      const wf = tf.transpose(tf.reverse(w, [0, 1]), [0, 1, 3, 2]) as tf.Tensor4D;
      return tf.conv2d(dy, wf, 1, 'same');
    }));
    time('matMul [M,ci]x[ci,co]', () => tf.matMul(tf.reshape(x, [-1, ci]), tf.ones([ci, co])));
    tf.dispose([x, w, dy]);
  }
})();
