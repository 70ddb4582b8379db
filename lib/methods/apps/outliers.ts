// Seed 004's first preprocessing step, "remove outliers that could distort the results", made
// concrete: how far each image is from its class's mean image (pixel L2), in standard deviations of
// that class's distances. The highest scores are the atypical images worth a look before training.
import { ImageSet } from '../../../datasets/imageset';

export function outlierScores(set: ImageSet): Float32Array {
  const per = set.height * set.width * set.channels;
  const classes = set.classNames.length;
  const mean = Array.from({ length: classes }, () => new Float64Array(per));
  const count = new Array<number>(classes).fill(0);
  for (let i = 0; i < set.count; i++) {
    const m = mean[set.labels[i]];
    count[set.labels[i]]++;
    for (let p = 0; p < per; p++) m[p] += set.images[i * per + p];
  }
  mean.forEach((m, c) => {
    if (count[c]) for (let p = 0; p < per; p++) m[p] /= count[c];
  });
  const dist = new Float64Array(set.count);
  for (let i = 0; i < set.count; i++) {
    const m = mean[set.labels[i]];
    let s = 0;
    for (let p = 0; p < per; p++) s += (set.images[i * per + p] - m[p]) ** 2;
    dist[i] = Math.sqrt(s);
  }
  // z-score within the class, so a loose class (bags) does not flood the list.
  const mu = new Float64Array(classes),
    sd = new Float64Array(classes);
  for (let i = 0; i < set.count; i++) mu[set.labels[i]] += dist[i] / count[set.labels[i]];
  for (let i = 0; i < set.count; i++) sd[set.labels[i]] += (dist[i] - mu[set.labels[i]]) ** 2 / count[set.labels[i]];
  const out = new Float32Array(set.count);
  for (let i = 0; i < set.count; i++) out[i] = (dist[i] - mu[set.labels[i]]) / (Math.sqrt(sd[set.labels[i]]) || 1);
  return out;
}

/** Indices of the k highest (or, with lowest, lowest) scores. */
export function topIndices(scores: ArrayLike<number>, k: number, lowest = false): number[] {
  const idx = Array.from({ length: scores.length }, (_, i) => i);
  idx.sort((a, b) => (lowest ? scores[a] - scores[b] : scores[b] - scores[a]));
  return idx.slice(0, k);
}
