// Lesson 11's measurement: the Imagen-style cascade (frozen MLM text encoder -> 16x16 base -> 16->32
// SR with noise conditioning augmentation) scored by lib/eval/text_to_image.ts on the final 32x32
// images: attribute accuracy for one- and two-object captions and the CLIP-like score. First a small
// sweep over base guidance scales (n = sweepN) picks the scale with the best one-object accuracy; the
// headline run uses it at n. Next to the cascade the same run scores its own 16x16 base samples
// up-sampled bicubically to 32x32 (what the SR stage adds), and reports the cost per image: network
// evaluations of each stage and seconds.
import * as tf from '@tensorflow/tfjs-core';
import '../core/tfjs_setup';
import { upsampleBicubic } from '../core/resize';
import { Cascade, CascadeOptions, checkCascade, disposeCascade, sampleBase, sampleSr } from '../methods/imagen/cascade';
import { loadPretrained } from '../course/models';
import { SR_SIZE } from '../methods/imagen/configs';
import { FrozenTextEncoder } from '../methods/imagen/frozen_text';
import {
  disposeTextToImageResult,
  evaluateTextToImage,
  formatTextToImageTable,
  TextToImageMethod,
  TextToImageResult,
  textToImageRecord,
} from './text_to_image';
import { Clip } from '../methods/clip/clip';
import { X0Clip } from '../core/samplers/threshold';

export interface Lesson11Options {
  /** Captions of each kind (one-object, two-object) in the headline run. */
  n: number;
  seed: number;
  batch: number;
  /** DDIM steps of the base stage. */
  steps: number;
  /** Base guidance scale; omitted: chosen by the sweep. */
  guidance?: number;
  /** Scales the sweep tries (default [1, 3, 5]) on sweepN captions of each kind (default 32). */
  scales?: number[];
  sweepN?: number;
  /** DDIM steps and CFG scale of the SR stage (default 10 and 1: the low-res image already fixes the content). */
  srSteps?: number;
  srGuidance?: number;
  /** Noise-augmentation bucket between the stages (default 1: gamma 0.1). */
  augBucket?: number;
  /** SR stage start timestep (see CascadeOptions.srStart); omitted: from pure noise. */
  srStart?: number;
  /** How the base stage keeps x0_hat in range (default true: static clip; { percentile } = dynamic thresholding). */
  baseClip?: X0Clip;
  clip?: Clip | null;
  backend?: string;
}

/** The shipped cascade: frozen text encoder, base and SR stage (dispose with disposeCascade). */
export function loadCascade(): Cascade {
  const encoder = new FrozenTextEncoder(loadPretrained('11/text-encoder'));
  const base = loadPretrained('11/base');
  const sr = loadPretrained('11/sr');
  const c = { encoder, base, sr };
  checkCascade(c);
  return c;
}

/**
 * Two methods from one cascade run: the final 32x32 images, and the base stage's 16x16 ones
 * up-sampled bicubically (cached per seed, so it costs nothing extra; its seconds are the base
 * stage's own, measured).
 */
export function cascadeMethods(
  c: Cascade,
  o: CascadeOptions,
  label: string,
): {
  cascade: TextToImageMethod;
  baseOnly: TextToImageMethod;
  seconds: { base: number; sr: number; images: number };
  /** Frees the cached base samples that baseOnly did not consume (call when baseOnly is not evaluated). */
  release(): void;
} {
  const cache = new Map<number, tf.Tensor4D>();
  const seconds = { base: 0, sr: 0, images: 0 };
  const cascade: TextToImageMethod = {
    name: `cascade ${label}`,
    async generate(captions, seed) {
      // The stages one after the other, each read back, so each stage's seconds are its own.
      checkCascade(c);
      const t0 = Date.now();
      const base = sampleBase(c, captions, seed, o);
      let t1: number;
      let final: tf.Tensor4D;
      try {
        await base.data();
        t1 = Date.now();
        final = sampleSr(c, base, captions, seed, o);
        await final.data();
      } catch (e) {
        base.dispose();
        throw e;
      }
      seconds.base += (t1 - t0) / 1000;
      seconds.sr += (Date.now() - t1) / 1000;
      seconds.images += captions.length;
      cache.get(seed)?.dispose();
      cache.set(seed, upsampleBicubic(base, SR_SIZE));
      base.dispose();
      return final;
    },
  };
  const baseOnly: TextToImageMethod = {
    name: `base 16x16 + bicubic ${label}`,
    generate(captions, seed) {
      const x = cache.get(seed);
      if (!x || x.shape[0] !== captions.length)
        throw new Error(
          `cascadeMethods: no cached base samples for seed ${seed} (evaluate the cascade method first, with the same captions)`,
        );
      cache.delete(seed);
      const out = tf.clipByValue(x, -1, 1) as tf.Tensor4D;
      x.dispose();
      return out;
    },
  };
  const release = () => {
    for (const x of cache.values()) x.dispose();
    cache.clear();
  };
  return { cascade, baseOnly, seconds, release };
}

export async function runLesson11(o: Lesson11Options): Promise<{
  table: string;
  record: Record<string, unknown>;
  results: TextToImageResult[];
  sweep: TextToImageResult[];
}> /* results' sample images: the caller disposes them */ {
  const c = loadCascade();
  const scales = o.scales ?? [1, 3, 5];
  const sweepN = o.sweepN ?? 32;
  const common = {
    baseSteps: o.steps,
    srSteps: o.srSteps ?? 10,
    srGuidance: o.srGuidance ?? 1,
    augBucket: o.augBucket ?? 1,
    srStart: o.srStart,
    baseClip: o.baseClip ?? true,
  };
  const sweep: TextToImageResult[] = [];
  const results: TextToImageResult[] = [];
  try {
    let w = o.guidance;
    if (w === undefined) {
      for (const s of scales) {
        const m = cascadeMethods(c, { ...common, guidance: s }, `w=${s}`);
        sweep.push(
          await evaluateTextToImage(m.cascade, { n: sweepN, seed: o.seed + 1, batch: o.batch, clip: null, keep: 0 }),
        );
        m.release();
        console.error(
          `sweep w = ${s}: one-object all-attributes ${(100 * sweep[sweep.length - 1].single.all).toFixed(1)} %`,
        );
      }
      // Best one-object accuracy; ties go to the better two-object accuracy, then the smaller scale.
      const best = sweep.reduce((a, b) =>
        b.single.all > a.single.all || (b.single.all === a.single.all && b.multi.all > a.multi.all) ? b : a,
      );
      w = scales[sweep.indexOf(best)];
    }
    const opts: CascadeOptions = {
      ...common,
      guidance: w,
      counters: { base: { calls: 0, images: 0 }, sr: { calls: 0, images: 0 } },
    };
    const m = cascadeMethods(c, opts, `w=${w}`);
    results.push(await evaluateTextToImage(m.cascade, { n: o.n, seed: o.seed, batch: o.batch, clip: o.clip }));
    const baseRes = await evaluateTextToImage(m.baseOnly, { n: o.n, seed: o.seed, batch: o.batch, clip: o.clip });
    baseRes.secondsPerImage = m.seconds.base / m.seconds.images;
    results.push(baseRes);
    const images = 2 * o.n;
    const cost = {
      network_evals_per_image: { base: opts.counters!.base.images / images, sr: opts.counters!.sr.images / images },
      seconds_per_image: {
        total: results[0].secondsPerImage,
        base: m.seconds.base / m.seconds.images,
        sr: m.seconds.sr / m.seconds.images,
      },
    };
    const record = textToImageRecord('11', results, {
      sampler: 'ddim',
      base_steps: o.steps,
      sr_steps: common.srSteps,
      guidance: w,
      sr_guidance: common.srGuidance,
      aug_bucket: common.augBucket,
      sr_start: common.srStart ?? 'pure noise (T-1)',
      base_clip: common.baseClip === true ? 'static' : common.baseClip === false ? 'none' : common.baseClip,
      seed: o.seed,
      backend: o.backend,
      attribute_accuracy: { single: results[0].single.all, multi: results[0].multi.all },
      clip_score: results[0].clipScore,
      cost,
      sweep: sweep.map((r, i) => ({
        guidance: scales[i],
        n: r.n,
        single_all: r.single.all,
        multi_all: r.multi.all,
        seconds_per_image: r.secondsPerImage,
      })),
    });
    const table =
      formatTextToImageTable(results) +
      (sweep.length ? `\n\nsweep (n = ${sweepN} per kind):\n${formatTextToImageTable(sweep)}` : '');
    sweep.forEach(disposeTextToImageResult); // their numbers stay; no sample images are kept (keep: 0)
    return { table, record, results, sweep };
  } catch (e) {
    results.forEach(disposeTextToImageResult);
    sweep.forEach(disposeTextToImageResult);
    throw e;
  } finally {
    disposeCascade(c);
  }
}
