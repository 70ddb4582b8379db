// What a frozen text encoder tells the diffusion model: for each word class (the colours, the shapes),
// can the class's word be read back from the encoder's output vector at that word's position? A
// nearest-centroid probe fitted on the first 70 % of the occurrences, scored on the rest. It looks at
// the vectors the UNet cross-attends to, not at the MLM's output head, so it measures what lesson 11's
// base model can use: a colour the probe cannot recover, the base model cannot draw.
import * as tf from '@tensorflow/tfjs-core';
import '../../core/tfjs_setup';
import { nearestCentroidProbe, ProbeResult } from '../../eval/metrics/nearest_centroid';
import { TextTransformer } from '../text/text_transformer';

/** accuracy: share of held-out occurrences whose word the nearest centroid names; chance: 1 / words in the class. */
export type WordProbeResult = ProbeResult;

/** Probe accuracy per word class, e.g. { colour: [...COLOUR_NAMES], shape: [...SHAPE_KINDS] }. */
export async function wordProbe(
  encoder: TextTransformer,
  captions: readonly string[],
  classes: Record<string, readonly string[]>,
  batch = 128,
): Promise<Record<string, WordProbeResult>> {
  const tok = encoder.tokenizer;
  const w = encoder.config.width;
  const classOf = new Map<number, [string, number]>();
  for (const [name, words] of Object.entries(classes)) {
    words.forEach((word, k) => {
      const id = tok.vocab.indexOf(word);
      if (id < 0) throw new Error(`wordProbe: '${word}' (class ${name}) is not in the vocabulary`);
      classOf.set(id, [name, k]);
    });
  }
  const seen: Record<string, { label: number; v: Float32Array }[]> = Object.fromEntries(
    Object.keys(classes).map((c) => [c, []]),
  );
  for (let i = 0; i < captions.length; i += batch) {
    const enc = tok.encodeBatch(captions.slice(i, i + batch), { warn: false });
    const out = encoder.apply(enc);
    tf.dispose([out.mask, out.pooled]);
    const h = (await out.tokens.data()) as Float32Array;
    out.tokens.dispose();
    enc.ids.forEach((id, p) => {
      const c = classOf.get(id);
      if (c) seen[c[0]].push({ label: c[1], v: h.slice(p * w, (p + 1) * w) });
    });
  }
  const result: Record<string, WordProbeResult> = {};
  for (const [name, words] of Object.entries(classes))
    result[name] = nearestCentroidProbe(
      seen[name],
      words.length,
      `wordProbe (class ${name} in ${captions.length} captions)`,
    );
  return result;
}
