// The metric networks' weights on disk: one folder with
//   weights.safetensors  the named float32 tensors (lib/core/checkpoint/safetensors.ts)
//   manifest.json        { format, file, sha256, ...what the training script records }
// The manifest carries the weights file's SHA-256, so a truncated or swapped file is reported on
// load instead of silently giving other features (FID numbers would quietly change).
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import { writeFileAtomic } from '../../core/checkpoint/atomic_write';
import { jsonField, readJsonFile, readRegularFile } from '../../core/checkpoint/read_file';
import { decodeSafetensors, encodeSafetensors, SafeTensorInput, toFloat32 } from '../../core/checkpoint/safetensors';

export const WEIGHTS_FORMAT = 'safetensors-f32+manifest-v1';
const WEIGHTS_FILE = 'weights.safetensors';

export interface WeightsManifest {
  format: string;
  file: string;
  sha256: string;
  [extra: string]: unknown;
}

export interface NamedArray {
  name: string;
  shape: number[];
  values: Float32Array;
}

/** Writes weights.safetensors + manifest.json into `dir` (created if missing); `extra` goes into the manifest. */
export function writeWeights(dir: string, arrays: NamedArray[], extra: Record<string, unknown> = {}): WeightsManifest {
  const tensors = new Map<string, SafeTensorInput>();
  for (const a of arrays) tensors.set(a.name, { dtype: 'F32', shape: a.shape, data: a.values });
  const buf = encodeSafetensors(tensors);
  const manifest: WeightsManifest = {
    ...extra,
    format: WEIGHTS_FORMAT,
    file: WEIGHTS_FILE,
    sha256: crypto.createHash('sha256').update(buf).digest('hex'),
  };
  writeFileAtomic(path.join(dir, WEIGHTS_FILE), buf);
  writeFileAtomic(path.join(dir, 'manifest.json'), JSON.stringify(manifest, null, 2) + '\n');
  return manifest;
}

/** Reads and checks a folder written by writeWeights. */
export function readWeights(dir: string): { manifest: WeightsManifest; arrays: Map<string, NamedArray> } {
  const mf = path.join(dir, 'manifest.json');
  if (!fs.existsSync(mf)) throw new Error(`readWeights: ${mf} not found (train it with: npm run train:classifier --)`);
  const manifest = readJsonFile(mf, 'readWeights: manifest') as WeightsManifest;
  for (const k of ['format', 'file', 'sha256'] as const) jsonField<string>(mf, manifest, k, 'string');
  if (manifest.format !== WEIGHTS_FORMAT)
    throw new Error(`readWeights: ${mf} has format '${manifest.format}', expected '${WEIGHTS_FORMAT}'`);
  const wf = path.join(dir, manifest.file);
  if (!fs.existsSync(wf)) throw new Error(`readWeights: ${wf} not found`);
  const buf = readRegularFile(wf, 'readWeights: weights');
  const sha = crypto.createHash('sha256').update(buf).digest('hex');
  if (sha !== manifest.sha256)
    throw new Error(
      `readWeights: ${wf} is corrupt or replaced (SHA-256 ${sha.slice(0, 12)}..., manifest says ${String(manifest.sha256).slice(0, 12)}...)`,
    );
  const arrays = new Map<string, NamedArray>();
  for (const [name, t] of decodeSafetensors(buf, wf).tensors)
    arrays.set(name, { name, shape: t.shape, values: toFloat32(t) });
  return { manifest, arrays };
}
