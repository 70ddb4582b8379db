// Times one training step (forward + backward + Adam) of a small UNet-like conv net at batch 64,
// 28x28x1 on wasm, and lists the kernels that take the time.
// Usage: npx tsx scripts/probe-train-step.ts [--tfjs-input-grad] [--steps N] [--threads N]
//   --tfjs-input-grad: keep tfjs's own Conv2DBackpropInput (the "before" for that kernel); the
//   weight gradient must be ours either way, since tfjs has none on wasm.
// The same net in PyTorch: /usr/bin/python3 scripts/probe-train-step-torch.py
import * as tf from '@tensorflow/tfjs-core';
import '../lib/tfjs_setup';
import '@tensorflow/tfjs-backend-wasm';
import { registerWasmTrainingKernels } from '../lib/wasm/register';
import { conv2dBackpropFilterConfig } from '../lib/wasm/conv2d_backprop_filter';
import { Rng } from '../lib/random';
import { getThreadsCount, registerThreadedWasm } from '../lib/wasm/threads';

const args = process.argv.slice(2);
const tfjsInputGrad = args.includes('--tfjs-input-grad');
const steps = Number(args[args.indexOf('--steps') + 1]) || 8;
const threads = args.includes('--threads') ? Number(args[args.indexOf('--threads') + 1]) : 1;

function buildParams(rng: Rng): Record<string, tf.Variable> {
  const conv = (ci: number, co: number) => tf.variable(rng.normalTensor([3, 3, ci, co], 0, Math.sqrt(2 / (9 * ci))));
  const zeros = (c: number) => tf.variable(tf.zeros([c]));
  return {
    c1: conv(1, 32), b1: zeros(32), c2: conv(32, 32), b2: zeros(32),
    d1: conv(32, 64), bd1: zeros(64), c3: conv(64, 64), b3: zeros(64),
    d2: conv(64, 64), bd2: zeros(64), c4: conv(64, 64), b4: zeros(64),
    u1: conv(128, 64), bu1: zeros(64), u2: conv(96, 32), bu2: zeros(32),
    out: conv(32, 1), bout: zeros(1),
  };
}

// GroupNorm (8 groups, no affine) + SiLU: the normalisation pieces a diffusion UNet uses.
function gnSilu(x: tf.Tensor4D): tf.Tensor4D {
  const [n, h, w, c] = x.shape;
  const g = tf.reshape(x, [n, h, w, 8, c / 8]);
  const { mean, variance } = tf.moments(g, [1, 2, 4], true);
  const y = tf.reshape(tf.mul(tf.sub(g, mean), tf.rsqrt(tf.add(variance, 1e-5))), [n, h, w, c]);
  return tf.mul(y, tf.sigmoid(y)) as tf.Tensor4D;
}

function net(p: Record<string, tf.Variable>, x: tf.Tensor4D): tf.Tensor4D {
  const conv = (t: tf.Tensor4D, w: string, b: string, s = 1) => tf.add(tf.conv2d(t, p[w] as tf.Tensor4D, s, 'same'), p[b]) as tf.Tensor4D;
  const h1 = gnSilu(conv(gnSilu(conv(x, 'c1', 'b1')), 'c2', 'b2')); // 28x28x32
  const h2 = gnSilu(conv(gnSilu(conv(h1, 'd1', 'bd1', 2)), 'c3', 'b3')); // 14x14x64
  const h3 = gnSilu(conv(gnSilu(conv(h2, 'd2', 'bd2', 2)), 'c4', 'b4')); // 7x7x64
  const u1 = gnSilu(conv(tf.concat([tf.image.resizeNearestNeighbor(h3, [14, 14]), h2], 3), 'u1', 'bu1'));
  const u2 = gnSilu(conv(tf.concat([tf.image.resizeNearestNeighbor(u1, [28, 28]), h1], 3), 'u2', 'bu2'));
  return conv(u2, 'out', 'bout');
}

async function main(): Promise<void> {
  if (tfjsInputGrad) tf.registerKernel(conv2dBackpropFilterConfig);
  else registerWasmTrainingKernels();
  if (threads > 1) await registerThreadedWasm(threads);
  if (!(await tf.setBackend('wasm'))) throw new Error('wasm backend failed to start');
  const rng = new Rng(0);
  const p = buildParams(rng);
  const nParams = Object.values(p).reduce((a, v) => a + v.size, 0);
  const x = rng.normalTensor([64, 28, 28, 1]) as tf.Tensor4D;
  const target = rng.normalTensor([64, 28, 28, 1]);
  const opt = tf.train.adam(1e-3);
  const step = () => {
    const loss = opt.minimize(() => tf.mean(tf.square(tf.sub(net(p, x), target))) as tf.Scalar, true);
    const v = loss!.dataSync()[0];
    loss!.dispose();
    return v;
  };
  step(); // warm-up: XNNPACK operator creation, heap growth
  const times: number[] = [];
  for (let i = 0; i < steps; i++) {
    const t0 = performance.now();
    step();
    times.push(performance.now() - t0);
  }
  const sorted = [...times].sort((a, b) => a - b);
  console.log(`params ${nParams}, ${tfjsInputGrad ? "tfjs's Conv2DBackpropInput" : 'our kernels'}, ${getThreadsCount()} thread(s): median ${sorted[steps >> 1].toFixed(0)} ms/step ` +
    `(min ${sorted[0].toFixed(0)}, ${steps} steps), tensors ${tf.memory().numTensors}`);
  const prof = await tf.profile(() => { step(); });
  const byKernel = new Map<string, number>();
  for (const k of prof.kernels) byKernel.set(k.name, (byKernel.get(k.name) ?? 0) + (k.kernelTimeMs as number));
  const total = [...byKernel.values()].reduce((a, b) => a + b, 0);
  console.log(`kernel time ${total.toFixed(0)} ms in ${prof.kernels.length} kernel calls; top:`);
  for (const [k, ms] of [...byKernel.entries()].sort((a, b) => b[1] - a[1]).slice(0, 12)) console.log(`  ${k.padEnd(28)} ${ms.toFixed(1)} ms`);
}

main().then(() => process.exit(0)); // pthread workers (if any) would keep Node alive
