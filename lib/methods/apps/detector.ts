// A tiny one-stage object detector for the 32x32 shapes scenes (lesson 15), CenterNet-style: a
// conv backbone down to an 8x8 grid; each cell predicts "an object's centre is here" (objectness),
// the object's class (its shape) and its box (centre offset inside the cell, width and height).
// Objects in the procedural scenes are at least 8 px apart, so no two centres share a 4 px cell.
import * as tf from '@tensorflow/tfjs-core';
import '../../core/tfjs_setup';
import { Box } from '../../../datasets/boxes';
import { SHAPE_KINDS, SHAPES_SIZE } from '../../../datasets/shapes';
import { ParamMap, ParamStore, countParams, disposeParams } from '../../core/params';
import { ProgressOptions } from '../../core/progress';
import { Rng } from '../../core/random';
import { CheckpointOptions, trainParams } from '../../core/train/loss_trainer';
import { STREAM, stepRng } from '../../core/train/step_seed';
import { Conv2d } from '../../core/unet/layers';

export const DETECTOR_GRID = 8;
export const DETECTOR_CLASSES = SHAPE_KINDS.length;
/** Per cell: objectness, class logits, then offset x, offset y, width, height (all through a sigmoid). */
const OUT = 1 + DETECTOR_CLASSES + 4;

/** A ground-truth or requested object: its box in [0, 1] image coordinates and its class index. */
export interface LabelledBox {
  box: Box;
  cls: number;
}

export interface Detection extends LabelledBox {
  score: number;
}

export class BoxDetector {
  readonly params: ParamMap;
  private readonly convs: Conv2d[];
  private readonly head: Conv2d;

  constructor(seed = 0) {
    const store = new ParamStore(new Rng(seed));
    this.params = store.params;
    // 32 -> pool -> 16 -> pool -> 8; receptive field ~26 px, enough for the 14 px objects.
    this.convs = [
      new Conv2d(store, 'c1', 3, 32),
      new Conv2d(store, 'c2', 32, 64),
      new Conv2d(store, 'c3', 64, 64),
      new Conv2d(store, 'c4', 64, 64),
    ];
    this.head = new Conv2d(store, 'head', 64, OUT, 1);
  }

  get paramCount(): number {
    return countParams(this.params);
  }

  /** Raw head output [B, 8, 8, 10] for images [B, 32, 32, 3] in [-1, 1]. */
  forward(x: tf.Tensor4D): tf.Tensor4D {
    const [, h, w, c] = x.shape;
    if (h !== SHAPES_SIZE || w !== SHAPES_SIZE || c !== 3)
      throw new Error(`BoxDetector: expects [B, 32, 32, 3] images, got [${x.shape}]`);
    return tf.tidy(() => {
      let y = tf.relu(this.convs[0].apply(x));
      y = tf.maxPool(y, 2, 2, 'valid');
      y = tf.relu(this.convs[1].apply(y));
      y = tf.maxPool(y, 2, 2, 'valid');
      y = tf.relu(this.convs[2].apply(y));
      y = tf.relu(this.convs[3].apply(y));
      return this.head.apply(y);
    });
  }

  /** Detections per image: cells whose objectness is a 3x3 local maximum above `minScore`. */
  async detect(x: tf.Tensor4D, minScore = 0.05): Promise<Detection[][]> {
    const out = this.forward(x);
    const values = await out.data();
    out.dispose();
    return decodeDetections(values, x.shape[0], minScore);
  }

  dispose(): void {
    disposeParams(this.params);
  }
}

const sigmoid = (v: number) => 1 / (1 + Math.exp(-v));

/** Turns the head's raw output (flat [B, 8, 8, 10]) into boxes; score = objectness x class probability. */
export function decodeDetections(values: ArrayLike<number>, batch: number, minScore: number): Detection[][] {
  const G = DETECTOR_GRID;
  const at = (b: number, gy: number, gx: number, k: number) => values[((b * G + gy) * G + gx) * OUT + k];
  const result: Detection[][] = [];
  for (let b = 0; b < batch; b++) {
    const dets: Detection[] = [];
    for (let gy = 0; gy < G; gy++) {
      for (let gx = 0; gx < G; gx++) {
        const obj = at(b, gy, gx, 0);
        if (sigmoid(obj) < minScore) continue;
        // Local maximum over the 3x3 neighbourhood: one detection per object (CenterNet's NMS).
        let isMax = true;
        for (let dy = -1; dy <= 1 && isMax; dy++) {
          for (let dx = -1; dx <= 1; dx++) {
            const y = gy + dy,
              x = gx + dx;
            if ((dy || dx) && y >= 0 && y < G && x >= 0 && x < G && at(b, y, x, 0) > obj) {
              isMax = false;
              break;
            }
          }
        }
        if (!isMax) continue;
        let best = 0,
          sum = 0;
        const logits = Array.from({ length: DETECTOR_CLASSES }, (_, k) => at(b, gy, gx, 1 + k));
        const m = Math.max(...logits);
        logits.forEach((l, k) => {
          sum += Math.exp(l - m);
          if (l > logits[best]) best = k;
        });
        const score = sigmoid(obj) / sum; // exp(0) / sum = the winning class's softmax probability
        if (score < minScore) continue;
        const cx = (gx + sigmoid(at(b, gy, gx, 1 + DETECTOR_CLASSES))) / G;
        const cy = (gy + sigmoid(at(b, gy, gx, 2 + DETECTOR_CLASSES))) / G;
        const w = sigmoid(at(b, gy, gx, 3 + DETECTOR_CLASSES));
        const h = sigmoid(at(b, gy, gx, 4 + DETECTOR_CLASSES));
        dets.push({ box: [cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], cls: best, score });
      }
    }
    result.push(dets.sort((p, q) => q.score - p.score));
  }
  return result;
}

export interface DetectorTargets {
  /** [B, 8, 8] 1 where an object's centre falls. */
  objectness: tf.Tensor3D;
  /** [B, 8, 8, K] one-hot class at those cells (zeros elsewhere). */
  classes: tf.Tensor4D;
  /** [B, 8, 8, 4] offset x, offset y, width, height at those cells. */
  boxes: tf.Tensor4D;
}

/** Training targets for a batch of labelled scenes. */
export function detectorTargets(labels: readonly (readonly LabelledBox[])[]): DetectorTargets {
  const G = DETECTOR_GRID,
    K = DETECTOR_CLASSES,
    B = labels.length;
  const obj = new Float32Array(B * G * G);
  const cls = new Float32Array(B * G * G * K);
  const box = new Float32Array(B * G * G * 4);
  labels.forEach((objs, b) => {
    for (const o of objs) {
      checkLabel(o);
      const cx = ((o.box[0] + o.box[2]) / 2) * G,
        cy = ((o.box[1] + o.box[3]) / 2) * G;
      const gx = Math.min(G - 1, Math.floor(cx)),
        gy = Math.min(G - 1, Math.floor(cy));
      const cell = (b * G + gy) * G + gx;
      obj[cell] = 1;
      cls[cell * K + o.cls] = 1;
      box.set([cx - gx, cy - gy, o.box[2] - o.box[0], o.box[3] - o.box[1]], cell * 4);
    }
  });
  return {
    objectness: tf.tensor3d(obj, [B, G, G]),
    classes: tf.tensor4d(cls, [B, G, G, K]),
    boxes: tf.tensor4d(box, [B, G, G, 4]),
  };
}

function checkLabel(o: LabelledBox): void {
  const [x0, y0, x1, y1] = o.box;
  if (!(x0 >= 0 && y0 >= 0 && x1 <= 1 && y1 <= 1 && x1 > x0 && y1 > y0))
    throw new Error(`detector: box [${o.box}] is not a non-empty box inside [0, 1]`);
  if (!Number.isInteger(o.cls) || o.cls < 0 || o.cls >= DETECTOR_CLASSES)
    throw new Error(`detector: class ${o.cls} is not in 0..${DETECTOR_CLASSES - 1}`);
}

/**
 * Loss of a head output against targets: objectness cross-entropy on every cell (positives weighted
 * up, they are 1-3 of 64 cells), class cross-entropy and L1 box error at the object cells.
 */
export function detectorLoss(out: tf.Tensor4D, t: DetectorTargets, positiveWeight = 5): tf.Scalar {
  return tf.tidy(() => {
    const K = DETECTOR_CLASSES;
    const obj = tf.squeeze(tf.slice(out, [0, 0, 0, 0], [-1, -1, -1, 1]), [3]);
    const logits = tf.slice(out, [0, 0, 0, 1], [-1, -1, -1, K]);
    const box = tf.sigmoid(tf.slice(out, [0, 0, 0, 1 + K], [-1, -1, -1, 4]));
    const pos = t.objectness;
    const count = tf.maximum(tf.sum(pos), 1);
    // Stable binary cross-entropy with logits: max(z, 0) - z*y + log(1 + exp(-|z|)).
    const bce = tf.add(tf.sub(tf.relu(obj), tf.mul(obj, pos)), tf.log1p(tf.exp(tf.neg(tf.abs(obj)))));
    const weights = tf.add(1, tf.mul(pos, positiveWeight - 1));
    const objLoss = tf.mul(tf.mean(tf.mul(bce, weights)), 10);
    const clsLoss = tf.div(tf.neg(tf.sum(tf.mul(t.classes, tf.logSoftmax(logits)))), count);
    const boxLoss = tf.div(tf.sum(tf.mul(tf.abs(tf.sub(box, t.boxes)), tf.expandDims(pos, 3))), count);
    return tf.addN([objLoss, clsLoss, tf.mul(boxLoss, 5)]) as tf.Scalar;
  });
}

export interface DetectorTrainOptions extends CheckpointOptions {
  steps: number;
  batchSize?: number;
  learningRate?: number;
  /** Fixes the batches (step k's from (seed, k)). */
  seed: number;
  onStep?: (step: number, loss: number) => void;
  /** A progress bar (default none). */
  progress?: false | ProgressOptions;
}

/** One detector batch: images and their targets. */
interface DetectorBatch {
  x: tf.Tensor4D;
  targets: DetectorTargets;
}

/**
 * Trains the detector on images [N, 32, 32, 3] in [-1, 1] with their labels; returns the loss of
 * every step. Batches are drawn with replacement, so a small set and a large one train as long;
 * step k's from (seed, k), so a run resumed from checkpointDir continues the same one. Adam at a
 * constant learning rate (epsilon 1e-7, tfjs's default on float32 backends), no clipping.
 */
export async function trainDetector(
  det: BoxDetector,
  images: tf.Tensor4D,
  labels: readonly (readonly LabelledBox[])[],
  o: DetectorTrainOptions,
): Promise<number[]> {
  const n = images.shape[0];
  if (labels.length !== n) throw new Error(`trainDetector: ${labels.length} label lists for ${n} images`);
  if (!Number.isInteger(o.steps) || o.steps < 1)
    throw new Error(`trainDetector: steps must be a positive integer, got ${o.steps}`);
  const batchSize = Math.min(o.batchSize ?? 32, n);
  const data = (step: number): DetectorBatch => {
    const rng = stepRng(o.seed, step, STREAM.data);
    const idx = Array.from({ length: batchSize }, () => rng.int(n));
    return { x: tf.gather(images, idx) as tf.Tensor4D, targets: detectorTargets(idx.map((i) => labels[i])) };
  };
  const { history } = await trainParams(
    det.params,
    (b: DetectorBatch) => detectorLoss(det.forward(b.x), b.targets),
    {
      learningRate: o.learningRate ?? 2e-3,
      totalSteps: o.steps,
      epsilon: 1e-7,
      seed: o.seed,
      config: { kind: 'box-detector', grid: DETECTOR_GRID, classes: DETECTOR_CLASSES },
      describe: { batchSize, images: n },
      progress: o.progress ?? false,
    },
    data,
    o,
  );
  return [...history.loss];
}
