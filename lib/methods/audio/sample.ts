// Generating spectrograms: the course's DDIM sampler on the class-conditional UNet with classifier-free
// guidance (lib/methods/guidance/cfg.ts), in batches, each batch's starting noise drawn from (seed,
// batch index) so every guidance scale starts from the same noise.
import '../../core/tfjs_setup';
import { Rng } from '../../core/random';
import { makeSampler } from '../../core/samplers/index';
import { linearSchedule } from '../../core/schedule';
import { UNet } from '../../core/unet/unet';
import { cfgModel } from '../guidance/cfg';
import { BANDS } from './semitone_filterbank';

export interface GenerateOptions {
  scale: number;
  steps: number;
  seed?: number;
  batchSize?: number;
  onBatch?: (done: number, total: number) => void;
}

/** Spectrogram images for `labels` (count x BANDS x BANDS, row-major, [-1, 1]). */
export async function generateSpectrograms(unet: UNet, labels: number[], o: GenerateOptions): Promise<Float32Array> {
  if (unet.config.imageSize !== BANDS) throw new Error(`generateSpectrograms: a ${BANDS}x${BANDS} UNet is needed`);
  if (labels.length === 0) throw new Error('generateSpectrograms: no labels');
  const bs = o.batchSize ?? 72;
  const per = BANDS * BANDS;
  const out = new Float32Array(labels.length * per);
  const sampler = makeSampler('ddim', linearSchedule(1000));
  for (let s = 0, b = 0; s < labels.length; s += bs, b++) {
    const lb = labels.slice(s, s + bs);
    const rng = new Rng((o.seed ?? 0) * 7919 + b);
    const x = sampler.sample(cfgModel(unet, lb, o.scale), [lb.length, BANDS, BANDS, 1], { steps: o.steps, rng });
    out.set(await x.data(), s * per);
    x.dispose();
    o.onBatch?.(Math.min(s + bs, labels.length), labels.length);
  }
  return out;
}
