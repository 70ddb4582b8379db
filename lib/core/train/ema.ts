// Exponential moving average of the weights: ema <- decay * ema + (1 - decay) * param after every
// step. Diffusion models sample from these averaged weights: they smooth the noise of the last
// updates and give visibly cleaner samples than the raw weights (DDPM used decay 0.9999).
import * as tf from '@tensorflow/tfjs-core';
import '../tfjs_setup';
import { ParamMap } from '../params';

export class Ema {
  /**
   * @param source the trained parameters
   * @param target parameters of the same names and shapes that hold the average (e.g. another
   *   UNet's `params`, so that model samples with the EMA weights); set to `source` at once.
   */
  constructor(readonly source: ParamMap, readonly target: ParamMap, readonly decay: number) {
    if (!(decay >= 0 && decay < 1)) throw new Error(`Ema: decay must be in [0, 1), got ${decay}`);
    for (const [name, v] of source) {
      const t = target.get(name);
      if (!t) throw new Error(`Ema: target has no parameter '${name}'`);
      if (t.shape.join() !== v.shape.join()) throw new Error(`Ema: '${name}' is [${v.shape}] in the model, [${t.shape}] in the target`);
    }
    if (target.size !== source.size) throw new Error(`Ema: target has ${target.size} parameters, source ${source.size}`);
    this.copyFromSource();
  }

  /** One averaging step. */
  update(): void {
    const d = this.decay;
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
