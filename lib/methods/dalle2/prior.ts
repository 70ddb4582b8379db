// The diffusion prior (DALL·E 2's second stage): a diffusion model over CLIP image embeddings,
// conditioned on the CLIP text embedding. A caption has many images; the prior samples one plausible
// image embedding for it, which the decoder then draws.
//
// It predicts x0 (the clean embedding) directly, as the DALL·E 2 paper does: the target is a vector
// of known norm, so the x0 estimate can be projected back onto that sphere at every sampling step
// (the analogue of clipping images to [-1, 1]), and at low noise the network only has to copy its
// input rather than find a tiny noise residual. The denoiser is a residual MLP (E = 64 numbers per
// sample do not need a transformer): input [z_t, text, time embedding], blocks of
// LayerNorm -> Linear -> SiLU -> Linear with the condition added, output x0.
import * as tf from '@tensorflow/tfjs-core';
import '../../core/tfjs_setup';
import { countParams, disposeParams, ParamMap, ParamStore } from '../../core/params';
import { Rng } from '../../core/random';
import { cosineSchedule, NoiseSchedule, respaceTimesteps } from '../../core/schedule';
import { LayerNorm } from '../text/layer_norm';
import { ProgressOptions } from '../../core/progress';
import { CheckpointOptions, trainParams } from '../../core/train/loss_trainer';
import { STREAM, stepRng } from '../../core/train/step_seed';
import { Linear, silu } from '../../core/unet/layers';
import { TimeEmbedding } from '../../core/unet/time_embedding';
import { fromDiffusionSpace, toDiffusionSpace } from './embedding_space';

export interface PriorConfig {
  embedDim: number;
  hidden: number;
  blocks: number;
  /** Diffusion steps of the (cosine) schedule. */
  T: number;
}

export function priorConfig(embedDim: number, overrides: Partial<Omit<PriorConfig, 'embedDim'>> = {}): PriorConfig {
  return { embedDim, hidden: 256, blocks: 3, T: 1000, ...overrides };
}

export function validatePriorConfig(c: PriorConfig): void {
  for (const k of ['embedDim', 'hidden', 'blocks', 'T'] as const) {
    if (!Number.isInteger(c[k]) || c[k] < 1)
      throw new Error(`PriorConfig.${k} must be a positive integer, got ${String(c[k])}`);
  }
}

interface PriorBlock {
  ln: LayerNorm;
  cond: Linear;
  fc1: Linear;
  fc2: Linear;
}

export class DiffusionPrior {
  readonly config: PriorConfig;
  readonly params: ParamMap;
  readonly schedule: NoiseSchedule;
  private readonly time: TimeEmbedding;
  private readonly inProj: Linear;
  private readonly blocks: PriorBlock[];
  private readonly lnOut: LayerNorm;
  private readonly outProj: Linear;

  constructor(config: PriorConfig, init: { seed?: number } = {}) {
    validatePriorConfig(config);
    const c = (this.config = { ...config });
    this.schedule = cosineSchedule(c.T);
    const store = new ParamStore(new Rng(init.seed ?? 0));
    this.params = store.params;
    const H = c.hidden;
    this.time = new TimeEmbedding(store, 'time', 64, H);
    this.inProj = new Linear(store, 'inProj', 2 * c.embedDim, H);
    this.blocks = Array.from({ length: c.blocks }, (_, i) =>
      store.scope(`block.${i}`, () => ({
        ln: new LayerNorm(store, 'ln', H),
        cond: new Linear(store, 'cond', H, H),
        fc1: new Linear(store, 'fc1', H, 2 * H),
        fc2: new Linear(store, 'fc2', 2 * H, H),
      })),
    );
    this.lnOut = new LayerNorm(store, 'lnOut', H);
    this.outProj = new Linear(store, 'outProj', H, c.embedDim);
  }

  get paramCount(): number {
    return countParams(this.params);
  }

  /**
   * zt [B, E] (noisy embedding in diffusion space), t [B], text [B, E] (text embedding in diffusion
   * space, zeros for "no text") -> x0 estimate [B, E] in diffusion space.
   */
  apply(zt: tf.Tensor2D, t: number[], text: tf.Tensor2D): tf.Tensor2D {
    const E = this.config.embedDim;
    if (zt.rank !== 2 || zt.shape[1] !== E) throw new Error(`DiffusionPrior: zt must be [B, ${E}], got [${zt.shape}]`);
    if (text.shape.join() !== zt.shape.join())
      throw new Error(`DiffusionPrior: text must be [${zt.shape}] like zt, got [${text.shape}]`);
    if (t.length !== zt.shape[0])
      throw new Error(`DiffusionPrior: ${t.length} timesteps for a batch of ${zt.shape[0]}`);
    return tf.tidy(() => {
      const temb = this.time.apply(tf.tensor1d(t));
      let h = tf.add(this.inProj.apply(tf.concat([zt, text], 1)), temb) as tf.Tensor2D;
      const c = silu(temb);
      for (const blk of this.blocks) {
        const u = tf.add(blk.ln.apply(h), blk.cond.apply(c));
        h = tf.add(h, blk.fc2.apply(silu(blk.fc1.apply(u)))) as tf.Tensor2D;
      }
      return this.outProj.apply(this.lnOut.apply(h)) as tf.Tensor2D;
    });
  }

  dispose(): void {
    disposeParams(this.params);
  }
}

export interface PriorSampleOptions {
  /** Network evaluations (DDIM steps, eta 0). */
  steps: number;
  /** Classifier-free guidance scale on the text condition (1 = none). */
  guidance: number;
  rng: Rng;
}

/**
 * Text embeddings (unit norm, [B, E]) -> sampled image embeddings (unit norm, [B, E]) with DDIM.
 * Each step's x0 estimate is put back on the sphere of radius sqrt(E), where real embeddings are.
 */
export function samplePrior(prior: DiffusionPrior, textEmb: tf.Tensor2D, o: PriorSampleOptions): tf.Tensor2D {
  const s = prior.schedule;
  const [b, E] = textEmb.shape;
  if (E !== prior.config.embedDim)
    throw new Error(`samplePrior: text embeddings are ${E}-dimensional, the prior takes ${prior.config.embedDim}`);
  if (!Number.isInteger(o.steps) || o.steps < 1 || o.steps > s.T)
    throw new Error(`samplePrior: steps must be an integer in [1, ${s.T}], got ${o.steps}`);
  if (!(o.guidance >= 0)) throw new Error(`samplePrior: guidance must be >= 0, got ${o.guidance}`);
  const ts = respaceTimesteps(s.T, o.steps, 'trailing');
  const radius = Math.sqrt(E);
  const text = tf.tidy(() => {
    const c = toDiffusionSpace(textEmb);
    return o.guidance === 1 ? c : tf.concat([c, tf.zerosLike(c)], 0);
  }) as tf.Tensor2D;
  let z = o.rng.normalTensor([b, E]) as tf.Tensor2D;
  try {
    for (let i = 0; i < ts.length; i++) {
      const t = ts[i];
      const abar = s.alphasCumprod[t];
      const abarPrev = i + 1 < ts.length ? s.alphasCumprod[ts[i + 1]] : 1;
      const next = tf.tidy(() => {
        let x0: tf.Tensor2D;
        if (o.guidance === 1) x0 = prior.apply(z, new Array<number>(b).fill(t), text);
        else {
          const out = prior.apply(tf.concat([z, z], 0) as tf.Tensor2D, new Array<number>(2 * b).fill(t), text);
          const [c, u] = tf.split(out, 2, 0) as tf.Tensor2D[];
          x0 = tf.add(u, tf.mul(tf.sub(c, u), o.guidance)) as tf.Tensor2D;
        }
        x0 = tf.mul(fromDiffusionSpace(x0), radius) as tf.Tensor2D;
        const eps = tf.div(tf.sub(z, tf.mul(Math.sqrt(abar), x0)), Math.sqrt(1 - abar));
        return tf.add(tf.mul(Math.sqrt(abarPrev), x0), tf.mul(Math.sqrt(1 - abarPrev), eps)) as tf.Tensor2D;
      });
      z.dispose();
      z = next;
    }
    return fromDiffusionSpace(z);
  } finally {
    z.dispose();
    text.dispose();
  }
}

export interface TrainPriorOptions extends CheckpointOptions {
  steps: number;
  batch: number;
  learningRate: number;
  /** Probability of replacing the text embedding by zeros (classifier-free guidance). */
  textDropout?: number;
  seed?: number;
  onStep?: (step: number, loss: number) => void;
  /** A progress bar (default none). */
  progress?: false | ProgressOptions;
}

/**
 * Trains on (text embedding, image embedding) pairs from the frozen CLIP, both unit norm [N, E]:
 * MSE between the predicted and the true clean image embedding (in diffusion space). Each step's
 * pairs are drawn with replacement from (seed, step); its timesteps, text dropout and noise from the
 * step's own stream; so a run resumed from checkpointDir continues the same one.
 */
export async function trainPrior(
  prior: DiffusionPrior,
  textEmb: tf.Tensor2D,
  imageEmb: tf.Tensor2D,
  o: TrainPriorOptions,
): Promise<{ loss: number[]; seconds: number }> {
  const n = textEmb.shape[0];
  if (imageEmb.shape.join() !== textEmb.shape.join())
    throw new Error(`trainPrior: image embeddings [${imageEmb.shape}] and text embeddings [${textEmb.shape}] differ`);
  if (!Number.isInteger(o.steps) || o.steps < 1)
    throw new Error(`trainPrior: steps must be a positive integer, got ${o.steps}`);
  if (!Number.isInteger(o.batch) || o.batch < 1 || o.batch > n)
    throw new Error(`trainPrior: batch must be an integer in [1, ${n}], got ${o.batch}`);
  const drop = o.textDropout ?? 0.1;
  if (!(drop >= 0 && drop < 1)) throw new Error(`trainPrior: textDropout must be in [0, 1), got ${drop}`);
  const seed = o.seed ?? 0;
  const s = prior.schedule;
  const zAll = toDiffusionSpace(imageEmb);
  const cAll = toDiffusionSpace(textEmb);
  // The batch: which pairs (with replacement, as before); the trainer disposes nothing of the sets.
  const data = (step: number): Int32Array => {
    const rng = stepRng(seed, step, STREAM.data);
    return Int32Array.from({ length: o.batch }, () => rng.int(n));
  };
  const loss = (idx: Int32Array, rng: Rng) => {
    const t = Array.from({ length: o.batch }, () => rng.int(s.T));
    const keep = Float32Array.from({ length: o.batch }, () => (rng.uniform() < drop ? 0 : 1));
    const noise = rng.normalTensor([o.batch, prior.config.embedDim]) as tf.Tensor2D;
    const ii = tf.tensor1d(idx, 'int32');
    const z0 = tf.gather(zAll, ii) as tf.Tensor2D;
    const c = tf.mul(tf.gather(cAll, ii), tf.tensor2d(keep, [o.batch, 1])) as tf.Tensor2D;
    const zt = s.qSample(z0, t, noise) as tf.Tensor2D;
    return tf.mean(tf.square(tf.sub(prior.apply(zt, t, c), z0))) as tf.Scalar;
  };
  try {
    const { history, seconds } = await trainParams(
      prior.params,
      loss,
      {
        learningRate: o.learningRate,
        warmupSteps: Math.min(200, Math.floor(o.steps / 10)),
        decay: 'cosine',
        totalSteps: o.steps,
        minLearningRate: o.learningRate / 20,
        seed,
        config: { kind: 'diffusion-prior', ...prior.config },
        describe: { batch: o.batch, textDropout: drop, pairs: n },
        progress: o.progress ?? false,
      },
      data,
      o,
    );
    return { loss: [...history.loss], seconds };
  } finally {
    zAll.dispose();
    cAll.dispose();
  }
}
