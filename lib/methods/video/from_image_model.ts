// A video model started from a trained text-to-image model (lesson 10's), the way Ho et al.'s factorised
// design allows: the image model's weights fill every 2-D parameter, the temporal layers (zero output
// projection) start as the identity, and the text encoder's vocabulary grows by the motion words, whose new
// embedding rows keep their fresh draws (the encoder's own N(0, 0.02) init). Every old word keeps its id and
// vector, so at initialisation the video model computes exactly the image model on any image caption, with
// or without frames.
//
// The file may also be a video model (a saveVideoModel file): its 2-D and temporal weights fill the new
// model, and the temporal layers it does not have (everyBlock or conv on a model trained without) start as the
// identity, so the new model computes what the old one did and training goes on from there.
import * as tf from '@tensorflow/tfjs-core';
import '../../core/tfjs_setup';
import { readCheckpoint } from '../../core/checkpoint/checkpoint';
import { toFloat32 } from '../../core/checkpoint/safetensors';
import { isTextUNetConfig, TextUNet } from '../text/text_unet';
import { Tokenizer } from '../text/tokenizer';
import type { VideoModelConfig } from './checkpoint';
import { isTemporalParam, TemporalHook } from './temporal_hook';
import { videoTokenizer } from './video_text';

/** The text encoder's token table: the one image parameter whose shape grows (one row per new word). */
const TOKEN_TABLE = 'text.tokenEmb';

export interface VideoFromImageOptions {
  /** Longest clip the temporal layers serve (default 16). */
  maxFrames?: number;
  /** Draws the temporal layers' and new words' initial weights (default 0). */
  seed?: number;
  /** Temporal layers with a frame-index embedding (default true; false: the relative bias alone). */
  frameEmbedding?: boolean;
  /** Temporal attention after every block, not only after the attention blocks (default false). */
  everyBlock?: boolean;
  /** A 3-D convolution across frames after every block (default false). */
  conv?: boolean;
}

/** The video model built on the text UNet in `file` (its EMA weights when the file has them). */
export function videoFromImageModel(file: string, opts: VideoFromImageOptions = {}): TextUNet {
  const ckpt = readCheckpoint(file);
  const stored = ckpt.config as Partial<VideoModelConfig> | null;
  const fromVideo = stored !== null && typeof stored === 'object' && stored.kind === 'video-unet';
  const base = fromVideo ? stored.unet : ckpt.config;
  if (!isTextUNetConfig(base))
    throw new Error(`videoFromImageModel: ${file} is neither a text UNet (its config has no 'text') nor a video model`);
  const tok = videoTokenizer(new Tokenizer(base.text.vocab, base.text.contextLength));
  const hook = new TemporalHook({
    maxFrames: opts.maxFrames ?? 16,
    frameEmbedding: opts.frameEmbedding ?? true,
    everyBlock: opts.everyBlock ?? false,
    conv: opts.conv ?? false,
  });
  if (fromVideo && stored.temporal?.frameEmbedding !== hook.config.frameEmbedding)
    throw new Error(`videoFromImageModel: ${file}'s temporal layers differ in frameEmbedding from the options'`);
  const model = new TextUNet(
    { ...base, text: { ...base.text, vocab: [...tok.vocab] } },
    { seed: opts.seed ?? 0, hook },
  );
  try {
    const prefix = ckpt.hasEma ? 'ema/' : '';
    for (const [name, v] of model.params) {
      if (isTemporalParam(name) && !(fromVideo && ckpt.tensors.has(prefix + name))) continue;
      const t = ckpt.tensors.get(prefix + name);
      if (!t) throw new Error(`videoFromImageModel: ${file} has no tensor '${prefix + name}'`);
      const values = toFloat32(t);
      if (name === TOKEN_TABLE && t.shape.length === 2 && t.shape[0] < v.shape[0] && t.shape[1] === v.shape[1]) {
        // Old words' rows from the file, the new words' rows as drawn.
        tf.tidy(() => {
          const fresh = tf.slice(v, [t.shape[0], 0], [v.shape[0] - t.shape[0], t.shape[1]]);
          v.assign(tf.concat([tf.tensor2d(values, [t.shape[0], t.shape[1]]), fresh], 0));
        });
        continue;
      }
      if (t.shape.join() !== v.shape.join())
        throw new Error(`videoFromImageModel: ${file}: '${name}' is [${t.shape}], the model expects [${v.shape}]`);
      tf.tidy(() => v.assign(tf.tensor(values, t.shape, 'float32')));
    }
  } catch (e) {
    model.dispose();
    throw e;
  }
  return model;
}
