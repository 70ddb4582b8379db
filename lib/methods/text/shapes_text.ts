// The captioned shapes data the text lessons train on, and the text UNet they share: one place for
// the data sizes and architecture, so lessons 10-12 and their scripts and tests agree.
import { loadShapes, ShapesSet } from '../../../datasets/shapes';
import { UNetConfig, resolveUNetConfig } from '../../core/unet/config';
import { TextEncoderConfig } from './text_transformer';
import { resolveTextUNetConfig, TextUNetConfig } from './text_unet';
import { Tokenizer } from './tokenizer';

/** Tokens per caption: [BOS] + up to 30 words + [EOS]; three objects' captions (<= 26 words) fit. */
export const SHAPES_CONTEXT_LENGTH = 32;

/** Training scenes hold one or two objects: half the captions name one object, half two. */
export function loadCaptionedShapes(split: 'train' | 'test', count: number): ShapesSet {
  return loadShapes(split, { count, minObjects: 1, maxObjects: 2 });
}

/**
 * The vocabulary of every caption the shapes generator can write (all colours, shapes, sizes and
 * position words), from a fixed sample large enough to contain each word.
 */
export function shapesTokenizer(): Tokenizer {
  const sample = loadShapes('train', { count: 2000, minObjects: 1, maxObjects: 3 });
  return Tokenizer.fromCaptions(sample.captions, SHAPES_CONTEXT_LENGTH);
}

export function shapesTextEncoderConfig(tok: Tokenizer, overrides: Partial<TextEncoderConfig> = {}): TextEncoderConfig {
  return { vocab: [...tok.vocab], contextLength: tok.contextLength, width: 64, layers: 2, heads: 4, ...overrides };
}

/**
 * A 32x32 RGB UNet with cross-attention at 8x8 and in the middle, CoordConv position channels
 * (captions say where), ~1.3 M parameters with a 2-layer text encoder: ~0.45 s per batch of 32
 * on this project's 2-core CPU. With `text` in the overrides, a text UNet's config (TextUNet);
 * without, a core UNet's (lesson 12's decoder reads a context of CLIP embeddings instead).
 */
export function shapesTextUNetConfig(overrides: Partial<UNetConfig> & { text: TextEncoderConfig }): TextUNetConfig;
export function shapesTextUNetConfig(overrides?: Partial<UNetConfig>): UNetConfig;
export function shapesTextUNetConfig(
  overrides: Partial<UNetConfig> & { text?: TextEncoderConfig } = {},
): UNetConfig | TextUNetConfig {
  const { text, ...core } = overrides;
  const c = {
    imageSize: 32,
    inChannels: 3,
    outChannels: 3,
    baseChannels: 32,
    channelMults: [1, 2, 2],
    numResBlocks: 1,
    attentionResolutions: [8],
    attentionHeads: 4,
    groups: 8,
    midAttention: true,
    positionChannels: true,
    ...core,
  };
  return text === undefined ? resolveUNetConfig(c) : resolveTextUNetConfig({ ...c, text });
}
