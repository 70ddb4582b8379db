// npm run bench: speed of the reference UNet on every available backend, next to PyTorch.
// For each backend (in its own process: tfjs backends and variables cannot be switched cleanly
// mid-process) it times (a) a training step at batch 64 on 28x28 (warm-up, then the median of N),
// (b) sampling 64 images with 50 DDIM steps; then runs scripts/bench_torch.py with the same thread
// count. Prints ms/step, images/s, achieved GFLOP/s (analytic, lib/eval/unet_flops.ts), peak RSS, and
// ends with one `ratio <backend>/pytorch train=<x> sample=<y>` line per backend, the default last.
// BENCH_QUICK=1: tiny sizes (a smoke test). The pure-JS cpu backend gets a reduced measurement.
// --quality M [...]: quality per CPU-minute against PyTorch instead (scripts/bench-quality.ts).
// --audio [...]: lesson 16's spectrogram UNet against a waveform 1-D UNet (scripts/bench-audio.ts).
import { spawnSync } from 'child_process';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs-core';
import { BackendName, formatBackendReport, initBackend } from '../lib/runtime/backend';
import { Rng } from '../lib/core/random';
import { DDIMSampler } from '../lib/core/samplers/ddim';
import { unetModel } from '../lib/core/samplers/types';
import { linearSchedule } from '../lib/core/schedule';
import { makeTrainStep } from '../lib/core/train/train_step';
import { referenceUNetConfig, UNetConfig } from '../lib/core/unet/config';
import { unetFlops } from '../lib/eval/unet_flops';
import { UNet } from '../lib/core/unet/unet';

const QUICK = process.env.BENCH_QUICK === '1';
const PY = process.env.BENCH_PYTHON ?? '/usr/bin/python3';

interface Plan {
  config: UNetConfig;
  batch: number;
  warmup: number;
  steps: number;
  sampleImages: number;
  sampleSteps: number;
  reduced: boolean;
}

function plan(backend: BackendName, batch = 64): Plan {
  if (QUICK) {
    return {
      config: referenceUNetConfig({ baseChannels: 8, groups: 4, numResBlocks: 1 }),
      batch: 4,
      warmup: 1,
      steps: 2,
      sampleImages: 4,
      sampleSteps: 2,
      reduced: false,
    };
  }
  const full: Plan = {
    config: referenceUNetConfig(),
    batch,
    warmup: 2,
    steps: 5,
    sampleImages: 64,
    sampleSteps: 50,
    reduced: false,
  };
  // Pure JS: one step of a smaller batch, a few sampling steps; rates are per image so they compare.
  if (backend === 'cpu')
    return { ...full, batch: 4, warmup: 0, steps: 1, sampleImages: 4, sampleSteps: 1, reduced: true };
  return full;
}

interface Result {
  backend: BackendName;
  threads: number;
  report: string;
  params: number;
  batch: number;
  reduced: boolean;
  trainMs: number;
  trainMsAll: number[];
  trainGflops: number;
  sampleImages: number;
  sampleSteps: number;
  sampleS: number;
  imagesPerS: number;
  sampleGflops: number;
  maxRssMb: number;
  numTensorsGrowth: number;
  /** Why the requested batch did not run, when a smaller one was measured instead. */
  fallback?: string;
}

const median = (a: number[]) => {
  const s = [...a].sort((p, q) => p - q);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

async function worker(force: BackendName | 'default', batch: number): Promise<Result> {
  const r = await initBackend(force === 'default' ? {} : { force });
  const p = plan(r.backend, batch);
  const rng = new Rng(0);
  const model = new UNet(p.config, { rng });
  const schedule = linearSchedule(1000);
  const step = makeTrainStep(model, { schedule, rng: rng.fork() });
  const S = p.config.imageSize;
  const x0 = tf.tidy(() =>
    tf.sub(tf.mul(rng.uniformTensor([p.batch, S, S, p.config.inChannels]), 2), 1),
  ) as tf.Tensor4D;
  for (let i = 0; i < p.warmup; i++) await step(x0);
  const tensorsBefore = tf.memory().numTensors;
  const times: number[] = [];
  for (let i = 0; i < p.steps; i++) {
    const t0 = performance.now();
    await step(x0);
    times.push(performance.now() - t0);
  }
  const numTensorsGrowth = tf.memory().numTensors - tensorsBefore;
  const sampler = new DDIMSampler(schedule);
  const t0 = performance.now();
  const imgs = sampler.sample(unetModel(model), [p.sampleImages, S, S, p.config.inChannels], {
    steps: p.sampleSteps,
    rng,
  });
  await imgs.data(); // wait for asynchronous backends
  const sampleS = (performance.now() - t0) / 1000;
  imgs.dispose();
  const trainMs = median(times);
  const flops = unetFlops(p.config, p.batch);
  const sampleFlops = unetFlops(p.config, p.sampleImages).forward * p.sampleSteps;
  return {
    backend: r.backend,
    threads: r.threads,
    report: formatBackendReport(r),
    params: model.paramCount,
    batch: p.batch,
    reduced: p.reduced,
    trainMs,
    trainMsAll: times.map((t) => Math.round(t)),
    trainGflops: flops.train / (trainMs / 1000) / 1e9,
    sampleImages: p.sampleImages,
    sampleSteps: p.sampleSteps,
    sampleS,
    imagesPerS: p.sampleImages / sampleS,
    sampleGflops: sampleFlops / sampleS / 1e9,
    maxRssMb: process.resourceUsage().maxRSS / 1024,
    numTensorsGrowth,
  };
}

interface TorchResult {
  params: number;
  threads: number;
  train_ms: number;
  sample_s: number;
  images_per_s: number;
  max_rss_mb: number;
  framework: string;
}

function runTorch(threads: number, p: Plan): TorchResult | string {
  const args = [
    path.join(__dirname, 'bench_torch.py'),
    '--config',
    JSON.stringify(p.config),
    '--threads',
    String(threads),
    '--batch',
    String(p.batch),
    '--warmup',
    String(p.warmup),
    '--train-steps',
    String(p.steps),
    '--sample-images',
    String(p.sampleImages),
    '--sample-steps',
    String(p.sampleSteps),
  ];
  const r = spawnSync(PY, args, { encoding: 'utf8', maxBuffer: 1 << 24 });
  if (r.error) return `${PY} not runnable (${r.error.message})`;
  if (r.status !== 0) {
    const err = (r.stderr || '').trim();
    if (/No module named 'torch'/.test(err))
      return `PyTorch is not installed for ${PY} (Debian: apt-get install python3-torch)`;
    return `bench_torch.py failed: ${err.split('\n').slice(-1)[0]}`;
  }
  return JSON.parse(r.stdout.trim().split('\n').pop()!) as TorchResult;
}

function runWorkerAt(force: BackendName | 'default', batch: number): Result | string {
  // tsx runs this file; the child is the same node with the same loader flags.
  const r = spawnSync(process.execPath, [...process.execArgv, __filename, '--worker', force, String(batch)], {
    encoding: 'utf8',
    maxBuffer: 1 << 24,
    env: { ...process.env, DIFFUSION_BACKEND: '' },
  });
  const line = (r.stdout || '').split('\n').find((l) => l.startsWith('BENCH_RESULT '));
  if (r.status !== 0 || !line) {
    const err = `${r.stderr || ''}`
      .trim()
      .split('\n')
      .filter((l) => l.trim())
      .slice(-3)
      .join(' | ');
    return err || `exit status ${r.status}`;
  }
  return JSON.parse(line.slice('BENCH_RESULT '.length)) as Result;
}

/**
 * Runs one backend in a child process at batch 64; if that dies (the wasm heap is 32-bit: a batch-64
 * training step of the reference UNet needs more tensor memory than it can address), retries at 32.
 */
function runWorker(force: BackendName | 'default'): Result | string {
  const first = runWorkerAt(force, 64);
  if (typeof first !== 'string' || QUICK) return first;
  const second = runWorkerAt(force, 32);
  if (typeof second === 'string') return `${first}; at batch 32: ${second}`;
  return { ...second, fallback: `batch 64 failed (${first}); measured at batch 32` };
}

const f1 = (x: number) => x.toFixed(1);
const f2 = (x: number) => x.toFixed(2);

async function main(): Promise<void> {
  // Quality per CPU-minute against PyTorch is its own benchmark (scripts/bench-quality.ts).
  if (process.argv.includes('--quality')) return (await import('./bench-quality')).main(process.argv.slice(2));
  // Spectrogram against waveform diffusion for lesson 16's sound (scripts/bench-audio.ts).
  if (process.argv.includes('--audio')) return (await import('./bench-audio')).main(process.argv.slice(2));
  const wi = process.argv.indexOf('--worker');
  if (wi >= 0) {
    const res = await worker(process.argv[wi + 1] as BackendName | 'default', Number(process.argv[wi + 2] ?? 64));
    console.log(`BENCH_RESULT ${JSON.stringify(res)}`);
    return;
  }
  console.log(
    `bench${QUICK ? ' (BENCH_QUICK=1: tiny sizes, numbers are not meaningful)' : ''}: reference UNet, ${plan('wasm').batch}x${plan('wasm').config.imageSize}x${plan('wasm').config.imageSize}, DDIM ${plan('wasm').sampleSteps} steps`,
  );
  const def = runWorker('default');
  if (typeof def === 'string') throw new Error(`default backend failed: ${def}`);
  const results: Result[] = [];
  for (const b of ['onednn', 'wasm', 'cpu'] as BackendName[]) {
    if (b === def.backend) continue;
    process.stdout.write(`measuring ${b} ... `);
    const r = runWorker(b);
    if (typeof r === 'string') {
      console.log(`skipped (${r})`);
      continue;
    }
    console.log('done');
    results.push(r);
  }
  results.push(def); // the default backend is reported last
  const torchByThreads = new Map<string, TorchResult | string>();
  const ratios: string[] = [];
  for (const r of results) {
    const p = plan(r.backend, r.batch);
    const key = `${r.threads}/${r.batch}/${r.sampleImages}/${r.sampleSteps}`;
    if (!torchByThreads.has(key)) torchByThreads.set(key, runTorch(r.threads, p));
    const t = torchByThreads.get(key)!;
    console.log(
      `\n== ${r.backend}${r === def ? ' (default)' : ''}${r.reduced ? ` [REDUCED: batch ${r.batch}, ${p.steps} step, ${r.sampleImages} images x ${r.sampleSteps} DDIM steps]` : ''}`,
    );
    if (r.fallback) console.log(`  NOTE: ${r.fallback}`);
    console.log(
      r.report
        .split('\n')
        .map((l) => `  ${l}`)
        .join('\n'),
    );
    console.log(
      `  params ${r.params}; train batch ${r.batch}: ${f1(r.trainMs)} ms/step (median of [${r.trainMsAll.join(', ')}]), ${f2(r.trainGflops)} GFLOP/s; tensors +${r.numTensorsGrowth} over the timed steps${p.warmup === 0 ? " (no warm-up: includes Adam's moments, 2 per parameter tensor)" : ''}`,
    );
    console.log(
      `  sample ${r.sampleImages} images x ${r.sampleSteps} DDIM steps: ${f1(r.sampleS)} s, ${f2(r.imagesPerS)} images/s, ${f2(r.sampleGflops)} GFLOP/s; peak RSS ${Math.round(r.maxRssMb)} MB`,
    );
    if (typeof t === 'string') {
      console.log(`  pytorch: skipped (${t})`);
      continue;
    }
    if (t.params !== r.params)
      throw new Error(`PyTorch mirror has ${t.params} parameters, ours ${r.params}: the architectures differ`);
    const trainRatio = r.trainMs / t.train_ms;
    const sampleRatio = r.sampleS / t.sample_s;
    const tGf = unetFlops(p.config, r.batch).train / (t.train_ms / 1000) / 1e9;
    console.log(
      `  ${t.framework}, ${t.threads} thread(s): ${f1(t.train_ms)} ms/step (${f2(tGf)} GFLOP/s), ${f2(t.images_per_s)} images/s, peak RSS ${Math.round(t.max_rss_mb)} MB`,
    );
    console.log(`  ours/pytorch time: train ${f2(trainRatio)}x, sample ${f2(sampleRatio)}x`);
    ratios.push(
      `ratio ${r.backend}/pytorch train=${f2(trainRatio)} sample=${f2(sampleRatio)}${r.reduced ? ' (reduced)' : ''}`,
    );
  }
  console.log('');
  for (const l of ratios) console.log(l);
}

main().catch((e) => {
  console.error(e instanceof Error ? e.message : e);
  process.exit(1);
});
