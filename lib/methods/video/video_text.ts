// The words of lesson 17's captions. The video captions ('a red circle moves right', 'a green ring
// changes colour to blue') reuse the shapes captions' colours and shapes and add the motion words. A
// tokenizer can start from an image model's (lesson 10's) and append only the new words, so every old
// word keeps its id and a trained text encoder needs new embedding rows only for them.
import { COLOUR_NAMES, SHAPE_KINDS } from '../../../datasets/shapes';
import { VIDEO_MOTIONS, videoCaption } from '../../../datasets/video_shapes';
import { SHAPES_CONTEXT_LENGTH } from '../text/shapes_text';
import { SPECIAL_TOKENS, Tokenizer, words } from '../text/tokenizer';

/** Every word the video captions use, sorted (from every caption videoCaption can write). */
export function videoCaptionWords(): string[] {
  const seen = new Set<string>();
  for (const colour of COLOUR_NAMES)
    for (const shape of SHAPE_KINDS)
      for (const motion of VIDEO_MOTIONS)
        for (const to of motion === 'recolour' ? COLOUR_NAMES.filter((c) => c !== colour) : [null])
          for (const w of words(videoCaption({ colour, shape, motion, toColour: to }))) seen.add(w);
  return [...seen].sort();
}

/**
 * A tokenizer for the video captions: `base`'s vocabulary with the missing words appended (ids of its
 * words unchanged) and its context length, or, without a base, the special tokens and the sorted words
 * with the shapes models' context length.
 */
export function videoTokenizer(base?: Tokenizer): Tokenizer {
  const vocab = videoCaptionWords();
  if (base === undefined) return new Tokenizer([...SPECIAL_TOKENS, ...vocab], SHAPES_CONTEXT_LENGTH);
  const have = new Set(base.vocab);
  return new Tokenizer([...base.vocab, ...vocab.filter((w) => !have.has(w))], base.contextLength);
}
