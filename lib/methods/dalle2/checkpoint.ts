// Saving and loading lesson 12's prior, and loading its decoder (a UNet, saved with the UNet
// checkpoint functions); the CLIP-like model has lib/methods/clip/checkpoint.ts. The shipped files
// are in the table of pretrained models (lib/course/models.ts).
import * as fs from 'fs';
import * as path from 'path';
import { buildFromCheckpoint, readCheckpoint, saveCheckpoint } from '../../core/checkpoint/checkpoint';
import { loadUNetCheckpoint } from '../../core/checkpoint/unet_checkpoint';
import { Prediction } from '../../core/loss';
import { UNet } from '../../core/unet/unet';
import { DiffusionPrior, PriorConfig } from './prior';

export async function savePrior(
  file: string,
  prior: DiffusionPrior,
  metadata: Record<string, string> = {},
  step = 0,
): Promise<void> {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  await saveCheckpoint(file, {
    config: prior.config,
    params: prior.params,
    metadata: { ...metadata, model: 'dalle2-prior' },
    step,
  });
}

export function loadPrior(file: string): DiffusionPrior {
  const ckpt = readCheckpoint(file);
  if (ckpt.metadata.model !== 'dalle2-prior')
    throw new Error(
      `loadPrior: ${file} is not a diffusion prior checkpoint (metadata.model is '${ckpt.metadata.model ?? ''}')`,
    );
  return buildFromCheckpoint(ckpt, () => new DiffusionPrior(ckpt.config as PriorConfig), 'params');
}

/** The decoder UNet and what it predicts (stored in the file's metadata by train-dalle2.ts; 'eps' if absent). */
export function loadDecoder(file: string): { unet: UNet; prediction: Prediction } {
  const p = readCheckpoint(file).metadata.prediction ?? 'eps';
  if (p !== 'eps' && p !== 'v' && p !== 'x0')
    throw new Error(`loadDecoder: ${file} says prediction '${p}', expected eps, v or x0`);
  return { unet: loadUNetCheckpoint(file), prediction: p };
}
