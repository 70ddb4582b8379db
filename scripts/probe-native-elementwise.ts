// Scratch: elementwise kernels on 'onednn' (native) vs 'wasm', same process, medians of 15.
// Usage: DIFFUSION_THREADS=1 npx tsx scripts/probe-native-elementwise.ts
import * as tf from '@tensorflow/tfjs-core';
import { registerNativeBackend } from '../lib/native';

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const cases: Array<[string, () => tf.Tensor]> = [];
let x: tf.Tensor, g: tf.Tensor, c: tf.Tensor, y: tf.Tensor;

(async () => {
  const reg = await registerNativeBackend();
  if (!reg.ok) throw new Error(reg.reason);
  cases.push(['mul same shape [32,28,28,64]', () => tf.mul(x, y)]);
  cases.push(['mul per-group [32,28,28,8,8]*[32,1,1,8,1]', () => tf.mul(tf.reshape(x, [32, 28, 28, 8, 8]), g)]);
  cases.push(['add per-channel bias [64]', () => tf.add(x, c)]);
  cases.push(['sum over [0,1,2] (bias grad)', () => tf.sum(x, [0, 1, 2])]);
  cases.push(['mean over [1,2,4] (GroupNorm)', () => tf.mean(tf.reshape(x, [32, 28, 28, 8, 8]), [1, 2, 4], true)]);
  cases.push(['concat channels 64+64', () => tf.concat([x, y], 3)]);
  for (const backend of ['wasm', 'onednn']) {
    await tf.setBackend(backend);
    x = tf.randomNormal([32, 28, 28, 64]);
    y = tf.randomNormal([32, 28, 28, 64]);
    g = tf.randomNormal([32, 1, 1, 8, 1]);
    c = tf.randomNormal([64]);
    for (const [name, f] of cases) {
      const ts: number[] = [];
      for (let i = 0; i < 15; i++) {
        const t0 = performance.now();
        tf.tidy(() => { f(); });
        ts.push(performance.now() - t0);
      }
      console.log(`${backend.padEnd(7)} ${name.padEnd(44)} ${median(ts).toFixed(2)} ms`);
    }
    tf.dispose([x, y, g, c]);
  }
})();
