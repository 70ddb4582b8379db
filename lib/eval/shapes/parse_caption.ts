// Captions of the shapes data set back into the objects they ask for: the inverse of
// datasets/shapes.ts caption(). The position phrases are taken from describe() itself, so the two stay
// in step if the wording there changes.
import { Box } from '../../../datasets/boxes';
import {
  COLOUR_NAMES,
  SHAPE_KINDS,
  SHAPE_SIZES,
  ShapeColour,
  ShapeKind,
  ShapeSize,
  describe,
  positionWord,
} from '../../../datasets/shapes';
import { RequestedObject } from './score';
import { quoteCaption } from '../../methods/text/tokenizer';

/** The 9 position words, one per cell of the 3x3 grid (from positionWord on the cells' centres). */
export const POSITION_WORDS: string[] = (() => {
  const words: string[] = [];
  for (const cy of [1 / 6, 1 / 2, 5 / 6]) {
    for (const cx of [1 / 6, 1 / 2, 5 / 6]) {
      const box: Box = [cx - 0.01, cy - 0.01, cx + 0.01, cy + 0.01];
      words.push(positionWord(box));
    }
  }
  return words;
})();

/** Position phrase ('at the top left', 'in the center', ...) -> position word. */
const PHRASES: Map<string, string> = (() => {
  const prefix = 'a small red circle ';
  const m = new Map<string, string>();
  for (const position of POSITION_WORDS) {
    const phrase = describe({ size: 'small', colour: 'red', shape: 'circle', x: 0, y: 0, position });
    m.set(phrase.slice(prefix.length), position);
  }
  return m;
})();

/**
 * The objects a caption asks for, e.g. "a large red circle at the top left and a small blue square on
 * the right" -> [{ size: 'large', colour: 'red', shape: 'circle', position: 'top left' }, ...].
 * Throws, naming the phrase and the word, for anything caption() cannot have produced.
 */
export function parseCaption(caption: string): RequestedObject[] {
  if (typeof caption !== 'string' || caption.trim() === '')
    throw new Error(`parseCaption: caption must be a non-empty string, got ${JSON.stringify(caption)}`);
  const phrases = caption.trim().split(' and ');
  return phrases.map((phrase, k) => {
    const where = `phrase ${k + 1} ${quoteCaption(phrase)} of caption ${quoteCaption(caption)}`;
    const words = phrase.split(' ');
    if (words.length < 6)
      throw new Error(`parseCaption: ${where} is too short: expected 'a <size> <colour> <shape> <position phrase>'`);
    const [article, size, colour, shape] = words;
    if (article !== 'a') throw new Error(`parseCaption: ${where} must start with 'a', got '${article}'`);
    if (!Object.keys(SHAPE_SIZES).includes(size))
      throw new Error(`parseCaption: ${where}: unknown size '${size}' (use ${Object.keys(SHAPE_SIZES).join(', ')})`);
    if (!(COLOUR_NAMES as string[]).includes(colour))
      throw new Error(`parseCaption: ${where}: unknown colour '${colour}' (use ${COLOUR_NAMES.join(', ')})`);
    if (!(SHAPE_KINDS as readonly string[]).includes(shape))
      throw new Error(`parseCaption: ${where}: unknown shape '${shape}' (use ${SHAPE_KINDS.join(', ')})`);
    const rest = words.slice(4).join(' ');
    const position = PHRASES.get(rest);
    if (position === undefined)
      throw new Error(
        `parseCaption: ${where}: unknown position phrase '${rest}' (use ${[...PHRASES.keys()].join(', ')})`,
      );
    return { size: size as ShapeSize, colour: colour as ShapeColour, shape: shape as ShapeKind, position };
  });
}
