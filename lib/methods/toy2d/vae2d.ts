// A VAE on 2-D points (Kingma & Welling 2014): an encoder gives q(z|x) = N(mu, diag sigma^2), a
// decoder gives p(x|z) = N(dec(z), sigmaX^2 I), trained on the negative ELBO with the
// reparameterisation trick. With a Gaussian decoder it must spread probability between the modes,
// which is why lesson 01 shows its samples blurred into bridges between modes.
import * as tf from '@tensorflow/tfjs-core';
import '../../core/tfjs_setup';
import { ParamStore } from '../../core/params';
import { Rng } from '../../core/random';
import { MLP } from './mlp';

export interface VAE2DConfig {
  /** Latent size (default 2). */
  latentDim?: number;
  hidden?: number[];
  /** Decoder's fixed standard deviation sigmaX (default 0.1, the 8-Gaussians' mode width). */
  decoderStd?: number;
  learningRate?: number;
}

export interface VAELosses {
  /** Negative ELBO per point, up to the constant log(2 pi sigmaX^2). */
  loss: number;
  /** Reconstruction term ||x - dec(z)||^2 / (2 sigmaX^2). */
  recon: number;
  /** KL(q(z|x) || N(0, I)). */
  kl: number;
}

export class VAE2D {
  readonly encoder: MLP;
  readonly decoder: MLP;
  readonly latentDim: number;
  readonly decoderStd: number;
  readonly optimizer: tf.Optimizer;

  constructor(store: ParamStore, config: VAE2DConfig = {}, name = 'vae') {
    this.latentDim = config.latentDim ?? 2;
    this.decoderStd = config.decoderStd ?? 0.1;
    if (!Number.isInteger(this.latentDim) || this.latentDim <= 0)
      throw new Error(`VAE2D: latentDim must be a positive integer, got ${this.latentDim}`);
    if (!(this.decoderStd > 0)) throw new Error(`VAE2D: decoderStd must be > 0, got ${this.decoderStd}`);
    const hidden = config.hidden ?? [128, 128, 128];
    const lr = config.learningRate ?? 1e-3;
    if (!(lr > 0)) throw new Error(`VAE2D: learningRate must be > 0, got ${lr}`);
    [this.encoder, this.decoder] = store.scope(name, () => [
      new MLP(store, 'encoder', { inDim: 2, hidden, outDim: 2 * this.latentDim, activation: 'silu' }),
      new MLP(store, 'decoder', { inDim: this.latentDim, hidden, outDim: 2, activation: 'silu' }),
    ]);
    this.optimizer = tf.train.adam(lr);
  }

  /** The three loss terms as scalars for a batch x [B, 2] and standard-normal eps [B, latent]. */
  losses(x: tf.Tensor2D, eps: tf.Tensor2D): { loss: tf.Scalar; recon: tf.Scalar; kl: tf.Scalar } {
    return tf.tidy(() => {
      const h = this.encoder.apply(x);
      const mu = tf.slice(h, [0, 0], [-1, this.latentDim]);
      const logvar = tf.slice(h, [0, this.latentDim], [-1, this.latentDim]);
      const z = tf.add(mu, tf.mul(tf.exp(tf.mul(logvar, 0.5)), eps)) as tf.Tensor2D; // reparameterisation
      const xHat = this.decoder.apply(z);
      const recon = tf.div(tf.mean(tf.sum(tf.squaredDifference(x, xHat), 1)), 2 * this.decoderStd ** 2) as tf.Scalar;
      const kl = tf.mean(
        tf.mul(tf.sum(tf.sub(tf.add(tf.square(mu), tf.exp(logvar)), tf.add(logvar, 1)), 1), 0.5),
      ) as tf.Scalar;
      return { loss: tf.add(recon, kl) as tf.Scalar, recon, kl };
    });
  }

  /** One Adam step on a batch of points [B, 2]. */
  async step(x: tf.Tensor2D, rng: Rng): Promise<VAELosses> {
    if (x.rank !== 2 || x.shape[1] !== 2) throw new Error(`VAE2D.step: expected points [batch, 2], got [${x.shape}]`);
    const eps = rng.normalTensor([x.shape[0], this.latentDim]) as tf.Tensor2D;
    // recon and kl leave the gradient closure as tensors: read with the loss in one asynchronous read.
    let parts: tf.Tensor | null = null;
    try {
      const loss = this.optimizer.minimize(
        () => {
          const l = this.losses(x, eps);
          parts = tf.keep(tf.stack([l.recon, l.kl]));
          return l.loss;
        },
        true,
        [...this.encoder.variables(), ...this.decoder.variables()],
      );
      if (!loss) throw new Error('VAE2D.step: optimizer returned no loss');
      const p = parts!;
      const all = tf.tidy(() => tf.concat([tf.reshape(loss, [1]), p]));
      loss.dispose();
      const [v, recon, kl] = await all.data();
      all.dispose();
      return { loss: v, recon, kl };
    } finally {
      tf.dispose([eps, ...(parts ? [parts] : [])]);
    }
  }

  /**
   * n points from the prior: z ~ N(0, I), x = dec(z) (one decoder evaluation). withNoise adds the
   * decoder's own sigmaX noise (a sample of p(x|z)); without it the decoder mean, as usually shown.
   */
  generate(n: number, rng: Rng, withNoise = false): tf.Tensor2D {
    if (!Number.isInteger(n) || n <= 0) throw new Error(`VAE2D.generate: n must be a positive integer, got ${n}`);
    return tf.tidy(() => {
      const mean = this.decoder.apply(rng.normalTensor([n, this.latentDim]) as tf.Tensor2D);
      return withNoise ? (tf.add(mean, rng.normalTensor([n, 2], 0, this.decoderStd)) as tf.Tensor2D) : mean;
    });
  }

  dispose(): void {
    this.optimizer.dispose();
  }
}
