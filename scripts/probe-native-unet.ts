// Scratch benchmark: one training step of the course's reference UNet (lib/unet, batch 64, 28x28)
// on 'onednn', with the time per tfjs kernel, next to scripts/bench_torch.py on the same threads.
// Usage: DIFFUSION_THREADS=1 npx tsx scripts/probe-native-unet.ts [--steps N] [--batch B] [--skip-torch] [--wasm]
import { execFileSync } from 'child_process';
import * as tf from '@tensorflow/tfjs-core';
import '../lib/tfjs_setup';
import { registerNativeBackend } from '../lib/native';
import { threadCount } from '../lib/native/addon';
import { Rng } from '../lib/random';
import { makeSchedule } from '../lib/schedule';
import { makeTrainStep } from '../lib/train_step';
import { UNet, referenceUNetConfig } from '../lib/unet/unet';

const argv = process.argv.slice(2);
const STEPS = Number(argv[argv.indexOf('--steps') + 1]) || 4;
const BATCH = Number(argv[argv.indexOf('--batch') + 1]) || 64;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

function timeKernels(backend: string) {
  const total = new Map<string, number>();
  for (const k of tf.getKernelsForBackend(backend)) {
    tf.unregisterKernel(k.kernelName, backend);
    tf.registerKernel({
      ...k,
      kernelFunc: (args) => {
        const t0 = performance.now();
        const out = k.kernelFunc(args);
        total.set(k.kernelName, (total.get(k.kernelName) ?? 0) + performance.now() - t0);
        return out;
      },
    });
  }
  return total;
}

(async () => {
  const reg = await registerNativeBackend();
  if (!reg.ok) throw new Error(reg.reason);
  const backend = argv.includes('--wasm') ? 'wasm' : 'onednn';
  if (backend === 'wasm') require('../lib/wasm/register').registerWasmTrainingKernels();
  await tf.setBackend(backend);
  const model = new UNet(referenceUNetConfig(), { seed: 1 });
  const step = makeTrainStep(model, { schedule: makeSchedule('linear', 1000), rng: new Rng(2) });
  const x0 = new Rng(3).normalTensor([BATCH, 28, 28, 1]) as tf.Tensor4D;
  step(x0);
  const total = timeKernels(backend);
  const ms: number[] = [];
  for (let i = 0; i < STEPS; i++) {
    const t0 = performance.now();
    step(x0);
    ms.push(performance.now() - t0);
  }
  const rows = [...total.entries()].sort((a, b) => b[1] - a[1]);
  const sum = rows.reduce((s, r) => s + r[1], 0);
  console.log(`${backend}, ${threadCount()} threads: ${median(ms).toFixed(0)} ms/step (median of ${STEPS}); kernels ${(sum / STEPS).toFixed(0)} ms/step:`);
  for (const [name, t] of rows.slice(0, 18)) console.log(`  ${name.padEnd(24)} ${(t / STEPS).toFixed(1).padStart(7)} ms  ${((100 * t) / sum).toFixed(0)}%`);
  if (!argv.includes('--skip-torch')) {
    const out = execFileSync('/usr/bin/python3', ['scripts/bench_torch.py', '--threads', String(threadCount()), '--batch', String(BATCH),
      '--train-steps', String(STEPS), '--sample-images', '1', '--sample-steps', '1'], { encoding: 'utf8' });
    console.log(`torch: ${out.trim().split('\n').pop()}`);
  }
})();
