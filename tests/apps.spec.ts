// Lesson 15's parts: mAP, the detector's target encoding and decoding, its training, the rare-class
// set-up, augmentation and outlier scores. References: average precision of rankings whose AP is worked out by
// hand, detections built from the ground truth, head outputs encoded from known targets.
import { strict as assert } from 'assert';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../lib/runtime/backend';
import { augmentImage, augmentSet } from '../lib/methods/apps/augment';
import { realBoxScenes } from '../lib/methods/apps/box_scenes';
import {
  BoxDetector,
  decodeDetections,
  DETECTOR_CLASSES,
  DETECTOR_GRID,
  detectorTargets,
  LabelledBox,
  trainDetector,
} from '../lib/methods/apps/detector';
import { averagePrecision, meanAveragePrecision } from '../lib/methods/apps/map';
import { outlierScores, topIndices } from '../lib/methods/apps/outliers';
import { classSubset, concatSets, sampleClassImages, withRareClass } from '../lib/methods/apps/rare_class';
import { Rng } from '../lib/core/random';
import { boxIoU } from '../datasets/boxes';
import { classCounts, ImageSet } from '../datasets/imageset';
import { countReads, flatAfter } from './helpers/training';

function tinySet(images: number[][], labels: number[], side = 2): ImageSet {
  return {
    kind: 'images',
    name: 'tiny',
    split: 'train',
    images: Uint8Array.from(images.flat()),
    labels: Uint8Array.from(labels),
    count: labels.length,
    height: side,
    width: side,
    channels: 1,
    classNames: ['a', 'b', 'c'],
  };
}

describe('lesson 15: mAP@0.5', () => {
  it('average precision of known rankings', () => {
    assert.equal(averagePrecision([true, true], 2), 1);
    assert.equal(averagePrecision([false, true], 1), 0.5);
    assert.equal(averagePrecision([true, false, true], 2), 0.5 * 1 + 0.5 * (2 / 3));
    assert.equal(averagePrecision([], 3), 0);
    assert.ok(Number.isNaN(averagePrecision([false], 0)));
  });

  it('exact detections score 1; a wrong class, a duplicate or a loose box do not count', () => {
    const truth: LabelledBox[][] = [[{ box: [0, 0, 0.25, 0.25], cls: 0 }], [{ box: [0.5, 0.5, 1, 1], cls: 1 }]];
    const exact = truth.map((objs) => objs.map((o) => ({ ...o, score: 0.9 })));
    assert.equal(meanAveragePrecision(exact, truth, 3).map, 1);
    const wrongClass = [[{ box: truth[0][0].box, cls: 1, score: 0.9 }], exact[1]];
    const r = meanAveragePrecision(wrongClass, truth, 3);
    assert.equal(r.perClass[0], 0);
    assert.equal(r.perClass[1], 0.5, 'class 1: the false positive ranks first, the true one second');
    assert.ok(Number.isNaN(r.perClass[2]), 'a class without ground truth has no AP');
    const dup = [[...exact[0], { ...exact[0][0], score: 0.8 }], exact[1]];
    assert.equal(
      meanAveragePrecision(dup, truth, 3).perClass[0],
      1,
      'a lower-scored duplicate after the match does not lower AP',
    );
    const loose = [[{ box: [0, 0, 0.5, 0.5] as [number, number, number, number], cls: 0, score: 0.9 }], exact[1]];
    assert.equal(meanAveragePrecision(loose, truth, 3).perClass[0], 0, 'IoU 0.25 is below 0.5');
  });
});

describe('lesson 15: box detector', function () {
  this.timeout(60_000);
  before(async () => {
    await initBackend();
  });

  it('decoding a head output built from the targets gives the boxes back', () => {
    const labels: LabelledBox[][] = [
      [
        { box: [0.1, 0.2, 0.35, 0.45], cls: 3 },
        { box: [0.6, 0.55, 0.85, 0.8], cls: 1 },
      ],
      [{ box: [0.0, 0.0, 0.25, 0.25], cls: 4 }],
    ];
    const t = detectorTargets(labels);
    const logit = (p: number) =>
      Math.log(Math.min(Math.max(p, 1e-6), 1 - 1e-6) / (1 - Math.min(Math.max(p, 1e-6), 1 - 1e-6)));
    const obj = t.objectness.dataSync(),
      cls = t.classes.dataSync(),
      box = t.boxes.dataSync();
    const cells = labels.length * DETECTOR_GRID * DETECTOR_GRID;
    const out = new Float32Array(cells * (5 + DETECTOR_CLASSES));
    for (let c = 0; c < cells; c++) {
      const o = c * (5 + DETECTOR_CLASSES);
      out[o] = obj[c] ? 10 : -10;
      for (let k = 0; k < DETECTOR_CLASSES; k++) out[o + 1 + k] = cls[c * DETECTOR_CLASSES + k] ? 10 : 0;
      for (let k = 0; k < 4; k++) out[o + 1 + DETECTOR_CLASSES + k] = obj[c] ? logit(box[c * 4 + k]) : 0;
    }
    tf.dispose([t.objectness, t.classes, t.boxes]);
    const dets = decodeDetections(out, labels.length, 0.05);
    assert.deepEqual(
      dets.map((d) => d.length),
      [2, 1],
    );
    labels.forEach((objs, b) =>
      objs.forEach((o) => {
        const d = dets[b].find((x) => x.cls === o.cls);
        assert.ok(d, `class ${o.cls} found in image ${b}`);
        assert.ok(boxIoU(d.box, o.box) > 0.999, `box ${d.box} vs ${o.box}`);
      }),
    );
  });

  it('bad labels are clear errors', () => {
    assert.throws(
      () => detectorTargets([[{ box: [0.5, 0.5, 1.2, 0.9], cls: 0 }]]),
      /not a non-empty box inside \[0, 1\]/,
    );
    assert.throws(() => detectorTargets([[{ box: [0.5, 0.5, 0.5, 0.9], cls: 0 }]]), /not a non-empty box/);
    assert.throws(
      () => detectorTargets([[{ box: [0.1, 0.1, 0.3, 0.3], cls: DETECTOR_CLASSES }]]),
      /class 5 is not in 0..4/,
    );
    const det = new BoxDetector(0);
    assert.throws(() => det.forward(tf.zeros([1, 28, 28, 1]) as tf.Tensor4D), /expects \[B, 32, 32, 3\]/);
    det.dispose();
  });

  it('training on real scenes lowers the loss, keeps the tensor count flat and reads nothing synchronously', async () => {
    const scenes = realBoxScenes('train', 64);
    const det = new BoxDetector(0);
    const before = tf.memory().numTensors;
    const counts: number[] = [];
    const { result: losses, dataSync } = await countReads(() =>
      trainDetector(det, scenes.images, scenes.labels, {
        steps: 60,
        batchSize: 16,
        seed: 0,
        onStep: () => counts.push(tf.memory().numTensors),
      }),
    );
    assert.equal(tf.memory().numTensors, before, 'no tensor left behind by training');
    assert.equal(flatAfter(counts), null);
    assert.equal(dataSync, 0, 'the loop read a tensor synchronously');
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    assert.ok(
      mean(losses.slice(-10)) < 0.7 * mean(losses.slice(0, 10)),
      `loss ${mean(losses.slice(0, 10))} -> ${mean(losses.slice(-10))}`,
    );
    det.dispose();
    scenes.images.dispose();
  });
});

describe('lesson 15: rare class, augmentation, outliers', () => {
  it('withRareClass keeps the asked-for share of one class and every other image', () => {
    const set = tinySet(
      Array.from({ length: 300 }, (_, i) => [i % 256, 0, 0, 0]),
      Array.from({ length: 300 }, (_, i) => i % 3),
    );
    const cut = withRareClass(set, 1, 0.1, new Rng(0));
    assert.deepEqual(classCounts(cut), [100, 10, 100]);
    assert.equal(withRareClass(set, 1, 0.001, new Rng(0)).count, 201, 'at least one image is kept');
    assert.equal(classSubset(cut, 1).count, 10);
    assert.throws(() => withRareClass(set, 3, 0.1, new Rng(0)), /class 3 is not in 0..2/);
    assert.throws(() => withRareClass(set, 1, 0, new Rng(0)), /fraction must be in \(0, 1\]/);
  });

  it('augmentation mirrors, shifts with background fill and clamps contrast', () => {
    const img = Uint8Array.from([10, 20, 30, 40]); // 2x2: row 0 = 10 20, row 1 = 30 40
    assert.deepEqual(
      Array.from(augmentImage(img, 2, 2, 1, { flip: true, dx: 0, dy: 0, contrast: 1 })),
      [20, 10, 40, 30],
    );
    assert.deepEqual(
      Array.from(augmentImage(img, 2, 2, 1, { flip: false, dx: 1, dy: 0, contrast: 1 })),
      [0, 10, 0, 30],
    );
    assert.deepEqual(
      Array.from(augmentImage(img, 2, 2, 1, { flip: false, dx: 0, dy: -1, contrast: 1 })),
      [30, 40, 0, 0],
    );
    assert.deepEqual(
      Array.from(
        augmentImage(Uint8Array.from([200, 100, 0, 50]), 2, 2, 1, { flip: false, dx: 0, dy: 0, contrast: 1.5 }),
      ),
      [255, 150, 0, 75],
    );
    const set = tinySet([[1, 2, 3, 4]], [2]);
    const aug = augmentSet(set, 5, new Rng(0));
    assert.equal(aug.count, 5);
    assert.deepEqual(Array.from(aug.labels), [2, 2, 2, 2, 2]);
    assert.throws(() => augmentSet({ ...set, count: 0 }, 3, new Rng(0)), /augmentSet: the source set is empty/);
  });

  it('the odd image out of a class gets the top outlier score', () => {
    const same = [200, 200, 0, 0];
    const images = [same, same, [0, 0, 200, 200], same, [0, 0, 0, 0]];
    const scores = outlierScores(tinySet(images, [0, 0, 0, 0, 1]));
    assert.deepEqual(topIndices(scores, 1), [2]);
    assert.equal(scores[4], 0, 'a class of one image is its own mean');
  });

  it('concatSets refuses other image shapes; sampling refuses a negative scale', async () => {
    assert.throws(() => concatSets([tinySet([[1, 2, 3, 4]], [0]), tinySet([[1]], [0], 1)]), /another image shape/);
    await assert.rejects(
      sampleClassImages(1, 2, tinySet([[1, 2, 3, 4]], [0]), { guidance: -1, steps: 2, seed: 0 }),
      /must be >= 0/,
    );
  });
});
