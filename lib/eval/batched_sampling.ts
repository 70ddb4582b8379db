// The loop every sampling measurement shares: n images in batches, each batch starting from an x_T
// that depends on (seed, batch index) only, so every run of a comparison (sampler, step count,
// guidance scale) starts from the same noise; a progress bar over network steps; the wall time of
// the sampling alone.
import * as tf from '@tensorflow/tfjs-core';
import '../core/tfjs_setup';
import { InterruptedError, interruptSignal, reportInterrupt } from '../core/cancel';
import { optionalBar, ProgressSetting } from '../core/progress';
import { Rng } from '../core/random';

export interface SampleBatch {
  /** First image index of this batch, and its size. */
  start: number;
  size: number;
  /** Seeded by (seed, batch index): pass it to the sampler for its per-step noise. */
  rng: Rng;
  /** The batch's starting noise (disposed after the call). */
  xT: tf.Tensor4D;
  /** Advances the progress bar by one network step. */
  onStep?: () => void;
}

export interface BatchedSamplingOptions {
  n: number;
  batchSize: number;
  seed: number;
  /** [height, width, channels] of one image. */
  imageShape: [number, number, number];
  /** Network steps per batch (the progress bar's unit). */
  steps: number;
  label: string;
  /** Progress bar (default true); 'stderr' writes it to stderr (scripts keep stdout for results). */
  progress?: ProgressSetting;
}

/** x_T for batch `b` of a run with `seed`: a function of (seed, b) only. */
export function batchRng(seed: number, b: number): Rng {
  return new Rng(seed * 100003 + b);
}

/** Runs `sampleBatch` over all batches; returns all n images (the caller disposes them) and the seconds. */
export async function sampleInBatches(
  o: BatchedSamplingOptions,
  sampleBatch: (b: SampleBatch) => tf.Tensor4D | Promise<tf.Tensor4D>,
): Promise<{ images: tf.Tensor4D; seconds: number }> {
  const batches = Math.ceil(o.n / o.batchSize);
  const bar = optionalBar(o.progress, o.label, batches * o.steps);
  const parts: tf.Tensor4D[] = [];
  // Stops between network steps on the kernel's Interrupt (the bar says where), releasing the batches:
  // the sampler's own loop stops at a step; between batches (after the read's await) the signal is asked here.
  const stopped = (step: number) => bar?.interrupted(step);
  const signal = interruptSignal();
  const t0 = Date.now();
  try {
    for (let b = 0; b < batches; b++) {
      if (signal.requested) {
        const at = bar ? bar.count : b * o.steps;
        throw new InterruptedError(`${o.label} interrupted at step ${at}; its tensors were released`, at);
      }
      const start = b * o.batchSize;
      const size = Math.min(o.batchSize, o.n - start);
      const rng = batchRng(o.seed, b);
      const xT = rng.normalTensor([size, ...o.imageShape]) as tf.Tensor4D;
      let x: tf.Tensor4D;
      try {
        x = await sampleBatch({ start, size, rng, xT, onStep: bar ? () => bar.update(1) : undefined });
      } finally {
        xT.dispose();
      }
      parts.push(x);
      // Read back now (asynchronously: webgpu has no synchronous read): the wall time then covers the
      // work, not just queued kernels.
      await x.data();
    }
  } catch (e) {
    tf.dispose(parts);
    if (e instanceof InterruptedError) {
      stopped(bar ? bar.count : e.step);
      reportInterrupt(e.message); // an awaited loop's error may not reach the cell's output
    }
    throw e;
  } finally {
    bar?.finish();
  }
  const seconds = (Date.now() - t0) / 1000;
  const images = parts.length === 1 ? parts[0] : (tf.concat(parts, 0) as tf.Tensor4D);
  if (parts.length > 1) tf.dispose(parts);
  return { images, seconds };
}
