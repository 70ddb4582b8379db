// Training the KL autoencoder: squared-error reconstruction plus a tiny KL weight, Adam, seeded
// batches. (LDM uses L1, which estimates the median: on these mostly black images the median of an
// uncertain pixel is black, and an L1 run here stayed near an all-black output for hundreds of steps.)
// Saving and loading keep the config and the latent scale factor (1 / std of the latents, LDM's
// "scale_factor") in the file, so a loaded autoencoder is all the latent diffusion model needs.
import * as fs from 'fs';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs-core';
import '../../core/tfjs_setup';
import { buildFromCheckpoint, readCheckpoint, saveCheckpoint } from '../../core/checkpoint/checkpoint';
import { Rng } from '../../core/random';
import { imageBatches, ImageData, TrainBatch } from '../../core/train/batch_source';
import { CheckpointOptions, checkpointOptions, LossTrainer, runTrainer } from '../../core/train/loss_trainer';
import { Autoencoder, AutoencoderConfig, klDivergence, latentSide, samplePosterior } from './autoencoder';

export interface AeTrainOptions extends CheckpointOptions {
  steps: number;
  batch: number;
  learningRate: number;
  /** Weight of the KL term (per latent value) against the squared error (per pixel value). */
  klWeight: number;
  seed: number;
  progress?: boolean;
  /** Stop early (keeping the weights so far) once this much wall time has passed. */
  maxSeconds?: number;
}

export interface AeTrainHistory {
  loss: number[];
  rec: number[];
  kl: number[];
  /** The step this run started from (0, or where it resumed). */
  resumedAt: number;
  /** This run's seconds (a resumed run's earlier steps not counted). */
  seconds: number;
}

function checkOptions(o: AeTrainOptions): void {
  for (const k of ['steps', 'batch'] as const) {
    if (!Number.isInteger(o[k]) || o[k] < 1)
      throw new Error(`trainAutoencoder: ${k} must be a positive integer, got ${o[k]}`);
  }
  if (!(o.learningRate > 0)) throw new Error(`trainAutoencoder: learningRate must be > 0, got ${o.learningRate}`);
  if (!(o.klWeight >= 0)) throw new Error(`trainAutoencoder: klWeight must be >= 0, got ${o.klWeight}`);
}

/**
 * Trains `ae` in place; the learning rate decays by cosine to 5% over the steps. With checkpointDir,
 * continues from the newest training state there (and writes them there).
 */
export async function trainAutoencoder(ae: Autoencoder, set: ImageData, o: AeTrainOptions): Promise<AeTrainHistory> {
  checkOptions(o);
  const shape = latentShape(ae.config);
  // Step k's posterior noise comes from its own stream (seed, k), as the batch does.
  const loss = (batch: TrainBatch, rng: Rng) => {
    const x = batch.x;
    const noise = rng.normalTensor([x.shape[0], ...shape]) as tf.Tensor4D;
    const post = ae.encode(x);
    const mse = tf.mean(tf.squaredDifference(ae.decode(samplePosterior(post, noise)), x)) as tf.Scalar;
    const kl = klDivergence(post);
    return { loss: tf.add(mse, tf.mul(kl, o.klWeight)) as tf.Scalar, metrics: { mse, kl } };
  };
  const trainer = new LossTrainer(ae.params, loss, {
    learningRate: o.learningRate,
    decay: 'cosine',
    totalSteps: o.steps,
    minLearningRate: 0.05 * o.learningRate,
    seed: o.seed,
    config: { kind: 'kl-autoencoder', ...ae.config },
    describe: { batch: o.batch, klWeight: o.klWeight },
    ...checkpointOptions(o),
    progress: o.progress === false ? false : { label: 'autoencoder' },
  });
  const t0 = Date.now();
  const {
    history: h,
    seconds,
    startStep,
  } = await runTrainer(trainer, imageBatches(set, o.batch, o.seed), {
    stopWhen: o.maxSeconds === undefined ? undefined : () => (Date.now() - t0) / 1000 > (o.maxSeconds as number),
  });
  return {
    loss: [...h.loss],
    rec: [...(h.metrics.mse ?? [])],
    kl: [...(h.metrics.kl ?? [])],
    resumedAt: startStep,
    seconds,
  };
}

function latentShape(c: AutoencoderConfig): [number, number, number] {
  const s = latentSide(c);
  return [s, s, c.latentChannels];
}

/** A trained autoencoder with the factor that scales its latents to unit standard deviation. */
export interface LoadedAutoencoder {
  ae: Autoencoder;
  scaleFactor: number;
}

export async function saveAutoencoder(
  file: string,
  ae: Autoencoder,
  scaleFactor: number,
  metadata: Record<string, string> = {},
): Promise<void> {
  if (!(scaleFactor > 0) || !Number.isFinite(scaleFactor))
    throw new Error(`saveAutoencoder: scaleFactor must be a positive number, got ${scaleFactor}`);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  await saveCheckpoint(file, {
    config: { kind: 'kl-autoencoder', ...ae.config },
    params: ae.params,
    metadata: { ...metadata, scale_factor: String(scaleFactor) },
  });
}

export function loadAutoencoder(file: string): LoadedAutoencoder {
  if (!fs.existsSync(file))
    throw new Error(`autoencoder not found at ${file}: train it with \`npm run train:latent -- ae\``);
  const ckpt = readCheckpoint(file);
  const { kind, ...config } = ckpt.config as AutoencoderConfig & { kind?: string };
  if (kind !== 'kl-autoencoder')
    throw new Error(`${file} is not a KL autoencoder checkpoint (config kind '${String(kind)}')`);
  const scaleFactor = Number(ckpt.metadata.scale_factor);
  if (!(scaleFactor > 0))
    throw new Error(`${file}: missing or bad scale_factor in its metadata ('${ckpt.metadata.scale_factor}')`);
  const ae = buildFromCheckpoint(ckpt, () => new Autoencoder(config), 'params');
  return { ae, scaleFactor };
}
