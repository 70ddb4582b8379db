// Lesson 01's experiment in one place: train a GAN, a VAE and a diffusion model on the same 2-D
// data for the same number of steps, then measure what seed 002's comparison table talks about:
// quality, diversity (mode coverage), sampling speed and training stability.
import * as tf from '@tensorflow/tfjs-core';
import { sampleToy, toyModes } from '../../../datasets/toy2d';
import { ParamStore } from '../../core/params';
import { Rng } from '../../core/random';
import { linearSchedule, NoiseSchedule } from '../../core/schedule';
import { Denoiser2D, makeDenoiserTrainStep, sampleDiffusion2d } from './denoiser2d';
import { GAN2D } from './gan2d';
import { mmd2, modeReport, ModeReport } from './metrics2d';
import { fit2d, Fit2DResult } from './train2d';
import { VAE2D } from './vae2d';

export interface CompareConfig {
  data: string;
  steps: number;
  batchSize?: number;
  hidden?: number[];
  /** Diffusion chain length (default 100, betas scaled so x_T is pure noise). */
  T?: number;
  seed: number;
  showProgress?: boolean;
}

export interface TrainedToyModels {
  gan: GAN2D;
  vae: VAE2D;
  diffusion: Denoiser2D;
  schedule: NoiseSchedule;
  fits: { gan: Fit2DResult; vae: Fit2DResult; diffusion: Fit2DResult };
}

/** DDPM's linear betas (1e-4..0.02 at T = 1000) rescaled to a chain of T steps, ending near pure noise. */
export function toySchedule(T = 100): NoiseSchedule {
  return linearSchedule(T, { betaStart: Math.min(0.1, 0.1 / T), betaEnd: Math.min(0.5, 20 / T) });
}

export async function trainToyModels(cfg: CompareConfig): Promise<TrainedToyModels> {
  const { data, steps, batchSize = 256, hidden = [64, 64, 64], T = 100, showProgress = true } = cfg;
  const rng = new Rng(cfg.seed);
  const schedule = toySchedule(T);
  const diffusion = new Denoiser2D(new ParamStore(rng.fork()), { T, hidden });
  const gan = new GAN2D(new ParamStore(rng.fork()), { hidden });
  const vae = new VAE2D(new ParamStore(rng.fork()), { hidden });
  const diffStep = makeDenoiserTrainStep(diffusion, { schedule, rng: rng.fork(), learningRate: 2e-3 });
  const ganRng = rng.fork();
  const vaeRng = rng.fork();
  const common = { data, steps, batchSize, showProgress };
  const fits = {
    gan: await fit2d({
      ...common,
      rng: rng.fork(),
      label: `GAN seed ${cfg.seed}`,
      step: async (b) => ({ ...(await gan.step(b, ganRng)) }),
    }),
    vae: await fit2d({
      ...common,
      rng: rng.fork(),
      label: `VAE seed ${cfg.seed}`,
      step: async (b) => ({ ...(await vae.step(b, vaeRng)) }),
    }),
    diffusion: await fit2d({ ...common, rng: rng.fork(), label: `diffusion seed ${cfg.seed}`, step: diffStep }),
  };
  diffStep.dispose();
  return { gan, vae, diffusion, schedule, fits };
}

export interface SamplerMeasurement {
  name: string;
  points: Float32Array;
  /** Network evaluations per sample. */
  evals: number;
  /** Wall time per 1000 samples (ms), best of `repeats`. */
  msPer1000: number;
  modes: ModeReport;
  /** MMD^2 to fresh real data. */
  mmd: number;
}

/**
 * Samples n points from each model (GAN, VAE, diffusion with DDPM's T steps and with 20 DDIM steps)
 * and measures them. Timing is the best of `repeats` runs of 1000 samples.
 */
export async function measureToyModels(
  m: TrainedToyModels,
  data: string,
  n: number,
  seed: number,
  repeats = 2,
): Promise<SamplerMeasurement[]> {
  const modes = toyModes(data);
  if (!modes) throw new Error(`measureToyModels: '${data}' has no known modes; use 8-gaussians or 25-gaussians`);
  const real = sampleToy(data, n, new Rng(seed + 1000));
  const model = m.diffusion.asDiffusionModel();
  const toArray = async (t: tf.Tensor) => {
    const p = Float32Array.from(await t.data());
    t.dispose();
    return p;
  };
  const ddimSteps = Math.min(20, m.schedule.T);
  const samplers: { name: string; evals: number; run: (k: number, rng: Rng) => Promise<Float32Array> }[] = [
    { name: 'GAN', evals: 1, run: (k, rng) => toArray(m.gan.generate(k, rng)) },
    { name: 'VAE', evals: 1, run: (k, rng) => toArray(m.vae.generate(k, rng)) },
    {
      name: `Diffusion (DDPM, ${m.schedule.T} steps)`,
      evals: m.schedule.T,
      run: (k, rng) => sampleDiffusion2d(model, m.schedule, k, { steps: m.schedule.T, eta: 1, rng }),
    },
    {
      name: `Diffusion (DDIM, ${ddimSteps} steps)`,
      evals: ddimSteps,
      run: (k, rng) => sampleDiffusion2d(model, m.schedule, k, { steps: ddimSteps, eta: 0, rng }),
    },
  ];
  const out: SamplerMeasurement[] = [];
  for (const s of samplers) {
    const points = await s.run(n, new Rng(seed));
    let best = Infinity;
    for (let r = 0; r < repeats; r++) {
      const t0 = performance.now();
      await s.run(1000, new Rng(seed + r));
      best = Math.min(best, performance.now() - t0);
    }
    out.push({
      name: s.name,
      points,
      evals: s.evals,
      msPer1000: best,
      modes: modeReport(points, modes),
      mmd: mmd2(points, real),
    });
  }
  return out;
}

/** Releases every variable and optimizer state of the trained models. */
export function disposeToyModels(m: TrainedToyModels): void {
  m.gan.dispose();
  m.vae.dispose();
  for (const v of [
    ...m.gan.generator.variables(),
    ...m.gan.discriminator.variables(),
    ...m.vae.encoder.variables(),
    ...m.vae.decoder.variables(),
    ...m.diffusion.variables(),
  ]) {
    v.dispose();
  }
}

/**
 * Training stability of one loss curve: the coefficient of variation (std / |mean|) of the loss over
 * the last quarter of training. Low: the loss has settled; high: it still swings (GANs' two players).
 */
export function lossJitter(loss: number[]): number {
  const tail = loss.slice(Math.floor(loss.length * 0.75));
  if (tail.length < 2) return NaN;
  const mean = tail.reduce((a, b) => a + b, 0) / tail.length;
  const sd = Math.sqrt(tail.reduce((a, b) => a + (b - mean) ** 2, 0) / (tail.length - 1));
  return sd / Math.abs(mean);
}
