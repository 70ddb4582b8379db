// Pictures of layouts for figures: each requested box drawn as a 1-pixel outline in its object's
// colour on black, and the same outlines laid over generated images, so a reader sees at once
// whether an object landed in its box.
import * as tf from '@tensorflow/tfjs-core';
import '../../core/tfjs_setup';
import type { Box } from '../../../datasets/boxes';
import { SHAPE_COLOURS, ShapeColour } from '../../../datasets/shapes';

export interface DrawnBox {
  box: Box;
  colour: ShapeColour;
}

function outline(px: Float32Array, drawn: Uint8Array, side: number, offset: number, b: DrawnBox): void {
  const [x0, y0, x1, y1] = b.box.map((v) => Math.round(v * side));
  const rgb = SHAPE_COLOURS[b.colour].map((v) => v / 127.5 - 1);
  const set = (x: number, y: number) => {
    if (x < 0 || y < 0 || x >= side || y >= side) return;
    px.set(rgb, offset + (y * side + x) * 3);
    drawn.fill(1, offset + (y * side + x) * 3, offset + (y * side + x) * 3 + 3);
  };
  for (let x = x0; x < x1; x++) {
    set(x, y0);
    set(x, y1 - 1);
  }
  for (let y = y0; y < y1; y++) {
    set(x0, y);
    set(x1 - 1, y);
  }
}

/** [B, side, side, 3] in [-1, 1]: the layouts' boxes as outlines, over `under` (default black). */
export function drawLayouts(layouts: readonly (readonly DrawnBox[])[], side = 32, under?: tf.Tensor4D): tf.Tensor4D {
  if (under && (under.shape[0] !== layouts.length || under.shape[1] !== side || under.shape[3] !== 3)) {
    throw new Error(`drawLayouts: images [${under.shape}] do not match ${layouts.length} layouts of ${side}x${side}x3`);
  }
  const per = side * side * 3;
  const shape: [number, number, number, number] = [layouts.length, side, side, 3];
  const px = new Float32Array(layouts.length * per).fill(-1);
  const drawn = new Uint8Array(layouts.length * per);
  layouts.forEach((l, i) => l.forEach((b) => outline(px, drawn, side, i * per, b)));
  if (!under) return tf.tensor4d(px, shape);
  // The outlines replace `under` on the device (no read of the images: webgpu has no synchronous read).
  return tf.tidy(() => tf.where(tf.tensor4d(drawn, shape, 'bool'), tf.tensor4d(px, shape), under));
}
