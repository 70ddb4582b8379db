// A GAN on 2-D points (Goodfellow et al. 2014, non-saturating generator loss): a generator MLP maps
// latent noise to points, a discriminator MLP scores real against generated points, and the two are
// updated in turn. Lesson 01 contrasts its one-step sampling and its mode dropping with diffusion.
import * as tf from '@tensorflow/tfjs-core';
import '../../core/tfjs_setup';
import { ParamStore } from '../../core/params';
import { Rng } from '../../core/random';
import { MLP } from './mlp';

export interface GAN2DConfig {
  /** Latent size (default 8). */
  latentDim?: number;
  /** Hidden widths of both networks (default [128, 128, 128]). */
  hidden?: number[];
  /** Adam learning rate of both players (default 1e-3; beta1 = 0.5 as in DCGAN). */
  learningRate?: number;
}

export interface GANLosses {
  /** Discriminator loss: -log D(real) - log(1 - D(fake)); log 4 = 1.386 at the equilibrium D = 1/2. */
  d: number;
  /** Non-saturating generator loss -log D(G(z)); log 2 = 0.693 at D = 1/2. */
  g: number;
}

export class GAN2D {
  readonly generator: MLP;
  readonly discriminator: MLP;
  readonly latentDim: number;
  readonly optG: tf.Optimizer;
  readonly optD: tf.Optimizer;

  constructor(store: ParamStore, config: GAN2DConfig = {}, name = 'gan') {
    this.latentDim = config.latentDim ?? 8;
    if (!Number.isInteger(this.latentDim) || this.latentDim <= 0)
      throw new Error(`GAN2D: latentDim must be a positive integer, got ${this.latentDim}`);
    const hidden = config.hidden ?? [128, 128, 128];
    const lr = config.learningRate ?? 1e-3;
    if (!(lr > 0)) throw new Error(`GAN2D: learningRate must be > 0, got ${lr}`);
    [this.generator, this.discriminator] = store.scope(name, () => [
      new MLP(store, 'generator', { inDim: this.latentDim, hidden, outDim: 2, activation: 'relu' }),
      new MLP(store, 'discriminator', { inDim: 2, hidden, outDim: 1, activation: 'leaky_relu' }),
    ]);
    this.optG = tf.train.adam(lr, 0.5, 0.999);
    this.optD = tf.train.adam(lr, 0.5, 0.999);
  }

  /** n generated points [n, 2] from latent noise drawn with rng (one network evaluation). */
  generate(n: number, rng: Rng): tf.Tensor2D {
    if (!Number.isInteger(n) || n <= 0) throw new Error(`GAN2D.generate: n must be a positive integer, got ${n}`);
    return tf.tidy(() => this.generator.apply(rng.normalTensor([n, this.latentDim]) as tf.Tensor2D));
  }

  /** One discriminator step then one generator step on a batch of real points [B, 2]. */
  async step(real: tf.Tensor2D, rng: Rng): Promise<GANLosses> {
    if (real.rank !== 2 || real.shape[1] !== 2)
      throw new Error(`GAN2D.step: expected real points [batch, 2], got [${real.shape}]`);
    const b = real.shape[0];
    const zD = rng.normalTensor([b, this.latentDim]) as tf.Tensor2D;
    const zG = rng.normalTensor([b, this.latentDim]) as tf.Tensor2D;
    try {
      // softplus(-l) = -log sigmoid(l): the logistic losses written stably on logits.
      const dLoss = this.optD.minimize(
        () => {
          const fake = this.generator.apply(zD); // only D's variables are in the var list: G is not updated here
          return tf.add(
            tf.mean(tf.softplus(tf.neg(this.discriminator.apply(real)))),
            tf.mean(tf.softplus(this.discriminator.apply(fake))),
          ) as tf.Scalar;
        },
        true,
        this.discriminator.variables(),
      );
      const gLoss = this.optG.minimize(
        () => tf.mean(tf.softplus(tf.neg(this.discriminator.apply(this.generator.apply(zG))))) as tf.Scalar,
        true,
        this.generator.variables(),
      );
      if (!dLoss || !gLoss) throw new Error('GAN2D.step: optimizer returned no loss');
      const both = tf.stack([dLoss, gLoss]);
      tf.dispose([dLoss, gLoss]);
      const [d, g] = await both.data();
      both.dispose();
      return { d, g };
    } finally {
      tf.dispose([zD, zG]);
    }
  }

  dispose(): void {
    this.optG.dispose();
    this.optD.dispose();
  }
}
