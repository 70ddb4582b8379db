// The one training loop of the course. Every model, whole or in part, is trained the same way: a set
// of named parameters (a whole network, or a subset such as GLIGEN's gated layers or one class
// embedding), a loss function of (batch, rng), and around it Adam with the learning rate of
// learningRateAt, gradient clipping by global norm, an optional EMA of the trained parameters, a stop
// on NaN/Inf before the update, a progress bar, and checkpoints from which a run resumes exactly.
//
// One step: batch = data(step); rng = stepRng(seed, step, STREAM.noise); loss (and any extra metrics)
// with gradients; ONE asynchronous read of [loss, gradient norm, metrics...] (webgpu under Node has no
// synchronous read, and one read is one GPU sync per step); stop if not finite; clip; Adam; EMA.
//
// Exact resume: each step's batch and randomness depend only on (seed, step), never on how many draws
// came before, and a checkpoint holds the trained parameters, their EMA, Adam's moments and step
// count, and the history. So n steps straight and k steps + resume + (n - k) steps give the same
// weights bit for bit (tests/trainer.spec.ts). A checkpoint of a subset holds only that subset: the
// frozen rest must be rebuilt the same way before resuming (it never changes, so that is easy).
import * as fs from 'fs';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs-core';
import '../tfjs_setup';
import {
  checkConfig,
  loadOptimizerState,
  loadParams,
  NonFiniteWeightsError,
  readCheckpoint,
  saveCheckpoint,
} from '../checkpoint/checkpoint';
import { InterruptedError, interruptSignal, listenForCtrlC, reportInterrupt, trainingStopsOnCtrlC } from '../cancel';
import { ParamMap } from '../params';
import { ProgressBar, ProgressOptions } from '../progress';
import { Rng } from '../random';
import { Ema } from './ema';
import { clipScale, globalNorm } from './grad_clip';
import { learningRateAt, LrScheduleOptions, validateLrSchedule } from './lr_schedule';
import { ScheduledAdam } from './scheduled_adam';
import { acquireRunLock, checkUnlocked } from './run_lock';
import { STREAM, stepRng } from './step_seed';

/** A loss, or a loss plus named scalars to log with it (read in the same single read). */
export type LossValue = tf.Scalar | { loss: tf.Scalar; metrics?: Record<string, tf.Scalar> };

/**
 * The loss of one batch. `rng` is this step's own stream (seed, step): draw timesteps, noise or masks
 * from it and a resumed run draws the same. Runs under the gradient tape: return new tensors only.
 */
export type LossFn<B> = (batch: B, rng: Rng, step: number) => LossValue;

/** step -> batch; a function of the step alone, so a resumed run sees the same batches. */
export type StepBatches<B> = (step: number) => B;

export interface LossTrainerOptions<B = unknown> extends LrScheduleOptions {
  /** Total number of optimisation steps (also the end of a cosine or linear decay). */
  totalSteps: number;
  /** The learning rate of each step, in place of learningRateAt's (e.g. time_budget.ts's, on elapsed time). */
  learningRateFor?: (step: number) => number;
  /** Fixes every step's random stream (and should be the batch source's seed too). Default 0. */
  seed?: number;
  beta1?: number;
  beta2?: number;
  /** Adam's epsilon; default 1e-8 (PyTorch's), set explicitly because tfjs's default depends on the backend. */
  epsilon?: number;
  /** Clip gradients to this global norm; null (the default here): no clipping. */
  clipGradNorm?: number | null;
  /** EMA decay of the trained parameters; null (the default here): no EMA. */
  emaDecay?: number | null;
  /** EMA warm-up: update k uses min(emaDecay, (1 + k) / (10 + k)) (see ema.ts). Default false. */
  emaWarmup?: boolean;
  /** Where the EMA lives (e.g. a second model's params, to sample with it); default: variables the trainer owns. */
  emaTarget?: ParamMap;
  /** Folder for checkpoints 'step-00000100.safetensors'; none: no checkpoints. */
  checkpointDir?: string;
  /** Save every this many steps (and at the end). Default: totalSteps / 10 rounded up. */
  checkpointEvery?: number;
  /** How many checkpoints to keep (the newest). Default 1. */
  keepLast?: number;
  /** Progress bar options, or false for none. */
  progress?: false | ProgressOptions;
  /** JSON identifying the model the parameters belong to: saved in each checkpoint, must be equal on resume. */
  config?: unknown;
  /** Facts of the run a resumed run must share (e.g. the noise schedule): saved with the options, resume refuses others. */
  mustMatch?: Record<string, string | number | boolean | null>;
  /** Other facts of the run (batch size, loss weights): saved with the options, resume warns when they differ. */
  describe?: Record<string, string | number | boolean | null>;
  /** Releases a batch after its step; default: every tensor in it (through plain objects and arrays). */
  disposeBatch?: (batch: B) => void;
  /** Parameters the loss may leave without a gradient (Adam then leaves them as they are). Default: none, an error names the first. */
  allowUnused?: boolean;
}

/** Per-step records as columns, ready to plot; `metrics` holds the loss function's extra scalars. */
export interface TrainHistory {
  step: number[];
  loss: number[];
  lr: number[];
  gradNorm: number[];
  metrics: Record<string, number[]>;
}

export interface StepResult {
  step: number;
  loss: number;
  /** The learning rate the update used. */
  lr: number;
  /** Global gradient norm before clipping. */
  gradNorm: number;
  metrics: Record<string, number>;
}

export interface TrainRunOptions {
  /** Pause after this step count (a checkpoint is written there); default totalSteps. */
  stopAt?: number;
  /** Asked before each step: true pauses there (e.g. a wall-time budget); a checkpoint is written. */
  stopWhen?: (step: number) => boolean;
  /** Called after every step (curves, tensor counts, a bar of one's own); a returned promise is awaited. */
  onStep?: (r: StepResult) => unknown;
}

/** Thrown when a loss or gradient is NaN/Inf; the weights are those from before that step. */
export class TrainingDivergedError extends Error {
  constructor(
    message: string,
    readonly step: number,
    readonly lastCheckpoint: string | null,
  ) {
    super(message);
    this.name = 'TrainingDivergedError';
  }
}

const CKPT_RE = /^step-(\d+)\.safetensors$/;
const METRIC = 'metric.';

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

/** Deletes the checkpoints in `dir` (a `--fresh` start). */
export function removeCheckpoints(dir: string): void {
  checkUnlocked(dir, 'delete its checkpoints'); // never from under a running training
  for (const c of listCheckpoints(dir)) fs.rmSync(c.file, { force: true });
}

/** Disposes every tensor reachable through plain objects and arrays (never a tf.Variable: those are parameters). */
export function disposeTensorsIn(v: unknown): void {
  if (v instanceof tf.Tensor) {
    if (!(v instanceof tf.Variable)) v.dispose();
  } else if (Array.isArray(v)) {
    for (const x of v) disposeTensorsIn(x);
  } else if (v !== null && typeof v === 'object' && Object.getPrototypeOf(v) === Object.prototype) {
    for (const x of Object.values(v)) disposeTensorsIn(x);
  }
}

/** The options as JSON for a checkpoint: numbers, strings, booleans and arrays of them; folders and objects left out. */
function describeOptions(o: LossTrainerOptions<never>): Record<string, unknown> {
  const plain = (v: unknown): boolean =>
    v === null || ['number', 'string', 'boolean'].includes(typeof v) || (Array.isArray(v) && v.every(plain));
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(o)) if (k !== 'checkpointDir' && plain(v)) out[k] = v;
  return { ...out, ...(o.describe ?? {}), ...(o.mustMatch ?? {}) };
}

/** A non-trainable variable holding a copy of `v` (the copy's handle released: the variable keeps the data). */
function ownCopy(v: tf.Variable): tf.Variable {
  const c = v.clone();
  const out = tf.variable(c, false);
  c.dispose();
  return out;
}

export class LossTrainer<B, O extends LossTrainerOptions<B> = LossTrainerOptions<B>> {
  /** The trained parameters (all of a model's, or a subset). */
  readonly params: ParamMap;
  /** Their EMA (null when emaDecay is null): options.emaTarget, or variables this trainer owns. */
  readonly emaParams: ParamMap | null;
  readonly optimizer: ScheduledAdam;
  readonly options: Readonly<O>;
  /** Steps done so far (the next update is step number `step`, 0-based). */
  step = 0;
  readonly history: TrainHistory = { step: [], loss: [], lr: [], gradNorm: [], metrics: {} };
  lastCheckpoint: string | null = null;
  private readonly lossFn: LossFn<B>;
  private readonly ema: Ema | null;
  private readonly ownsEma: boolean;
  private readonly vars: tf.Variable[];
  private readonly names: string[];

  constructor(params: ParamMap, loss: LossFn<B>, options: O) {
    const o = { ...options };
    const who = this.constructor.name;
    if (params.size === 0) throw new Error(`${who}: no parameters to train`);
    if (!Number.isInteger(o.totalSteps) || o.totalSteps < 1)
      throw new Error(`${who}: totalSteps must be a positive integer, got ${o.totalSteps}`);
    validateLrSchedule(o);
    if (o.clipGradNorm !== undefined && o.clipGradNorm !== null && !(o.clipGradNorm > 0)) {
      throw new Error(`${who}: clipGradNorm must be > 0 or null, got ${o.clipGradNorm}`);
    }
    const every = o.checkpointEvery ?? Math.ceil(o.totalSteps / 10);
    if (!Number.isInteger(every) || every < 1)
      throw new Error(`${who}: checkpointEvery must be a positive integer, got ${o.checkpointEvery}`);
    const keep = o.keepLast ?? 1;
    if (!Number.isInteger(keep) || keep < 1)
      throw new Error(`${who}: keepLast must be a positive integer, got ${o.keepLast}`);
    const seed = o.seed ?? 0;
    if (!Number.isInteger(seed)) throw new Error(`${who}: seed must be an integer, got ${o.seed}`);
    this.options = { ...o, seed, checkpointEvery: every, keepLast: keep };
    this.params = params;
    this.lossFn = loss;
    this.names = [...params.keys()];
    this.vars = this.names.map((n) => params.get(n)!);
    const decay = o.emaDecay ?? null;
    if (decay === null) {
      this.emaParams = null;
      this.ema = null;
      this.ownsEma = false;
    } else {
      this.ownsEma = o.emaTarget === undefined;
      this.emaParams = o.emaTarget ?? new Map([...params].map(([n, v]) => [n, ownCopy(v)]));
      this.ema = new Ema(params, this.emaParams, decay, o.emaWarmup ?? false);
    }
    this.optimizer = new ScheduledAdam(learningRateAt(0, o), o.beta1 ?? 0.9, o.beta2 ?? 0.999, o.epsilon ?? 1e-8);
  }

  /** One update on `batch` (which this call disposes). Throws TrainingDivergedError on NaN/Inf. */
  async trainStep(batch: B): Promise<StepResult> {
    const o = this.options;
    const k = this.step;
    let grads: tf.NamedTensorMap = {};
    let value: tf.Scalar | null = null;
    let metricT: tf.Tensor | null = null;
    const metricNames: string[] = [];
    try {
      const lr = o.learningRateFor ? o.learningRateFor(k) : learningRateAt(k, o);
      if (!(lr >= 0) || !Number.isFinite(lr))
        throw new Error(`${this.constructor.name}: learningRateFor(${k}) gave ${lr}, not a number >= 0`);
      this.optimizer.setLearningRate(lr);
      const rng = stepRng(o.seed as number, k, STREAM.noise);
      ({ value, grads } = tf.variableGrads(() => {
        const out = this.lossFn(batch, rng, k);
        if (out instanceof tf.Tensor) return out;
        const m = out.metrics ?? {};
        metricNames.push(...Object.keys(m));
        // Kept past the tape's tidy so they join the loss in the step's one read.
        if (metricNames.length)
          metricT = tf.keep(tf.stack(metricNames.map((n) => tf.cast(tf.reshape(m[n], []), 'float32'))));
        return out.loss;
      }, this.vars));
      const raw = this.vars.map((v) => grads[v.name]);
      const missing = raw.findIndex((g) => g === undefined);
      if (missing >= 0 && !o.allowUnused)
        throw new Error(
          `${this.constructor.name}: parameter '${this.names[missing]}' got no gradient (is it used by the loss?)`,
        );
      const used = raw.filter((g): g is tf.Tensor => g !== undefined);
      // Loss, gradient norm and metrics in one asynchronous read.
      const packed = tf.tidy(() =>
        tf.concat([tf.stack([value as tf.Scalar, globalNorm(used)]), metricT ?? tf.zeros([0])]),
      );
      let read: Float32Array;
      try {
        read = (await packed.data()) as Float32Array;
      } finally {
        packed.dispose();
      }
      const loss = read[0];
      const norm = read[1];
      if (!Number.isFinite(loss) || !Number.isFinite(norm)) {
        const what = !Number.isFinite(loss) ? `loss is ${loss}` : `gradient norm is ${norm} (loss ${loss})`;
        throw new TrainingDivergedError(
          `Training stopped at step ${k}: ${what}. The weights were not updated; ` +
            (this.lastCheckpoint
              ? `the last good checkpoint is ${this.lastCheckpoint}.`
              : 'no checkpoint was written yet.') +
            ` Try a lower learning rate (now ${lr}) or check the batch for NaN/Inf.`,
          k,
          this.lastCheckpoint,
        );
      }
      const scale = clipScale(norm, o.clipGradNorm ?? null);
      tf.tidy(() => {
        const update: { name: string; tensor: tf.Tensor }[] = [];
        this.vars.forEach((v, i) => {
          const g = raw[i];
          if (g !== undefined) update.push({ name: v.name, tensor: scale === 1 ? g : tf.mul(g, scale) });
        });
        this.optimizer.applyGradients(update);
      });
      this.ema?.update(k);
      const metrics: Record<string, number> = {};
      metricNames.forEach((n, i) => (metrics[n] = read[2 + i]));
      this.record(k, loss, lr, norm, metrics);
      this.step = k + 1;
      return { step: k, loss, lr, gradNorm: norm, metrics };
    } finally {
      tf.dispose([value, metricT, grads] as tf.TensorContainer);
      (o.disposeBatch ?? disposeTensorsIn)(batch);
    }
  }

  private record(k: number, loss: number, lr: number, norm: number, metrics: Record<string, number>): void {
    const h = this.history;
    h.step.push(k);
    h.loss.push(loss);
    h.lr.push(lr);
    h.gradNorm.push(norm);
    for (const [n, v] of Object.entries(metrics)) (h.metrics[n] ??= []).push(v);
  }

  /**
   * Trains from the current step up to options.totalSteps (or a pause: stopAt, stopWhen), saving a
   * checkpoint every checkpointEvery steps, at the end and where it pauses. Returns the whole history.
   * On the kernel's Interrupt (cancel.ts) it stops after the step in progress, writes a checkpoint
   * (with a checkpointDir) and throws InterruptedError saying where it is and how to go on.
   */
  async train(data: StepBatches<B>, opts: TrainRunOptions = {}): Promise<TrainHistory> {
    // One training per checkpoint folder (run_lock.ts): a second one refuses to start.
    const lock = this.options.checkpointDir ? acquireRunLock(this.options.checkpointDir, this.constructor.name) : null;
    let interrupted: boolean;
    try {
      interrupted = await this.trainLocked(data, opts);
    } finally {
      lock?.release();
    }
    // Said once the folder is unlocked, so that running the cell again at once resumes instead of finding the lock.
    if (interrupted) {
      const message = this.interruptedMessage();
      reportInterrupt(message);
      throw new InterruptedError(message, this.step);
    }
    return this.history;
  }

  /** The training loop under the folder's lock; true when it stopped on an Interrupt. */
  private async trainLocked(data: StepBatches<B>, opts: TrainRunOptions): Promise<boolean> {
    const o = this.options;
    const end = Math.min(o.totalSteps, opts.stopAt ?? o.totalSteps);
    if (!Number.isInteger(end) || end < 0)
      throw new Error(`${this.constructor.name}.train: stopAt must be an integer >= 0, got ${opts.stopAt}`);
    const bar =
      o.progress === false
        ? null
        : new ProgressBar<number>(undefined, { label: 'train', ...o.progress, total: Math.max(0, end - this.step) });
    let smooth = NaN;
    const signal = interruptSignal();
    const stopListening = listenForCtrlC();
    let interrupted = false;
    try {
      try {
        // Steps start on the next turn of the event loop: a cell's synchronous start runs under the
        // kernel's SIGINT watchdog, which would stop a step midway instead of at its end.
        await new Promise((r) => setImmediate(r));
        while (this.step < end && !opts.stopWhen?.(this.step)) {
          if ((interrupted = signal.requested)) break;
          const r = await this.trainStep(data(this.step));
          await opts.onStep?.(r);
          // A smoothed loss on the bar: single-batch losses jump from batch to batch.
          smooth = Number.isNaN(smooth) ? r.loss : 0.95 * smooth + 0.05 * r.loss;
          if (bar) {
            bar.set({ loss: smooth, lr: r.lr, ...r.metrics });
            bar.update(1);
          }
          if (o.checkpointDir && (this.step % (o.checkpointEvery as number) === 0 || this.step === o.totalSteps))
            await this.saveCheckpoint();
          // Lets timers and output through between steps (a notebook's bar, Ctrl-C).
          await new Promise((r) => setImmediate(r));
        }
      } finally {
        if (interrupted) bar?.interrupted(this.step);
        else bar?.finish();
      }
      if (
        o.checkpointDir &&
        this.step > 0 &&
        this.lastCheckpoint !== path.join(o.checkpointDir, checkpointName(this.step))
      ) {
        await this.saveCheckpoint(); // paused between two periodic checkpoints
      }
    } finally {
      stopListening();
    }
    return interrupted;
  }

  /** Where an interrupted run stands and how to go on. */
  private interruptedMessage(): string {
    const head = `Training interrupted at step ${this.step} of ${this.options.totalSteps}`;
    const again = `calling train() again on this trainer continues from step ${this.step}`;
    if (!this.options.checkpointDir || !this.lastCheckpoint)
      return `${head} (no checkpointDir: nothing saved); ${again}.`;
    if (trainingStopsOnCtrlC())
      return `${head}; checkpoint written to ${this.lastCheckpoint}. Run the same command again to go on from it.`;
    return (
      `${head}; checkpoint written to ${this.lastCheckpoint}. To go on, ${again}, or run the cell again: a ` +
      `trainer with checkpointDir ${this.options.checkpointDir} resumes from it (resume(); the course's training functions do it).`
    );
  }

  /** saveCheckpoint, with non-finite weights reported as a TrainingDivergedError naming the last good file. */
  private async writeFinite(file: string, c: Parameters<typeof saveCheckpoint>[1]): Promise<void> {
    try {
      await saveCheckpoint(file, c);
    } catch (e) {
      if (!(e instanceof NonFiniteWeightsError)) throw e;
      throw new TrainingDivergedError(
        `Training stopped at step ${this.step}: ${e.message.replace(/^checkpoint: /, '')}. ` +
          (this.lastCheckpoint
            ? `The last good checkpoint is ${this.lastCheckpoint} (kept).`
            : 'No good checkpoint was written yet.') +
          ` Try a lower learning rate (now ${this.history.lr[this.history.lr.length - 1] ?? learningRateAt(Math.max(0, this.step - 1), this.options)}).`,
        this.step,
        this.lastCheckpoint,
      );
    }
  }

  /** Writes checkpointDir/step-N.safetensors (atomically) and deletes all but the newest keepLast. */
  async saveCheckpoint(): Promise<string> {
    const o = this.options;
    if (!o.checkpointDir) throw new Error(`${this.constructor.name}.saveCheckpoint: no checkpointDir in the options`);
    const file = path.join(o.checkpointDir, checkpointName(this.step));
    const h = this.history;
    const curves: Record<string, number[]> = { loss: h.loss, lr: h.lr, grad_norm: h.gradNorm };
    for (const [n, v] of Object.entries(h.metrics)) curves[METRIC + n] = v;
    // saveCheckpoint refuses NaN/Inf weights (checked on the values it reads anyway): then nothing is
    // written, nothing is deleted, and lastCheckpoint still names the last good file.
    await this.writeFinite(file, {
      config: o.config ?? null,
      params: this.params,
      ema: this.emaParams ?? undefined,
      optimizer: this.optimizer,
      step: this.step,
      seed: o.seed,
      history: curves,
      metadata: { trainer: JSON.stringify(describeOptions(o)) },
    });
    this.lastCheckpoint = file;
    const all = listCheckpoints(o.checkpointDir);
    for (const old of all.slice(0, Math.max(0, all.length - (o.keepLast as number))))
      fs.rmSync(old.file, { force: true });
    return file;
  }

  /**
   * Continues from a checkpoint: `file`, or else the newest in checkpointDir. Returns false (and
   * changes nothing) when there is none. Must be called before any training step.
   */
  async resume(file?: string): Promise<boolean> {
    const o = this.options;
    const who = `${this.constructor.name}.resume`;
    const target = file ?? (o.checkpointDir ? latestCheckpoint(o.checkpointDir) : null);
    if (target === null) return false;
    // Not from a folder another training writes to (its keepLast may delete this file mid-read).
    if (o.checkpointDir) checkUnlocked(o.checkpointDir, 'resume from it');
    if (this.step !== 0)
      throw new Error(`${who}: this trainer already made ${this.step} steps; resume into a fresh one`);
    const ckpt = readCheckpoint(target);
    checkConfig(ckpt, o.config ?? null);
    // Each step is one Adam update, so a state whose iteration count is not its step is not this loop's.
    if (ckpt.adam !== null && ckpt.adam.iterations !== ckpt.step)
      throw new Error(
        `checkpoint ${target}: Adam's iteration count ${ckpt.adam.iterations} differs from its step ${ckpt.step}; ` +
          'not a state this trainer wrote',
      );
    if (ckpt.step >= o.totalSteps)
      console.warn(
        `${who}: ${target} is at step ${ckpt.step}, ${ckpt.step > o.totalSteps ? 'already past' : 'already at'} ` +
          `totalSteps ${o.totalSteps} (--steps): nothing left to train. Raise the step count to train further, ` +
          'or start over (--fresh).',
      );
    if (ckpt.seed !== o.seed)
      throw new Error(
        `checkpoint ${target}: saved with seed ${ckpt.seed}, the trainer has seed ${o.seed}; the resumed run would not continue the same one`,
      );
    let saved: Record<string, unknown> = {};
    try {
      saved = ckpt.metadata.trainer ? (JSON.parse(ckpt.metadata.trainer) as Record<string, unknown>) : {};
    } catch (e) {
      throw new Error(`checkpoint ${target}: metadata 'trainer' is not valid JSON (${(e as Error).message})`);
    }
    const now = describeOptions(o);
    for (const [k, v] of Object.entries(o.mustMatch ?? {})) {
      if (saved[k] !== undefined && saved[k] !== v)
        throw new Error(`checkpoint ${target}: trained with ${k} ${String(saved[k])}, the trainer has ${String(v)}`);
    }
    const changed = Object.keys({ ...saved, ...now })
      .filter((k) => !['checkpointEvery', 'keepLast'].includes(k))
      .filter((k) => JSON.stringify(saved[k]) !== JSON.stringify(now[k]));
    // Allowed (e.g. more steps), but then the result is not the run the checkpoint came from.
    if (changed.length)
      console.warn(
        `${who}: options differ from the checkpoint's: ${changed.map((k) => `${k} ${JSON.stringify(saved[k])} -> ${JSON.stringify(now[k])}`).join(', ')}`,
      );
    loadParams(ckpt, this.params, 'params');
    if (this.emaParams) {
      // A checkpoint without EMA weights starts the average from the loaded weights.
      if (ckpt.hasEma) loadParams(ckpt, this.emaParams, 'ema');
      else this.ema!.copyFromSource();
    }
    if (ckpt.adam !== null) await loadOptimizerState(ckpt, this.optimizer, this.params);
    this.step = ckpt.step;
    const h = ckpt.history;
    const n = (h.loss ?? []).length;
    this.history.step = Array.from({ length: n }, (_, i) => i);
    this.history.loss = [...(h.loss ?? [])];
    this.history.lr = [...(h.lr ?? [])];
    this.history.gradNorm = [...(h.grad_norm ?? [])];
    this.history.metrics = {};
    for (const [k, v] of Object.entries(h))
      if (k.startsWith(METRIC)) this.history.metrics[k.slice(METRIC.length)] = [...v];
    this.lastCheckpoint = target;
    return true;
  }

  /** Releases the optimizer's moments and the EMA variables this trainer made (not the trained parameters). */
  dispose(): void {
    this.optimizer.dispose();
    if (this.ownsEma && this.emaParams) for (const v of this.emaParams.values()) v.dispose();
  }
}

/** The checkpoint options every ported training function takes (resume from `checkpointDir`). */
export type CheckpointOptions = Pick<LossTrainerOptions, 'checkpointDir' | 'checkpointEvery' | 'keepLast'>;

/** The checkpoint options of a training function's options (to spread into its trainer's). */
export function checkpointOptions(o: CheckpointOptions): CheckpointOptions {
  return { checkpointDir: o.checkpointDir, checkpointEvery: o.checkpointEvery, keepLast: o.keepLast };
}

/** What a training function's caller sets for its run: where states go, and a per-step callback. */
export interface TrainRunCallerOptions extends CheckpointOptions {
  onStep?: (step: number, loss: number) => void;
}

/**
 * A training function's whole run: a LossTrainer over `params` with the function's `options` and the
 * caller's checkpoint options, resumed from the newest state there, trained to the end, released
 * (runTrainer). Returns the history, the step it started from and the seconds taken.
 */
export async function trainParams<B>(
  params: ParamMap,
  loss: LossFn<B>,
  options: Omit<LossTrainerOptions<B>, keyof CheckpointOptions>,
  data: StepBatches<B>,
  caller: TrainRunCallerOptions,
): ReturnType<typeof runTrainer<B>> {
  const trainer = new LossTrainer<B>(params, loss, { ...options, ...checkpointOptions(caller) });
  const onStep = caller.onStep;
  return runTrainer(trainer, data, { onStep: onStep && ((r) => onStep(r.step, r.loss)) });
}

/**
 * What a training function does around its trainer: resume from options.checkpointDir when it holds
 * a state, train to the end (or a pause), release the optimizer (and any EMA copy the trainer owns).
 * Returns the whole history (resumed steps included), the step it started from and the seconds taken.
 */
export async function runTrainer<B>(
  trainer: LossTrainer<B, LossTrainerOptions<B>>,
  data: StepBatches<B>,
  run: TrainRunOptions = {},
): Promise<{ history: TrainHistory; startStep: number; seconds: number }> {
  try {
    if (await trainer.resume()) console.log(`resumed from ${trainer.lastCheckpoint} at step ${trainer.step}`);
    const startStep = trainer.step;
    const t0 = Date.now();
    const history = await trainer.train(data, run);
    return { history, startStep, seconds: (Date.now() - t0) / 1000 };
  } finally {
    trainer.dispose();
  }
}
