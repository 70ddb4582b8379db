// The one sampling loop: every sampler's sample() is this function. It draws x_T, walks the
// sampler's plan calling the network where the plan asks for it and `step` at every transition,
// and owns the bookkeeping the samplers used to repeat: one tf.tidy per step, disposal of the
// previous sample and of each x0 estimate once onStep has seen it, and the run's state freed even
// when a step or onStep throws. Stripped of that bookkeeping it is the loop a lesson writes:
//   let x = x_T;
//   for (let i = 0; i < run.timesteps.length; i++) {
//     const out = model.predict(x, new Array(batch).fill(run.timesteps[i]));
//     x = sampler.step(out, i, x, run).prev;
//   }
import * as tf from '@tensorflow/tfjs-core';
import { syncLoopGuard } from '../loop_guard';
import { checkPlanTimesteps } from '../schedule';
import { FiniteWatch } from './finite_watch';
import { DiffusionModel, SampleOptions, Sampler, SamplerRun, startingNoise } from './types';

/** Runs `sampler` from x_T (opts.xT or fresh noise) to a sample of `shape`; the caller disposes it. */
export function sampleLoop<O extends SampleOptions, R extends SamplerRun>(
  sampler: Sampler<O, R>,
  model: DiffusionModel,
  shape: [number, number, number, number],
  opts: O,
): tf.Tensor4D {
  const run = sampler.start(opts, model.prediction);
  let x: tf.Tensor4D | null = null;
  // The step's input until it is disposed, and its x0 estimate until onStep has seen it.
  let previous: tf.Tensor4D | null = null;
  let x0: tf.Tensor4D | null = null;
  // NaN/Inf in a network output is noted on the device each step and read once at the end.
  let watch: FiniteWatch | null = null;
  // Frees the run's tensors: in finally, or after the kernel's Interrupt stopped the loop midway
  // (between any two statements: so every tensor the loop holds is in one of these variables).
  const release = () => {
    previous?.dispose();
    x?.dispose();
    x0?.dispose();
    watch?.dispose();
    run.dispose?.();
  };
  const guard = syncLoopGuard(sampler.name, release);
  try {
    checkPlanTimesteps(sampler.name, run.timesteps, sampler.schedule.T);
    watch = new FiniteWatch();
    const w = watch;
    x = startingNoise(sampler.name, shape, opts);
    let evaluations = 0;
    for (let i = 0; i < run.timesteps.length; i++) {
      guard.check(i);
      const t = run.timesteps[i];
      const xt: tf.Tensor4D = x;
      previous = xt;
      // The network's output lives only inside this tidy; step returns the two tensors kept.
      const result = tf.tidy(() => {
        const out = t === null ? null : model.predict(xt, new Array<number>(shape[0]).fill(t));
        if (out) w.observe(out, i);
        return sampler.step(out, i, xt, run);
      });
      x = result.prev;
      x0 = result.x0 ?? null;
      xt.dispose();
      previous = null;
      try {
        if (t !== null && x0) opts.onStep?.({ index: evaluations++, t, x, x0 });
      } finally {
        x0?.dispose();
        x0 = null;
      }
    }
    w.observe(x, run.timesteps.length);
    w.check(sampler.name, run.timesteps);
    const out = x;
    x = null; // handed to the caller
    return out;
  } finally {
    // Released before the guard closes: were Node's stop to land in release, the guard finishes it.
    try {
      release();
    } finally {
      guard.end();
    }
  }
}
