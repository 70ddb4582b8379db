// Scratch: per-kernel, per-shape time of one reference-UNet training step on 'onednn'.
// Usage: DIFFUSION_THREADS=2 npx tsx scripts/probe-native-shapes.ts [--batch 64] [--steps 2] [--top 40]
import * as tf from '@tensorflow/tfjs-core';
import '../lib/tfjs_setup';
import { registerNativeBackend } from '../lib/native';
import { Rng } from '../lib/random';
import { makeSchedule } from '../lib/schedule';
import { makeTrainStep } from '../lib/train_step';
import { UNet, referenceUNetConfig } from '../lib/unet/unet';

const argv = process.argv.slice(2);
const arg = (k: string, d: number) => (argv.includes(k) ? Number(argv[argv.indexOf(k) + 1]) : d);
const STEPS = arg('--steps', 2), BATCH = arg('--batch', 64), TOP = arg('--top', 40);

(async () => {
  const reg = await registerNativeBackend();
  if (reg.ok === false) throw new Error(reg.reason);
  await tf.setBackend('onednn');
  const model = new UNet(referenceUNetConfig(), { seed: 1 });
  const step = makeTrainStep(model, { schedule: makeSchedule('linear', 1000), rng: new Rng(2) });
  const x0 = new Rng(3).normalTensor([BATCH, 28, 28, 1]) as tf.Tensor4D;
  step(x0);
  const total = new Map<string, { t: number; n: number; min: number }>();
  for (const k of tf.getKernelsForBackend('onednn')) {
    tf.unregisterKernel(k.kernelName, 'onednn');
    tf.registerKernel({
      ...k,
      kernelFunc: (args) => {
        const t0 = performance.now();
        const out = k.kernelFunc(args);
        const dt = performance.now() - t0;
        const key = `${k.kernelName} ${Object.values(args.inputs).map((t) => (t ? `[${t.shape}]` : "-")).join(' ')} ${JSON.stringify(args.attrs ?? {}).slice(0, 60)}`;
        const e = total.get(key) ?? { t: 0, n: 0, min: Infinity };
        e.t += dt; e.n++; e.min = Math.min(e.min, dt);
        total.set(key, e);
        return out;
      },
    });
  }
  const ms: number[] = [];
  let kernelsTotal = 0;
  for (let i = 0; i < STEPS; i++) {
    const t0 = performance.now();
    step(x0);
    ms.push(performance.now() - t0);
  }
  const rows = [...total.entries()].sort((a, b) => b[1].t - a[1].t);
  for (const [, e] of rows) kernelsTotal += e.t;
  let calls = 0;
  for (const [, e] of rows) calls += e.n;
  // Noise-robust estimate: each (kernel, shape)'s fastest call times its number of calls.
  const byKernel = new Map<string, number>();
  let best = 0;
  for (const [key, e] of rows) {
    const k = key.split(' ')[0];
    byKernel.set(k, (byKernel.get(k) ?? 0) + (e.min * e.n) / STEPS);
    best += (e.min * e.n) / STEPS;
  }
  console.log(`best-case kernel time ${best.toFixed(0)} ms/step: ${[...byKernel.entries()].sort((a, b) => b[1] - a[1]).slice(0, 16).map(([k, t]) => `${k} ${t.toFixed(0)}`).join(', ')}`);
  console.log(`steps ${ms.map((m) => m.toFixed(0)).join(' ')} ms; kernels ${(kernelsTotal / STEPS).toFixed(0)} ms/step, ${calls / STEPS} kernel calls/step`);
  for (const [key, e] of rows.slice(0, TOP)) console.log(`${(e.t / STEPS).toFixed(1).padStart(7)} ms ${String(e.n / STEPS).padStart(4)}x  ${key}`);
})();
