// How well generated objects land in requested boxes (lessons 13 layout-to-image and 14 GLIGEN): for
// held-out scenes, generate from their layout (and/or caption), detect the objects exactly
// (lib/eval/shapes/detect.ts), and take for each requested box the best IoU among detections of the same
// colour. The headline is the share of requested objects with IoU >= 0.5.
import * as tf from '@tensorflow/tfjs-core';
import '../core/tfjs_setup';
import { loadShapes, ShapeObject } from '../../datasets/shapes';
import { detectBatch } from './shapes/detect';
import { groundingScore } from './shapes/score';

/** Held-out scenes with 1 or 2 objects (their own seed: not a training scene). */
export function placementScenes(n: number, seed = 7): { captions: string[]; objects: ShapeObject[][] } {
  if (!Number.isInteger(n) || n < 1) throw new Error(`placementScenes: n must be a positive integer, got ${n}`);
  const set = loadShapes('test', { count: n, minObjects: 1, maxObjects: 2, seed });
  return { captions: set.captions, objects: set.objects };
}

export interface PlacementResult {
  name: string;
  scenes: number;
  objects: number;
  /** Share of requested objects whose best same-colour detection has IoU >= 0.5. */
  hitRate: number;
  /** The same, requiring the detected shape to match as well. */
  hitRateShape: number;
  meanIoU: number;
  secondsPerImage: number;
  /** The first images (caller disposes) with their scenes, for figures. */
  samples: tf.Tensor4D;
}

/**
 * generate(sceneIndices, batchIndex) -> images [-1, 1] for those scenes; the same batch index gives
 * the same starting noise in every method, so methods differ only in their conditioning.
 */
export async function evaluatePlacement(
  name: string,
  scenes: { captions: string[]; objects: ShapeObject[][] },
  batch: number,
  generate: (indices: number[], batchIndex: number) => tf.Tensor4D | Promise<tf.Tensor4D>,
  keep = 8,
): Promise<PlacementResult> {
  const n = scenes.captions.length;
  let hits = 0,
    hitsShape = 0,
    objects = 0,
    iouSum = 0,
    seconds = 0;
  const kept: tf.Tensor4D[] = [];
  let keptCount = 0;
  // An exception (the kernel's Interrupt stopping a sampler midway included) releases the kept samples.
  try {
    for (let s = 0, b = 0; s < n; s += batch, b++) {
      const idx = Array.from({ length: Math.min(batch, n - s) }, (_, i) => s + i);
      const t0 = Date.now();
      const x = await generate(idx, b);
      const values = (await x.data()) as Float32Array;
      seconds += (Date.now() - t0) / 1000;
      detectBatch(values).forEach((det, i) => {
        const req = scenes.objects[idx[i]].map((o) => ({ colour: o.colour, shape: o.shape, box: o.box }));
        const g = groundingScore(req, det);
        const gs = groundingScore(req, det, { match: 'colour+shape' });
        objects += req.length;
        hits += g.objects.filter((o) => o.iou >= 0.5).length;
        hitsShape += gs.objects.filter((o) => o.iou >= 0.5).length;
        iouSum += g.objects.reduce((p, o) => p + o.iou, 0);
      });
      if (keptCount < keep) {
        const take = Math.min(keep - keptCount, idx.length);
        kept.push(tf.slice(x, 0, take));
        keptCount += take;
      }
      x.dispose();
    }
  } catch (e) {
    tf.dispose(kept);
    throw e;
  }
  const samples = tf.concat(kept, 0) as tf.Tensor4D;
  tf.dispose(kept);
  return {
    name,
    scenes: n,
    objects,
    hitRate: hits / objects,
    hitRateShape: hitsShape / objects,
    meanIoU: iouSum / objects,
    secondsPerImage: seconds / n,
    samples,
  };
}

export function formatPlacementTable(results: PlacementResult[]): string {
  const head = ['method', 'objects', 'IoU>=0.5', 'IoU>=0.5 (+shape)', 'mean IoU', 's/img'];
  const rows = results.map((r) => [
    r.name,
    String(r.objects),
    `${(100 * r.hitRate).toFixed(1)}%`,
    `${(100 * r.hitRateShape).toFixed(1)}%`,
    r.meanIoU.toFixed(3),
    r.secondsPerImage.toFixed(3),
  ]);
  const w = head.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i].length)));
  return [head, ...rows].map((row) => row.map((c, i) => c.padEnd(w[i])).join('  ')).join('\n');
}

export function placementRecord(r: PlacementResult): Record<string, unknown> {
  const r4 = (x: number) => Math.round(x * 1e4) / 1e4;
  return {
    name: r.name,
    scenes: r.scenes,
    objects: r.objects,
    iou50_share: r4(r.hitRate),
    iou50_share_shape: r4(r.hitRateShape),
    mean_iou: r4(r.meanIoU),
    seconds_per_image: r4(r.secondsPerImage),
  };
}
