// Watching a sampling run for NaN/Inf without a synchronous read per step. Each network output adds a
// few scalar ops on the device: a code 2i (NaN) or 2i + 1 (Infinity) when output i is not finite, kept
// as the running minimum, so the first bad step survives whatever follows. The loop reads that one
// number once, at the end (where the caller is about to read the sample anyway), and throws naming
// the step, its timestep and the reason. Per step: isNaN and isInf over the output, two reductions,
// a few scalar ops; no read, no GPU sync.
import * as tf from '@tensorflow/tfjs-core';

const NONE = 2 ** 30; // larger than any code: no bad step yet (exact in float32)

export class NonFiniteSampleError extends Error {
  constructor(
    message: string,
    /** Index into the plan of the first non-finite network output (or the plan's length: the final sample). */
    readonly step: number,
    readonly reason: 'NaN' | 'Infinity',
  ) {
    super(message);
    this.name = 'NonFiniteSampleError';
  }
}

export class FiniteWatch {
  private first: tf.Scalar = tf.scalar(NONE, 'float32');
  // The value being replaced, until disposed. With `first`, every tensor the watch holds is in a
  // field, so dispose() frees it even when the kernel's Interrupt stopped observe() midway.
  private replaced: tf.Scalar | null = null;

  /** Notes whether `out`, the network output of plan step i, holds NaN or Infinity (no read). */
  observe(out: tf.Tensor, i: number): void {
    const next = tf.tidy(() => {
      const code = tf.where(
        tf.any(tf.isNaN(out)),
        tf.scalar(2 * i),
        tf.where(tf.any(tf.isInf(out)), tf.scalar(2 * i + 1), tf.scalar(NONE)),
      );
      return tf.minimum(this.first, code) as tf.Scalar;
    });
    // Kept after the tidy, not inside it: until then a surrounding tidy (the sampling loop's) owns it.
    tf.keep(next);
    this.replaced = this.first;
    this.first = next;
    this.replaced.dispose();
    this.replaced = null;
  }

  /**
   * Reads the watch once and throws when a step went bad. `steps` is the plan length (a bad final
   * sample is reported as step `steps`). A backend that cannot read synchronously (webgpu under Node)
   * skips the check: the NaN stays in the sample, which the metrics then refuse.
   *
   * The one synchronous read left in lib/ (listed in tests/sync_reads.spec.ts): sample() returns its
   * tensor synchronously to some 80 callers, and this is one scalar per sampling run on a CPU backend.
   */
  check(who: string, timesteps: readonly (number | null)[]): void {
    if (tf.getBackend() === 'webgpu') return; // no synchronous read there: skip rather than throw and catch
    let code: number;
    try {
      code = this.first.dataSync()[0];
    } catch {
      return;
    }
    if (code >= NONE) return;
    const step = Math.floor(code / 2);
    const reason = code % 2 === 0 ? 'NaN' : 'Infinity';
    const what =
      step < timesteps.length
        ? `the model output at step ${step} of ${timesteps.length} (t = ${timesteps[step]})`
        : `the final sample (after ${step} steps)`;
    throw new NonFiniteSampleError(
      `${who}: ${what} holds ${reason}, so the sample is not a picture; refused. ` +
        'Check the weights (a diverged checkpoint?) and the inputs (starting noise, condition, guidance scale).',
      step,
      reason,
    );
  }

  dispose(): void {
    this.first.dispose();
    this.replaced?.dispose();
  }
}
