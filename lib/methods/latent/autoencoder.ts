// The KL-regularised autoencoder of latent diffusion (Rombach et al. 2022, "LDM"): an encoder that
// maps a 32x32x3 image to the mean and log-variance of a Gaussian over a small latent grid (8x8x4 by
// default: 12x fewer numbers), and a decoder back to pixels. Diffusion then runs on the latent grid,
// where every network evaluation is far cheaper. The KL term (weighted tiny, as in LDM) only keeps the
// latent scale tame; the reconstruction term does the work.
import * as tf from '@tensorflow/tfjs-core';
import '../../core/tfjs_setup';
import { countParams, disposeParams, ParamMap, ParamStore } from '../../core/params';
import { Rng } from '../../core/random';
import { GroupNorm } from '../../core/unet/group_norm';
import { Conv2d } from '../../core/unet/layers';

export interface AutoencoderConfig {
  imageSize: number;
  imageChannels: number;
  latentChannels: number;
  /**
   * Pixels per side folded into channels first (space-to-depth, a "patchify" as in ViT): patch 4 turns
   * 32x32x3 into 8x8x48, so every convolution runs on the small grid (cheap on a CPU) and the decoder
   * emits each 4x4 patch whole (no blur from up-sampling).
   */
  patch: number;
  /** Channels per level after the patchify; each level after the first halves the side. */
  channels: number[];
  /** Residual blocks per level. */
  blocks: number;
  groups: number;
}

export function defaultAutoencoderConfig(overrides: Partial<AutoencoderConfig> = {}): AutoencoderConfig {
  return {
    imageSize: 32,
    imageChannels: 3,
    latentChannels: 4,
    patch: 4,
    channels: [96],
    blocks: 2,
    groups: 8,
    ...overrides,
  };
}

export function validateAutoencoderConfig(c: AutoencoderConfig): void {
  for (const k of ['imageSize', 'imageChannels', 'latentChannels', 'groups', 'patch', 'blocks'] as const) {
    if (!Number.isInteger(c[k]) || c[k] < 1)
      throw new Error(`AutoencoderConfig.${k} must be a positive integer, got ${String(c[k])}`);
  }
  if (!Array.isArray(c.channels) || c.channels.length === 0)
    throw new Error('AutoencoderConfig.channels must list at least one level');
  c.channels.forEach((ch, i) => {
    if (!Number.isInteger(ch) || ch < 1 || ch % c.groups !== 0)
      throw new Error(`AutoencoderConfig.channels[${i}] = ${ch} must be a positive multiple of groups=${c.groups}`);
  });
  const f = c.patch * 2 ** (c.channels.length - 1);
  if (c.imageSize % f !== 0)
    throw new Error(`AutoencoderConfig: imageSize ${c.imageSize} is not divisible by the down-sampling factor ${f}`);
}

/** The side of the latent grid. */
export function latentSide(c: AutoencoderConfig): number {
  return c.imageSize / (c.patch * 2 ** (c.channels.length - 1));
}

/** [B, S, S, C] -> [B, S/p, S/p, p*p*C]: each p x p patch becomes one cell's channels. */
export function patchify(x: tf.Tensor4D, p: number): tf.Tensor4D {
  if (p === 1) return x;
  const [b, h, w, c] = x.shape;
  return tf.tidy(
    () =>
      tf.reshape(tf.transpose(tf.reshape(x, [b, h / p, p, w / p, p, c]), [0, 1, 3, 2, 4, 5]), [
        b,
        h / p,
        w / p,
        p * p * c,
      ]) as tf.Tensor4D,
  );
}

/** The inverse of patchify. */
export function unpatchify(x: tf.Tensor4D, p: number, channels: number): tf.Tensor4D {
  if (p === 1) return x;
  const [b, h, w] = x.shape;
  return tf.tidy(
    () =>
      tf.reshape(tf.transpose(tf.reshape(x, [b, h, w, p, p, channels]), [0, 1, 3, 2, 4, 5]), [
        b,
        h * p,
        w * p,
        channels,
      ]) as tf.Tensor4D,
  );
}

/** GroupNorm-SiLU-conv twice plus a shortcut: the UNet's ResBlock without the time input. */
class AeResBlock {
  private readonly n1: GroupNorm;
  private readonly c1: Conv2d;
  private readonly n2: GroupNorm;
  private readonly c2: Conv2d;
  private readonly skip: Conv2d | null;

  constructor(store: ParamStore, name: string, inCh: number, outCh: number, groups: number) {
    [this.n1, this.c1, this.n2, this.c2, this.skip] = store.scope(name, () => [
      new GroupNorm(store, 'norm1', groups, inCh),
      new Conv2d(store, 'conv1', inCh, outCh, 3),
      new GroupNorm(store, 'norm2', groups, outCh),
      new Conv2d(store, 'conv2', outCh, outCh, 3),
      inCh !== outCh ? new Conv2d(store, 'skip', inCh, outCh, 1) : null,
    ]);
  }

  apply(x: tf.Tensor4D): tf.Tensor4D {
    return tf.tidy(() => {
      const h = this.c2.apply(this.n2.apply(this.c1.apply(this.n1.apply(x, true)), true));
      return tf.add(this.skip ? this.skip.apply(x) : x, h) as tf.Tensor4D;
    });
  }
}

export interface Posterior {
  /** [B, s, s, latentChannels] */
  mean: tf.Tensor4D;
  /** log variance, same shape, clipped to [-30, 20] as LDM does. */
  logvar: tf.Tensor4D;
}

export class Autoencoder {
  readonly config: AutoencoderConfig;
  readonly params: ParamMap;
  private encIn!: Conv2d;
  private readonly encBlocks: AeResBlock[] = [];
  private readonly encDown: Conv2d[] = [];
  private encNorm!: GroupNorm;
  private encOut!: Conv2d;
  private decIn!: Conv2d;
  private readonly decBlocks: AeResBlock[] = [];
  private readonly decUp: Conv2d[] = [];
  private decNorm!: GroupNorm;
  private decOut!: Conv2d;

  constructor(config: AutoencoderConfig, init: { seed?: number } = {}) {
    validateAutoencoderConfig(config);
    const c = (this.config = { ...config, channels: [...config.channels] });
    const store = new ParamStore(new Rng(init.seed ?? 0));
    this.params = store.params;
    const L = c.channels.length;
    store.scope('encoder', () => {
      this.encIn = new Conv2d(store, 'in', c.imageChannels * c.patch * c.patch, c.channels[0], 3);
      let ch = c.channels[0];
      for (let i = 0; i < L; i++) {
        for (let j = 0; j < c.blocks; j++)
          this.encBlocks.push(
            new AeResBlock(store, `res.${i}.${j}`, j === 0 ? ch : c.channels[i], c.channels[i], c.groups),
          );
        ch = c.channels[i];
        if (i < L - 1) this.encDown.push(new Conv2d(store, `down.${i}`, ch, c.channels[i + 1], 3, 2));
        if (i < L - 1) ch = c.channels[i + 1];
      }
      this.encNorm = new GroupNorm(store, 'norm', c.groups, ch);
      // Mean and log-variance of every latent value.
      this.encOut = new Conv2d(store, 'out', ch, 2 * c.latentChannels, 3);
    });
    store.scope('decoder', () => {
      let ch = c.channels[L - 1];
      this.decIn = new Conv2d(store, 'in', c.latentChannels, ch, 3);
      for (let i = L - 1; i >= 0; i--) {
        for (let j = 0; j < c.blocks; j++)
          this.decBlocks.push(
            new AeResBlock(store, `res.${i}.${j}`, j === 0 ? ch : c.channels[i], c.channels[i], c.groups),
          );
        ch = c.channels[i];
        if (i > 0) this.decUp.push(new Conv2d(store, `up.${i}`, ch, c.channels[i - 1], 3));
        if (i > 0) ch = c.channels[i - 1];
      }
      this.decNorm = new GroupNorm(store, 'norm', c.groups, ch);
      this.decOut = new Conv2d(store, 'out', ch, c.imageChannels * c.patch * c.patch, 3);
    });
  }

  get paramCount(): number {
    return countParams(this.params);
  }

  /** x [B, S, S, C] in [-1, 1] -> the Gaussian posterior q(z | x). */
  encode(x: tf.Tensor4D): Posterior {
    const c = this.config;
    if (x.rank !== 4 || x.shape[1] !== c.imageSize || x.shape[2] !== c.imageSize || x.shape[3] !== c.imageChannels) {
      throw new Error(
        `Autoencoder.encode: x must be [B, ${c.imageSize}, ${c.imageSize}, ${c.imageChannels}], got [${x.shape}]`,
      );
    }
    return tf.tidy(() => {
      let h = this.encIn.apply(patchify(x, c.patch));
      this.encBlocks.forEach((b, i) => {
        h = b.apply(h);
        const level = Math.floor(i / c.blocks);
        if (i % c.blocks === c.blocks - 1 && level < this.encDown.length) h = this.encDown[level].apply(h);
      });
      const out = this.encOut.apply(this.encNorm.apply(h, true));
      const [mean, logvar] = tf.split(out, 2, 3) as tf.Tensor4D[];
      return { mean, logvar: tf.clipByValue(logvar, -30, 20) as tf.Tensor4D };
    });
  }

  /** z [B, s, s, latentChannels] -> image [B, S, S, C] (not clipped; clip to [-1, 1] for display). */
  decode(z: tf.Tensor4D): tf.Tensor4D {
    const c = this.config;
    const s = latentSide(c);
    if (z.rank !== 4 || z.shape[1] !== s || z.shape[2] !== s || z.shape[3] !== c.latentChannels) {
      throw new Error(`Autoencoder.decode: z must be [B, ${s}, ${s}, ${c.latentChannels}], got [${z.shape}]`);
    }
    return tf.tidy(() => {
      let h = this.decIn.apply(z);
      this.decBlocks.forEach((b, i) => {
        h = b.apply(h);
        const level = Math.floor(i / c.blocks);
        if (i % c.blocks === c.blocks - 1 && level < this.decUp.length) {
          const [, hh, ww] = h.shape;
          h = this.decUp[level].apply(tf.image.resizeNearestNeighbor(h, [2 * hh, 2 * ww]));
        }
      });
      return unpatchify(this.decOut.apply(this.decNorm.apply(h, true)), c.patch, c.imageChannels);
    });
  }

  dispose(): void {
    disposeParams(this.params);
  }
}

/** z = mean + exp(logvar / 2) * noise (the reparameterisation trick). */
export function samplePosterior(p: Posterior, noise: tf.Tensor4D): tf.Tensor4D {
  return tf.tidy(() => tf.add(p.mean, tf.mul(tf.exp(tf.mul(p.logvar, 0.5)), noise)) as tf.Tensor4D);
}

/** KL(q(z|x) || N(0, I)) averaged over every latent value: 0.5 (mean^2 + var - 1 - logvar). */
export function klDivergence(p: Posterior): tf.Scalar {
  return tf.tidy(
    () => tf.mul(0.5, tf.mean(tf.sub(tf.add(tf.square(p.mean), tf.exp(p.logvar)), tf.add(1, p.logvar)))) as tf.Scalar,
  );
}
