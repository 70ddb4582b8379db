// A training checkpoint in one safetensors file: the model's named parameters under their own names
// (so any safetensors reader sees a plain weights file), optionally the EMA weights ('ema/<name>'),
// Adam's moments ('adam/m/<name>', 'adam/v/<name>') and training curves ('train/loss', ...), plus the
// model config, step and seed as JSON strings in the header's __metadata__.
// Resuming is reproducible without saving any random-generator state: the trainer derives each
// step's randomness from (seed, step), so the seed and step in the file are all it needs.
import * as fs from 'fs';
import * as tf from '@tensorflow/tfjs-core';
import '../tfjs_setup';
import { ParamMap } from '../params';
import { writeFileAtomic } from './atomic_write';
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

// await data(), not dataSync(): webgpu under Node has no synchronous read.
async function tensorOf(v: tf.Tensor, name: string): Promise<SafeTensorInput> {
  if (v.dtype !== 'float32')
    throw new Error(`checkpoint: tensor '${name}' is ${v.dtype}; only float32 parameters are saved`);
  return { dtype: 'F32', shape: [...v.shape], data: (await v.data()) as Float32Array };
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
  if (!fs.existsSync(file)) throw new Error(`checkpoint ${file}: no such file`);
  const { tensors, metadata } = decodeSafetensors(fs.readFileSync(file), file);
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
    adam: metadata.adam === undefined ? null : (json('adam') as AdamState),
    metadata,
    tensors,
    hasEma: [...tensors.keys()].some((k) => k.startsWith(EMA)),
    history,
  };
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

function assignFrom(ckpt: Checkpoint, fileName: string, target: tf.Variable, paramName: string): void {
  const t = ckpt.tensors.get(fileName);
  if (!t)
    throw new Error(
      `checkpoint ${ckpt.file}: tensor '${fileName}' is missing (the model has parameter '${paramName}')`,
    );
  if (t.shape.join() !== target.shape.join()) {
    throw new Error(
      `checkpoint ${ckpt.file}: tensor '${fileName}' has shape [${t.shape}], the model expects [${target.shape}]`,
    );
  }
  if (t.dtype !== 'F32') throw new Error(`checkpoint ${ckpt.file}: tensor '${fileName}' is ${t.dtype}, expected F32`);
  const value = tf.tensor(toFloat32(t), t.shape, 'float32');
  target.assign(value);
  value.dispose();
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
  for (const [name, v] of target) assignFrom(ckpt, prefix + name, v, name);
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
          const tensor = tf.tensor(toFloat32(t), t.shape, 'float32');
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
