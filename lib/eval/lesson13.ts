// Lesson 13's measurement: latent diffusion against pixel-space diffusion.
// - the autoencoder's reconstruction PSNR on held-out images (the ceiling of every latent sample);
// - text -> image attribute accuracy and CLIP-like score (lib/eval/text_to_image.ts) of the latent
//   text model and, when its checkpoint is there, of lesson 10's pixel-space GLIDE model, same
//   sampler and steps; and of the real scenes passed through the autoencoder (the latent ceiling);
// - layout -> image: share of requested objects landing in their box with IoU >= 0.5;
// - cost: FLOPs per network evaluation (analytic), measured seconds per image (decoding included)
//   and training seconds per step from the manifests.
import * as tf from '@tensorflow/tfjs-core';
import '../core/tfjs_setup';
import { loadPretrained, pretrainedAvailable, pretrainedManifest } from '../course/models';
import { LayoutObject } from '../methods/latent/layout';
import { decodeLatents, encodeImages, sampleLatentFromLayout, sampleLatentFromText } from '../methods/latent/ldm';
import { loadShapes } from '../../datasets/shapes';
import { reconstructionPsnr } from '../methods/latent/reconstruct';
import { glideSchedule, sampleFromText } from '../methods/text/glide';
import { unetFlops } from './unet_flops';
import {
  evaluatePlacement,
  formatPlacementTable,
  placementRecord,
  placementScenes,
  PlacementResult,
} from './box_placement';
import {
  disposeTextToImageResult,
  evaluateTextToImage,
  formatTextToImageTable,
  realScenes,
  TextToImageResult,
  textToImageRecord,
} from './text_to_image';
import { Clip } from '../methods/clip/clip';

export interface Lesson13Options {
  n: number;
  seed: number;
  batch: number;
  steps: number;
  guidance?: number;
  clip?: Clip | null;
  /** Held-out images for the reconstruction PSNR (default 500). */
  reconstructionImages?: number;
  /** Compare with lesson 10's pixel-space model when its checkpoint exists (default true). */
  compareGlide?: boolean;
  backend?: string;
}

/** Training seconds per step as the shipped model's manifest records it, or null. */
function manifestSecondsPerStep(id: '13/ldm-text' | '10/glide'): number | null {
  try {
    const s = pretrainedManifest(id).secondsPerStep;
    return typeof s === 'number' ? s : null;
  } catch {
    return null;
  }
}

export async function runLesson13(
  o: Lesson13Options,
): Promise<{ table: string; record: Record<string, unknown>; results: TextToImageResult[]; layout: PlacementResult }> {
  const w = o.guidance ?? 3;
  const auto = loadPretrained('13/autoencoder');
  const textModel = loadPretrained('13/ldm-text');
  const layoutModel = loadPretrained('13/ldm-layout');
  const results: TextToImageResult[] = [];
  try {
    const test = loadShapes('test', { count: o.reconstructionImages ?? 500, minObjects: 1, maxObjects: 2 });
    const rec = await reconstructionPsnr(auto.ae, test);
    console.error(`reconstruction PSNR ${rec.mean.toFixed(2)} dB`);

    const ldmCounter = { calls: 0, images: 0 };
    results.push(
      await evaluateTextToImage(
        {
          name: `LDM 8x8x4 w=${w}`,
          generate: (caps, seed) =>
            sampleLatentFromText(textModel, auto, caps, { guidance: w, steps: o.steps, seed, counter: ldmCounter }),
        },
        { n: o.n, seed: o.seed, batch: o.batch, clip: o.clip },
      ),
    );
    console.error('latent text -> image done');
    let glideEvals: number | null = null;
    let glideConfig = null;
    if (o.compareGlide !== false && pretrainedAvailable('10/glide')) {
      const glide = loadPretrained('10/glide');
      glideConfig = glide.config;
      const counter = { calls: 0, images: 0 };
      try {
        results.push(
          await evaluateTextToImage(
            {
              name: `GLIDE 32x32x3 (lesson 10) w=${w}`,
              generate: (caps, seed) =>
                sampleFromText(glide, caps, { guidance: w, steps: o.steps, seed, schedule: glideSchedule(), counter }),
            },
            { n: o.n, seed: o.seed, batch: o.batch, clip: o.clip },
          ),
        );
        glideEvals = counter.images / (2 * o.n);
      } finally {
        glide.dispose();
      }
      console.error('pixel GLIDE done');
    }
    const pixelResult = glideEvals === null ? null : results[1];
    // The ceiling of every latent sample: the real scenes encoded and decoded.
    const real = realScenes(o.n);
    results.push(
      await evaluateTextToImage(
        {
          name: 'autoencoder(real scene)',
          generate: (caps) => tf.tidy(() => decodeLatents(auto, encodeImages(auto, real(caps)))),
        },
        { n: o.n, seed: o.seed, batch: o.batch, clip: o.clip, keep: 0 },
      ),
    );

    const scenes = placementScenes(o.n);
    const layouts: LayoutObject[][] = scenes.objects.map((objs) =>
      objs.map((x) => ({ box: x.box, colour: x.colour, shape: x.shape })),
    );
    const layout = await evaluatePlacement(`LDM layout w=${w}`, scenes, o.batch, (idx, b) =>
      sampleLatentFromLayout(
        layoutModel,
        auto,
        idx.map((i) => layouts[i]),
        { guidance: w, steps: o.steps, seed: o.seed * 1000 + 500 + b },
      ),
    );
    console.error('layout -> image done');

    const ctx = textModel.config.text.contextLength;
    const latentFlops = unetFlops(textModel.config, 1, ctx).forward;
    const pixelFlops = glideConfig ? unetFlops(glideConfig, 1, ctx).forward : null;
    const cost = {
      latent_unet_params: textModel.paramCount,
      autoencoder_params: auto.ae.paramCount,
      latent_gflops_per_eval: Math.round(latentFlops / 1e6) / 1e3,
      pixel_gflops_per_eval: pixelFlops === null ? null : Math.round(pixelFlops / 1e6) / 1e3,
      flops_ratio_pixel_over_latent: pixelFlops === null ? null : Math.round((pixelFlops / latentFlops) * 100) / 100,
      latent_network_evals_per_image: ldmCounter.images / (2 * o.n),
      pixel_network_evals_per_image: glideEvals,
      latent_seconds_per_image: results[0].secondsPerImage,
      pixel_seconds_per_image: pixelResult?.secondsPerImage ?? null,
      latent_train_seconds_per_step: manifestSecondsPerStep('13/ldm-text'),
      pixel_train_seconds_per_step: manifestSecondsPerStep('10/glide'),
    };
    const record = textToImageRecord('13', results, {
      sampler: 'ddim',
      steps: o.steps,
      guidance: w,
      seed: o.seed,
      backend: o.backend,
      reconstruction_psnr_db: Math.round(rec.mean * 100) / 100,
      reconstruction_images: test.count,
      layout: placementRecord(layout),
      cost,
    });
    const table = [
      `autoencoder reconstruction PSNR: ${rec.mean.toFixed(2)} dB on ${test.count} held-out images (32x32x3 -> 8x8x4 -> 32x32x3)`,
      '',
      formatTextToImageTable(results),
      '',
      formatPlacementTable([layout]),
      '',
      `cost per network evaluation: latent ${cost.latent_gflops_per_eval} GFLOP` +
        (pixelFlops === null
          ? ''
          : `, pixel ${cost.pixel_gflops_per_eval} GFLOP (x${cost.flops_ratio_pixel_over_latent})`),
    ].join('\n');
    return { table, record, results, layout };
  } catch (e) {
    results.forEach(disposeTextToImageResult);
    throw e;
  } finally {
    auto.ae.dispose();
    textModel.dispose();
    layoutModel.dispose();
  }
}
