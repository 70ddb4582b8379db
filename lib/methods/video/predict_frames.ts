// Frame prediction with the text-to-video model, without retraining: a clip's first frame is given and
// the other F - 1 frames are sampled. Ho et al. (2022, "Video Diffusion Models", §3.1) call it the
// replacement method: a model that denoises all frames jointly is sampled as usual, and after every
// step the given frame of x_t is replaced by the real frame noised to the same level, q(x_t | x_0):
//     x_{t'} <- m * DDIM(x_t, t -> t') + (1 - m) * (sqrt(abar_t') x_given + sqrt(1 - abar_t') z)
// (m = 1 on the sampled frames, 0 on the given one; x_given itself after the last step). The temporal
// layers see the noised real frame at every level and draw the others to agree with it. It is the
// paste of lesson 09's RePaint (lib/methods/inpaint) along time, with DDIM steps and without RePaint's
// resampling; Ho et al. note that the sampled frames can still drift from the given one, which their
// reconstruction guidance (a gradient through the model, not done here) corrects.
import * as tf from '@tensorflow/tfjs-core';
import '../../core/tfjs_setup';
import { Prediction } from '../../core/loss';
import { Rng } from '../../core/random';
import { NoiseSchedule } from '../../core/schedule';
import { DDIMOptions, DDIMRun, DDIMSampler } from '../../core/samplers/ddim';
import { sampleLoop } from '../../core/samplers/loop';
import { DiffusionModel, Sampler, StepResult } from '../../core/samplers/types';
import { Denoiser } from '../../core/unet/denoiser';
import { composite } from '../inpaint/masks';
import { glideSchedule, TextSampleOptions } from '../text/glide';
import { isTextUNetConfig } from '../text/text_unet';
import { videoGuidedModel } from './sample_video';
import { VideoCondition } from './temporal_hook';

/**
 * The given frames laid out as the sampler's batch: `known` [B*F, H, W, C] holds first[b] at frame 0
 * of clip b (zeros elsewhere), `mask` [B*F, H, W, 1] is 1 on the frames to sample, 0 on the given ones.
 */
export function firstFrameLayout(first: tf.Tensor4D, frames: number): { known: tf.Tensor4D; mask: tf.Tensor4D } {
  const [b, h, w, c] = first.shape;
  return tf.tidy(() => {
    const rest = tf.zeros([b, frames - 1, h, w, c]);
    const known = tf.reshape(tf.concat([tf.expandDims(first, 1), rest], 1), [b * frames, h, w, c]) as tf.Tensor4D;
    const perFrame = tf.tensor1d(Array.from({ length: b * frames }, (_, i) => (i % frames === 0 ? 0 : 1)));
    const mask = tf.mul(tf.ones([b * frames, h, w, 1]), tf.reshape(perFrame, [b * frames, 1, 1, 1])) as tf.Tensor4D;
    return { known, mask };
  });
}

interface KnownFramesRun extends DDIMRun {
  known: tf.Tensor4D;
  mask: tf.Tensor4D;
}

/** DDIM whose every step ends with the replacement (the plan and the step itself are DDIM's). */
class KnownFramesSampler implements Sampler<DDIMOptions & { known: tf.Tensor4D; mask: tf.Tensor4D }, KnownFramesRun> {
  readonly name = 'ddim (given frames replaced)';
  readonly schedule: NoiseSchedule;
  constructor(readonly ddim: DDIMSampler) {
    this.schedule = ddim.schedule;
  }
  timesteps(steps: number): number[] {
    return this.ddim.timesteps(steps);
  }
  start(opts: DDIMOptions & { known: tf.Tensor4D; mask: tf.Tensor4D }, prediction: Prediction): KnownFramesRun {
    return { ...this.ddim.start(opts, prediction), known: opts.known, mask: opts.mask };
  }
  step(out: tf.Tensor4D, i: number, x: tf.Tensor4D, run: KnownFramesRun): StepResult {
    const r = this.ddim.step(out, i, x, run);
    const next = run.timesteps[i + 1];
    return tf.tidy(() => {
      // The given frames at the next level: noised with a fresh draw, or themselves after the last step.
      const given = next === undefined ? run.known : noisedTo(this.schedule, run.known, next, run.rng);
      const prev = composite(r.prev, given, run.mask);
      r.prev.dispose();
      return { prev, x0: r.x0 };
    });
  }
  sample(
    model: DiffusionModel,
    shape: [number, number, number, number],
    opts: DDIMOptions & { known: tf.Tensor4D; mask: tf.Tensor4D },
  ): tf.Tensor4D {
    return sampleLoop(this, model, shape, opts);
  }
}

/** q(x_t | x_0): sqrt(abar_t) x0 + sqrt(1 - abar_t) z, z drawn from rng. */
function noisedTo(schedule: NoiseSchedule, x0: tf.Tensor4D, t: number, rng: Rng): tf.Tensor4D {
  return tf.tidy(
    () => schedule.qSample(x0, new Array<number>(x0.shape[0]).fill(t), rng.normalTensor(x0.shape)) as tf.Tensor4D,
  );
}

/**
 * Clips of `frames` frames whose frame 0 is first[b] ([B, S, S, C] in [-1, 1]) and whose other frames
 * are sampled for captions[b] (DDIM with classifier-free guidance, as sampleVideo), [B*F, S, S, C].
 * The seed draws x_T, then the given frames' noise at the first level, then at each later level.
 */
export function predictFrames(
  model: Denoiser<VideoCondition>,
  first: tf.Tensor4D,
  captions: string[],
  frames: number,
  o: TextSampleOptions,
): tf.Tensor4D {
  if (!isTextUNetConfig(model.config)) throw new Error('predictFrames: the model has no text encoder (config.text)');
  const c = model.config;
  if (!(first instanceof tf.Tensor) || first.rank !== 4)
    throw new Error(`predictFrames: the first frames must be a [B, H, W, C] tensor, got ${describe(first)}`);
  const [b, h, w, ch] = first.shape;
  if (h !== c.imageSize || w !== c.imageSize || ch !== c.outChannels)
    throw new Error(
      `predictFrames: the first frames must be [B, ${c.imageSize}, ${c.imageSize}, ${c.outChannels}], ` +
        `got [${first.shape}]`,
    );
  if (captions.length !== b) throw new Error(`predictFrames: ${captions.length} captions for ${b} first frames`);
  if (!Number.isInteger(frames) || frames < 2)
    throw new Error(`predictFrames: frames must be an integer >= 2 (frame 0 is given), got ${frames}`);
  if (o.xT) throw new Error('predictFrames: xT is not supported (the seed draws the starting noise)');
  const cfg = videoGuidedModel(model, captions, frames, o);
  const sampler = new KnownFramesSampler(new DDIMSampler(o.schedule ?? glideSchedule()));
  const shape: [number, number, number, number] = [b * frames, h, w, ch];
  const rng = new Rng(o.seed);
  const { known, mask } = firstFrameLayout(first, frames);
  // x_T with the given frames already at the first level, so the network never sees them un-noised early.
  const xT = tf.tidy(() =>
    composite(
      rng.normalTensor(shape) as tf.Tensor4D,
      noisedTo(sampler.schedule, known, sampler.timesteps(o.steps)[0], rng),
      mask,
    ),
  );
  try {
    return sampler.sample(cfg, shape, { steps: o.steps, rng, xT, known, mask });
  } finally {
    tf.dispose([known, mask, xT]);
  }
}

function describe(x: unknown): string {
  return x instanceof tf.Tensor ? `[${x.shape}]` : typeof x;
}
