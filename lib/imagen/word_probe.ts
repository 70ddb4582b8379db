// What a frozen text encoder tells the diffusion model: for each word class (the colours, the shapes),
// can the class's word be read back from the encoder's output vector at that word's position? A
// nearest-centroid probe fitted on the first 70 % of the occurrences, scored on the rest. It looks at
// the vectors the UNet cross-attends to, not at the MLM's output head, so it measures what lesson 11's
// base model can use: a colour the probe cannot recover, the base model cannot draw.
import * as tf from '@tensorflow/tfjs-core';
import '../tfjs_setup';
import { TextTransformer } from '../text/text_transformer';

export interface WordProbeResult {
  /** Share of held-out occurrences whose word the nearest centroid names. */
  accuracy: number;
  /** 1 / number of words in the class. */
  chance: number;
  /** Occurrences scored (held out). */
  tested: number;
}

/** Probe accuracy per word class, e.g. { colour: [...COLOUR_NAMES], shape: [...SHAPE_KINDS] }. */
export function wordProbe(encoder: TextTransformer, captions: readonly string[], classes: Record<string, readonly string[]>, batch = 128): Record<string, WordProbeResult> {
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
  const seen: Record<string, { label: number; v: Float32Array }[]> = Object.fromEntries(Object.keys(classes).map((c) => [c, []]));
  for (let i = 0; i < captions.length; i += batch) {
    const enc = tok.encodeBatch(captions.slice(i, i + batch), { warn: false });
    const out = encoder.apply(enc);
    const h = out.tokens.dataSync() as Float32Array;
    tf.dispose([out.tokens, out.mask, out.pooled]);
    enc.ids.forEach((id, p) => {
      const c = classOf.get(id);
      if (c) seen[c[0]].push({ label: c[1], v: h.slice(p * w, (p + 1) * w) });
    });
  }
  const result: Record<string, WordProbeResult> = {};
  for (const [name, words] of Object.entries(classes)) {
    const all = seen[name];
    const nFit = Math.floor(all.length * 0.7);
    if (nFit < words.length || all.length - nFit < 1) throw new Error(`wordProbe: only ${all.length} occurrences of class ${name} in ${captions.length} captions`);
    const cent = words.map(() => new Float64Array(w));
    const count = new Array<number>(words.length).fill(0);
    for (const { label, v } of all.slice(0, nFit)) {
      count[label]++;
      for (let d = 0; d < w; d++) cent[label][d] += v[d];
    }
    cent.forEach((c, k) => c.forEach((x, d) => (c[d] = count[k] ? x / count[k] : Infinity)));
    let hit = 0;
    for (const { label, v } of all.slice(nFit)) {
      let best = -1, bestD = Infinity;
      cent.forEach((c, k) => {
        let dist = 0;
        for (let d = 0; d < w; d++) dist += (c[d] - v[d]) ** 2;
        if (dist < bestD) [best, bestD] = [k, dist];
      });
      if (best === label) hit++;
    }
    result[name] = { accuracy: hit / (all.length - nFit), chance: 1 / words.length, tested: all.length - nFit };
  }
  return result;
}
