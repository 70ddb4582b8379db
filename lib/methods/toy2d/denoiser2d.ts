// The diffusion model of the 2-D lessons: an MLP that sees a noisy point x_t and the step t and
// predicts the noise eps that was added (DDPM's parameterisation). Points travel through the lib's
// image samplers as [B, 1, 1, 2] "images" (one pixel, two channels), so the same DDIM/DDPM code that
// samples Fashion-MNIST later samples these points: nothing 2-D-specific in the sampling maths.
import * as tf from '@tensorflow/tfjs-core';
import '../../core/tfjs_setup';
import { diffusionLoss } from '../../core/loss';
import { ParamStore } from '../../core/params';
import { Rng } from '../../core/random';
import { NoiseSchedule } from '../../core/schedule';
import { DDIMSampler } from '../../core/samplers/ddim';
import { DiffusionModel, StepInfo } from '../../core/samplers/types';
import { sinusoidalEmbedding } from '../../core/unet/time_embedding';
import { Activation, MLP } from './mlp';

export interface Denoiser2DConfig {
  /** Number of diffusion steps the model is trained on (the schedule's T). */
  T: number;
  /** Hidden widths of the MLP (default [128, 128, 128]). */
  hidden?: number[];
  /** Size of the sinusoidal time features concatenated to the point (default 32). */
  timeDim?: number;
  activation?: Activation;
}

export class Denoiser2D {
  readonly net: MLP;
  readonly timeDim: number;
  readonly T: number;

  constructor(store: ParamStore, config: Denoiser2DConfig, name = 'denoiser') {
    if (!Number.isInteger(config.T) || config.T <= 0)
      throw new Error(`Denoiser2D: T must be a positive integer, got ${config.T}`);
    this.T = config.T;
    this.timeDim = config.timeDim ?? 32;
    this.net = new MLP(store, name, {
      inDim: 2 + this.timeDim,
      hidden: config.hidden ?? [128, 128, 128],
      outDim: 2,
      activation: config.activation ?? 'silu',
    });
  }

  /** x_t [B, 2] and one step per point -> predicted noise [B, 2]. */
  apply(xt: tf.Tensor2D, t: number[]): tf.Tensor2D {
    if (xt.rank !== 2 || xt.shape[1] !== 2)
      throw new Error(`Denoiser2D: expected points [batch, 2], got [${xt.shape}]`);
    if (t.length !== xt.shape[0]) throw new Error(`Denoiser2D: ${t.length} timesteps for ${xt.shape[0]} points`);
    return tf.tidy(() => {
      // t is rescaled to DDPM's 0..1000 range so the sinusoidal frequencies (tuned for T = 1000)
      // spread over the whole chain whatever T the toy uses.
      const tt = tf.tensor1d(
        t.map((s) => (s * 1000) / this.T),
        'float32',
      );
      const emb = sinusoidalEmbedding(tt, this.timeDim);
      return this.net.apply(tf.concat([xt, emb], 1) as tf.Tensor2D);
    });
  }

  /** The model as the lib's samplers see it: [B, 1, 1, 2] in, [B, 1, 1, 2] out. */
  asDiffusionModel(): DiffusionModel {
    return {
      prediction: 'eps',
      predict: (xt, t) =>
        tf.tidy(() => tf.reshape(this.apply(tf.reshape(xt, [-1, 2]) as tf.Tensor2D, t), xt.shape) as tf.Tensor4D),
    };
  }

  variables(): tf.Variable[] {
    return this.net.variables();
  }
}

export interface DenoiserTrainStep {
  /** One Adam step on a batch of clean points [B, 2]; resolves to the eps-MSE (one asynchronous read). */
  (x0: tf.Tensor2D): Promise<number>;
  readonly optimizer: tf.Optimizer;
  dispose(): void;
}

/** One training step of the eps objective, with t and noise drawn from `rng` (one seed fixes the run). */
export function makeDenoiserTrainStep(
  model: Denoiser2D,
  opts: { schedule: NoiseSchedule; rng: Rng; learningRate?: number },
): DenoiserTrainStep {
  const { schedule, rng, learningRate = 1e-3 } = opts;
  if (schedule.T !== model.T)
    throw new Error(`makeDenoiserTrainStep: schedule has T=${schedule.T}, model was built for T=${model.T}`);
  if (!(learningRate > 0)) throw new Error(`makeDenoiserTrainStep: learningRate must be > 0, got ${learningRate}`);
  const optimizer = tf.train.adam(learningRate);
  const diffusion = model.asDiffusionModel();
  const vars = model.variables();
  const step = async (x0: tf.Tensor2D): Promise<number> => {
    const b = x0.shape[0];
    const t = Array.from({ length: b }, () => rng.int(schedule.T));
    const noise = rng.normalTensor([b, 1, 1, 2]) as tf.Tensor4D;
    const x4 = tf.reshape(x0, [b, 1, 1, 2]) as tf.Tensor4D;
    try {
      const loss = optimizer.minimize(
        () => diffusionLoss(diffusion.predict, schedule, x4, t, noise, 'eps'),
        true,
        vars,
      );
      if (!loss) throw new Error('makeDenoiserTrainStep: optimizer returned no loss');
      try {
        return (await loss.data())[0];
      } finally {
        loss.dispose();
      }
    } finally {
      tf.dispose([noise, x4]);
    }
  };
  return Object.assign(step, { optimizer, dispose: () => optimizer.dispose() });
}

export interface Sample2DOptions {
  /** Network evaluations: T with eta = 1 is DDPM's ancestral sampler; fewer steps skip (DDIM). */
  steps: number;
  /** 0: deterministic DDIM; 1: DDPM-like noise at every step (default 1). */
  eta?: number;
  rng: Rng;
  /**
   * Called for every step with the points so far ([x0, y0, ...]) and the step's t: after the run, in
   * step order (the steps' points are kept on the device and read once, with the final sample).
   */
  onStep?: (points: Float32Array, t: number, index: number) => void;
  /** Starting noise as [x0, y0, ...]; default drawn from rng. */
  xT?: Float32Array;
}

/**
 * Runs the reverse process from N(0, I) with the lib's DDIM sampler (eta = 1 and all T steps is
 * DDPM's ancestral sampling with the posterior variance beta~_t). The model may be any
 * DiffusionModel on [B, 1, 1, 2], so tests can hand in a deliberately broken one.
 */
export async function sampleDiffusion2d(
  model: DiffusionModel,
  schedule: NoiseSchedule,
  n: number,
  opts: Sample2DOptions,
): Promise<Float32Array> {
  if (!Number.isInteger(n) || n <= 0) throw new Error(`sampleDiffusion2d: n must be a positive integer, got ${n}`);
  if (opts.xT && opts.xT.length !== 2 * n)
    throw new Error(`sampleDiffusion2d: xT has ${opts.xT.length / 2} points, expected ${n}`);
  const sampler = new DDIMSampler(schedule);
  const xT = opts.xT ? (tf.tensor4d(opts.xT, [n, 1, 1, 2]) as tf.Tensor4D) : undefined;
  const onStep = opts.onStep;
  // The sampling loop is synchronous: each step's points stay on the device until the one read below.
  const kept: { x: tf.Tensor; t: number; index: number }[] = [];
  let all: tf.Tensor;
  try {
    const out = sampler.sample(model, [n, 1, 1, 2], {
      steps: opts.steps,
      eta: opts.eta ?? 1,
      rng: opts.rng,
      xT,
      // The toys are not confined to [-1, 1] (8 Gaussians sit on a circle of radius sqrt 2).
      clipDenoised: false,
      onStep: onStep ? (info: StepInfo) => kept.push({ x: tf.clone(info.x), t: info.t, index: info.index }) : undefined,
    });
    all = tf.tidy(() => tf.concat([...kept.map((k) => tf.reshape(k.x, [-1])), tf.reshape(out, [-1])]));
    out.dispose();
  } finally {
    xT?.dispose();
    tf.dispose(kept.map((k) => k.x));
  }
  const values = (await all.data()) as Float32Array;
  all.dispose();
  const per = 2 * n;
  kept.forEach((k, i) => onStep!(values.slice(i * per, (i + 1) * per), k.t, k.index));
  return values.slice(kept.length * per);
}

/** Forward process q(x_t | x_0) in closed form for every point at one step t: [x0, y0, ...] in and out. */
export async function diffuse2d(
  schedule: NoiseSchedule,
  points: Float32Array,
  t: number,
  rng: Rng,
): Promise<Float32Array> {
  const n = points.length / 2;
  if (!Number.isInteger(n)) throw new Error(`diffuse2d: need an even number of coordinates, got ${points.length}`);
  const xt = tf.tidy(() => {
    const x0 = tf.tensor2d(points, [n, 2]);
    const noise = rng.normalTensor([n, 2]);
    return schedule.qSample(x0, new Array<number>(n).fill(t), noise);
  });
  try {
    return Float32Array.from(await xt.data());
  } finally {
    xt.dispose();
  }
}

/**
 * The forward Markov chain run one step at a time, x_t = sqrt(1 - beta_t) x_{t-1} + sqrt(beta_t) z,
 * in float64 JS: the lesson shows it lands on the same distribution as the closed form above.
 * Returns snapshots at the requested steps (t = -1 means x_0 itself).
 */
export function forwardChain2d(
  schedule: NoiseSchedule,
  points: Float32Array,
  snapshotSteps: number[],
  rng: Rng,
): Map<number, Float32Array> {
  const want = new Set(snapshotSteps);
  for (const t of want) {
    if (!Number.isInteger(t) || t < -1 || t >= schedule.T)
      throw new Error(`forwardChain2d: snapshot step ${t} is not in [-1, ${schedule.T - 1}]`);
  }
  const x = Float64Array.from(points);
  const out = new Map<number, Float32Array>();
  if (want.has(-1)) out.set(-1, Float32Array.from(x));
  const last = Math.max(...snapshotSteps);
  for (let t = 0; t <= last; t++) {
    const a = Math.sqrt(1 - schedule.betas[t]);
    const s = Math.sqrt(schedule.betas[t]);
    for (let i = 0; i < x.length; i++) x[i] = a * x[i] + s * rng.normal();
    if (want.has(t)) out.set(t, Float32Array.from(x));
  }
  return out;
}
