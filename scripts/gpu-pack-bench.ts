// The training/sampling benchmark of scripts/bench.ts for one backend, written so that it also runs on
// WebGPU under Node: it reads the loss with `await loss.data()`. tfjs-webgpu's synchronous read
// copies through an OffscreenCanvas, which Node does not have ("OffscreenCanvas is not defined").
// Built into the GPU pack (scripts/gpu-pack.sh) and run by its gpu-run.sh; also runs from the repo:
//   DIFFUSION_BACKEND=cpu BENCH_QUICK=1 npx tsx scripts/gpu-pack-bench.ts
// Prints the backend report, the kernels of one profiled training step, then one line
// `BENCH_RESULT {json}` (ms per training step, sampling time, the plan, so that the PyTorch twin can run
// the same sizes: scripts/bench_torch.py).
// BENCH_QUICK=1: tiny sizes (a smoke test; the numbers mean nothing).
import * as tf from '@tensorflow/tfjs-core';
import { formatBackendReport, initBackend } from '../lib/runtime/backend';
import { diffusionLoss } from '../lib/core/loss';
import { Rng } from '../lib/core/random';
import { DDIMSampler } from '../lib/core/samplers/ddim';
import { unetModel } from '../lib/core/samplers/types';
import { linearSchedule, NoiseSchedule } from '../lib/core/schedule';
import { referenceUNetConfig } from '../lib/core/unet/config';
import { unetFlops } from '../lib/eval/unet_flops';
import { UNet } from '../lib/core/unet/unet';

const QUICK = process.env.BENCH_QUICK === '1';

const plan = QUICK
  ? {
      config: referenceUNetConfig({ baseChannels: 8, groups: 4, numResBlocks: 1 }),
      batch: 4,
      warmup: 1,
      steps: 2,
      sampleImages: 4,
      sampleSteps: 2,
    }
  : { config: referenceUNetConfig(), batch: 64, warmup: 3, steps: 10, sampleImages: 64, sampleSteps: 50 };

/** One Adam step as lib/core/train/train_step.ts does it, but with an asynchronous loss read. */
function asyncTrainStep(model: UNet, schedule: NoiseSchedule, rng: Rng) {
  const optimizer = tf.train.adam(5e-4);
  const vars = [...model.params.values()];
  return async (x0: tf.Tensor4D): Promise<number> => {
    const t = Array.from({ length: x0.shape[0] }, () => rng.int(schedule.T));
    const noise = rng.normalTensor(x0.shape) as tf.Tensor4D;
    try {
      const loss = optimizer.minimize(
        () => diffusionLoss((xt, tt) => model.apply(xt, tt, {}), schedule, x0, t, noise, 'eps'),
        true,
        vars,
      );
      if (!loss) throw new Error('optimizer returned no loss');
      const v = (await loss.data())[0]; // waits for the GPU: the step is really done
      loss.dispose();
      return v;
    } finally {
      noise.dispose();
    }
  };
}

interface KernelTotal {
  name: string;
  count: number;
  ms: number;
}

/**
 * Where a training step's time goes: one more step under tf.profile, its kernels summed by name,
 * largest first (printed, and returned for BENCH_RESULT). On webgpu the times are GPU times from
 * timestamp queries, which tfjs reports as 0 where the device lacks them: then the counts remain.
 */
async function kernelProfile(run: () => Promise<number>, top = 10): Promise<KernelTotal[]> {
  const info = await tf.profile(run);
  const byName = new Map<string, KernelTotal>();
  // Only the backend's kernels: tfjs also records custom-gradient scopes and fused ops, whose time
  // the kernels inside them already count.
  const kernelsRun = info.kernels.filter((k) => tf.getKernel(k.name, tf.getBackend()) !== undefined);
  for (const k of kernelsRun) {
    const t = byName.get(k.name) ?? { name: k.name, count: 0, ms: 0 };
    t.count += 1;
    t.ms += typeof k.kernelTimeMs === 'number' ? k.kernelTimeMs : 0;
    byName.set(k.name, t);
  }
  const all = [...byName.values()].sort((a, b) => b.ms - a.ms || b.count - a.count);
  const total = all.reduce((s, k) => s + k.ms, 0);
  console.log(
    `kernels of one training step (${kernelsRun.length} calls, ${total > 0 ? `${total.toFixed(1)} ms of kernel time` : 'no kernel times on this device'}):`,
  );
  for (const k of all.slice(0, top)) {
    console.log(
      `  ${k.name.padEnd(28)} x${String(k.count).padEnd(5)} ${total > 0 ? `${k.ms.toFixed(2).padStart(9)} ms ${((100 * k.ms) / total).toFixed(1).padStart(5)} %` : ''}`,
    );
  }
  return all.slice(0, top).map((k) => ({ ...k, ms: Math.round(k.ms * 1000) / 1000 }));
}

const median = (a: number[]) => {
  const s = [...a].sort((p, q) => p - q);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

async function main(): Promise<void> {
  const r = await initBackend();
  console.log(formatBackendReport(r));
  const rng = new Rng(0);
  const model = new UNet(plan.config, { rng });
  const schedule = linearSchedule(1000);
  const step = asyncTrainStep(model, schedule, rng.fork());
  const S = plan.config.imageSize;
  const x0 = tf.tidy(() =>
    tf.sub(tf.mul(rng.uniformTensor([plan.batch, S, S, plan.config.inChannels]), 2), 1),
  ) as tf.Tensor4D;
  const tw = performance.now();
  let loss = NaN;
  for (let i = 0; i < plan.warmup; i++) loss = await step(x0); // first steps compile the shaders
  const warmupS = (performance.now() - tw) / 1000;
  const tensorsBefore = tf.memory().numTensors;
  const times: number[] = [];
  for (let i = 0; i < plan.steps; i++) {
    const t0 = performance.now();
    loss = await step(x0);
    times.push(performance.now() - t0);
  }
  const numTensorsGrowth = tf.memory().numTensors - tensorsBefore;
  const kernels = await kernelProfile(() => step(x0));
  const sampler = new DDIMSampler(schedule);
  const t0 = performance.now();
  const imgs = sampler.sample(unetModel(model), [plan.sampleImages, S, S, plan.config.inChannels], {
    steps: plan.sampleSteps,
    rng,
  });
  const pixels = await imgs.data(); // waits for the asynchronous backends
  const sampleS = (performance.now() - t0) / 1000;
  imgs.dispose();
  const trainMs = median(times);
  const flops = unetFlops(plan.config, plan.batch);
  const result = {
    backend: r.backend,
    threads: r.threads,
    details: r.details,
    quick: QUICK,
    config: plan.config,
    params: model.paramCount,
    batch: plan.batch,
    warmup: plan.warmup,
    steps: plan.steps,
    warmupS,
    trainMs,
    trainMsAll: times.map((t) => Math.round(t * 10) / 10),
    trainGflops: flops.train / (trainMs / 1000) / 1e9,
    lastLoss: loss,
    sampleImages: plan.sampleImages,
    sampleSteps: plan.sampleSteps,
    sampleS,
    imagesPerS: plan.sampleImages / sampleS,
    sampleFinite: pixels.every((v) => Number.isFinite(v)),
    maxRssMb: process.resourceUsage().maxRSS / 1024,
    numTensorsGrowth,
    kernels,
  };
  console.log(`BENCH_RESULT ${JSON.stringify(result)}`);
  x0.dispose();
  model.dispose();
}

main().then(
  () => process.exit(0), // Dawn keeps the process alive while navigator.gpu is referenced
  (e: Error) => {
    console.error(`gpu-pack-bench: ${e.message}`);
    process.exit(1);
  },
);
