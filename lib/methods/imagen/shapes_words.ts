// The content words of the shapes captions (what an object is: colour, shape, size, place), as
// opposed to the grammar words around them. The MLM report scores the two separately because they
// behave differently: the data draws content words independently, so no context can recover them.
import { COLOUR_NAMES, SHAPE_KINDS, SHAPE_SIZES } from '../../../datasets/shapes';

const POSITION_WORDS = ['top', 'middle', 'bottom', 'left', 'center', 'right'] as const;

export function shapesContentWords(): Set<string> {
  return new Set<string>([...COLOUR_NAMES, ...SHAPE_KINDS, ...Object.keys(SHAPE_SIZES), ...POSITION_WORDS]);
}
