// The training loop shared by every 2-D toy model: a fresh batch of the toy distribution each step
// (the data are infinite, so there is no epoch and no overfitting), the model's own step function,
// a progress bar and the loss history for the curves.
import * as tf from '@tensorflow/tfjs-core';
import { sampleToy } from '../../../datasets/toy2d';
import { InterruptedError, interruptSignal, reportInterrupt } from '../../core/cancel';
import { progress } from '../../core/progress';
import { Rng } from '../../core/random';

export interface Fit2DOptions<L> {
  /** Toy distribution name, e.g. '8-gaussians'. */
  data: string;
  steps: number;
  batchSize: number;
  /** Draws the data batches (keep it separate from the model's own noise stream). */
  rng: Rng;
  /** One optimisation step on a [batchSize, 2] batch; returns (or resolves to) a number or named numbers. */
  step: (batch: tf.Tensor2D) => L | Promise<L>;
  /** Progress-bar label; pass showProgress false to stay silent (tests). */
  label?: string;
  showProgress?: boolean;
}

export interface Fit2DResult {
  /** One array per loss name ('loss' when step returns a number), one entry per step. */
  history: Record<string, number[]>;
  /** Wall time of the whole loop in milliseconds. */
  ms: number;
}

export async function fit2d<L extends number | Record<string, number>>(opts: Fit2DOptions<L>): Promise<Fit2DResult> {
  const { data, steps, batchSize, rng, step } = opts;
  if (!Number.isInteger(steps) || steps < 0)
    throw new Error(`fit2d: steps must be a non-negative integer, got ${steps}`);
  if (!Number.isInteger(batchSize) || batchSize <= 0)
    throw new Error(`fit2d: batchSize must be a positive integer, got ${batchSize}`);
  const history: Record<string, number[]> = {};
  const record = (name: string, v: number) => (history[name] ??= []).push(v);
  const bar = opts.showProgress === false ? null : progress(steps, { label: opts.label ?? 'train' });
  const t0 = performance.now();
  // Stops between steps on the kernel's Interrupt (the bar says where); the model keeps the steps done.
  // The loop awaits each step's read, so the interrupt arrives as a signal checked here.
  const signal = interruptSignal();
  const what = opts.label ?? 'train';
  try {
    for (let i = 0; i < steps; i++) {
      if (signal.requested) {
        bar?.interrupted(i);
        const message = `${what} interrupted at step ${i}; its tensors were released`;
        reportInterrupt(message);
        throw new InterruptedError(message, i);
      }
      const batch = tf.tensor2d(sampleToy(data, batchSize, rng), [batchSize, 2]);
      let out: L;
      try {
        out = await step(batch);
      } finally {
        batch.dispose();
      }
      const losses: Record<string, number> = typeof out === 'number' ? { loss: out } : (out as Record<string, number>);
      for (const [k, v] of Object.entries(losses)) record(k, v);
      if (bar) {
        bar.update(1);
        if (i % 20 === 0 || i === steps - 1) bar.set(losses);
      }
    }
  } finally {
    bar?.finish();
  }
  return { history, ms: performance.now() - t0 };
}

/** Moving average over `window` entries, for readable loss curves. */
export function smooth(values: number[], window = 50): number[] {
  if (!Number.isInteger(window) || window <= 0)
    throw new Error(`smooth: window must be a positive integer, got ${window}`);
  const out: number[] = [];
  let s = 0;
  for (let i = 0; i < values.length; i++) {
    s += values[i];
    if (i >= window) s -= values[i - window];
    out.push(s / Math.min(i + 1, window));
  }
  return out;
}
