// Box mAP@IoU (PASCAL VOC style): per class, detections of all images sorted by score; each is a
// true positive when it overlaps a not-yet-matched ground-truth box of its class with IoU >= the
// threshold; AP is the area under the precision-recall curve with precision made monotone
// (all-point interpolation). mAP averages AP over the classes that have ground truth.
import { boxIoU } from '../../../datasets/boxes';
import type { Detection, LabelledBox } from './detector';

/** Area under the monotone precision envelope; `hits` in descending score order. */
export function averagePrecision(hits: boolean[], groundTruth: number): number {
  if (groundTruth === 0) return NaN;
  let tp = 0;
  const recall: number[] = [];
  const precision: number[] = [];
  hits.forEach((hit, i) => {
    if (hit) tp++;
    recall.push(tp / groundTruth);
    precision.push(tp / (i + 1));
  });
  for (let i = precision.length - 2; i >= 0; i--) precision[i] = Math.max(precision[i], precision[i + 1]);
  let ap = 0,
    prev = 0;
  recall.forEach((r, i) => {
    ap += (r - prev) * precision[i];
    prev = r;
  });
  return ap;
}

export interface MapResult {
  map: number;
  /** AP per class (NaN for a class with no ground truth). */
  perClass: number[];
  groundTruth: number;
  detections: number;
}

export function meanAveragePrecision(
  preds: readonly Detection[][],
  truth: readonly (readonly LabelledBox[])[],
  classes: number,
  iouThreshold = 0.5,
): MapResult {
  if (preds.length !== truth.length)
    throw new Error(`meanAveragePrecision: ${preds.length} prediction lists for ${truth.length} images`);
  const perClass: number[] = [];
  let groundTruth = 0,
    detections = 0;
  for (let c = 0; c < classes; c++) {
    const dets: { img: number; d: Detection }[] = [];
    preds.forEach((ds, img) =>
      ds.forEach((d) => {
        if (d.cls === c) dets.push({ img, d });
      }),
    );
    dets.sort((a, b) => b.d.score - a.d.score);
    const gts = truth.map((objs) => objs.filter((o) => o.cls === c));
    const used = gts.map((g) => g.map(() => false));
    const nGt = gts.reduce((s, g) => s + g.length, 0);
    const hits = dets.map(({ img, d }) => {
      let best = -1,
        bestIoU = iouThreshold;
      gts[img].forEach((g, k) => {
        const iou = boxIoU(d.box, g.box);
        if (!used[img][k] && iou >= bestIoU) {
          best = k;
          bestIoU = iou;
        }
      });
      if (best < 0) return false;
      used[img][best] = true;
      return true;
    });
    perClass.push(averagePrecision(hits, nGt));
    groundTruth += nGt;
    detections += dets.length;
  }
  const valid = perClass.filter((ap) => !Number.isNaN(ap));
  const map = valid.length ? valid.reduce((s, v) => s + v, 0) / valid.length : NaN;
  return { map, perClass, groundTruth, detections };
}
