// The training loop for the course's diffusion models: Adam with a warm-up learning-rate schedule,
// gradient clipping by global norm, an EMA copy of the weights (what sampling uses), a progress bar,
// periodic checkpoints (keeping the last few) and resume from the latest one.
// Reproducible resume: step k's timesteps and noise come from (seed, k) and its batch from the
// BatchSource's (seed, k), so training 20 steps straight or 10 + resume + 10 gives the same weights.
// A NaN/Inf loss or gradient stops training before the update, naming the step; the checkpoints
// already on disk (all written atomically) are left as they are.
import * as fs from 'fs';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs-core';
import '../tfjs_setup';
import { checkConfig, loadOptimizerState, loadParams, readCheckpoint, saveCheckpoint } from '../checkpoint/checkpoint';
import { diffusionLoss, Prediction } from '../loss';
import { ProgressBar, ProgressOptions } from '../progress';
import { NoiseSchedule } from '../schedule';
import { UNet } from '../unet/unet';
import { BatchSource, TrainBatch } from './batch_source';
import { Ema } from './ema';
import { clipScale, globalNorm, scaleGrads } from './grad_clip';
import { learningRateAt, LrScheduleOptions, validateLrSchedule } from './lr_schedule';
import { STREAM, stepRng } from './step_seed';
import { ScheduledAdam } from './scheduled_adam';

export interface TrainerOptions extends LrScheduleOptions {
  schedule: NoiseSchedule;
  /** Total number of optimisation steps (also the end of a cosine decay). */
  totalSteps: number;
  prediction?: Prediction;
  /** Fixes every step's timesteps and noise (and should be the BatchSource's seed too). Default 0. */
  seed?: number;
  beta1?: number;
  beta2?: number;
  /** Adam's epsilon; default 1e-8 (PyTorch's), set explicitly because tfjs's default depends on the backend. */
  epsilon?: number;
  /** Clip gradients to this global norm; null: no clipping. Default 1. */
  clipGradNorm?: number | null;
  /** EMA decay; null: no EMA (sampling then uses the raw weights). Default 0.999. */
  emaDecay?: number | null;
  /** Folder for checkpoints 'step-00000100.safetensors'; none: no checkpoints. */
  checkpointDir?: string;
  /** Save every this many steps (and at the end). Default: totalSteps / 10 rounded up. */
  checkpointEvery?: number;
  /** How many checkpoints to keep (the newest). Default 1. */
  keepLast?: number;
  /** Progress bar options, or false for none. */
  progress?: false | ProgressOptions;
}

/** Per-step records as columns, ready to plot. */
export interface TrainHistory {
  step: number[];
  loss: number[];
  lr: number[];
  gradNorm: number[];
}

export interface StepResult {
  step: number;
  loss: number;
  lr: number;
  gradNorm: number;
}

/** Thrown when a loss or gradient is NaN/Inf; the weights are those from before that step. */
export class TrainingDivergedError extends Error {
  constructor(message: string, readonly step: number, readonly lastCheckpoint: string | null) {
    super(message);
    this.name = 'TrainingDivergedError';
  }
}

const CKPT_RE = /^step-(\d+)\.safetensors$/;

export function checkpointName(step: number): string {
  return `step-${String(step).padStart(8, '0')}.safetensors`;
}

/** Checkpoint files in a folder, oldest first. */
export function listCheckpoints(dir: string): { step: number; file: string }[] {
  if (!fs.existsSync(dir)) return [];
  return fs
    .readdirSync(dir)
    .map((f) => CKPT_RE.exec(f))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => ({ step: Number(m[1]), file: path.join(dir, m[0]) }))
    .sort((a, b) => a.step - b.step);
}

/** The newest checkpoint in a folder, or null. */
export function latestCheckpoint(dir: string): string | null {
  const all = listCheckpoints(dir);
  return all.length ? all[all.length - 1].file : null;
}

export class Trainer {
  readonly model: UNet;
  /** A UNet holding the EMA weights (null when emaDecay is null). */
  readonly emaModel: UNet | null;
  readonly optimizer: tf.Optimizer;
  readonly options: Readonly<TrainerOptions>;
  /** Steps done so far (the next update is step number `step`, 0-based). */
  step = 0;
  readonly history: TrainHistory = { step: [], loss: [], lr: [], gradNorm: [] };
  lastCheckpoint: string | null = null;
  private readonly ema: Ema | null;
  private readonly adam: ScheduledAdam;
  private readonly vars: tf.Variable[];
  private readonly names: string[];

  constructor(model: UNet, options: TrainerOptions) {
    const o = { ...options };
    if (!Number.isInteger(o.totalSteps) || o.totalSteps < 1) throw new Error(`Trainer: totalSteps must be a positive integer, got ${o.totalSteps}`);
    validateLrSchedule(o);
    if (o.clipGradNorm !== undefined && o.clipGradNorm !== null && !(o.clipGradNorm > 0)) {
      throw new Error(`Trainer: clipGradNorm must be > 0 or null, got ${o.clipGradNorm}`);
    }
    const every = o.checkpointEvery ?? Math.ceil(o.totalSteps / 10);
    if (!Number.isInteger(every) || every < 1) throw new Error(`Trainer: checkpointEvery must be a positive integer, got ${o.checkpointEvery}`);
    const keep = o.keepLast ?? 1;
    if (!Number.isInteger(keep) || keep < 1) throw new Error(`Trainer: keepLast must be a positive integer, got ${o.keepLast}`);
    const seed = o.seed ?? 0;
    if (!Number.isInteger(seed)) throw new Error(`Trainer: seed must be an integer, got ${o.seed}`);
    this.options = { ...o, seed, checkpointEvery: every, keepLast: keep };
    this.model = model;
    this.adam = new ScheduledAdam(learningRateAt(0, o), o.beta1 ?? 0.9, o.beta2 ?? 0.999, o.epsilon ?? 1e-8);
    this.optimizer = this.adam;
    this.names = [...model.params.keys()];
    this.vars = this.names.map((n) => model.params.get(n)!);
    const decay = o.emaDecay === undefined ? 0.999 : o.emaDecay;
    if (decay === null) {
      this.emaModel = null;
      this.ema = null;
    } else {
      // A second UNet of the same config whose weights are the average: samplers take it as is.
      this.emaModel = new UNet(model.config);
      this.ema = new Ema(model.params, this.emaModel.params, decay);
    }
  }

  /** The model sampling should use: the EMA one when there is one. */
  get samplingModel(): UNet {
    return this.emaModel ?? this.model;
  }

  /** One update on `batch` (which this call disposes). Throws TrainingDivergedError on NaN/Inf. */
  async trainStep(batch: TrainBatch): Promise<StepResult> {
    const o = this.options;
    const k = this.step;
    const lr = learningRateAt(k, o);
    this.adam.setLearningRate(lr);
    try {
      const b = batch.x.shape[0];
      const rng = stepRng(o.seed as number, k, STREAM.noise);
      const t = Array.from({ length: b }, () => rng.int(o.schedule.T));
      const noise = rng.normalTensor(batch.x.shape) as tf.Tensor4D;
      const cond = batch.cond ?? {};
      let value: tf.Scalar | null = null;
      let grads: tf.NamedTensorMap = {};
      try {
        ({ value, grads } = tf.variableGrads(
          () => diffusionLoss((xt, tt) => this.model.apply(xt, tt, cond), o.schedule, batch.x, t, noise, o.prediction ?? 'eps'),
          this.vars,
        ));
      } finally {
        noise.dispose();
      }
      const raw = this.vars.map((v) => grads[v.name]);
      if (raw.some((g) => g === undefined)) {
        tf.dispose([value, grads]);
        const missing = this.names[raw.findIndex((g) => g === undefined)];
        throw new Error(`Trainer: parameter '${missing}' got no gradient (is it used by the model?)`);
      }
      let clipped: { grads: tf.Tensor[]; norm: number };
      let loss: number;
      try {
        // Loss and gradient norm in one asynchronous read: webgpu under Node cannot read synchronously.
        const both = tf.tidy(() => tf.stack([value as tf.Scalar, globalNorm(raw)]));
        const read = await both.data();
        both.dispose();
        loss = read[0];
        const norm = read[1];
        clipped = { grads: scaleGrads(raw, clipScale(norm, o.clipGradNorm === undefined ? 1 : o.clipGradNorm)), norm };
      } finally {
        value.dispose();
        tf.dispose(grads);
      }
      if (!Number.isFinite(loss) || !Number.isFinite(clipped.norm)) {
        tf.dispose(clipped.grads);
        const what = !Number.isFinite(loss) ? `loss is ${loss}` : `gradient norm is ${clipped.norm} (loss ${loss})`;
        throw new TrainingDivergedError(
          `Training stopped at step ${k}: ${what}. The weights were not updated; ` +
            (this.lastCheckpoint ? `the last good checkpoint is ${this.lastCheckpoint}.` : 'no checkpoint was written yet.') +
            ` Try a lower learning rate (now ${lr}) or check the batch for NaN/Inf.`,
          k,
          this.lastCheckpoint,
        );
      }
      this.adam.applyGradients(this.vars.map((v, i) => ({ name: v.name, tensor: clipped.grads[i] })));
      tf.dispose(clipped.grads);
      if (this.ema) this.ema.update();
      this.step = k + 1;
      this.history.step.push(k);
      this.history.loss.push(loss);
      this.history.lr.push(lr);
      this.history.gradNorm.push(clipped.norm);
      return { step: k, loss, lr, gradNorm: clipped.norm };
    } finally {
      batch.x.dispose();
      disposeCond(batch);
    }
  }

  /**
   * Trains from the current step up to options.totalSteps (or `stopAt`, to pause early), saving a
   * checkpoint every checkpointEvery steps and at the end. Returns the whole history so far.
   */
  async train(data: BatchSource, opts: { stopAt?: number } = {}): Promise<TrainHistory> {
    const o = this.options;
    const end = Math.min(o.totalSteps, opts.stopAt ?? o.totalSteps);
    if (!Number.isInteger(end) || end < 0) throw new Error(`Trainer.train: stopAt must be an integer >= 0, got ${opts.stopAt}`);
    const bar = o.progress === false ? null : new ProgressBar<number>(undefined, { label: 'train', ...o.progress, total: Math.max(0, end - this.step) });
    let smooth = NaN;
    try {
      while (this.step < end) {
        const r = await this.trainStep(data(this.step));
        // A smoothed loss on the bar: single-batch diffusion losses jump with the drawn t.
        smooth = Number.isNaN(smooth) ? r.loss : 0.95 * smooth + 0.05 * r.loss;
        if (bar) {
          bar.set({ loss: smooth, lr: r.lr });
          bar.update(1);
        }
        if (o.checkpointDir && (this.step % (o.checkpointEvery as number) === 0 || this.step === o.totalSteps)) {
          await this.saveCheckpoint();
        }
      }
    } finally {
      bar?.finish();
    }
    if (o.checkpointDir && this.step === end && this.step > 0 && this.lastCheckpoint !== path.join(o.checkpointDir, checkpointName(this.step))) {
      await this.saveCheckpoint(); // paused with stopAt between two periodic checkpoints
    }
    return this.history;
  }

  /** Writes checkpointDir/step-N.safetensors (atomically) and deletes all but the newest keepLast. */
  async saveCheckpoint(): Promise<string> {
    const o = this.options;
    if (!o.checkpointDir) throw new Error('Trainer.saveCheckpoint: no checkpointDir in the options');
    const file = path.join(o.checkpointDir, checkpointName(this.step));
    await saveCheckpoint(file, {
      config: this.model.config,
      params: this.model.params,
      ema: this.emaModel?.params,
      optimizer: this.optimizer,
      step: this.step,
      seed: o.seed,
      history: { loss: this.history.loss, lr: this.history.lr, grad_norm: this.history.gradNorm },
      metadata: { trainer: JSON.stringify(describeOptions(o)) },
    });
    this.lastCheckpoint = file;
    const all = listCheckpoints(o.checkpointDir);
    for (const old of all.slice(0, Math.max(0, all.length - (o.keepLast as number)))) fs.rmSync(old.file, { force: true });
    return file;
  }

  /**
   * Continues from a checkpoint: `file`, or else the newest in checkpointDir. Returns false (and
   * changes nothing) when there is none. Must be called before any training step.
   */
  async resume(file?: string): Promise<boolean> {
    const o = this.options;
    const target = file ?? (o.checkpointDir ? latestCheckpoint(o.checkpointDir) : null);
    if (target === null) return false;
    if (this.step !== 0) throw new Error(`Trainer.resume: this trainer already made ${this.step} steps; resume into a fresh one`);
    const ckpt = readCheckpoint(target);
    checkConfig(ckpt, this.model.config);
    if (ckpt.seed !== o.seed) throw new Error(`checkpoint ${target}: saved with seed ${ckpt.seed}, the trainer has seed ${o.seed}; the resumed run would not continue the same one`);
    const saved = ckpt.metadata.trainer ? (JSON.parse(ckpt.metadata.trainer) as Record<string, unknown>) : {};
    for (const k of ['scheduleKind', 'scheduleT', 'prediction'] as const) {
      const now = describeOptions(o)[k];
      if (saved[k] !== undefined && saved[k] !== now) throw new Error(`checkpoint ${target}: trained with ${k} ${String(saved[k])}, the trainer has ${String(now)}`);
    }
    const changed = Object.keys({ ...saved, ...describeOptions(o) })
      .filter((k) => !['checkpointEvery', 'keepLast'].includes(k))
      .filter((k) => JSON.stringify(saved[k]) !== JSON.stringify(describeOptions(o)[k]));
    // Allowed (e.g. more steps), but then the result is not the run the checkpoint came from.
    if (changed.length) console.warn(`Trainer.resume: options differ from the checkpoint's: ${changed.map((k) => `${k} ${JSON.stringify(saved[k])} -> ${JSON.stringify(describeOptions(o)[k])}`).join(', ')}`);
    loadParams(ckpt, this.model.params, 'params');
    if (this.emaModel) {
      // A checkpoint without EMA weights starts the average from the loaded weights.
      if (ckpt.hasEma) loadParams(ckpt, this.emaModel.params, 'ema');
      else this.ema!.copyFromSource();
    }
    if (ckpt.adam !== null) await loadOptimizerState(ckpt, this.optimizer, this.model.params);
    this.step = ckpt.step;
    const h = ckpt.history;
    const n = (h.loss ?? []).length;
    this.history.step = Array.from({ length: n }, (_, i) => i);
    this.history.loss = [...(h.loss ?? [])];
    this.history.lr = [...(h.lr ?? [])];
    this.history.gradNorm = [...(h.grad_norm ?? [])];
    this.lastCheckpoint = target;
    return true;
  }

  /** Releases the optimizer's moments and the EMA model (not the trained model itself). */
  dispose(): void {
    this.optimizer.dispose();
    this.emaModel?.dispose();
  }
}

function disposeCond(batch: TrainBatch): void {
  const c = batch.cond;
  if (!c) return;
  for (const v of [c.classLabels, c.concat, c.context, c.contextMask, c.vector]) {
    if (v instanceof tf.Tensor) v.dispose();
  }
}

function describeOptions(o: TrainerOptions): Record<string, unknown> {
  const { schedule, progress, checkpointDir, ...rest } = o;
  void progress;
  void checkpointDir;
  return { ...rest, scheduleKind: schedule.kind, scheduleT: schedule.T, prediction: o.prediction ?? 'eps' };
}
