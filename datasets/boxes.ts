// Axis-aligned boxes in [0, 1] image coordinates, as the shapes data set records them.
/** [x0, y0, x1, y1] with x to the right and y down; x1 and y1 are exclusive edges. */
export type Box = [number, number, number, number];

export function boxArea(b: Box): number {
  return Math.max(0, b[2] - b[0]) * Math.max(0, b[3] - b[1]);
}

/** Intersection over union; 0 when both boxes are empty. */
export function boxIoU(a: Box, b: Box): number {
  const ix = Math.max(0, Math.min(a[2], b[2]) - Math.max(a[0], b[0]));
  const iy = Math.max(0, Math.min(a[3], b[3]) - Math.max(a[1], b[1]));
  const inter = ix * iy;
  const union = boxArea(a) + boxArea(b) - inter;
  return union > 0 ? inter / union : 0;
}

/**
 * Tight box of the pixels where mask(x, y) is true, in [0, 1] coordinates (pixel edges, so a single
 * pixel at (0, 0) in a 32-wide image is [0, 0, 1/32, 1/32]); null when no pixel is set.
 */
export function maskBox(width: number, height: number, mask: (x: number, y: number) => boolean): Box | null {
  let x0 = width,
    y0 = height,
    x1 = -1,
    y1 = -1;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      if (!mask(x, y)) continue;
      if (x < x0) x0 = x;
      if (x > x1) x1 = x;
      if (y < y0) y0 = y;
      if (y > y1) y1 = y;
    }
  }
  return x1 < 0 ? null : [x0 / width, y0 / height, (x1 + 1) / width, (y1 + 1) / height];
}
