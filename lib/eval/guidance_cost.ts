// What one sampling step costs under each kind of guidance, measured on the real networks:
// a UNet forward pass over B images (unguided, or CFG at w = 0 or 1), over 2B images (CFG at any
// other w: conditional and unconditional in one batch), and a noisy-classifier forward AND backward
// pass over B images (the gradient classifier guidance adds to the UNet pass).
import * as tf from '@tensorflow/tfjs-core';
import '../core/tfjs_setup';
import { classifierGradient } from '../methods/guidance/classifier_guidance';
import { NoisyClassifier } from '../methods/guidance/noisy_classifier';
import { Rng } from '../core/random';
import { UNet } from '../core/unet/unet';

export interface GuidanceCost {
  batch: number;
  /** Median milliseconds of one call. */
  unetB: number;
  unet2B: number;
  classifierGradB: number;
  /** Per image and step: unguided, classifier guidance, CFG. */
  perImage: { unguided: number; classifier: number; cfg: number };
}

async function medianMs(fn: () => tf.Tensor, reps: number): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i <= reps; i++) {
    const t0 = performance.now();
    const y = fn();
    try {
      await y.data(); // the time covers the work, not just queued kernels
    } finally {
      y.dispose();
    }
    if (i > 0) times.push(performance.now() - t0); // the first call warms up kernels and buffers
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)];
}

/** Times the three passes at `batch` images (median of `reps` after one warm-up call). */
export async function measureGuidanceCost(
  unet: UNet,
  clf: NoisyClassifier,
  batch = 50,
  reps = 3,
): Promise<GuidanceCost> {
  if (!Number.isInteger(batch) || batch < 1)
    throw new Error(`measureGuidanceCost: batch must be a positive integer, got ${batch}`);
  if (!Number.isInteger(reps) || reps < 1)
    throw new Error(`measureGuidanceCost: reps must be a positive integer, got ${reps}`);
  const c = unet.config;
  const x = new Rng(0).normalTensor([batch, c.imageSize, c.imageSize, c.inChannels]) as tf.Tensor4D;
  const x2 = tf.concat([x, x], 0) as tf.Tensor4D;
  const t = new Array<number>(batch).fill(500);
  const labels = Array.from({ length: batch }, (_, i) => i % clf.config.numClasses);
  try {
    const unetB = await medianMs(() => unet.apply(x, t), reps);
    const unet2B = await medianMs(() => unet.apply(x2, [...t, ...t]), reps);
    const classifierGradB = await medianMs(() => classifierGradient(clf, x, t, labels), reps);
    return {
      batch,
      unetB,
      unet2B,
      classifierGradB,
      perImage: { unguided: unetB / batch, classifier: (unetB + classifierGradB) / batch, cfg: unet2B / batch },
    };
  } finally {
    tf.dispose([x, x2]);
  }
}
