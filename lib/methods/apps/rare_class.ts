// Lesson 15's rare-class set-up: a Fashion-MNIST training set in which one class keeps only a
// small fraction of its images, the extra images each remedy adds (augmented copies of the few real
// ones, or class-conditional samples of lesson 07's guided model), and per-class recall.
import * as tf from '@tensorflow/tfjs-core';
import '../../core/tfjs_setup';
import { ImageSet, subset, toTensor } from '../../../datasets/imageset';
import { sampleGuided } from '../../eval/guidance_sweep';
import { loadPretrained } from '../../course/models';
import { sampleInBatches } from '../../eval/batched_sampling';
import { FashionClassifier } from '../../eval/metrics/classifier';
import { ProgressSetting } from '../../core/progress';
import { Rng } from '../../core/random';
import { linearSchedule } from '../../core/schedule';

/** `set` with class `cls` cut down to round(fraction x its count) images (at least 1), chosen by `rng`. */
export function withRareClass(set: ImageSet, cls: number, fraction: number, rng: Rng): ImageSet {
  if (!Number.isInteger(cls) || cls < 0 || cls >= set.classNames.length)
    throw new Error(`withRareClass: class ${cls} is not in 0..${set.classNames.length - 1}`);
  if (!(fraction > 0 && fraction <= 1)) throw new Error(`withRareClass: fraction must be in (0, 1], got ${fraction}`);
  const ofClass: number[] = [];
  const others: number[] = [];
  for (let i = 0; i < set.count; i++) (set.labels[i] === cls ? ofClass : others).push(i);
  const keep = Math.max(1, Math.round(fraction * ofClass.length));
  const order = rng.permutation(ofClass.length);
  const kept = Array.from(order.subarray(0, keep), (k) => ofClass[k]);
  return subset(
    set,
    [...others, ...kept].sort((a, b) => a - b),
  );
}

/** The images of one class. */
export function classSubset(set: ImageSet, cls: number): ImageSet {
  const idx: number[] = [];
  for (let i = 0; i < set.count; i++) if (set.labels[i] === cls) idx.push(i);
  return subset(set, idx);
}

/** Several sets with the same image geometry and classes as one. */
export function concatSets(sets: ImageSet[]): ImageSet {
  const [first] = sets;
  for (const s of sets) {
    if (s.height !== first.height || s.width !== first.width || s.channels !== first.channels)
      throw new Error(`concatSets: ${s.name}/${s.split} has another image shape`);
  }
  const per = first.height * first.width * first.channels;
  const count = sets.reduce((n, s) => n + s.count, 0);
  const images = new Uint8Array(count * per);
  const labels = new Uint8Array(count);
  let at = 0;
  for (const s of sets) {
    images.set(s.images.subarray(0, s.count * per), at * per);
    labels.set(s.labels.subarray(0, s.count), at);
    at += s.count;
  }
  return { ...first, split: sets.map((s) => s.split).join('+'), images, labels, count };
}

/** [-1, 1] float images -> a uint8 ImageSet with one label for all. */
export async function tensorToSet(x: tf.Tensor4D, label: number, like: ImageSet, split: string): Promise<ImageSet> {
  const [n, h, w, c] = x.shape;
  const v = await x.data();
  const images = new Uint8Array(v.length);
  for (let i = 0; i < v.length; i++) images[i] = Math.max(0, Math.min(255, Math.round((v[i] + 1) * 127.5)));
  return { ...like, split, images, labels: new Uint8Array(n).fill(label), count: n, height: h, width: w, channels: c };
}

export interface ClassSampleOptions {
  guidance: number;
  steps: number;
  seed: number;
  batch?: number;
  progress?: ProgressSetting;
}

/** n images of class `cls` from lesson 07's class-conditional model with classifier-free guidance (DDIM). */
export async function sampleClassImages(
  cls: number,
  n: number,
  like: ImageSet,
  o: ClassSampleOptions,
): Promise<{ set: ImageSet; seconds: number }> {
  if (o.guidance < 0) throw new Error(`sampleClassImages: the guidance scale must be >= 0, got ${o.guidance}`);
  const unet = loadPretrained('07/cfg-unet');
  try {
    const schedule = linearSchedule(1000);
    const { images, seconds } = await sampleInBatches(
      {
        n,
        batchSize: o.batch ?? 100,
        seed: o.seed,
        imageShape: [28, 28, 1],
        steps: o.steps,
        label: `class ${cls} w=${o.guidance}`,
        progress: o.progress,
      },
      (b) =>
        sampleGuided({ method: 'cfg', unet }, schedule, new Array(b.size).fill(cls), o.guidance, {
          steps: o.steps,
          rng: b.rng,
          xT: b.xT,
          onStep: b.onStep,
        }).x,
    );
    let set: ImageSet;
    try {
      set = await tensorToSet(images, cls, like, 'synthetic');
    } finally {
      images.dispose();
    }
    return { set, seconds };
  } finally {
    unet.dispose();
  }
}

/** Recall of every class (share of its test images predicted as it) and overall accuracy. */
export async function perClassRecall(
  model: FashionClassifier,
  test: ImageSet,
): Promise<{ recall: number[]; accuracy: number }> {
  const x = toTensor(test);
  const pred = tf.tidy(() =>
    tf.argMax(
      model.batched(x, (b) => model.logits(b), 1000),
      1,
    ),
  );
  tf.dispose(x);
  const p = await pred.data();
  pred.dispose();
  const classes = test.classNames.length;
  const hit = new Array<number>(classes).fill(0);
  const total = new Array<number>(classes).fill(0);
  for (let i = 0; i < test.count; i++) {
    total[test.labels[i]]++;
    if (p[i] === test.labels[i]) hit[test.labels[i]]++;
  }
  return {
    recall: hit.map((h, c) => (total[c] ? h / total[c] : NaN)),
    accuracy: hit.reduce((a, b) => a + b, 0) / test.count,
  };
}
