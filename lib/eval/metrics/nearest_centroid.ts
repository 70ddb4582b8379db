// The simplest probe of what a vector says: fit one centroid per class on the first 70 % of the
// labelled vectors, then score the rest by their nearest centroid. No training loop, no tuning: if
// a class cannot be read this way, a model consuming the vectors has a hard time reading it too.

export interface ProbeResult {
  /** Share of held-out vectors whose nearest centroid is their own class. */
  accuracy: number;
  /** 1 / number of classes. */
  chance: number;
  /** Vectors scored (held out). */
  tested: number;
}

/** `items` in a fixed order (the split is by position); labels in [0, classes). */
export function nearestCentroidProbe(
  items: readonly { label: number; v: ArrayLike<number> }[],
  classes: number,
  what = 'nearestCentroidProbe',
): ProbeResult {
  const nFit = Math.floor(items.length * 0.7);
  if (nFit < classes || items.length - nFit < 1)
    throw new Error(`${what}: only ${items.length} labelled vectors for ${classes} classes`);
  const dim = items[0].v.length;
  const cent = Array.from({ length: classes }, () => new Float64Array(dim));
  const count = new Array<number>(classes).fill(0);
  for (const { label, v } of items.slice(0, nFit)) {
    if (!(label >= 0 && label < classes)) throw new Error(`${what}: label ${label} outside [0, ${classes})`);
    count[label]++;
    for (let d = 0; d < dim; d++) cent[label][d] += v[d];
  }
  cent.forEach((c, k) => c.forEach((x, d) => (c[d] = count[k] ? x / count[k] : Infinity)));
  let hit = 0;
  for (const { label, v } of items.slice(nFit)) {
    let best = -1;
    let bestD = Infinity;
    cent.forEach((c, k) => {
      let dist = 0;
      for (let d = 0; d < dim; d++) dist += (c[d] - v[d]) ** 2;
      if (dist < bestD) [best, bestD] = [k, dist];
    });
    if (best === label) hit++;
  }
  return { accuracy: hit / (items.length - nFit), chance: 1 / classes, tested: items.length - nFit };
}
