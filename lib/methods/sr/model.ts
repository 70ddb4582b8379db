// A trained super-resolution model as lessons and the eval use it: the UNet, what it is (SR3
// diffusion or the regression baseline) and which input sizes it knows, all read from the
// checkpoint's metadata, plus the one call that super-resolves a batch with it.
import * as fs from 'fs';
import * as tf from '@tensorflow/tfjs-core';
import '../../core/tfjs_setup';
import { assertFiniteTensor } from '../../core/finite';
import { readCheckpoint } from '../../core/checkpoint/checkpoint';
import { loadUNetCheckpoint } from '../../core/checkpoint/unet_checkpoint';
import { Rng } from '../../core/random';
import { DDIMSampler } from '../../core/samplers/ddim';
import { unetModel } from '../../core/samplers/types';
import { linearSchedule, NoiseSchedule } from '../../core/schedule';
import { UNet } from '../../core/unet/unet';
import { checkLowRes, SrSpec, srCondition, validateSrSpec } from './condition';
import { regressionPredict } from './regression';

export type SrTask = 'sr3' | 'sr-regression';

export interface SrModel {
  task: SrTask;
  unet: UNet;
  spec: SrSpec;
}

/** The schedule SR3 is trained and sampled with (scripts/train-sr-inpaint.ts): linear, T = 1000. */
export function srSchedule(): NoiseSchedule {
  return linearSchedule(1000);
}

/** Checkpoint metadata that makes a saved UNet an SrModel again. */
export function srMetadata(task: SrTask, spec: SrSpec): Record<string, string> {
  validateSrSpec(spec);
  return { task, sr_hr_size: String(spec.hrSize), sr_lr_sizes: spec.lrSizes.join(',') };
}

/** Loads an SR checkpoint; `expect` makes loading the wrong kind of model an error. */
export function loadSrModel(file: string, expect?: SrTask): SrModel {
  if (!fs.existsSync(file))
    throw new Error(
      `super-resolution checkpoint ${file} not found: run npm run train:sr-inpaint -- ${expect ?? 'sr3'} (it writes that file)`,
    );
  const meta = readCheckpoint(file).metadata;
  const task = meta.task as SrTask;
  if (task !== 'sr3' && task !== 'sr-regression')
    throw new Error(`checkpoint ${file} is not a super-resolution model (metadata task '${meta.task ?? ''}')`);
  if (expect && task !== expect) throw new Error(`checkpoint ${file} holds a '${task}' model, expected '${expect}'`);
  const spec: SrSpec = { hrSize: Number(meta.sr_hr_size), lrSizes: (meta.sr_lr_sizes ?? '').split(',').map(Number) };
  validateSrSpec(spec);
  return { task, unet: loadUNetCheckpoint(file), spec };
}

export interface SuperResolveOptions {
  /** SR3 only: DDIM steps (default 50) and the random source (required for SR3). */
  steps?: number;
  rng?: Rng;
  /** SR3 only: DDIM eta (default 0: deterministic given the starting noise). */
  eta?: number;
}

/** Low-resolution images [B, s, s, C] -> [B, hrSize, hrSize, C] in [-1, 1]. */
export async function superResolve(
  model: SrModel,
  lr: tf.Tensor4D,
  opts: SuperResolveOptions = {},
): Promise<tf.Tensor4D> {
  // The user's input, checked once per call (a read); never in srCondition, which training calls every step.
  checkLowRes(lr, model.spec);
  await assertFiniteTensor('super-resolution', 'the low-resolution input', lr);
  const cond = srCondition(lr, model.spec);
  try {
    if (model.task === 'sr-regression')
      return tf.tidy(() => tf.clipByValue(regressionPredict(model.unet, cond), -1, 1) as tf.Tensor4D);
    if (!opts.rng) throw new Error('superResolve: SR3 sampling needs opts.rng');
    const sampler = new DDIMSampler(srSchedule(), { eta: opts.eta ?? 0 });
    return sampler.sample(unetModel(model.unet, 'eps', { concat: cond }), cond.shape, {
      steps: opts.steps ?? 50,
      rng: opts.rng,
    });
  } finally {
    cond.dispose();
  }
}

/** Each image repeated k times in a row ([B, ...] -> [B*k, ...]): k SR3 samples per input. */
export function repeatEach(x: tf.Tensor4D, k: number): tf.Tensor4D {
  if (!Number.isInteger(k) || k < 1) throw new Error(`repeatEach: k must be a positive integer, got ${k}`);
  const [b, h, w, c] = x.shape;
  return tf.tidy(() => tf.reshape(tf.tile(tf.expandDims(x, 1), [1, k, 1, 1, 1]), [b * k, h, w, c]) as tf.Tensor4D);
}
