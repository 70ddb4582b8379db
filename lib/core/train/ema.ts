// Exponential moving average of the weights: ema <- decay * ema + (1 - decay) * param after every
// step. Diffusion models sample from these averaged weights: they smooth the noise of the last
// updates and give visibly cleaner samples than the raw weights (DDPM used decay 0.9999).
// With warm-up the decay of update k is min(decay, (1 + k) / (10 + k)) (diffusers' EMAModel): early
// on the average follows the weights closely, so it is not dominated by the random initialisation
// for the first ~1/(1 - decay) steps of a short run.
import * as tf from '@tensorflow/tfjs-core';
import '../tfjs_setup';
import { ParamMap } from '../params';

export class Ema {
  /**
   * @param source the trained parameters
   * @param target parameters of the same names and shapes that hold the average (e.g. another
   *   UNet's `params`, so that model samples with the EMA weights); set to `source` at once.
   */
  constructor(
    readonly source: ParamMap,
    readonly target: ParamMap,
    readonly decay: number,
    readonly warmup = false,
  ) {
    if (!(decay >= 0 && decay < 1)) throw new Error(`Ema: decay must be in [0, 1), got ${decay}`);
    for (const [name, v] of source) {
      const t = target.get(name);
      if (!t) throw new Error(`Ema: target has no parameter '${name}'`);
      if (t.shape.join() !== v.shape.join())
        throw new Error(`Ema: '${name}' is [${v.shape}] in the model, [${t.shape}] in the target`);
    }
    if (target.size !== source.size)
      throw new Error(`Ema: target has ${target.size} parameters, source ${source.size}`);
    this.copyFromSource();
  }

  /** The decay used by the update after 0-based step `step`. */
  decayAt(step: number): number {
    return this.warmup ? Math.min(this.decay, (1 + step) / (10 + step)) : this.decay;
  }

  /** One averaging step (after the update made at 0-based `step`; only warm-up reads it). */
  update(step = 0): void {
    const d = this.decayAt(step);
    tf.tidy(() => {
      for (const [name, p] of this.source) {
        const e = this.target.get(name)!;
        e.assign(tf.add(tf.mul(e, d), tf.mul(p, 1 - d)));
      }
    });
  }

  /** Sets the average to the current weights (start of training). */
  copyFromSource(): void {
    for (const [name, p] of this.source) this.target.get(name)!.assign(p);
  }
}
