// npm run bench -- --audio: which representation of lesson 16's sound fits the CPU, measured. The
// lesson's 2-D UNet on 32x32 spectrograms (audioUNetConfig, 1,024 values a clip) against a 1-D UNet of
// about the same parameter count on the raw waveform (waveformUNetConfig, 3,968 samples a clip), on the
// default backend, with the same batch of real clips, the same core diffusion loss and the same Adam.
// Steps of the two models alternate (spectrogram, waveform, spectrogram, ...) so that load from other
// processes on shared cores falls on both alike: the ratio is the result; the absolute times are only
// as good as the machine was idle. Prints per model: parameters, values per clip, forward FLOPs per clip
// (lib/eval/unet_flops.ts; waveformUNetFlops for the 1-D model), ms per training step (forward +
// backward + Adam, warm-up excluded, median), ms per sampling network evaluation (same batch, no
// gradient), the peak tensor memory of one training step above what was allocated before it
// (tf.profile), and the wall time of the shipped spectrogram model's training steps at each speed.
// Flags: --batch 32  --warmup 2  --steps 5  --train-steps 0 (> 0: also train both models that many
// steps on makeAudioSet(8, 0), print their losses and the pitch of DDIM-25 samples of each class)
//        --seed 0.  BENCH_QUICK=1: tiny sizes.
import * as fs from 'fs';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs-core';
import { Rng } from '../lib/core/random';
import { makeSampler } from '../lib/core/samplers/index';
import { linearSchedule } from '../lib/core/schedule';
import { makeTrainStep } from '../lib/core/train/train_step';
import { UNet } from '../lib/core/unet/unet';
import { unetFlops } from '../lib/eval/unet_flops';
import {
  audioUNetConfig,
  BANDS,
  centsFrom,
  CLIP_LENGTH,
  estimatePitch,
  makeAudioSet,
  midiOf,
  instrumentAccuracy,
  NUM_CLASSES,
  SAMPLE_RATE,
  spectrogramImage,
  spectrogramToWave,
  splitLabel,
  makeWaveformTrainStep,
  waveformLevels,
  waveformReceptiveField,
  WaveformUNet,
  waveformUNetConfig,
  waveformUNetFlops,
} from '../lib/methods/audio/index';
import type { AudioSet } from '../lib/methods/audio/index';
import { loadPretrained } from '../lib/course/models';
import { repoRoot } from '../lib/runtime/repo_root';
import { formatBackendReport, initBackend } from '../lib/runtime/backend';
import { parseFlags } from './flags';

const QUICK = process.env.BENCH_QUICK === '1';

const median = (a: number[]) => {
  const s = [...a].sort((p, q) => p - q);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

/** One representation: its model behind a uniform face (a train step, a network evaluation, a batch). */
interface Side {
  name: string;
  params: number;
  valuesPerClip: number;
  flopsPerClip: number;
  note: string;
  /** One training step on clips [i0, i0 + batch) of the set; resolves to the loss. */
  train(set: AudioSet, idx: number[]): Promise<number>;
  /** One network evaluation of a batch (what a sampler does per step), awaited. */
  evaluate(batch: number): Promise<void>;
  /**
   * DDIM samples for `labels` (conditional, w = 1) as spectrogram images (a waveform's through spectrogramImage)
   * and as sounds (a spectrogram's through Griffin-Lim), for the lesson's scores.
   */
  sample(labels: number[], steps: number): Promise<{ images: Float32Array; sounds: Float32Array[] }>;
  dispose(): void;
}

function spectrogramBatch(set: AudioSet, idx: number[]): tf.Tensor4D {
  const n = BANDS * BANDS;
  const x = new Float32Array(idx.length * n);
  idx.forEach((i, j) => x.set(set.images.subarray(i * n, (i + 1) * n), j * n));
  return tf.tensor4d(x, [idx.length, BANDS, BANDS, 1]);
}

function waveformBatch(set: AudioSet, idx: number[]): tf.Tensor3D {
  const x = new Float32Array(idx.length * CLIP_LENGTH);
  idx.forEach((i, j) => x.set(set.clips[i], j * CLIP_LENGTH));
  return tf.tensor3d(x, [idx.length, CLIP_LENGTH, 1]);
}

function makeSides(seed: number, lr: number): Side[] {
  const schedule = linearSchedule(1000);
  const specConfig = QUICK ? audioUNetConfig({ baseChannels: 8, midAttention: false }) : audioUNetConfig();
  const unet = new UNet(specConfig, { seed });
  const specStep = makeTrainStep(unet, { schedule, rng: new Rng(seed + 1), learningRate: lr });
  const waveConfig = QUICK ? waveformUNetConfig({ baseChannels: 8 }) : waveformUNetConfig();
  const wave = new WaveformUNet(waveConfig, { seed });
  const waveStep = makeWaveformTrainStep(wave, { schedule, rng: new Rng(seed + 1), learningRate: lr });
  const evalRng = new Rng(seed + 2);
  const ts = (b: number) => Array.from({ length: b }, () => evalRng.int(1000));
  const labels = (b: number) => Array.from({ length: b }, (_, i) => i % 37);
  const levels = waveformLevels(waveConfig);
  const sampler = makeSampler('ddim', schedule);
  return [
    {
      name: 'spectrogram 2-D UNet',
      params: unet.paramCount,
      valuesPerClip: BANDS * BANDS,
      flopsPerClip: unetFlops(specConfig, 1).forward,
      note: `${BANDS}x${BANDS} -> ${BANDS / 2}x${BANDS / 2} -> ${BANDS / 4}x${BANDS / 4}, attention over ${(BANDS / 4) ** 2} tokens`,
      train: async (set, idx) => {
        const x = spectrogramBatch(set, idx);
        try {
          return await specStep(x, { classLabels: idx.map((i) => set.labels[i]) });
        } finally {
          x.dispose();
        }
      },
      evaluate: async (b) => {
        const y = tf.tidy(() => unet.apply(tf.randomNormal([b, BANDS, BANDS, 1]), ts(b), { classLabels: labels(b) }));
        await y.data();
        y.dispose();
      },
      sample: async (lb, steps) => {
        const model = {
          prediction: 'eps' as const,
          predict: (x: tf.Tensor4D, t: number[]) => unet.apply(x, t, { classLabels: lb }),
        };
        const x = sampler.sample(model, [lb.length, BANDS, BANDS, 1], { steps, rng: new Rng(seed + 3) });
        const images = Float32Array.from(await x.data());
        x.dispose();
        const per = BANDS * BANDS;
        const sounds = lb.map((_, i) =>
          Float32Array.from(spectrogramToWave(images.subarray(i * per, (i + 1) * per), { iterations: 16, seed: 0 })),
        );
        return { images, sounds };
      },
      dispose: () => (specStep.dispose(), unet.dispose()),
    },
    {
      name: 'waveform 1-D UNet',
      params: wave.paramCount,
      valuesPerClip: CLIP_LENGTH,
      flopsPerClip: waveformUNetFlops(waveConfig, 1),
      note:
        `${levels.join(' -> ')} samples, attention over ${levels[levels.length - 1]} tokens; conv receptive ` +
        `field ${waveformReceptiveField(waveConfig)} samples at the bottleneck`,
      train: async (set, idx) => {
        const x = waveformBatch(set, idx);
        try {
          return await waveStep(
            x,
            idx.map((i) => set.labels[i]),
          );
        } finally {
          x.dispose();
        }
      },
      evaluate: async (b) => {
        const y = tf.tidy(() => wave.apply(tf.randomNormal([b, CLIP_LENGTH, 1]), ts(b), labels(b)));
        await y.data();
        y.dispose();
      },
      sample: async (lb, steps) => {
        const model = { prediction: 'eps' as const, predict: wave.denoiseFn(lb) };
        const x = sampler.sample(model, [lb.length, 1, CLIP_LENGTH, 1], { steps, rng: new Rng(seed + 3) });
        const clips = await x.data();
        x.dispose();
        const sounds = lb.map((_, i) => Float32Array.from(clips.subarray(i * CLIP_LENGTH, (i + 1) * CLIP_LENGTH)));
        const images = new Float32Array(lb.length * BANDS * BANDS);
        sounds.forEach((w, i) => images.set(spectrogramImage(w), i * BANDS * BANDS));
        return { images, sounds };
      },
      dispose: () => (waveStep.dispose(), wave.dispose()),
    },
  ];
}

const fmt = (x: number, d = 1) => x.toLocaleString('en', { minimumFractionDigits: d, maximumFractionDigits: d });
const mb = (bytes: number) => `${fmt(bytes / 2 ** 20, 0)} MiB`;

export async function main(argv: string[]): Promise<void> {
  const { values: flags } = parseFlags(
    argv.filter((a) => a !== '--audio'),
    {
      batch: { kind: 'int', default: QUICK ? 4 : 32, help: 'clips per step', min: 1 },
      warmup: { kind: 'int', default: QUICK ? 1 : 2, help: 'untimed steps first (Adam moments, kernels)', min: 0 },
      steps: { kind: 'int', default: QUICK ? 2 : 5, help: 'timed steps per model (median)', min: 1 },
      trainSteps: { kind: 'int', default: 0, help: 'also train both models this many steps', min: 0 },
      seed: { kind: 'int', default: 0, help: 'weights and batches' },
    },
  );
  const { batch, warmup, steps, trainSteps, seed } = flags;
  const lr = 1e-3; // the shipped model's (checkpoints/16/manifest.json)
  console.log(formatBackendReport(await initBackend()));
  console.log(
    `bench --audio${QUICK ? ' (BENCH_QUICK=1: tiny models, numbers are not meaningful)' : ''}: batch ${batch}, ` +
      `${warmup} warm-up + ${steps} timed steps per model, alternating; ${new Date().toISOString()}`,
  );
  const set = makeAudioSet(1, seed); // 36 real clips, one per class
  const idx = Array.from({ length: batch }, (_, i) => i % set.count);
  const sides = makeSides(seed, lr);
  const trainMs: number[][] = sides.map(() => []);
  const evalMs: number[][] = sides.map(() => []);
  for (let i = 0; i < warmup + steps; i++) {
    for (let s = 0; s < sides.length; s++) {
      const t0 = performance.now();
      await sides[s].train(set, idx);
      if (i >= warmup) trainMs[s].push(performance.now() - t0);
    }
  }
  for (let i = 0; i < 1 + steps; i++) {
    for (let s = 0; s < sides.length; s++) {
      const t0 = performance.now();
      await sides[s].evaluate(batch);
      if (i >= 1) evalMs[s].push(performance.now() - t0);
    }
  }
  // Peak tensor bytes of one more training step, above what was allocated before it (parameters, Adam's
  // moments, the other model): the activations autodiff keeps for the backward pass, and its gradients.
  const peak: number[] = [];
  const base: number[] = [];
  for (const side of sides) {
    const before = tf.memory().numBytes;
    const info = await tf.profile(async () => {
      await side.train(set, idx);
    });
    base.push(before);
    peak.push(info.peakBytes - before);
  }
  const manifestPath = path.join(repoRoot(), 'checkpoints', '16', 'manifest.json');
  const shipped = JSON.parse(fs.readFileSync(manifestPath, 'utf8')).models['audio-unet'] as {
    stepsDone: number;
    wallSeconds: number;
  };
  const med = trainMs.map(median);
  const evm = evalMs.map(median);
  for (let s = 0; s < sides.length; s++) {
    const side = sides[s];
    console.log(`\n== ${side.name}: ${side.note}`);
    console.log(
      `  parameters ${side.params.toLocaleString('en')}; ${side.valuesPerClip.toLocaleString('en')} values per clip; ` +
        `forward ${fmt(side.flopsPerClip / 1e6)} MFLOP per clip (training ~3x)`,
    );
    console.log(
      `  training step, batch ${batch}: ${fmt(med[s])} ms (median of [${trainMs[s].map((t) => Math.round(t)).join(', ')}]), ` +
        `${fmt((3 * side.flopsPerClip * batch) / (med[s] / 1000) / 1e9, 2)} GFLOP/s`,
    );
    console.log(
      `  network evaluation (sampling), batch ${batch}: ${fmt(evm[s])} ms ` +
        `(median of [${evalMs[s].map((t) => Math.round(t)).join(', ')}])`,
    );
    console.log(`  peak tensor memory of a training step: +${mb(peak[s])} over the ${mb(base[s])} allocated before it`);
    console.log(
      `  the shipped model's ${shipped.stepsDone.toLocaleString('en')} steps at this speed: ` +
        `${fmt((shipped.stepsDone * med[s]) / 60000)} min`,
    );
  }
  if (trainSteps > 0) await trainComparison(trainSteps, batch, seed, lr);
  const r = (a: number, b: number) => fmt(b / a, 2);
  console.log(
    `\nratio waveform/spectrogram params=${r(sides[0].params, sides[1].params)} ` +
      `values=${r(sides[0].valuesPerClip, sides[1].valuesPerClip)} flops=${r(sides[0].flopsPerClip, sides[1].flopsPerClip)} ` +
      `train=${r(med[0], med[1])} eval=${r(evm[0], evm[1])} memory=${r(peak[0], peak[1])}`,
  );
  console.log(
    `(the shipped spectrogram model: ${shipped.stepsDone} steps in ${shipped.wallSeconds} s on 2 shared cores, manifest)`,
  );
  for (const side of sides) side.dispose();
}

/** Both models trained `n` steps on the same random batches of makeAudioSet(8, 0), same batch and lr. */
async function trainComparison(n: number, batch: number, seed: number, lr: number): Promise<void> {
  const set = makeAudioSet(QUICK ? 1 : 8, 0);
  const sides = makeSides(seed + 10, lr);
  const rng = new Rng(seed + 20);
  const losses: number[][] = sides.map(() => []);
  const t0 = sides.map(() => 0);
  for (let i = 0; i < n; i++) {
    const idx = Array.from({ length: batch }, () => rng.int(set.count));
    for (let s = 0; s < sides.length; s++) {
      const t = performance.now();
      losses[s].push(await sides[s].train(set, idx));
      t0[s] += performance.now() - t;
    }
  }
  const mean = (a: number[]) => a.reduce((p, q) => p + q, 0) / a.length;
  const k = Math.max(1, Math.min(20, Math.floor(n / 4)));
  console.log(`\n== ${n} training steps each, batch ${batch}, lr ${lr}, same batches of makeAudioSet(8, 0)`);
  sides.forEach((side, s) => {
    console.log(
      `  ${side.name}: loss, mean of the first ${k} ${fmt(mean(losses[s].slice(0, k)), 4)} -> last ${k} ` +
        `${fmt(mean(losses[s].slice(-k)), 4)}; ${fmt(t0[s] / 1000, 0)} s`,
    );
  });
  // The lesson's scores (lib/methods/audio/eval.ts) on the sound each model makes: the pitch estimator on the
  // waveform, the shipped instrument classifier on its spectrogram. Real clips score 100 % on both.
  const labels = Array.from({ length: 2 * NUM_CLASSES }, (_, i) => i % NUM_CLASSES);
  const cls = loadPretrained('16/instrument-classifier');
  for (const side of sides) {
    const t = performance.now();
    const { images, sounds } = await side.sample(labels, 25);
    let inTune = 0;
    sounds.forEach((w, i) => {
      try {
        const hz = estimatePitch(w, { sampleRate: SAMPLE_RATE }).hz;
        if (Math.abs(centsFrom(hz, midiOf(splitLabel(labels[i]).pitch))) < 100) inTune++;
      } catch {
        // no pitch found (silence or noise): counted wrong, as pitchScore does
      }
    });
    const instr = await instrumentAccuracy(
      cls,
      images,
      labels.map((l) => splitLabel(l).instrument),
    );
    console.log(
      `  ${side.name}: DDIM-25 samples, ${labels.length} (2 per class, w = 1): pitch within a semitone ` +
        `${fmt((100 * inTune) / labels.length)} %, instrument ${fmt(100 * instr)} % (chance 33 %) ` +
        `(${fmt((performance.now() - t) / 1000, 0)} s)`,
    );
  }
  cls.dispose();
  console.log(
    '  (eps-MSE in the units of the unit-variance noise, so the numbers are comparable in scale; what each' +
      ' model must learn from the remaining signal differs)',
  );
  for (const side of sides) side.dispose();
}
