// The subset of plotly's figure schema the course uses. Anything else plotly accepts may be passed
// too (it reaches plotly untouched); the static fallback draws only what is listed here.

export type Values = ArrayLike<number> | ArrayLike<string> | (number | string | null)[];

export interface PlotTrace {
  /** 'scatter' (default), 'scattergl', 'bar' or 'heatmap' are drawn by the static fallback. */
  type?: string;
  x?: Values;
  y?: Values;
  /** heatmap values, z[row][col]; row 0 is drawn at the bottom like plotly does. */
  z?: ArrayLike<number>[] | number[][];
  /** 'lines', 'markers' or 'lines+markers' (plotly's default: markers too below 20 points). */
  mode?: string;
  name?: string;
  showlegend?: boolean;
  line?: { color?: string; width?: number; dash?: string };
  marker?: { color?: string; size?: number };
  colorscale?: string | [number, string][];
  zmin?: number;
  zmax?: number;
  [key: string]: unknown;
}

export interface AxisLayout {
  title?: string | { text?: string };
  type?: 'linear' | 'log' | 'category' | '-';
  /** As in plotly: for a log axis the range is in log10 units. */
  range?: [number, number];
  autorange?: boolean | 'reversed';
  [key: string]: unknown;
}

export interface PlotLayout {
  /** plotly 3 needs the {text} form; showPlot converts a string. subtitle: a second, smaller line. */
  title?: string | { text?: string; subtitle?: { text?: string; [key: string]: unknown }; [key: string]: unknown };
  xaxis?: AxisLayout;
  yaxis?: AxisLayout;
  width?: number;
  height?: number;
  showlegend?: boolean;
  [key: string]: unknown;
}

/** One animation frame (plotly's `frames`): `data` replaces the traces, `layout` patches the layout. */
export interface PlotFrame {
  name: string;
  data: PlotTrace[];
  layout?: PlotLayout;
  [key: string]: unknown;
}
