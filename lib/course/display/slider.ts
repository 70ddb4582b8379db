// Figures a learner drags instead of reads: a list of (label, traces) becomes one plotly figure with
// animation frames, a slider with a step per frame and a play button. All of it is plotly's own
// JSON, so it works wherever plotly.js draws the figure (JupyterLab, the classic Notebook through the
// html output, exported HTML) without a kernel. Frame `staticFrame` is also the figure's own data:
// what plotly shows before any drag, and what the static SVG fallback draws.
// Payload: every number is rounded (3 decimals by default) and images travel as ONE heatmap per frame
// (a mosaic with null gaps), so a frame of sixteen 28×28 images is about 90 kB of JSON.
import type { PlotFrame, PlotLayout, PlotTrace } from './plot_types';
import { showPlot } from './plot';

export interface SliderFrame {
  /** Shown on the slider and as its current value; unique (it names the frame). */
  label: string;
  traces: PlotTrace[];
}

export interface SliderOptions {
  /** In front of the current label, e.g. 't = ' (default ''). */
  prefix?: string;
  /** The frame shown first and by the static fallback (default 0). */
  staticFrame?: number;
  /** Play button and its time per frame in ms (default true, 500). */
  play?: boolean;
  frameMs?: number;
  /** Decimals kept in x, y, z (default 3). */
  digits?: number;
}

export interface SliderFigure {
  data: PlotTrace[];
  layout: PlotLayout;
  frames: PlotFrame[];
}

function roundValues(v: unknown, f: number): unknown {
  if (typeof v === 'number') return Number.isFinite(v) ? Math.round(v * f) / f : null;
  if (Array.isArray(v) || ArrayBuffer.isView(v)) return Array.from(v as ArrayLike<unknown>, (e) => roundValues(e, f));
  return v;
}

/** A copy of the trace with x, y and z rounded to `digits` decimals (typed arrays become plain arrays). */
export function roundTrace(t: PlotTrace, digits = 3): PlotTrace {
  const f = 10 ** digits;
  const out: PlotTrace = { ...t };
  for (const k of ['x', 'y', 'z'] as const) if (t[k] !== undefined) out[k] = roundValues(t[k], f) as never;
  return out;
}

/** The figure: frames named by their labels, a slider stepping through them, a play/pause button. */
export function sliderFigure(frames: SliderFrame[], layout: PlotLayout = {}, o: SliderOptions = {}): SliderFigure {
  if (!Array.isArray(frames) || frames.length === 0) throw new Error('sliderFigure: needs at least one frame');
  const names = frames.map((f) => String(f.label));
  const dup = names.find((n, i) => names.indexOf(n) !== i);
  if (dup !== undefined) throw new Error(`sliderFigure: frame label '${dup}' appears twice; labels name the frames`);
  frames.forEach((f, i) => {
    if (!Array.isArray(f.traces) || f.traces.length === 0) throw new Error(`sliderFigure: frame ${i} has no traces`);
    if (f.traces.length !== frames[0].traces.length)
      throw new Error(`sliderFigure: frame ${i} has ${f.traces.length} traces, frame 0 has ${frames[0].traces.length}`);
  });
  const active = o.staticFrame ?? 0;
  if (!Number.isInteger(active) || active < 0 || active >= frames.length)
    throw new Error(`sliderFigure: staticFrame must be an index in [0, ${frames.length - 1}], got ${active}`);
  const digits = o.digits ?? 3;
  const out: PlotFrame[] = frames.map((f, i) => ({ name: names[i], data: f.traces.map((t) => roundTrace(t, digits)) }));
  // Heatmaps must be redrawn on every frame (plotly only morphs scatter traces).
  const jump = (ms: number) => ({
    mode: 'immediate',
    frame: { duration: ms, redraw: true },
    transition: { duration: 0 },
  });
  const slider = {
    active,
    currentvalue: { prefix: o.prefix ?? '', visible: true, xanchor: 'left' },
    pad: { t: 45, b: 10 },
    len: o.play === false ? 1 : 0.88,
    x: o.play === false ? 0 : 0.12,
    y: 0,
    steps: frames.map((_, i) => ({ label: names[i], method: 'animate', args: [[names[i]], jump(0)] })),
  };
  const buttons = {
    type: 'buttons',
    direction: 'left',
    showactive: false,
    x: 0.1,
    xanchor: 'right',
    y: 0,
    yanchor: 'top',
    pad: { t: 55, r: 10 },
    buttons: [
      { label: 'Play', method: 'animate', args: [null, { ...jump(o.frameMs ?? 500), fromcurrent: true }] },
      { label: 'Pause', method: 'animate', args: [[null], jump(0)] },
    ],
  };
  const margin = { ...((layout.margin as object | undefined) ?? {}) } as { b?: number };
  margin.b = Math.max(margin.b ?? 0, 120);
  return {
    data: out[active].data,
    layout: {
      ...layout,
      margin,
      sliders: [slider],
      ...(o.play === false ? {} : { updatemenus: [buttons] }),
    },
    frames: out,
  };
}

/** Shows sliderFigure(frames, layout, o) in the notebook (showPlot with frames). */
export function showSlider(frames: SliderFrame[], layout: PlotLayout = {}, o: SliderOptions = {}): void {
  const fig = sliderFigure(frames, layout, o);
  showPlot(fig.data, fig.layout, { frames: fig.frames });
}

export interface MosaicOptions {
  /** Images per row (default: all in one row). */
  cols?: number;
  /** Gap between images in pixels (default 1), transparent. */
  gap?: number;
}

/**
 * Images (each H×W, row-major, one channel) tiled into one heatmap's z with null gaps; z[0] is the top
 * row of the first images, so the axis showing it is reversed (imageMosaicLayout does that).
 */
export function imageMosaic(
  images: ArrayLike<number>[],
  h: number,
  w: number,
  o: MosaicOptions = {},
): (number | null)[][] {
  const n = images.length;
  if (n === 0) throw new Error('imageMosaic: no images');
  images.forEach((im, i) => {
    if (im.length !== h * w) throw new Error(`imageMosaic: image ${i} has ${im.length} values, not ${h}×${w}`);
  });
  const cols = Math.min(o.cols ?? n, n);
  const rows = Math.ceil(n / cols);
  const gap = o.gap ?? 1;
  const z: (number | null)[][] = [];
  for (let r = 0; r < rows; r++) {
    if (r > 0) for (let g = 0; g < gap; g++) z.push(new Array(cols * w + (cols - 1) * gap).fill(null));
    for (let y = 0; y < h; y++) {
      const row: (number | null)[] = [];
      for (let c = 0; c < cols; c++) {
        if (c > 0) for (let g = 0; g < gap; g++) row.push(null);
        const im = images[r * cols + c];
        for (let x = 0; x < w; x++) row.push(im ? im[y * w + x] : null);
      }
      z.push(row);
    }
  }
  return z;
}

/** One grayscale heatmap trace of the images (values in [zmin, zmax], default [-1, 1]: model outputs). */
export function imageMosaicTrace(
  images: ArrayLike<number>[],
  h: number,
  w: number,
  o: MosaicOptions & { zmin?: number; zmax?: number } = {},
): PlotTrace {
  return {
    type: 'heatmap',
    z: imageMosaic(images, h, w, o) as number[][],
    colorscale: 'Greys',
    reversescale: true,
    zmin: o.zmin ?? -1,
    zmax: o.zmax ?? 1,
    showscale: false,
    hoverinfo: 'skip',
  };
}

/**
 * Axes for a mosaic: y reversed (row 0 on top), square pixels, no grid; optional labels under each
 * column and left of each row; the size follows the image (`cellPx` screen pixels per image pixel).
 */
export function imageMosaicLayout(
  n: number,
  h: number,
  w: number,
  o: MosaicOptions & {
    title?: string;
    colLabels?: string[];
    rowLabels?: string[];
    /** One caption above each image (plotly annotations; give a gap of a few pixels to make room). */
    tileLabels?: string[];
    cellPx?: number;
  } = {},
): PlotLayout {
  const cols = Math.min(o.cols ?? n, n);
  const rows = Math.ceil(n / cols);
  const gap = o.gap ?? 1;
  const px = o.cellPx ?? 3;
  const centres = (k: number, size: number) => Array.from({ length: k }, (_, i) => i * (size + gap) + (size - 1) / 2);
  const hidden = { showgrid: false, zeroline: false, ticks: '' };
  const left = o.rowLabels ? 110 : 20;
  const annotations = (o.tileLabels ?? []).slice(0, n).map((text, i) => ({
    text,
    x: (i % cols) * (w + gap) + (w - 1) / 2,
    y: Math.floor(i / cols) * (h + gap) - 0.5,
    xref: 'x',
    yref: 'y',
    yanchor: 'bottom',
    showarrow: false,
    font: { size: 11 },
  }));
  return {
    ...(annotations.length ? { annotations } : {}),
    ...(o.title ? { title: { text: o.title } } : {}),
    width: Math.max(360, left + 20 + px * (cols * w + (cols - 1) * gap)),
    height: 80 + 120 + px * (rows * h + (rows - 1) * gap),
    margin: { l: left, r: 20, t: 60, b: 120 },
    xaxis: {
      ...hidden,
      constrain: 'domain',
      ...(o.colLabels ? { tickvals: centres(cols, w), ticktext: o.colLabels, side: 'top' } : { showticklabels: false }),
    },
    yaxis: {
      ...hidden,
      autorange: 'reversed',
      scaleanchor: 'x',
      constrain: 'domain',
      ...(o.rowLabels ? { tickvals: centres(rows, h), ticktext: o.rowLabels } : { showticklabels: false }),
    },
  };
}

/** JSON size of a figure in bytes (what one copy of it costs in the saved notebook). */
export function figureBytes(fig: SliderFigure): number {
  return Buffer.byteLength(JSON.stringify(fig));
}
