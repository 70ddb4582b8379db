// Lesson 10's measurement: the GLIDE-style model sampled at several guidance scales, each scored
// by lib/eval/text_to_image.ts (attribute accuracy on one- and two-object captions, CLIP-like score,
// time), plus the network evaluations per image (guided steps cost two).
import { loadPretrained } from '../course/models';
import { glideSchedule, sampleFromText } from '../methods/text/glide';
import { Clip } from '../methods/clip/clip';
import {
  disposeTextToImageResult,
  evaluateTextToImage,
  formatTextToImageTable,
  TextToImageResult,
  textToImageRecord,
} from './text_to_image';

export interface Lesson10Options {
  n: number;
  seed: number;
  batch: number;
  steps: number;
  /** Guidance scales to compare; the first is the headline. */
  guidance: number[];
  clip?: Clip | null;
  /** Default: the shipped model ('10/glide'). */
  checkpoint?: string;
  backend?: string;
}

export async function runLesson10(
  o: Lesson10Options,
): Promise<{ table: string; record: Record<string, unknown>; results: TextToImageResult[] }> {
  const unet = loadPretrained('10/glide', o.checkpoint);
  const schedule = glideSchedule();
  const results: TextToImageResult[] = [];
  const evalsPerImage: number[] = [];
  try {
    for (const w of o.guidance) {
      const counter = { calls: 0, images: 0 };
      const method = {
        name: `GLIDE w=${w}`,
        generate: (captions: string[], seed: number) =>
          sampleFromText(unet, captions, { guidance: w, steps: o.steps, seed, schedule, counter }),
      };
      results.push(await evaluateTextToImage(method, { n: o.n, seed: o.seed, batch: o.batch, clip: o.clip }));
      evalsPerImage.push(counter.images / (2 * o.n));
      console.error(`w = ${w} done`);
    }
    const record = textToImageRecord('10', results, {
      sampler: 'ddim',
      steps: o.steps,
      guidance: o.guidance,
      seed: o.seed,
      backend: o.backend,
    });
    (record.methods as Record<string, unknown>[]).forEach((m, i) => (m.network_evals_per_image = evalsPerImage[i]));
    return { table: formatTextToImageTable(results), record, results };
  } catch (e) {
    results.forEach(disposeTextToImageResult);
    throw e;
  } finally {
    unet.dispose();
  }
}
