// Plotly figures in notebooks. The figure travels as one display_data bundle; each frontend shows the
// richest type it knows:
// - plotly's own MIME type: JupyterLab and VS Code draw it with their plotly renderer (JupyterLab's
//   plotly extension registers rank 0, text/html has 50, lower wins; VS Code puts application/vnd.*
//   first);
// - text/html: plotly.js from node_modules draws it (classic Notebook, nbconvert HTML), see plot_html.ts;
//   until it does, and where scripts do not run (an untrusted notebook), it shows the SVG below as <img>;
// - image/svg+xml: our static re-drawing, for viewers that show neither (GitHub). nbconvert 6.5 would
//   strip its drawing elements if it chose it (its templates pass inline SVG through lxml's clean_html),
//   which is one more reason the html carries the SVG as an <img>;
// - text/plain: one line (scripts, tests).
import { inKernel, sendDisplay, MimeBundle, newDisplayId } from '../../core/kernel_display';
import { lessonMode, QUICK_MODE_NOTE } from '../mode';
import { plotToSvg } from './svg_fallback';
import { plotHtml, plotlyLoaderHtml } from './plot_html';
import type { PlotFrame, PlotLayout, PlotTrace } from './plot_types';

export const PLOTLY_MIME = 'application/vnd.plotly.v1+json';

export interface ShowPlotOptions {
  /** Id of an earlier showPlot output to overwrite (live training curves); see newDisplayId(). */
  displayId?: string;
  /** Set with displayId on every call after the first. */
  update?: boolean;
  /** Animation frames (plotly's `frames`, for sliders/play buttons); the static fallback draws `data`. */
  frames?: PlotFrame[];
}

/** Wider figures are narrowed to this (an output area in the classic Notebook is about 900 px wide). */
export const MAX_PLOT_WIDTH = 900;

export { QUICK_MODE_NOTE };

// Typed arrays become plain arrays and NaN/Infinity become null: the MIME payload must be plain JSON.
// Numbers keep 7 significant digits (float32 precision, far below a pixel): a float32 value written as
// a double takes 17 digits, which made lesson 02's figures twice the size for nothing.
const round7 = (v: number) => (Number.isInteger(v) || !Number.isFinite(v) ? v : Number(v.toPrecision(7)));
function plainJson<T>(value: T): T {
  return JSON.parse(
    JSON.stringify(value, (_k, v) =>
      ArrayBuffer.isView(v) && !(v instanceof DataView)
        ? Array.from(v as unknown as ArrayLike<number>, round7)
        : typeof v === 'number'
          ? round7(v)
          : v,
    ),
  );
}

// plotly.js 3 dropped string titles (`title: 'Loss'` draws nothing); send the {text} form it needs.
function normalizeTitles(layout: PlotLayout): PlotLayout {
  const out: PlotLayout = { ...layout };
  if (typeof out.title === 'string') out.title = { text: out.title };
  for (const key of Object.keys(out)) {
    const axis = out[key] as { title?: unknown } | undefined;
    if (/^[xy]axis\d*$/.test(key) && axis && typeof axis.title === 'string')
      out[key] = { ...axis, title: { text: axis.title } };
  }
  return out;
}

// Width capped at MAX_PLOT_WIDTH; in quick mode the title gets the quick-mode note as its subtitle.
function adjustLayout(layout: PlotLayout, quick: boolean): PlotLayout {
  const out: PlotLayout = { ...layout };
  if (typeof out.width === 'number' && out.width > MAX_PLOT_WIDTH) out.width = MAX_PLOT_WIDTH;
  if (quick) {
    const title = (out.title ?? {}) as { text?: string; subtitle?: { text?: string } };
    out.title = title.text
      ? { ...title, subtitle: { ...title.subtitle, text: QUICK_MODE_NOTE, font: { color: '#b00000' } } }
      : { ...title, text: QUICK_MODE_NOTE, font: { size: 12, color: '#b00000' } };
    // plotly places a subtitle inside the top margin: make room when a notebook set a small one.
    const margin = (out.margin ?? {}) as { t?: number };
    if (title.text && typeof margin.t === 'number' && margin.t < 90) out.margin = { ...margin, t: 90 };
  }
  return out;
}

function describe(data: PlotTrace[], layout: PlotLayout, frames: number): string {
  const title = typeof layout.title === 'string' ? layout.title : layout.title?.text;
  const types = [...new Set(data.map((t) => t.type ?? 'scatter'))].join(', ');
  const anim = frames ? `, ${frames} frames` : '';
  return `[plot${title ? ` "${title}"` : ''}: ${data.length} trace${data.length === 1 ? '' : 's'} (${types})${anim}]`;
}

/** The invisible output that defines window.Plotly for the html figures after it (plot_html.ts). */
export function plotlyLoaderBundle(): MimeBundle {
  return { 'text/html': plotlyLoaderHtml(), 'text/plain': '' };
}

// Whether this kernel has sent the loader (once per kernel: a restarted kernel sends it again).
let loaderSent = false;

/**
 * The MIME bundle showPlot sends: plotly JSON, html drawn by plotly.js, SVG fallback and text.
 * `quick` (default: LESSON_MODE is quick) adds the quick-mode note to the title.
 */
export function plotBundle(
  data: PlotTrace[],
  layout: PlotLayout = {},
  frames?: PlotFrame[],
  quick: boolean = lessonMode() === 'quick',
): MimeBundle {
  if (!Array.isArray(data)) throw new Error('showPlot: data must be an array of traces, e.g. [{x, y}]');
  data.forEach((t, i) => {
    if (t === null || typeof t !== 'object') throw new Error(`showPlot: trace ${i} is not an object`);
  });
  if (frames !== undefined) {
    if (!Array.isArray(frames)) throw new Error('showPlot: frames must be an array of {name, data}');
    frames.forEach((f, i) => {
      if (f === null || typeof f !== 'object' || !Array.isArray(f.data))
        throw new Error(`showPlot: frame ${i} needs a data array of traces`);
    });
  }
  const fig = plainJson({
    data,
    layout: adjustLayout(normalizeTitles(layout), quick),
    ...(frames ? { frames: frames.map((f) => (f.layout ? { ...f, layout: normalizeTitles(f.layout) } : f)) } : {}),
  });
  const svg = plotToSvg(fig.data, fig.layout);
  const text = describe(data, layout, frames?.length ?? 0);
  return {
    [PLOTLY_MIME]: fig,
    'text/html': plotHtml(fig, svg, text),
    'image/svg+xml': svg,
    'text/plain': text,
  };
}

/**
 * Shows a plotly figure in the notebook; outside a notebook it prints the text/plain line. Returns
 * nothing so the cell does not echo the figure (plotBundle gives the bundle itself).
 */
export function showPlot(data: PlotTrace[], layout: PlotLayout = {}, opts: ShowPlotOptions = {}): void {
  const bundle = plotBundle(data, layout, opts.frames);
  if (inKernel()) {
    if (!loaderSent) loaderSent = sendDisplay(plotlyLoaderBundle());
    sendDisplay(bundle, { displayId: opts.displayId, update: opts.update });
  } else if (!opts.update) console.log(bundle['text/plain']);
}

export { newDisplayId };
