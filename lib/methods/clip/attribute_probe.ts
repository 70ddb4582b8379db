// What the CLIP-like embeddings hold about each attribute: one-object scenes through the frozen model,
// then a nearest-centroid probe per attribute (colour, shape, size, position) on the image embeddings
// and on the caption embeddings. unCLIP's decoder sees nothing but the image embedding, so an
// attribute the image probe cannot read is one the decoder cannot draw, however good the prior.
import * as tf from '@tensorflow/tfjs-core';
import '../../core/tfjs_setup';
import { COLOUR_NAMES, SHAPE_KINDS, SHAPE_SIZES, ShapesSet } from '../../../datasets/shapes';
import { encodeShapesSet } from '../dalle2/encode_set';
import { nearestCentroidProbe, ProbeResult } from '../../eval/metrics/nearest_centroid';
import { POSITION_WORDS } from '../../eval/shapes/parse_caption';
import { Clip } from './clip';

const ATTRIBUTE_VALUES = {
  colour: COLOUR_NAMES,
  shape: SHAPE_KINDS,
  size: Object.keys(SHAPE_SIZES),
  position: POSITION_WORDS,
} as const;
export type ProbedAttribute = keyof typeof ATTRIBUTE_VALUES;

export type ClipAttributeProbe = Record<ProbedAttribute, { image: ProbeResult; text: ProbeResult }>;

/** `set` must hold one-object scenes (loadShapes with minObjects = maxObjects = 1). */
export async function clipAttributeProbe(clip: Clip, set: ShapesSet): Promise<ClipAttributeProbe> {
  if (set.objects.some((o) => o.length !== 1))
    throw new Error('clipAttributeProbe: every scene must hold exactly one object');
  const e = encodeShapesSet(clip, set);
  const d = clip.embedDim;
  let image: Float32Array, text: Float32Array;
  try {
    [image, text] = (await Promise.all([e.image.data(), e.text.data()])) as Float32Array[];
  } finally {
    tf.dispose([e.image, e.text]);
  }
  const rows = (m: Float32Array, labels: number[]) =>
    labels.map((label, i) => ({ label, v: m.subarray(i * d, (i + 1) * d) }));
  const out = {} as ClipAttributeProbe;
  for (const [attr, values] of Object.entries(ATTRIBUTE_VALUES) as [ProbedAttribute, readonly string[]][]) {
    const labels = set.objects.map((o) => values.indexOf(String(o[0][attr])));
    out[attr] = {
      image: nearestCentroidProbe(rows(image, labels), values.length, `clipAttributeProbe (${attr})`),
      text: nearestCentroidProbe(rows(text, labels), values.length, `clipAttributeProbe (${attr})`),
    };
  }
  return out;
}
