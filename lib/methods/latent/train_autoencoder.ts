// Training the KL autoencoder: squared-error reconstruction plus a tiny KL weight, Adam, seeded
// batches. (LDM uses L1, which estimates the median: on these mostly black images the median of an
// uncertain pixel is black, and an L1 run here stayed near an all-black output for hundreds of steps.)
// Saving and loading keep the config and the latent scale factor (1 / std of the latents, LDM's
// "scale_factor") in the file, so a loaded autoencoder is all the latent diffusion model needs.
import * as fs from 'fs';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs-core';
import '../../core/tfjs_setup';
import { loadParams, readCheckpoint, saveCheckpoint } from '../../core/checkpoint/checkpoint';
import { ProgressBar } from '../../core/progress';
import { imageBatches, ImageData } from '../../core/train/batch_source';
import { ScheduledAdam } from '../../core/train/scheduled_adam';
import { STREAM, stepRng } from '../../core/train/step_seed';
import { Autoencoder, AutoencoderConfig, klDivergence, latentSide, samplePosterior } from './autoencoder';

export interface AeTrainOptions {
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
  seconds: number;
}

function checkOptions(o: AeTrainOptions): void {
  for (const k of ['steps', 'batch'] as const) {
    if (!Number.isInteger(o[k]) || o[k] < 1) throw new Error(`trainAutoencoder: ${k} must be a positive integer, got ${o[k]}`);
  }
  if (!(o.learningRate > 0)) throw new Error(`trainAutoencoder: learningRate must be > 0, got ${o.learningRate}`);
  if (!(o.klWeight >= 0)) throw new Error(`trainAutoencoder: klWeight must be >= 0, got ${o.klWeight}`);
}

/** Trains `ae` in place; the learning rate decays by cosine to 5% over the steps. */
export async function trainAutoencoder(ae: Autoencoder, set: ImageData, o: AeTrainOptions): Promise<AeTrainHistory> {
  checkOptions(o);
  const data = imageBatches(set, o.batch, o.seed);
  const opt = new ScheduledAdam(o.learningRate, 0.9, 0.999, 1e-8);
  const vars = [...ae.params.values()];
  const h: AeTrainHistory = { loss: [], rec: [], kl: [], seconds: 0 };
  const bar = o.progress === false ? null : new ProgressBar<number>(undefined, { label: 'autoencoder', total: o.steps });
  const t0 = Date.now();
  try {
    for (let k = 0; k < o.steps; k++) {
      if (o.maxSeconds !== undefined && (Date.now() - t0) / 1000 > o.maxSeconds) break;
      opt.setLearningRate(o.learningRate * (0.05 + 0.95 * 0.5 * (1 + Math.cos((Math.PI * k) / o.steps))));
      const { x } = data(k);
      const noise = stepRng(o.seed, k, STREAM.noise).normalTensor([x.shape[0], ...latentShape(ae.config)]) as tf.Tensor4D;
      let parts: tf.Tensor1D | null = null;
      const cost = opt.minimize(() => {
        const post = ae.encode(x);
        const rec = tf.mean(tf.squaredDifference(ae.decode(samplePosterior(post, noise)), x)) as tf.Scalar;
        const kl = klDivergence(post);
        parts = tf.keep(tf.stack([rec, kl]) as tf.Tensor1D);
        return tf.add(rec, tf.mul(kl, o.klWeight)) as tf.Scalar;
      }, true, vars);
      const [loss] = await cost!.data();
      const [rec, kl] = await parts!.data();
      tf.dispose([cost!, parts!, x, noise]);
      if (!Number.isFinite(loss)) throw new Error(`trainAutoencoder: loss is ${loss} at step ${k}; try a lower learning rate (now ${o.learningRate})`);
      h.loss.push(loss);
      h.rec.push(rec);
      h.kl.push(kl);
      if (bar) {
        bar.set({ mse: rec, kl });
        bar.update(1);
      }
    }
  } finally {
    bar?.finish();
    opt.dispose();
  }
  h.seconds = (Date.now() - t0) / 1000;
  return h;
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

export async function saveAutoencoder(file: string, ae: Autoencoder, scaleFactor: number, metadata: Record<string, string> = {}): Promise<void> {
  if (!(scaleFactor > 0) || !Number.isFinite(scaleFactor)) throw new Error(`saveAutoencoder: scaleFactor must be a positive number, got ${scaleFactor}`);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  await saveCheckpoint(file, { config: { kind: 'kl-autoencoder', ...ae.config }, params: ae.params, metadata: { ...metadata, scale_factor: String(scaleFactor) } });
}

export function loadAutoencoder(file: string): LoadedAutoencoder {
  if (!fs.existsSync(file)) throw new Error(`autoencoder not found at ${file}: train it with \`npx tsx scripts/train-latent.ts ae\``);
  const ckpt = readCheckpoint(file);
  const { kind, ...config } = ckpt.config as AutoencoderConfig & { kind?: string };
  if (kind !== 'kl-autoencoder') throw new Error(`${file} is not a KL autoencoder checkpoint (config kind '${String(kind)}')`);
  const scaleFactor = Number(ckpt.metadata.scale_factor);
  if (!(scaleFactor > 0)) throw new Error(`${file}: missing or bad scale_factor in its metadata ('${ckpt.metadata.scale_factor}')`);
  const ae = new Autoencoder(config);
  try {
    loadParams(ckpt, ae.params, 'params');
  } catch (e) {
    ae.dispose();
    throw e;
  }
  return { ae, scaleFactor };
}
