// A training checkpoint in one safetensors file: the model's named parameters under their own names
// (so any safetensors reader sees a plain weights file), optionally the EMA weights ('ema/<name>'),
// Adam's moments ('adam/m/<name>', 'adam/v/<name>') and training curves ('train/loss', ...), plus the
// model config, step and seed as JSON strings in the header's __metadata__.
// Resuming is reproducible without saving any random-generator state: the trainer derives each
// step's randomness from (seed, step), so the seed and step in the file are all it needs.
import * as tf from '@tensorflow/tfjs-core';
import '../tfjs_setup';
import { DryRunLimitError, ParamMap, paramShapes } from '../params';
import { describeNonFinite, firstNonFinite } from '../finite';
import { writeFileAtomic } from './atomic_write';
import { readRegularFile } from './read_file';
import { decodeSafetensors, encodeSafetensors, SafeTensor, SafeTensorInput, toFloat32 } from './safetensors';

export const CHECKPOINT_FORMAT = 'diffusion-ts-checkpoint';
export const CHECKPOINT_VERSION = '1';

const EMA = 'ema/';
const ADAM_M = 'adam/m/';
const ADAM_V = 'adam/v/';
const HISTORY = 'train/';

export interface CheckpointContents {
  /** The model's configuration (JSON-serialisable, e.g. a UNetConfig); checked again on load. */
  config: unknown;
  params: ParamMap;
  /** EMA copies of the parameters (same names and shapes). */
  ema?: ParamMap;
  /** A tfjs Adam optimizer whose moments belong to `params`; saved for resuming. */
  optimizer?: tf.Optimizer;
  step?: number;
  seed?: number;
  /** Per-step curves, e.g. {loss: [...], lr: [...]}, saved as float32 tensors 'train/<key>'. */
  history?: Record<string, ArrayLike<number>>;
  /** Extra string metadata, e.g. the trainer's options as JSON. */
  metadata?: Record<string, string>;
}

export interface AdamState {
  iterations: number;
  beta1: number;
  beta2: number;
  epsilon: number;
  learningRate: number;
}

export interface Checkpoint {
  file: string;
  config: unknown;
  step: number;
  seed: number | null;
  adam: AdamState | null;
  /** All __metadata__ entries, including the ones parsed above. */
  metadata: Record<string, string>;
  tensors: Map<string, SafeTensor>;
  hasEma: boolean;
  /** The saved curves ('train/<key>' tensors), e.g. history.loss. */
  history: Record<string, number[]>;
}

// await data(), not dataSync(): webgpu under Node has no synchronous read. The values are read here
// anyway, so checking them finite costs no extra read: a file with NaN or Infinity is never written.
async function tensorOf(v: tf.Tensor, name: string): Promise<SafeTensorInput> {
  if (v.dtype !== 'float32')
    throw new Error(`checkpoint: tensor '${name}' is ${v.dtype}; only float32 parameters are saved`);
  const data = (await v.data()) as Float32Array;
  const bad = firstNonFinite(data);
  if (bad >= 0)
    throw new NonFiniteWeightsError(
      `checkpoint: tensor '${name}' holds ${describeNonFinite(data, bad)}; ` +
        'a checkpoint with non-finite weights is not written',
      name,
    );
  return { dtype: 'F32', shape: [...v.shape], data };
}

/** Thrown by saveCheckpoint when a tensor to save holds NaN or Infinity (nothing is written). */
export class NonFiniteWeightsError extends Error {
  constructor(
    message: string,
    readonly tensor: string,
  ) {
    super(message);
    this.name = 'NonFiniteWeightsError';
  }
}

function checkName(name: string): void {
  if (name.includes('/') || name === '__metadata__') {
    throw new Error(`checkpoint: parameter name '${name}' may not contain '/' (reserved for ema/, adam/, train/)`);
  }
}

/** Writes the checkpoint atomically (temporary file, fsync, rename): a crash never leaves a torn file. */
export async function saveCheckpoint(file: string, c: CheckpointContents): Promise<void> {
  const tensors = new Map<string, SafeTensorInput>();
  const tfName = new Map<string, string>(); // tfjs variable name -> parameter name
  for (const [name, v] of c.params) {
    checkName(name);
    tensors.set(name, await tensorOf(v, name));
    tfName.set(v.name, name);
  }
  if (c.ema) {
    for (const [name, v] of c.ema) {
      const p = c.params.get(name);
      if (!p) throw new Error(`checkpoint: EMA tensor '${name}' has no parameter of that name`);
      if (p.shape.join() !== v.shape.join())
        throw new Error(`checkpoint: EMA tensor '${name}' has shape [${v.shape}], the parameter [${p.shape}]`);
      tensors.set(EMA + name, await tensorOf(v, EMA + name));
    }
    if (c.ema.size !== c.params.size)
      throw new Error(`checkpoint: EMA holds ${c.ema.size} tensors, the model ${c.params.size}`);
  }
  const metadata: Record<string, string> = {
    ...(c.metadata ?? {}),
    format: CHECKPOINT_FORMAT,
    format_version: CHECKPOINT_VERSION,
    config: JSON.stringify(c.config),
    step: String(c.step ?? 0),
  };
  if (c.seed !== undefined) metadata.seed = String(c.seed);
  if (c.optimizer) {
    const opt = c.optimizer;
    if (opt.getClassName() !== 'Adam')
      throw new Error(`checkpoint: only Adam's state can be saved, got ${opt.getClassName()}`);
    const cfg = opt.getConfig() as Record<string, number>;
    const weights = await opt.getWeights();
    try {
      // weights[0] is the iteration count, then every first moment, then every second moment,
      // each named '<tfjs variable name>/m' or '/v'.
      for (const w of weights.slice(1)) {
        const kind = w.name.endsWith('/m') ? ADAM_M : w.name.endsWith('/v') ? ADAM_V : null;
        const param = tfName.get(w.name.slice(0, -2));
        if (kind === null || param === undefined)
          throw new Error(`checkpoint: Adam state '${w.name}' belongs to no parameter of this model`);
        tensors.set(kind + param, await tensorOf(w.tensor, kind + param));
      }
      const adam: AdamState = {
        iterations: opt.iterations,
        beta1: cfg.beta1,
        beta2: cfg.beta2,
        epsilon: cfg.epsilon,
        learningRate: cfg.learningRate,
      };
      metadata.adam = JSON.stringify(adam);
    } finally {
      weights[0].tensor.dispose(); // getWeights makes a fresh scalar for the iteration count
    }
  }
  for (const [key, values] of Object.entries(c.history ?? {})) {
    if (key.includes('/')) throw new Error(`checkpoint: history key '${key}' may not contain '/'`);
    tensors.set(HISTORY + key, { dtype: 'F32', shape: [values.length], data: Float32Array.from(values) });
  }
  writeFileAtomic(file, encodeSafetensors(tensors, metadata));
}

/** Reads and validates a checkpoint file (format, header, metadata); loads nothing into a model yet. */
export function readCheckpoint(file: string): Checkpoint {
  const { tensors, metadata } = decodeSafetensors(readRegularFile(file, 'checkpoint'), file);
  if (metadata.format !== CHECKPOINT_FORMAT) {
    throw new Error(
      `checkpoint ${file}: not a ${CHECKPOINT_FORMAT} file (metadata format is '${metadata.format ?? 'missing'}')`,
    );
  }
  if (metadata.format_version !== CHECKPOINT_VERSION) {
    throw new Error(
      `checkpoint ${file}: format version '${metadata.format_version}' is not supported (this code reads ${CHECKPOINT_VERSION})`,
    );
  }
  const json = (key: string): unknown => {
    try {
      return JSON.parse(metadata[key]);
    } catch (e) {
      throw new Error(`checkpoint ${file}: metadata '${key}' is not valid JSON (${(e as Error).message})`);
    }
  };
  if (metadata.config === undefined) throw new Error(`checkpoint ${file}: metadata has no 'config'`);
  const step = Number(metadata.step);
  if (!Number.isInteger(step) || step < 0)
    throw new Error(`checkpoint ${file}: metadata step '${metadata.step}' is not a non-negative integer`);
  const seed = metadata.seed === undefined ? null : Number(metadata.seed);
  if (seed !== null && !Number.isFinite(seed))
    throw new Error(`checkpoint ${file}: metadata seed '${metadata.seed}' is not a number`);
  const history: Record<string, number[]> = {};
  for (const [k, t] of tensors) if (k.startsWith(HISTORY)) history[k.slice(HISTORY.length)] = Array.from(toFloat32(t));
  return {
    file,
    config: json('config'),
    step,
    seed,
    adam: metadata.adam === undefined ? null : adamState(file, json('adam')),
    metadata,
    tensors,
    hasEma: [...tensors.keys()].some((k) => k.startsWith(EMA)),
    history,
  };
}

/** The 'adam' metadata, checked: a finite learning rate, betas and epsilon, a safe integer iteration count. */
function adamState(file: string, v: unknown): AdamState {
  const o = (v ?? {}) as Record<string, unknown>;
  if (v === null || typeof v !== 'object' || Array.isArray(v))
    throw new Error(`checkpoint ${file}: metadata 'adam' is not an object`);
  for (const k of ['iterations', 'beta1', 'beta2', 'epsilon', 'learningRate'] as const) {
    if (typeof o[k] !== 'number' || !Number.isFinite(o[k]))
      throw new Error(`checkpoint ${file}: metadata 'adam' key '${k}' is ${JSON.stringify(o[k])}, not a finite number`);
  }
  const it = o.iterations as number;
  if (!Number.isSafeInteger(it) || it < 0)
    throw new Error(`checkpoint ${file}: metadata 'adam' key 'iterations' is ${it}, not an integer >= 0`);
  for (const k of ['beta1', 'beta2'] as const) {
    const b = o[k] as number;
    if (!(b >= 0 && b < 1)) throw new Error(`checkpoint ${file}: metadata 'adam' key '${k}' is ${b}, not in [0, 1)`);
  }
  return o as unknown as AdamState;
}

/** Names of the model's own parameters in the file (everything without a '/' prefix). */
function paramNames(ckpt: Checkpoint): string[] {
  return [...ckpt.tensors.keys()].filter((k) => !k.includes('/'));
}

/** JSON with sorted keys, so two configs compare equal whatever their key order. */
function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (v !== null && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    return `{${Object.keys(o)
      .filter((k) => o[k] !== undefined)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonical(o[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(v);
}

/** Throws, naming the first differing field, unless the checkpoint was saved for this config. */
export function checkConfig(ckpt: Checkpoint, config: unknown): void {
  if (canonical(ckpt.config) === canonical(config)) return;
  const a = (ckpt.config ?? {}) as Record<string, unknown>;
  const b = (config ?? {}) as Record<string, unknown>;
  const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])].sort();
  const diff = keys.find((k) => canonical(a[k]) !== canonical(b[k]));
  throw new Error(
    `checkpoint ${ckpt.file}: saved for a different model config` +
      (diff !== undefined
        ? ` ('${diff}' is ${canonical(a[diff])} in the file, ${canonical(b[diff])} in the model)`
        : ''),
  );
}

/** A tensor's values as float32, refused (naming the file and tensor) when one is NaN or Infinity. */
export function finiteValues(ckpt: Checkpoint, name: string): Float32Array {
  const values = toFloat32(ckpt.tensors.get(name)!);
  const bad = firstNonFinite(values);
  if (bad >= 0)
    throw new Error(
      `checkpoint ${ckpt.file}: tensor '${name}' holds ${describeNonFinite(values, bad)}; ` +
        'refusing to load non-finite weights',
    );
  return values;
}

/**
 * Fills a freshly built model with the checkpoint's weights ('params' or 'ema'), after `check` (e.g. a
 * config comparison); disposes the model when either fails, so a refused file leaves nothing behind.
 */
export function fillFromCheckpoint<M extends { params: ParamMap; dispose(): void }>(
  model: M,
  ckpt: Checkpoint,
  which: 'params' | 'ema' = 'params',
  check?: () => void,
): M {
  try {
    check?.();
    loadParams(ckpt, model.params, which);
  } catch (e) {
    model.dispose();
    throw e;
  }
  return model;
}

/**
 * Checks the file's tensor table against the parameters a model would have (`expected`, name ->
 * shape, from paramShapes): the same names, the same shapes, so the same total size. Nothing is
 * allocated; what a loader calls before building a model from a config read out of the file.
 */
export function checkTensorTable(
  ckpt: Checkpoint,
  expected: Map<string, number[]>,
  which: 'params' | 'ema' = 'params',
): void {
  const prefix = which === 'ema' ? EMA : '';
  if (which === 'ema' && !ckpt.hasEma) throw new Error(`checkpoint ${ckpt.file}: has no EMA weights`);
  const inFile = paramNames(ckpt);
  let want = 0;
  for (const [name, shape] of expected) {
    want += shape.reduce((a, b) => a * b, 1);
    const t = ckpt.tensors.get(prefix + name);
    if (!t)
      throw new Error(
        `checkpoint ${ckpt.file}: its config describes a parameter '${name}' [${shape}] that the file does not hold ` +
          `(tensor '${prefix + name}' is missing)`,
      );
    if (t.shape.join() !== shape.join())
      throw new Error(
        `checkpoint ${ckpt.file}: tensor '${prefix + name}' has shape [${t.shape}], its config describes [${shape}]`,
      );
  }
  for (const name of inFile)
    if (!expected.has(name))
      throw new Error(`checkpoint ${ckpt.file}: tensor '${name}' is not a parameter of the model its config describes`);
  const have = inFile.reduce((n, k) => n + ckpt.tensors.get(k)!.shape.reduce((a, b) => a * b, 1), 0);
  if (have !== want) throw new Error(`checkpoint ${ckpt.file}: holds ${have} weights, its config describes ${want}`);
}

/**
 * A dry build's limit: well above what the file holds (so a near miss reaches checkTensorTable, which
 * names the tensor), far below a config that would loop for ever or claim terabytes.
 */
function dryLimit(ckpt: Checkpoint): { tensors: number; elements: number } {
  const names = paramNames(ckpt);
  const elements = names.reduce((n, k) => n + ckpt.tensors.get(k)!.shape.reduce((a, b) => a * b, 1), 0);
  return { tensors: 2 * names.length + 64, elements: 2 * elements + 10_000_000 };
}

/**
 * Builds a model from a checkpoint: `build` first runs dry (paramShapes: shapes only, stopped as soon
 * as it outgrows the file) and its parameters are checked against the file's tensor table; only then
 * is the model built for real and filled (fillFromCheckpoint). A config claiming a model the file
 * does not hold is refused before a weight is allocated.
 */
export function buildFromCheckpoint<M extends { params: ParamMap; dispose(): void }>(
  ckpt: Checkpoint,
  build: () => M,
  which: 'params' | 'ema' = 'params',
  check?: () => void,
): M {
  check?.();
  let shapes: Map<string, number[]>;
  try {
    shapes = paramShapes(build, dryLimit(ckpt));
  } catch (e) {
    if (e instanceof DryRunLimitError)
      throw new Error(
        `checkpoint ${ckpt.file}: its config describes a larger model than the file holds (${e.message})`,
      );
    throw e;
  }
  checkTensorTable(ckpt, shapes, which);
  return fillFromCheckpoint(build(), ckpt, which);
}

/**
 * Copies the file's weights into `target` ('params': the trained weights, 'ema': their EMA).
 * Every name and shape must match both ways; nothing is assigned unless all do.
 */
export function loadParams(ckpt: Checkpoint, target: ParamMap, which: 'params' | 'ema' = 'params'): void {
  const prefix = which === 'ema' ? EMA : '';
  if (which === 'ema' && !ckpt.hasEma) throw new Error(`checkpoint ${ckpt.file}: has no EMA weights`);
  const inFile = new Set(paramNames(ckpt));
  for (const [name, v] of target) {
    const t = ckpt.tensors.get(prefix + name);
    if (!t)
      throw new Error(
        `checkpoint ${ckpt.file}: tensor '${prefix + name}' is missing (the model has parameter '${name}')`,
      );
    if (t.shape.join() !== v.shape.join()) {
      throw new Error(
        `checkpoint ${ckpt.file}: tensor '${prefix + name}' has shape [${t.shape}], the model expects [${v.shape}]`,
      );
    }
    if (t.dtype !== 'F32')
      throw new Error(`checkpoint ${ckpt.file}: tensor '${prefix + name}' is ${t.dtype}, expected F32`);
  }
  for (const name of inFile) {
    if (!target.has(name)) throw new Error(`checkpoint ${ckpt.file}: tensor '${name}' is not a parameter of the model`);
  }
  // Every tensor converted and checked finite before the first assignment: a refused file changes nothing.
  const values = [...target.keys()].map((name) => finiteValues(ckpt, prefix + name));
  [...target.values()].forEach((v, i) => {
    const value = tf.tensor(values[i], v.shape, 'float32');
    v.assign(value);
    value.dispose();
  });
}

/**
 * Restores Adam's moments and iteration count into a fresh tfjs Adam optimizer. The moments are
 * installed in the ParamMap's order: the order the trainer (and makeTrainStep) pass gradients in,
 * which is how tfjs's Adam pairs moments with variables.
 */
export async function loadOptimizerState(ckpt: Checkpoint, optimizer: tf.Optimizer, params: ParamMap): Promise<void> {
  if (ckpt.adam === null) throw new Error(`checkpoint ${ckpt.file}: has no optimizer state`);
  if (optimizer.getClassName() !== 'Adam')
    throw new Error(`checkpoint ${ckpt.file}: holds Adam's state, the optimizer is ${optimizer.getClassName()}`);
  const cfg = optimizer.getConfig() as Record<string, number>;
  for (const k of ['beta1', 'beta2', 'epsilon'] as const) {
    const saved = ckpt.adam[k];
    if (Math.abs(cfg[k] - saved) > 1e-12 * Math.max(1, Math.abs(saved))) {
      throw new Error(`checkpoint ${ckpt.file}: Adam ${k} was ${saved}, the optimizer has ${cfg[k]}`);
    }
  }
  const current = await optimizer.getWeights();
  current[0].tensor.dispose();
  if (current.length > 1)
    throw new Error('loadOptimizerState: the optimizer already has state; restore into a fresh one');
  const hasMoments = [...ckpt.tensors.keys()].some((k) => k.startsWith(ADAM_M) || k.startsWith(ADAM_V));
  const created: tf.Tensor[] = [];
  try {
    const ms: { name: string; tensor: tf.Tensor }[] = [];
    const vs: { name: string; tensor: tf.Tensor }[] = [];
    if (hasMoments) {
      for (const [name, p] of params) {
        for (const [prefix, list, suffix] of [
          [ADAM_M, ms, '/m'],
          [ADAM_V, vs, '/v'],
        ] as const) {
          const t = ckpt.tensors.get(prefix + name);
          if (!t)
            throw new Error(
              `checkpoint ${ckpt.file}: tensor '${prefix + name}' is missing (Adam state of parameter '${name}')`,
            );
          if (t.shape.join() !== p.shape.join()) {
            throw new Error(
              `checkpoint ${ckpt.file}: tensor '${prefix + name}' has shape [${t.shape}], the parameter [${p.shape}]`,
            );
          }
          const data = finiteValues(ckpt, prefix + name);
          // A second moment is a running mean of squares: a negative one is a corrupt file.
          const neg = prefix === ADAM_V ? data.findIndex((x) => x < 0) : -1;
          if (neg >= 0)
            throw new Error(
              `checkpoint ${ckpt.file}: tensor '${prefix + name}' holds ${data[neg]} at index ${neg}; ` +
                "Adam's second moments are >= 0",
            );
          const tensor = tf.tensor(data, t.shape, 'float32');
          created.push(tensor);
          list.push({ name: p.name + suffix, tensor });
        }
      }
      for (const k of ckpt.tensors.keys()) {
        if ((k.startsWith(ADAM_M) || k.startsWith(ADAM_V)) && !params.has(k.slice(ADAM_M.length))) {
          throw new Error(`checkpoint ${ckpt.file}: tensor '${k}' is the Adam state of no parameter of the model`);
        }
      }
    }
    const iterations = tf.scalar(ckpt.adam.iterations, 'int32');
    created.push(iterations);
    await optimizer.setWeights([{ name: 'iter', tensor: iterations }, ...ms, ...vs]);
  } finally {
    // setWeights made variables of its own (sharing the data), so these handles can go.
    for (const t of created) t.dispose();
  }
}
