// Lesson 12's measurement: unCLIP (CLIP text embedding -> diffusion prior -> image embedding ->
// decoder) sampled at several decoder guidance scales, each scored by lib/eval/text_to_image.ts
// (attribute accuracy on one- and two-object captions, the CLIP-like score, time), plus the network
// evaluations per image (decoder passes; guided steps cost two) and the prior's passes.
import * as tf from '@tensorflow/tfjs-core';
import '../core/tfjs_setup';
import { Clip } from '../methods/clip/clip';
import { loadPretrained } from '../course/models';
import { UnClip } from '../methods/dalle2/unclip';
import { Rng } from '../core/random';
import {
  disposeTextToImageResult,
  evaluateTextToImage,
  realScenes,
  formatTextToImageTable,
  TextToImageMethod,
  TextToImageResult,
  textToImageRecord,
} from './text_to_image';

export interface Lesson12Options {
  n: number;
  seed: number;
  batch: number;
  /** Decoder DDIM steps. */
  steps: number;
  /** Decoder guidance scales to compare; the first is the headline. Default [5]. */
  guidance?: number[];
  /** Prior DDIM steps and guidance (default 50 and 1). */
  priorSteps?: number;
  priorGuidance?: number;
  /** Also score "decode the real test image's own CLIP embedding" (no prior): the decoder's ceiling. */
  withOracle?: boolean;
  backend?: string;
}

/** The shipped CLIP-like model, prior and decoder as one UnClip (dispose with disposeUnClip). */
export function loadUnClip(): UnClip {
  const clip = loadPretrained('12/clip');
  let prior = null;
  try {
    prior = loadPretrained('12/prior');
    const decoder = loadPretrained('12/decoder');
    return new UnClip(clip, prior, decoder.unet, { prediction: decoder.prediction });
  } catch (e) {
    clip.dispose();
    prior?.dispose();
    throw e;
  }
}

export function disposeUnClip(u: UnClip): void {
  u.clip.dispose();
  u.prior.dispose();
  u.decoder.dispose();
}

export async function runLesson12(
  o: Lesson12Options,
): Promise<{ table: string; record: Record<string, unknown>; results: TextToImageResult[] }> {
  const guidance = o.guidance ?? [5];
  const priorSteps = o.priorSteps ?? 50;
  const priorGuidance = o.priorGuidance ?? 1;
  const u = loadUnClip();
  const clip: Clip = u.clip;
  const results: TextToImageResult[] = [];
  const evalsPerImage: number[] = [];
  try {
    for (const w of guidance) {
      const counter = { calls: 0, images: 0 };
      const method = {
        name: `unCLIP w=${w}`,
        generate: (captions: string[], seed: number) =>
          u.generate(captions, seed, { steps: o.steps, guidance: w, priorSteps, priorGuidance, counter }),
      };
      results.push(await evaluateTextToImage(method, { n: o.n, seed: o.seed, batch: o.batch, clip }));
      evalsPerImage.push(counter.images / (2 * o.n));
      console.error(`unCLIP w = ${w} done`);
    }
    if (o.withOracle) {
      // The decoder alone, given the real scene's own image embedding: what a perfect prior would give.
      const w = guidance[0];
      const method = realEmbeddingMethod(u, o.n, o.steps, w);
      results.push(await evaluateTextToImage(method, { n: o.n, seed: o.seed, batch: o.batch, clip }));
      evalsPerImage.push(w === 1 || w === 0 ? o.steps : 2 * o.steps);
    }
    const record = textToImageRecord('12', results, {
      sampler: 'ddim',
      steps: o.steps,
      guidance,
      prior_steps: priorSteps,
      prior_guidance: priorGuidance,
      seed: o.seed,
      backend: o.backend,
    });
    (record.methods as Record<string, unknown>[]).forEach((m, i) => {
      m.network_evals_per_image = evalsPerImage[i];
      if (i < guidance.length) m.prior_evals_per_image = priorGuidance === 1 ? priorSteps : 2 * priorSteps;
    });
    const head = results[0];
    record.attribute_accuracy_single = head.single.all;
    record.attribute_accuracy_multi = head.multi.all;
    record.clip_score = head.clipScore;
    record.clip_score_real = head.clipScoreReal;
    record.seconds_per_image = head.secondsPerImage;
    return { table: formatTextToImageTable(results), record, results };
  } catch (e) {
    results.forEach(disposeTextToImageResult);
    throw e;
  } finally {
    disposeUnClip(u);
  }
}

/**
 * The decoder's ceiling as a text-to-image method for evaluateTextToImage(n): each evaluation caption's
 * real held-out scene through CLIP's image encoder, its embedding decoded (no prior) with w and `steps`.
 */
export function realEmbeddingMethod(u: UnClip, n: number, steps: number, guidance: number): TextToImageMethod {
  return {
    name: `decoder on real image emb w=${guidance}`,
    generate: (captions: string[], seed: number) => decodeRealScenes(u, captions, n, seed, steps, guidance),
  };
}

/** The held-out scenes behind these evaluation captions, through CLIP's image encoder and the decoder. */
function decodeRealScenes(
  u: UnClip,
  captions: string[],
  n: number,
  seed: number,
  steps: number,
  guidance: number,
): tf.Tensor4D {
  const emb = tf.tidy(() => u.clip.encodeImages(realScenes(n)(captions)));
  try {
    return u.decode(emb, new Rng(seed), { steps, guidance });
  } finally {
    emb.dispose();
  }
}
