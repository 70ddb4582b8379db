// Noise schedules: how much noise the forward process adds at each of T steps.
// Convention (as in DDPM and diffusers): timesteps t = 0..T-1, beta[t] is the variance added by
// step t, alphaBar[t] = prod_{s<=t} (1 - beta[s]), so x_t = sqrt(alphaBar[t]) x0 + sqrt(1-alphaBar[t]) eps.
// The tables are computed in float64 in JS (cumulative products lose precision in float32);
// only the per-batch coefficients go to tensors.
import * as tf from '@tensorflow/tfjs-core';

export type ScheduleKind = 'linear' | 'cosine' | 'sigmoid' | 'custom';

export interface NoiseSchedule {
  readonly kind: ScheduleKind;
  /** Number of diffusion steps. */
  readonly T: number;
  readonly betas: Float64Array;
  readonly alphas: Float64Array;
  readonly alphasCumprod: Float64Array;
  readonly sqrtAlphasCumprod: Float64Array;
  readonly sqrtOneMinusAlphasCumprod: Float64Array;
  /** Signal-to-noise ratio alphaBar / (1 - alphaBar) at step t. */
  snr(t: number): number;
  /** Samples q(x_t | x_0) in closed form; t holds one step per batch element. */
  qSample(x0: tf.Tensor, t: TimestepsLike, noise: tf.Tensor): tf.Tensor;
  /** Per-example coefficient tensor of shape [B, 1, ..., 1] (rank of `like`) from a float64 table. */
  coef(table: Float64Array, t: TimestepsLike, rank: number): tf.Tensor;
}

/** Timesteps for a batch: a JS array or an int tensor of shape [B]. */
export type TimestepsLike = number[] | Int32Array | tf.Tensor1D;

/** Timesteps given as JS numbers (a tensor's stay on the device: see coef). */
export function timestepsToArray(t: number[] | Int32Array): number[] {
  return Array.from(t);
}

/**
 * Throws unless every entry is an integer timestep in [0, T - 1] (T: the schedule's length; Infinity
 * where the caller does not know it, e.g. the UNet, which then checks integer >= 0). NaN, Infinity,
 * fractions and out-of-range values are named with their index. JS numbers only: no tensor read.
 */
export function checkTimesteps(who: string, t: ArrayLike<number>, T = Infinity): void {
  for (let i = 0; i < t.length; i++) {
    const v = t[i];
    if (!Number.isInteger(v) || v < 0 || v > T - 1) {
      const range = Number.isFinite(T) ? `[0, ${T - 1}]` : '>= 0';
      throw new Error(`${who}: timestep ${v} (index ${i}) is not an integer in ${range}`);
    }
  }
}

/** checkTimesteps for a sampler's plan, whose null entries (RePaint's jumps back up) take no network call. */
export function checkPlanTimesteps(who: string, plan: readonly (number | null)[], T: number): void {
  checkTimesteps(
    who,
    plan.filter((t): t is number => t !== null),
    T,
  );
}

class TabulatedSchedule implements NoiseSchedule {
  readonly T: number;
  readonly alphas: Float64Array;
  readonly alphasCumprod: Float64Array;
  readonly sqrtAlphasCumprod: Float64Array;
  readonly sqrtOneMinusAlphasCumprod: Float64Array;

  constructor(
    readonly kind: ScheduleKind,
    readonly betas: Float64Array,
  ) {
    const T = betas.length;
    if (T <= 0) throw new Error('NoiseSchedule: need at least one beta (T >= 1)');
    for (let i = 0; i < T; i++) {
      const b = betas[i];
      if (!(b > 0 && b < 1)) throw new Error(`NoiseSchedule: beta[${i}] = ${b} is outside (0, 1)`);
    }
    this.T = T;
    this.alphas = new Float64Array(T);
    this.alphasCumprod = new Float64Array(T);
    this.sqrtAlphasCumprod = new Float64Array(T);
    this.sqrtOneMinusAlphasCumprod = new Float64Array(T);
    let prod = 1;
    for (let i = 0; i < T; i++) {
      this.alphas[i] = 1 - betas[i];
      prod *= this.alphas[i];
      this.alphasCumprod[i] = prod;
      this.sqrtAlphasCumprod[i] = Math.sqrt(prod);
      this.sqrtOneMinusAlphasCumprod[i] = Math.sqrt(1 - prod);
    }
  }

  snr(t: number): number {
    this.check(t);
    const a = this.alphasCumprod[t];
    return a / (1 - a);
  }

  coef(table: Float64Array, t: TimestepsLike, rank: number): tf.Tensor {
    if (t instanceof tf.Tensor) {
      // Gathered on the device (no read: webgpu has no synchronous one); the same float32 values as below.
      if (t.rank !== 1) throw new Error(`timesteps tensor must be rank 1 [batch], got shape [${t.shape}]`);
      const shape = [t.shape[0], ...new Array(Math.max(rank - 1, 0)).fill(1)];
      return tf.tidy(() => tf.reshape(tf.gather(tf.tensor1d(Float32Array.from(table)), tf.cast(t, 'int32')), shape));
    }
    const ts = timestepsToArray(t);
    const vals = new Float32Array(ts.length);
    ts.forEach((s, i) => {
      this.check(s);
      vals[i] = table[s];
    });
    const shape = [ts.length, ...new Array(Math.max(rank - 1, 0)).fill(1)];
    return tf.tensor(vals, shape, 'float32');
  }

  qSample(x0: tf.Tensor, t: TimestepsLike, noise: tf.Tensor): tf.Tensor {
    if (!sameShape(x0.shape, noise.shape)) {
      throw new Error(`qSample: x0 shape [${x0.shape}] and noise shape [${noise.shape}] differ`);
    }
    const n = t instanceof tf.Tensor ? t.shape[0] : t.length;
    if (n !== x0.shape[0]) throw new Error(`qSample: ${n} timesteps for a batch of ${x0.shape[0]}`);
    return tf.tidy(() => {
      const a = this.coef(this.sqrtAlphasCumprod, t, x0.rank);
      const s = this.coef(this.sqrtOneMinusAlphasCumprod, t, x0.rank);
      return tf.add(tf.mul(a, x0), tf.mul(s, noise));
    });
  }

  private check(t: number): void {
    if (!Number.isInteger(t) || t < 0 || t >= this.T) {
      throw new Error(`timestep ${t} is not an integer in [0, ${this.T - 1}]`);
    }
  }
}

function sameShape(a: number[], b: number[]): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

function checkT(T: number): void {
  if (!Number.isInteger(T) || T <= 0) throw new Error(`NoiseSchedule: T must be a positive integer, got ${T}`);
}

export interface BetaRange {
  betaStart?: number;
  betaEnd?: number;
}

/** DDPM's linear betas, betaStart..betaEnd (1e-4..0.02 for T=1000). */
export function linearSchedule(T: number, { betaStart = 1e-4, betaEnd = 0.02 }: BetaRange = {}): NoiseSchedule {
  checkT(T);
  const b = new Float64Array(T);
  for (let i = 0; i < T; i++) b[i] = T === 1 ? betaStart : betaStart + ((betaEnd - betaStart) * i) / (T - 1);
  return new TabulatedSchedule('linear', b);
}

/**
 * Nichol & Dhariwal's cosine schedule: alphaBar(t) = cos^2(((t/T)+s)/(1+s) * pi/2), betas clipped at
 * maxBeta so the last steps do not become singular.
 */
export function cosineSchedule(
  T: number,
  { s = 0.008, maxBeta = 0.999 }: { s?: number; maxBeta?: number } = {},
): NoiseSchedule {
  checkT(T);
  const f = (x: number) => Math.cos(((x / T + s) / (1 + s)) * Math.PI * 0.5) ** 2;
  const b = new Float64Array(T);
  for (let i = 0; i < T; i++) b[i] = Math.min(1 - f(i + 1) / f(i), maxBeta);
  return new TabulatedSchedule('cosine', b);
}

/** Sigmoid betas (as diffusers' "sigmoid"): sigmoid(linspace(-6, 6, T)) rescaled to betaStart..betaEnd. */
export function sigmoidSchedule(T: number, { betaStart = 1e-4, betaEnd = 0.02 }: BetaRange = {}): NoiseSchedule {
  checkT(T);
  const b = new Float64Array(T);
  for (let i = 0; i < T; i++) {
    const x = T === 1 ? 0 : -6 + (12 * i) / (T - 1);
    b[i] = betaStart + (betaEnd - betaStart) / (1 + Math.exp(-x));
  }
  return new TabulatedSchedule('sigmoid', b);
}

/** A schedule from explicit betas (each in (0, 1)). */
export function scheduleFromBetas(betas: ArrayLike<number>): NoiseSchedule {
  return new TabulatedSchedule('custom', Float64Array.from(betas));
}

export function makeSchedule(kind: Exclude<ScheduleKind, 'custom'>, T: number): NoiseSchedule {
  switch (kind) {
    case 'linear':
      return linearSchedule(T);
    case 'cosine':
      return cosineSchedule(T);
    case 'sigmoid':
      return sigmoidSchedule(T);
    default:
      throw new Error(`Unknown schedule '${kind as string}': use linear, cosine or sigmoid`);
  }
}

export type TimestepSpacing = 'trailing' | 'leading' | 'linspace';

/**
 * `steps` timesteps out of 0..T-1 for a sampler that skips steps (DDIM, respaced DDPM), in
 * descending order. 'trailing' (default) always starts at T-1, the pure-noise end, which matters for
 * few steps (Lin et al. 2023); 'leading' is the DDIM paper's i*T/steps; 'linspace' rounds evenly
 * spaced points from T-1 down to 0.
 */
export function respaceTimesteps(T: number, steps: number, spacing: TimestepSpacing = 'trailing'): number[] {
  checkT(T);
  if (!Number.isInteger(steps) || steps <= 0 || steps > T) {
    throw new Error(`respaceTimesteps: steps must be an integer in [1, ${T}], got ${steps}`);
  }
  const ts: number[] = [];
  for (let i = 0; i < steps; i++) {
    if (spacing === 'trailing') ts.push(Math.round(T - (i * T) / steps) - 1);
    else if (spacing === 'leading') ts.push(Math.floor(((steps - 1 - i) * T) / steps));
    else if (spacing === 'linspace')
      ts.push(steps === 1 ? T - 1 : Math.round(((T - 1) * (steps - 1 - i)) / (steps - 1)));
    else throw new Error(`respaceTimesteps: unknown spacing '${spacing as string}': use trailing, leading or linspace`);
  }
  return ts;
}
