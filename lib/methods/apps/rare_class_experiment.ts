// Lesson 15 (a)-(c): one Fashion-MNIST class made rare in a classifier's training set, then the same
// classifier (same initialisation, same number of epochs) trained three ways:
//   (a) as is, (b) plus `extra` augmented copies of the few real rare images,
//   (c) plus `extra` class-conditional samples of lesson 07's guided model, (d) plus both,
// and scored by per-class recall and accuracy on the untouched test split.
// Caveat (printed by the lesson): lesson 07's model was trained on the full training split, so (c)
// brings knowledge of the rare class the reduced set lacks, as a big pretrained generator would.
import { ImageSet } from '../../../datasets/imageset';
import { FashionClassifier } from '../../eval/metrics/classifier';
import { trainClassifier } from '../../eval/metrics/train_classifier';
import { optionalBar, ProgressSetting } from '../../core/progress';
import { Rng } from '../../core/random';
import { augmentSet } from './augment';
import { classSubset, concatSets, perClassRecall } from './rare_class';

export interface RareClassRun {
  name: string;
  trainImages: number;
  rareImages: number;
  rareRecall: number;
  accuracy: number;
  recall: number[];
  seconds: number;
}

export interface RareClassOptions {
  /** The reduced training set (withRareClass) and the untouched test split. */
  train: ImageSet;
  test: ImageSet;
  rareClass: number;
  /** The synthetic images of the rare class; (b) adds as many augmented ones. */
  synthetic: ImageSet;
  epochs: number;
  seed: number;
  progress?: ProgressSetting;
}

export async function runRareClassExperiment(o: RareClassOptions): Promise<RareClassRun[]> {
  const extra = o.synthetic.count;
  if (o.synthetic.labels.some((l) => l !== o.rareClass))
    throw new Error('runRareClassExperiment: the synthetic set must hold only the rare class');
  const augmented = augmentSet(classSubset(o.train, o.rareClass), extra, new Rng(o.seed + 1));
  const variants: [string, ImageSet][] = [
    ['(a) as is', o.train],
    [`(b) + ${extra} augmented`, concatSets([o.train, augmented])],
    [`(c) + ${extra} synthetic (lesson 07, CFG)`, concatSets([o.train, o.synthetic])],
    [`(d) + both`, concatSets([o.train, augmented, o.synthetic])],
  ];
  const runs: RareClassRun[] = [];
  for (const [name, set] of variants) {
    const model = new FashionClassifier({ seed: o.seed });
    const t0 = Date.now();
    try {
      const steps = Math.floor(set.count / 128) * o.epochs;
      const bar = optionalBar(o.progress, name, steps);
      await trainClassifier(model, set, {
        epochs: o.epochs,
        seed: o.seed,
        onStep: bar ? () => bar.update(1) : undefined,
      });
      bar?.finish();
      const seconds = (Date.now() - t0) / 1000;
      const { recall, accuracy } = await perClassRecall(model, o.test);
      const rareImages = set.labels.reduce((n, l) => n + (l === o.rareClass ? 1 : 0), 0);
      runs.push({
        name,
        trainImages: set.count,
        rareImages,
        rareRecall: recall[o.rareClass],
        accuracy,
        recall,
        seconds,
      });
    } finally {
      model.dispose();
    }
  }
  return runs;
}

export function formatRareClassTable(runs: RareClassRun[], className: string): string {
  const rows = [['training set', 'images', `${className} images`, `${className} recall`, 'accuracy', 'train s']];
  for (const r of runs)
    rows.push([
      r.name,
      String(r.trainImages),
      String(r.rareImages),
      `${(100 * r.rareRecall).toFixed(1)} %`,
      `${(100 * r.accuracy).toFixed(1)} %`,
      r.seconds.toFixed(0),
    ]);
  const widths = rows[0].map((_, k) => Math.max(...rows.map((r) => r[k].length)));
  return rows
    .map((r) => r.map((c, k) => (k === 0 ? c.padEnd(widths[k]) : c.padStart(widths[k]))).join('  '))
    .join('\n');
}
