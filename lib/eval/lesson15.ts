// Lesson 15's measurement (`npm run eval -- 15`): synthetic data for downstream models.
//   1. rare class: Fashion-MNIST with one class cut to `fraction` of its images; a classifier trained
//      as is, with augmented copies, with lesson 07's class-conditional samples, with both; per-class recall.
//   2. detector: few real box-labelled shapes scenes, then plus lesson 14's grounded samples
//      (labels = the requested boxes); box mAP@0.5 on held-out real scenes.
import { FASHION_MNIST_CLASSES, loadFashionMnist } from '../../datasets/fashion-mnist';
import { subset, toTensor } from '../../datasets/imageset';
import { labelAgreement, realBoxScenes, syntheticBoxScenes } from '../methods/apps/box_scenes';
import {
  DetectorRun,
  disposeScenes,
  formatDetectorTable,
  runDetectorExperiment,
} from '../methods/apps/detector_experiment';
import { sampleClassImages, withRareClass } from '../methods/apps/rare_class';
import { formatRareClassTable, RareClassRun, runRareClassExperiment } from '../methods/apps/rare_class_experiment';
import { sharedClassifier } from './metrics/report';
import { ProgressSetting } from '../core/progress';
import { Rng } from '../core/random';

export interface Lesson15Options {
  rareClass: number;
  /** Share of the rare class's training images kept (0.01: 60 of 6,000). */
  fraction: number;
  /** Synthetic (and augmented) images added for the rare class. */
  extra: number;
  epochs: number;
  /** Use only this many training images (before the cut; quick runs); default all 60,000. */
  trainCount?: number;
  guidance: number;
  steps: number;
  realBoxes: number;
  syntheticBoxes: number;
  testBoxes: number;
  detectorSteps: number;
  seed: number;
  /** Sampling batch size. */
  batch: number;
  backend?: string;
  progress?: ProgressSetting;
}

export const LESSON15_DEFAULTS: Omit<Lesson15Options, 'backend' | 'progress'> = {
  rareClass: 5,
  fraction: 0.01,
  extra: 1000,
  epochs: 2,
  guidance: 5,
  steps: 25,
  realBoxes: 50,
  syntheticBoxes: 500,
  testBoxes: 500,
  detectorSteps: 1500,
  seed: 0,
  batch: 100,
};

export interface Lesson15Result {
  classifierTable: string;
  detectorTable: string;
  record: Record<string, unknown>;
  rareRuns: RareClassRun[];
  detectorRuns: DetectorRun[];
}

export async function runLesson15(o: Lesson15Options): Promise<Lesson15Result> {
  if (!Number.isInteger(o.rareClass) || o.rareClass < 0 || o.rareClass >= FASHION_MNIST_CLASSES.length) {
    throw new Error(`lesson 15: rare class must be 0..${FASHION_MNIST_CLASSES.length - 1}, got ${o.rareClass}`);
  }
  const name = FASHION_MNIST_CLASSES[o.rareClass];
  let full = loadFashionMnist('train');
  if (o.trainCount !== undefined)
    full = subset(full, new Rng(o.seed).permutation(full.count).subarray(0, o.trainCount));
  const train = withRareClass(full, o.rareClass, o.fraction, new Rng(o.seed));
  const test = loadFashionMnist('test');
  const synth = await sampleClassImages(o.rareClass, o.extra, train, {
    guidance: o.guidance,
    steps: o.steps,
    seed: o.seed + 15,
    batch: o.batch,
    progress: o.progress,
  });
  // The shipped clean classifier (trained on the full split) as a judge of the synthetic labels.
  const x = toTensor(synth.set);
  const syntheticLabelAccuracy = await sharedClassifier().accuracy(x, synth.set.labels);
  x.dispose();
  const rareRuns = await runRareClassExperiment({
    train,
    test,
    rareClass: o.rareClass,
    synthetic: synth.set,
    epochs: o.epochs,
    seed: o.seed,
    progress: o.progress,
  });

  const real = realBoxScenes('train', o.realBoxes);
  const heldOut = realBoxScenes('test', o.testBoxes);
  const synthetic = await syntheticBoxScenes(o.syntheticBoxes, { seed: o.seed, batch: o.batch, progress: o.progress });
  try {
    const boxLabelAgreement = await labelAgreement(synthetic);
    const detectorRuns = await runDetectorExperiment({
      real,
      synthetic,
      test: heldOut,
      steps: o.detectorSteps,
      seed: o.seed,
      progress: o.progress,
    });
    const pct = (v: number) => Math.round(v * 1000) / 10;
    const record = {
      lesson: '15',
      backend: o.backend,
      seed: o.seed,
      rare_class: {
        id: o.rareClass,
        name,
        fraction: o.fraction,
        kept: rareRuns[0].rareImages,
        train_images: train.count,
        epochs: o.epochs,
      },
      synthetic_classes: {
        n: o.extra,
        guidance: o.guidance,
        sampler: `ddim-${o.steps}`,
        seconds: synth.seconds,
        judged_right_by_clean_classifier: pct(syntheticLabelAccuracy),
      },
      rare_recall: Object.fromEntries(rareRuns.map((r, i) => ['abcd'[i], pct(r.rareRecall)])),
      accuracy: Object.fromEntries(rareRuns.map((r, i) => ['abcd'[i], pct(r.accuracy)])),
      detector: {
        real_images: o.realBoxes,
        synthetic_images: o.syntheticBoxes,
        test_images: o.testBoxes,
        steps: o.detectorSteps,
        synthetic_seconds: synthetic.seconds,
        synthetic_label_agreement: pct(boxLabelAgreement),
        map50_real_only: pct(detectorRuns[0].map50),
        map50_real_plus_synthetic: pct(detectorRuns[1].map50),
        map50_synthetic_only: pct(detectorRuns[2].map50),
      },
    };
    return {
      classifierTable:
        `rare class: ${name} (${rareRuns[0].rareImages} of the training images kept)\n` +
        formatRareClassTable(rareRuns, name),
      detectorTable: formatDetectorTable(detectorRuns),
      record,
      rareRuns,
      detectorRuns,
    };
  } finally {
    disposeScenes(real, heldOut, synthetic);
  }
}
