// unCLIP (DALL·E 2) end to end: caption -> CLIP text embedding -> prior -> CLIP image embedding ->
// decoder (a diffusion UNet that reads the image embedding as a context token and in its time embedding) -> image.
// Because the decoder only sees an image embedding, anything that yields one can be drawn:
// a real image's embedding gives variations of it (same meaning, new noise), and a path between two
// images' embeddings gives images that blend them (the article's figure 24).
import * as tf from '@tensorflow/tfjs-core';
import '../../core/tfjs_setup';
import { Clip } from '../clip/clip';
import { CfgCounter, cfgConditionModel } from '../guidance/cfg';
import { Prediction } from '../../core/loss';
import { Rng } from '../../core/random';
import { DDIMSampler } from '../../core/samplers/ddim';
import { linearSchedule, NoiseSchedule } from '../../core/schedule';
import { UNet } from '../../core/unet/unet';
import { embeddingContext, nullEmbeddingContext, slerp } from './embedding_space';
import { DiffusionPrior, samplePrior } from './prior';

export interface UnclipSampling {
  /** Decoder DDIM steps. */
  steps: number;
  /** Decoder classifier-free guidance scale on the image embedding (1 = none). */
  guidance: number;
  /** Prior DDIM steps and guidance scale on the text embedding. */
  priorSteps: number;
  priorGuidance: number;
  /** Counts decoder network passes (CFG makes two per step). */
  counter?: CfgCounter;
}

export const DEFAULT_UNCLIP_SAMPLING: UnclipSampling = { steps: 50, guidance: 5, priorSteps: 50, priorGuidance: 1 };

export class UnClip {
  /** The decoder's training schedule (linear, T = 1000, like the other text lessons). */
  readonly schedule: NoiseSchedule;

  /** What the decoder predicts ('eps', or 'v' for a decoder fine-tuned from a v-prediction GLIDE). */
  readonly prediction: Prediction;

  constructor(
    readonly clip: Clip,
    readonly prior: DiffusionPrior,
    readonly decoder: UNet,
    opts: { prediction?: Prediction } = {},
  ) {
    this.prediction = opts.prediction ?? 'eps';
    if (!['eps', 'v', 'x0'].includes(this.prediction))
      throw new Error(`UnClip: prediction must be 'eps', 'v' or 'x0', got '${String(this.prediction)}'`);
    const E = clip.embedDim;
    if (prior.config.embedDim !== E)
      throw new Error(`UnClip: the prior works on ${prior.config.embedDim}-dim embeddings, the CLIP model makes ${E}`);
    if (decoder.config.contextDim !== E)
      throw new Error(`UnClip: the decoder's contextDim is ${decoder.config.contextDim}, the CLIP embedding has ${E}`);
    const v = decoder.config.vectorDim;
    if (v !== undefined && v !== E)
      throw new Error(`UnClip: the decoder's vectorDim is ${v}, the CLIP embedding has ${E}`);
    this.schedule = linearSchedule(1000);
  }

  /** Stage 2: captions -> sampled image embeddings (unit norm [B, E]). */
  imageEmbeddingsFor(
    captions: readonly string[],
    rng: Rng,
    o: Pick<UnclipSampling, 'priorSteps' | 'priorGuidance'>,
  ): tf.Tensor2D {
    const text = this.clip.encodeText(captions);
    try {
      return samplePrior(this.prior, text, { steps: o.priorSteps, guidance: o.priorGuidance, rng });
    } finally {
      text.dispose();
    }
  }

  /** Stage 3: image embeddings [B, E] -> images [B, 32, 32, 3] in [-1, 1]; xT fixes the starting noise. */
  decode(
    emb: tf.Tensor2D,
    rng: Rng,
    o: Pick<UnclipSampling, 'steps' | 'guidance' | 'counter'>,
    xT?: tf.Tensor4D,
  ): tf.Tensor4D {
    const b = emb.shape[0];
    const S = this.decoder.config.imageSize;
    const vector = this.decoder.config.vectorDim !== undefined;
    const cond = embeddingContext(emb, undefined, vector);
    const uncond = nullEmbeddingContext(b, emb.shape[1], vector);
    try {
      const model = cfgConditionModel(this.decoder, cond, uncond, o.guidance, {
        counter: o.counter,
        prediction: this.prediction,
      });
      return new DDIMSampler(this.schedule).sample(model, [b, S, S, this.decoder.config.outChannels], {
        steps: o.steps,
        rng,
        xT,
      });
    } finally {
      tf.dispose([cond, uncond]);
    }
  }

  /** Text to image: prior then decoder. */
  generate(captions: readonly string[], seed: number, o: UnclipSampling = DEFAULT_UNCLIP_SAMPLING): tf.Tensor4D {
    if (captions.length === 0) throw new Error('UnClip.generate: no captions');
    const rng = new Rng(seed);
    const emb = this.imageEmbeddingsFor(captions, rng, o);
    try {
      return this.decode(emb, rng, o);
    } finally {
      emb.dispose();
    }
  }

  /** Variations: each image's CLIP embedding decoded `count` times with different noise. [B * count, ...], image-major. */
  variations(
    images: tf.Tensor4D,
    count: number,
    seed: number,
    o: Pick<UnclipSampling, 'steps' | 'guidance'> = DEFAULT_UNCLIP_SAMPLING,
  ): tf.Tensor4D {
    if (!Number.isInteger(count) || count < 1)
      throw new Error(`UnClip.variations: count must be a positive integer, got ${count}`);
    const emb = tf.tidy(() => {
      const e = this.clip.encodeImages(images);
      return tf.reshape(tf.tile(tf.expandDims(e, 1), [1, count, 1]), [-1, e.shape[1]]) as tf.Tensor2D;
    });
    try {
      return this.decode(emb, new Rng(seed), o);
    } finally {
      emb.dispose();
    }
  }

  /**
   * Interpolation between two images (each [1, S, S, 3]): their CLIP embeddings slerped at
   * `count` evenly spaced fractions 0..1, all decoded from the same starting noise, so what changes
   * along the strip is the embedding alone.
   */
  interpolate(
    a: tf.Tensor4D,
    b: tf.Tensor4D,
    count: number,
    seed: number,
    o: Pick<UnclipSampling, 'steps' | 'guidance'> = DEFAULT_UNCLIP_SAMPLING,
  ): tf.Tensor4D {
    if (a.shape[0] !== 1 || b.shape[0] !== 1)
      throw new Error(`UnClip.interpolate: pass one image each, got batches of ${a.shape[0]} and ${b.shape[0]}`);
    if (!Number.isInteger(count) || count < 2)
      throw new Error(`UnClip.interpolate: count must be an integer >= 2, got ${count}`);
    const emb = tf.tidy(() => {
      const ea = this.clip.encodeImages(a);
      const eb = this.clip.encodeImages(b);
      return tf.concat(
        Array.from({ length: count }, (_, i) => slerp(ea, eb, i / (count - 1))),
        0,
      ) as tf.Tensor2D;
    });
    const S = this.decoder.config.imageSize;
    const rng = new Rng(seed);
    const one = rng.normalTensor([1, S, S, this.decoder.config.outChannels]);
    const xT = tf.tile(one, [count, 1, 1, 1]) as tf.Tensor4D;
    one.dispose();
    try {
      return this.decode(emb, rng, o, xT);
    } finally {
      emb.dispose();
      xT.dispose();
    }
  }
}
