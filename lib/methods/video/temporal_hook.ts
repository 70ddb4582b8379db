// The temporal layers wired into the core UNet through its hook (lib/core/unet/hook.ts, the point GLIGEN
// uses): a TemporalAttention after every spatial attention block, named '<level>.temporal.attn.<j>.*' next
// to the block's own parameters, and optionally more layers at every resolution (below). The 2-D path is
// untouched: its parameters and their names are the image model's, so a trained text UNet's weights fill
// all of them and only the temporal layers are new (a fresh build draws other 2-D weights than the image
// model's with the same seed: the temporal layers take their draws from the same seeded stream, in build
// order).
//
// A batch is B clips of F frames laid out as B*F images (frames.ts); the condition field `frames` (F for
// every image, so slicing and CFG's [cond; uncond] stacking keep it aligned with the images) turns the
// temporal layers on. Without it they are skipped and the network is exactly the image model: the
// "images as independent frames" half of Ho et al.'s joint image-video training.
//
// Where the layers go. By default after the attention blocks only, so with lesson 10's backbone (attention
// at 8x8 and in the middle) frames talk to each other at 8x8 only, 4 layers, and the 16- and 32-px levels,
// which place an object to the pixel, see other frames only through the 8x8 features. Two options reach
// every resolution (10 blocks on lesson 10's backbone): everyBlock puts temporal attention after every
// block ('<level>.temporal.res.<j>' where there is no attention block); conv puts a 3-D convolution
// (temporal_conv.ts, '<level>.temporal.conv.<block>') after every block, before the attention layer. The
// layers after attention blocks keep their names, so a model trained with the default fills them and the
// new ones start as the identity (from_image_model.ts).
import { Condition } from '../../core/condition';
import { ParamStore } from '../../core/params';
import { UNetConfig } from '../../core/unet/config';
import { AttentionHook, AttentionHookLayer } from '../../core/unet/hook';
import { TextCondition } from '../text/text_unet';
import { TemporalAttention } from './temporal_attention';
import { TemporalConv } from './temporal_conv';

export interface TemporalConfig {
  /** Longest clip the layers' relative position biases cover. */
  maxFrames: number;
  /** Each layer also learns an embedding of the frame index (temporal_attention.ts); default false. */
  frameEmbedding?: boolean;
  /** A temporal attention layer after every block, not only after the attention blocks (hook.ts); default false. */
  everyBlock?: boolean;
  /** A 3-D convolution across frames after every block, before its attention layer (temporal_conv.ts); default false. */
  conv?: boolean;
}

/** A text UNet's condition plus the frame count; one caption per frame (videoCondition repeats them). */
export type VideoCondition = TextCondition & {
  /** F for each of the B*F images; omitted: the temporal layers are skipped (images). */
  frames?: readonly number[];
};

export interface TemporalState {
  frames: number;
}

export class TemporalHook implements AttentionHook<null, TemporalState> {
  readonly name = 'temporal';
  readonly fields: readonly string[] = ['frames'];
  readonly config: TemporalConfig;
  readonly everyBlock: boolean;

  constructor(config: TemporalConfig) {
    if (!Number.isInteger(config.maxFrames) || config.maxFrames < 1)
      throw new Error(`TemporalConfig.maxFrames must be a positive integer, got ${String(config.maxFrames)}`);
    // everyBlock and conv are written only when set, so older models' configs (and files) stay as they were.
    this.config = {
      maxFrames: config.maxFrames,
      frameEmbedding: config.frameEmbedding === true,
      ...(config.everyBlock === true ? { everyBlock: true } : {}),
      ...(config.conv === true ? { conv: true } : {}),
    };
    // The core calls buildLayer after every block when any layer goes there.
    this.everyBlock = config.everyBlock === true || config.conv === true;
  }

  buildLayer(store: ParamStore, block: string, channels: number, c: UNetConfig): AttentionHookLayer<TemporalState> {
    const [conv, attn] = store.scope('temporal', () => [
      this.config.conv ? store.scope('conv', () => new TemporalConv(store, block, channels, c.groups)) : null,
      block.startsWith('attn') || this.config.everyBlock
        ? new TemporalAttention(store, block, channels, {
            heads: c.attentionHeads,
            groups: c.groups,
            maxFrames: this.config.maxFrames,
            frameEmbedding: this.config.frameEmbedding,
          })
        : null,
    ]);
    return {
      apply: (x, s) => {
        const y = conv ? conv.apply(x, s.frames) : x;
        return attn ? attn.apply(y, s.frames) : y;
      },
    };
  }

  buildShared(_store: ParamStore, c: UNetConfig): null {
    if (!this.everyBlock && c.attentionResolutions.length === 0 && !c.midAttention)
      throw new Error(
        'temporal: the UNet has no attention blocks (attentionResolutions or midAttention) ' +
          'for the temporal layers to follow',
      );
    return null;
  }

  check(cond: Condition, b: number): void {
    const f = cond.frames;
    if (f === undefined) return;
    if (!Array.isArray(f) && !(f instanceof Int32Array))
      throw new Error(
        'temporal: cond.frames must be an array (or Int32Array) with the frame count F for each image, ' +
          `got a ${f.constructor.name}`,
      );
    const F = f[0];
    const M = this.config.maxFrames;
    if (typeof F !== 'number' || !Number.isInteger(F) || F < 1 || F > M)
      throw new Error(`temporal: cond.frames must hold a frame count from 1 to ${M} (maxFrames), got ${String(F)}`);
    if (f.length !== b || !Array.from(f as ArrayLike<unknown>).every((v) => v === F))
      throw new Error(`temporal: cond.frames must hold the same frame count for each of the ${b} images`);
    if (b % F !== 0) throw new Error(`temporal: a batch of ${b} frames is not a whole number of ${F}-frame clips`);
  }

  state(cond: Condition): TemporalState | null {
    const f = cond.frames as readonly number[] | undefined;
    return f === undefined ? null : { frames: f[0] };
  }
}

/** One caption per clip -> the condition of its B*F frames: each caption repeated F times, and F per image. */
export function videoCondition(captions: readonly string[], frames: number): { text: string[]; frames: number[] } {
  if (!Number.isInteger(frames) || frames < 1)
    throw new Error(`videoCondition: frames must be a positive integer, got ${frames}`);
  const text = captions.flatMap((c) => new Array<string>(frames).fill(c));
  return { text, frames: new Array<number>(text.length).fill(frames) };
}

/** Is this parameter one of the temporal layers' (a 'temporal' path segment)? */
export function isTemporalParam(name: string): boolean {
  return name.split('.').includes('temporal');
}
