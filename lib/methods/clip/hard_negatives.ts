// Hard negative captions for contrastive training: the true caption with one attribute changed (a
// colour, shape, size or position of one object, or two objects' colours swapped). In-batch negatives
// alone usually differ in many words, so a model can score well while ignoring, say, size; a caption
// that differs in one word forces the embedding to hold every attribute, which is what the DALL·E 2
// decoder has to rebuild the image from.
import { COLOUR_NAMES, SHAPE_KINDS, ShapeObject, describe } from '../../../datasets/shapes';
import { Rng } from '../../core/random';
import { POSITION_WORDS } from '../../eval/shapes/parse_caption';

function other<T>(values: readonly T[], not: T, rng: Rng): T {
  const rest = values.filter((v) => v !== not);
  return rest[rng.int(rest.length)];
}

/** The attributes a hard negative can change; index = the `kind` drawn below. */
export const HARD_NEGATIVE_ATTRIBUTES = ['colour', 'shape', 'size', 'position'] as const;
export type HardNegativeAttribute = (typeof HARD_NEGATIVE_ATTRIBUTES)[number];

/**
 * One caption that differs from caption(objects) in exactly one thing: a random attribute (or a
 * colour swap), or `attribute` when given.
 */
export function hardNegativeCaption(
  objects: readonly ShapeObject[],
  rng: Rng,
  attribute?: HardNegativeAttribute,
): string {
  if (objects.length === 0) throw new Error('hardNegativeCaption: the scene has no objects');
  const objs = objects.map((o) => ({ ...o }));
  const kinds = objs.length > 1 && objs[0].colour !== objs[1].colour ? 5 : 4;
  const kind = attribute === undefined ? rng.int(kinds) : HARD_NEGATIVE_ATTRIBUTES.indexOf(attribute);
  if (kind < 0)
    throw new Error(
      `hardNegativeCaption: unknown attribute '${attribute}' (use ${HARD_NEGATIVE_ATTRIBUTES.join(', ')})`,
    );
  const k = rng.int(objs.length);
  const o = objs[k];
  if (kind === 0) o.colour = other(COLOUR_NAMES, o.colour, rng);
  else if (kind === 1) o.shape = other(SHAPE_KINDS, o.shape, rng);
  else if (kind === 2) o.size = o.size === 'small' ? 'large' : 'small';
  else if (kind === 3) o.position = other(POSITION_WORDS, o.position, rng);
  else [objs[0].colour, objs[1].colour] = [objs[1].colour, objs[0].colour];
  return objs.map(describe).join(' and ');
}
