// Plotly figures in notebooks. The figure travels as one display_data bundle: plotly's own MIME type
// (interactive in JupyterLab / VS Code), a static SVG from our fallback renderer (classic Notebook,
// nbconvert HTML, GitHub) and a one-line text/plain. Each frontend shows the richest type it knows.
import { inKernel, sendDisplay, MimeBundle, newDisplayId } from '../../core/kernel_display';
import { plotToSvg } from './svg_fallback';
import type { PlotLayout, PlotTrace } from './plot_types';

export const PLOTLY_MIME = 'application/vnd.plotly.v1+json';

export interface ShowPlotOptions {
  /** Id of an earlier showPlot output to overwrite (live training curves); see newDisplayId(). */
  displayId?: string;
  /** Set with displayId on every call after the first. */
  update?: boolean;
}

// Typed arrays become plain arrays and NaN/Infinity become null: the MIME payload must be plain JSON.
function plainJson<T>(value: T): T {
  return JSON.parse(
    JSON.stringify(value, (_k, v) =>
      ArrayBuffer.isView(v) && !(v instanceof DataView) ? Array.from(v as unknown as ArrayLike<number>) : v,
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

function describe(data: PlotTrace[], layout: PlotLayout): string {
  const title = typeof layout.title === 'string' ? layout.title : layout.title?.text;
  const types = [...new Set(data.map((t) => t.type ?? 'scatter'))].join(', ');
  return `[plot${title ? ` "${title}"` : ''}: ${data.length} trace${data.length === 1 ? '' : 's'} (${types})]`;
}

/** The MIME bundle showPlot sends: plotly JSON, SVG fallback and text. */
export function plotBundle(data: PlotTrace[], layout: PlotLayout = {}): MimeBundle {
  if (!Array.isArray(data)) throw new Error('showPlot: data must be an array of traces, e.g. [{x, y}]');
  data.forEach((t, i) => {
    if (t === null || typeof t !== 'object') throw new Error(`showPlot: trace ${i} is not an object`);
  });
  const fig = plainJson({ data, layout: normalizeTitles(layout) });
  return {
    [PLOTLY_MIME]: fig,
    'image/svg+xml': plotToSvg(fig.data, fig.layout),
    'text/plain': describe(data, layout),
  };
}

/**
 * Shows a plotly figure in the notebook; outside a notebook it prints the text/plain line. Returns
 * nothing so the cell does not echo the figure (plotBundle gives the bundle itself).
 */
export function showPlot(data: PlotTrace[], layout: PlotLayout = {}, opts: ShowPlotOptions = {}): void {
  const bundle = plotBundle(data, layout);
  if (inKernel()) sendDisplay(bundle, { displayId: opts.displayId, update: opts.update });
  else if (!opts.update) console.log(bundle['text/plain']);
}

export { newDisplayId };
