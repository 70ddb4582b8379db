// Scatter plots of 2-D point sets for the lessons: several sets side by side on one pair of axes
// (each shifted right by `gap`), which plotly and the static SVG fallback both draw, unlike subplots.
import type { PlotTrace } from '../../course/display/plot_types';

export interface PointSet {
  name: string;
  /** [x0, y0, x1, y1, ...] */
  points: Float32Array;
  color?: string;
}

/** One marker trace per set; set k is drawn at x + k * gap. At most maxPoints per set are kept. */
export function panels2d(
  sets: PointSet[],
  opts: { gap?: number; size?: number; maxPoints?: number } = {},
): PlotTrace[] {
  const gap = opts.gap ?? 6;
  const maxPoints = opts.maxPoints ?? 2000;
  return sets.map((s, k) => {
    if (s.points.length % 2 !== 0) throw new Error(`panels2d: set '${s.name}' has an odd number of coordinates`);
    const n = Math.min(s.points.length / 2, maxPoints);
    const x: number[] = [];
    const y: number[] = [];
    for (let i = 0; i < n; i++) {
      x.push(s.points[2 * i] + k * gap);
      y.push(s.points[2 * i + 1]);
    }
    return { type: 'scatter', mode: 'markers', name: s.name, x, y, marker: { size: opts.size ?? 3, color: s.color } };
  });
}
