// Saving and loading the CLIP-like model: config (with the tokenizer's vocabulary) and weights in one
// safetensors file, so loading needs only the path (the shipped one: lib/course/models.ts, '12/clip').
import * as fs from 'fs';
import * as path from 'path';
import { buildFromCheckpoint, readCheckpoint, saveCheckpoint } from '../../core/checkpoint/checkpoint';
import { Clip, ClipConfig } from './clip';

export async function saveClip(
  file: string,
  clip: Clip,
  metadata: Record<string, string> = {},
  step = 0,
): Promise<void> {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  await saveCheckpoint(file, {
    config: clip.config,
    params: clip.params,
    metadata: { ...metadata, model: 'clip' },
    step,
  });
}

export function loadClip(file: string): Clip {
  const ckpt = readCheckpoint(file);
  if (ckpt.metadata.model !== 'clip')
    throw new Error(`loadClip: ${file} is not a CLIP checkpoint (metadata.model is '${ckpt.metadata.model ?? ''}')`);
  return buildFromCheckpoint(ckpt, () => new Clip(ckpt.config as ClipConfig), 'params');
}
