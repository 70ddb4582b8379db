// A small static renderer for plotly figures: scatter (lines/markers), bar and heatmap traces on one
// pair of axes, with ticks, axis titles, a title and a legend. It exists so that frontends without
// the plotly renderer (classic Notebook, nbconvert HTML, GitHub) still show the figure; plotly itself
// stays the real renderer. Subplots, annotations and shapes are ignored (a note says what was skipped).
import { randomBytes } from 'crypto';
import { createCanvas } from 'canvas';
import type { PlotLayout, PlotTrace, AxisLayout, Values } from './plot_types';

// plotly.js's default colorway (D3 category10).
const COLORWAY = [
  '#1f77b4',
  '#ff7f0e',
  '#2ca02c',
  '#d62728',
  '#9467bd',
  '#8c564b',
  '#e377c2',
  '#7f7f7f',
  '#bcbd22',
  '#17becf',
];

const COLORSCALES: Record<string, [number, string][]> = {
  Viridis: [
    [0, '#440154'],
    [0.25, '#3b528b'],
    [0.5, '#21918c'],
    [0.75, '#5ec962'],
    [1, '#fde725'],
  ],
  Greys: [
    [0, '#000000'],
    [1, '#ffffff'],
  ],
  Gray: [
    [0, '#000000'],
    [1, '#ffffff'],
  ],
  RdBu: [
    [0, '#053061'],
    [0.25, '#4393c3'],
    [0.5, '#f7f7f7'],
    [0.75, '#d6604d'],
    [1, '#67001f'],
  ],
  Hot: [
    [0, '#000000'],
    [0.3, '#e60000'],
    [0.6, '#ffd200'],
    [1, '#ffffff'],
  ],
};

const FONT = 'font-family="sans-serif"';

// Ids inside an SVG are global to the page it is inlined in: one figure's clipPath id reused by the
// next figure clipped every later figure to the first one's plot area. So every SVG gets its own
// prefix: a per-process random part (two kernels' outputs on one page) and a counter.
const ID_PREFIX = `p${randomBytes(3).toString('hex')}`;
let idCounter = 0;

// Approximate text width in px for the 12-px sans-serif legend font (no font metrics here).
const textWidth = (s: string) => s.length * 6.6;

export function escapeXml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

function titleText(t: string | { text?: string } | undefined): string {
  return typeof t === 'string' ? t : (t?.text ?? '');
}

function toArray(v: Values | undefined): (number | string | null)[] {
  return v === undefined ? [] : Array.from(v as ArrayLike<number | string | null>);
}

const num = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

/** Round tick positions covering [lo, hi], about `count` of them (steps 1, 2, 5 x 10^k). */
export function niceTicks(lo: number, hi: number, count = 6): number[] {
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? 10 * mag;
  const ticks: number[] = [];
  for (let t = Math.ceil(lo / step - 1e-9) * step; t <= hi + step * 1e-9; t += step) {
    ticks.push(Math.abs(t) < step * 1e-9 ? 0 : t);
  }
  return ticks;
}

/** Tick label: enough decimals for the step, exponent form for very large or small values. */
export function formatTick(v: number, step: number): string {
  if (v === 0) return '0';
  const a = Math.abs(v);
  if (a >= 1e5 || a < 1e-4)
    return v.toExponential(Math.max(0, Math.min(3, -Math.floor(Math.log10(step / a)) - 1))).replace('e+', 'e');
  const decimals = Math.max(0, Math.min(10, -Math.floor(Math.log10(step) + 1e-9)));
  return v.toFixed(decimals);
}

interface Axis {
  kind: 'linear' | 'log' | 'category';
  lo: number; // in axis units (log10 for log axes, index for categories)
  hi: number;
  cats: string[];
  reversed: boolean;
}

// Value -> axis units, or NaN when the value cannot be shown on this axis.
function axisUnit(ax: Axis, v: number | string | null): number {
  if (ax.kind === 'category') return v === null ? NaN : ax.cats.indexOf(String(v));
  if (!num(v)) return NaN;
  if (ax.kind === 'log') return v > 0 ? Math.log10(v) : NaN;
  return v;
}

function buildAxis(
  values: (number | string | null)[],
  forceCategory: boolean,
  extra: number[],
  layout: AxisLayout | undefined,
  pad: number,
): Axis {
  const isCat =
    layout?.type === 'category' ||
    (layout?.type !== 'linear' &&
      layout?.type !== 'log' &&
      (forceCategory || values.some((v) => typeof v === 'string')));
  const reversed = layout?.autorange === 'reversed';
  if (isCat) {
    const cats: string[] = [];
    for (const v of values) if (v !== null && !cats.includes(String(v))) cats.push(String(v));
    return { kind: 'category', lo: -0.5, hi: Math.max(cats.length, 1) - 0.5, cats, reversed };
  }
  const kind = layout?.type === 'log' ? 'log' : 'linear';
  const ax: Axis = { kind, lo: 0, hi: 1, cats: [], reversed };
  const units = [...values, ...extra].map((v) => axisUnit(ax, v)).filter(Number.isFinite);
  if (layout?.range && num(layout.range[0]) && num(layout.range[1])) {
    ax.lo = Math.min(layout.range[0], layout.range[1]);
    ax.hi = Math.max(layout.range[0], layout.range[1]);
    ax.reversed = layout.range[0] > layout.range[1];
    return ax;
  }
  if (units.length === 0) return ax;
  let lo = Math.min(...units);
  let hi = Math.max(...units);
  if (hi === lo) {
    lo -= 1;
    hi += 1;
  }
  const p = (hi - lo) * pad;
  ax.lo = lo - p;
  ax.hi = hi + p;
  return ax;
}

function ticksFor(ax: Axis, count: number): { at: number; label: string }[] {
  if (ax.kind === 'category') {
    const every = Math.max(1, Math.ceil(ax.cats.length / 12));
    return ax.cats.map((c, i) => ({ at: i, label: c })).filter((_, i) => i % every === 0);
  }
  if (ax.kind === 'log') {
    const out: { at: number; label: string }[] = [];
    for (let k = Math.ceil(ax.lo); k <= Math.floor(ax.hi); k++)
      out.push({ at: k, label: formatTick(10 ** k, 10 ** k) });
    if (out.length >= 2) return out;
  }
  const t = niceTicks(ax.lo, ax.hi, count);
  const step = t.length > 1 ? t[1] - t[0] : Math.abs(t[0]) || 1;
  return t.map((v) => ({ at: v, label: ax.kind === 'log' ? formatTick(10 ** v, 10 ** v / 10) : formatTick(v, step) }));
}

function parseColor(c: string): [number, number, number] {
  const m = /^#([0-9a-f]{6})$/i.exec(c);
  if (!m) return [0, 0, 0];
  const n = parseInt(m[1], 16);
  return [(n >> 16) & 255, (n >> 8) & 255, n & 255];
}

/** Colour for t in [0,1] on a plotly colorscale (name or [[pos, '#rrggbb'], ...]). */
export function colorAt(scale: string | [number, string][] | undefined, t: number): [number, number, number] {
  const stops = Array.isArray(scale) ? scale : (COLORSCALES[scale ?? 'Viridis'] ?? COLORSCALES.Viridis);
  const x = Math.min(1, Math.max(0, Number.isFinite(t) ? t : 0));
  for (let i = 1; i < stops.length; i++) {
    if (x <= stops[i][0] || i === stops.length - 1) {
      const [p0, c0] = stops[i - 1];
      const [p1, c1] = stops[i];
      const f = p1 > p0 ? Math.min(1, Math.max(0, (x - p0) / (p1 - p0))) : 0;
      const a = parseColor(c0);
      const b = parseColor(c1);
      return [0, 1, 2].map((k) => Math.round(a[k] + (b[k] - a[k]) * f)) as [number, number, number];
    }
  }
  return parseColor(stops[0][1]);
}

const fmt = (v: number) => (Math.round(v * 100) / 100).toString();

/** Renders a plotly figure to a standalone SVG string. */
export function plotToSvg(data: PlotTrace[], layout: PlotLayout = {}): string {
  if (!Array.isArray(data)) throw new Error('plotToSvg: data must be an array of traces');
  const W = layout.width ?? 640;
  const H = layout.height ?? 420;
  const uid = `${ID_PREFIX}-${++idCounter}`;
  const title = titleText(layout.title);
  const subtitle =
    typeof layout.title === 'object' ? titleText((layout.title as { subtitle?: { text?: string } }).subtitle) : '';
  const traces = data.map((t, i) => ({
    t,
    type: t.type ?? 'scatter',
    color: t.line?.color ?? t.marker?.color ?? COLORWAY[i % COLORWAY.length],
  }));
  const drawable = traces.filter((d) => ['scatter', 'scattergl', 'bar', 'heatmap'].includes(d.type));
  const skipped = traces.filter((d) => !drawable.includes(d)).map((d) => d.type);
  const legendItems = drawable.filter(
    (d) =>
      d.type !== 'heatmap' &&
      d.t.showlegend !== false &&
      (layout.showlegend === true ||
        (layout.showlegend !== false && drawable.filter((e) => e.type !== 'heatmap').length > 1)),
  );
  const heat = drawable.find((d) => d.type === 'heatmap');

  // Axis extents from every drawable trace (heatmap cells span +-0.5 around their centres).
  const xs: (number | string | null)[] = [];
  const ys: (number | string | null)[] = [];
  const yExtra: number[] = [];
  const xExtra: number[] = [];
  let barX = false;
  for (const { t, type } of drawable) {
    if (type === 'heatmap') {
      const z = t.z ?? [];
      const nr = z.length;
      const nc = nr ? z[0].length : 0;
      const hx = t.x ? toArray(t.x) : null;
      const hy = t.y ? toArray(t.y) : null;
      if (hx && hx.some((v) => typeof v === 'string')) xs.push(...hx);
      else xExtra.push(...cellEdges(hx as number[] | null, nc));
      if (hy && hy.some((v) => typeof v === 'string')) ys.push(...hy);
      else yExtra.push(...cellEdges(hy as number[] | null, nr));
      continue;
    }
    const y = toArray(t.y);
    const x = t.x ? toArray(t.x) : y.map((_, i) => i);
    xs.push(...x);
    ys.push(...y);
    if (type === 'bar') {
      yExtra.push(0);
      barX = true;
    }
  }
  const xAxis = buildAxis(
    xs,
    barX && xs.some((v) => typeof v === 'string'),
    xExtra,
    layout.xaxis,
    heat || barX ? 0 : 0.02,
  );
  const yAxis = buildAxis(ys, false, yExtra, layout.yaxis, heat ? 0 : 0.05);

  // Legend: a column right of the plot, or rows under it when the layout asks for a horizontal legend
  // or the names would take more than a third of the width (long names are never cut).
  const legendNames = legendItems.map((d) => d.t.name ?? `trace ${drawable.indexOf(d)}`);
  const columnW = legendItems.length ? 30 + Math.max(...legendNames.map(textWidth)) : 0;
  const legendLayout = layout.legend as { orientation?: string } | undefined;
  const horizontal = legendItems.length > 0 && (legendLayout?.orientation === 'h' || columnW > W / 3);
  const legendW = legendItems.length && !horizontal ? columnW : 0;
  // Horizontal legend items flow left to right and wrap; their positions are fixed before the margins.
  const legendRows: { name: string; d: (typeof legendItems)[number]; dx: number; row: number }[] = [];
  if (horizontal) {
    let dx = 0;
    let row = 0;
    legendItems.forEach((d, k) => {
      const w = 30 + textWidth(legendNames[k]);
      if (dx > 0 && 64 + dx + w > W - 8) {
        row++;
        dx = 0;
      }
      legendRows.push({ name: legendNames[k], d, dx, row });
      dx += w + 10;
    });
  }
  const legendH = horizontal ? 18 * (legendRows[legendRows.length - 1].row + 1) + 6 : 0;
  const colorbarW = heat ? 60 : 0;
  const m = { l: 64, r: 16 + legendW + colorbarW, t: (title ? 40 : 16) + (subtitle ? 16 : 0), b: 48 + legendH };
  const pw = Math.max(10, W - m.l - m.r);
  const ph = Math.max(10, H - m.t - m.b);
  const px = (u: number) => m.l + ((xAxis.reversed ? xAxis.hi - u : u - xAxis.lo) / (xAxis.hi - xAxis.lo)) * pw;
  const py = (u: number) => m.t + ph - ((yAxis.reversed ? yAxis.hi - u : u - yAxis.lo) / (yAxis.hi - yAxis.lo)) * ph;

  const out: string[] = [];
  // max-width: never wider than the output area (the viewBox keeps the drawing's proportions).
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" style="max-width:100%;height:auto">`,
  );
  out.push(`<rect x="0" y="0" width="${W}" height="${H}" fill="#ffffff"/>`);
  out.push(
    `<defs><clipPath id="${uid}-plotarea"><rect x="${m.l}" y="${m.t}" width="${pw}" height="${ph}"/></clipPath></defs>`,
  );
  out.push(
    `<rect class="plotarea" x="${m.l}" y="${m.t}" width="${pw}" height="${ph}" fill="#ffffff" stroke="#444444" stroke-width="1"/>`,
  );

  // Grid lines and tick labels.
  const xt = ticksFor(xAxis, Math.max(2, Math.round(pw / 90)));
  const yt = ticksFor(yAxis, Math.max(2, Math.round(ph / 60)));
  out.push(`<g class="xticks" ${FONT} font-size="11" text-anchor="middle" fill="#444444">`);
  for (const { at, label } of xt) {
    const x = fmt(px(at));
    out.push(
      `<line x1="${x}" y1="${m.t}" x2="${x}" y2="${m.t + ph}" stroke="#eeeeee"/><line x1="${x}" y1="${m.t + ph}" x2="${x}" y2="${m.t + ph + 4}" stroke="#444444"/><text x="${x}" y="${m.t + ph + 16}">${escapeXml(label)}</text>`,
    );
  }
  out.push('</g>');
  out.push(`<g class="yticks" ${FONT} font-size="11" text-anchor="end" fill="#444444">`);
  for (const { at, label } of yt) {
    const y = fmt(py(at));
    out.push(
      `<line x1="${m.l}" y1="${y}" x2="${m.l + pw}" y2="${y}" stroke="#eeeeee"/><line x1="${m.l - 4}" y1="${y}" x2="${m.l}" y2="${y}" stroke="#444444"/><text x="${m.l - 6}" y="${y}" dy="0.35em">${escapeXml(label)}</text>`,
    );
  }
  out.push('</g>');

  out.push(`<g class="traces" clip-path="url(#${uid}-plotarea)">`);
  const bars = drawable.filter((d) => d.type === 'bar');
  for (const [i, { t, type, color }] of drawable.entries()) {
    if (type === 'heatmap') {
      out.push(heatmapImage(t, xAxis, yAxis, px, py));
    } else if (type === 'bar') {
      out.push(
        barRects(
          t,
          color,
          bars.findIndex((b) => b.t === t),
          bars.length,
          xAxis,
          yAxis,
          px,
          py,
          i,
        ),
      );
    } else {
      out.push(scatterMarks(t, color, xAxis, yAxis, px, py, i));
    }
  }
  out.push('</g>');

  if (title)
    out.push(
      `<text class="title" x="${W / 2}" y="24" ${FONT} font-size="16" text-anchor="middle" fill="#222222">${escapeXml(title)}</text>`,
    );
  if (subtitle)
    out.push(
      `<text class="subtitle" x="${W / 2}" y="${title ? 42 : 24}" ${FONT} font-size="12" text-anchor="middle" fill="#b00000">${escapeXml(subtitle)}</text>`,
    );
  const xTitle = titleText(layout.xaxis?.title);
  const yTitle = titleText(layout.yaxis?.title);
  if (xTitle)
    out.push(
      `<text class="xtitle" x="${m.l + pw / 2}" y="${H - 10 - legendH}" ${FONT} font-size="12" text-anchor="middle" fill="#222222">${escapeXml(xTitle)}</text>`,
    );
  if (yTitle)
    out.push(
      `<text class="ytitle" transform="translate(14 ${m.t + ph / 2}) rotate(-90)" ${FONT} font-size="12" text-anchor="middle" fill="#222222">${escapeXml(yTitle)}</text>`,
    );

  if (legendItems.length) {
    const swatchAt = horizontal
      ? legendRows.map((r) => ({ lx: m.l + r.dx, y: H - legendH + 6 + r.row * 18 }))
      : legendItems.map((_, k) => ({ lx: m.l + pw + colorbarW + 16, y: m.t + 10 + k * 18 }));
    out.push(`<g class="legend${horizontal ? ' horizontal' : ''}" ${FONT} font-size="12" fill="#222222">`);
    legendItems.forEach((d, k) => {
      const { lx, y } = swatchAt[k];
      const name = legendNames[k];
      // A markers-only trace shows a dot in its legend, as in plotly.
      const dotOnly = d.t.mode !== undefined && !d.t.mode.includes('lines');
      const swatch =
        d.type === 'bar'
          ? `<rect x="${lx}" y="${y - 5}" width="14" height="10" fill="${escapeXml(d.color)}"/>`
          : dotOnly
            ? `<circle cx="${lx + 7}" cy="${y}" r="3" fill="${escapeXml(typeof d.t.marker?.color === 'string' ? d.t.marker.color : d.color)}"/>`
            : `<line x1="${lx}" y1="${y}" x2="${lx + 14}" y2="${y}" stroke="${escapeXml(d.color)}" stroke-width="2"/>`;
      out.push(`${swatch}<text x="${lx + 20}" y="${y}" dy="0.35em">${escapeXml(name)}</text>`);
    });
    out.push('</g>');
  }
  if (heat) out.push(colorbar(heat.t, m.l + pw + 12, m.t, ph, `${uid}-cbar`));
  if (skipped.length) {
    out.push(
      `<text class="note" x="${W - 4}" y="${H - 4}" ${FONT} font-size="10" text-anchor="end" fill="#999999">static preview: ${escapeXml([...new Set(skipped)].join(', '))} not drawn</text>`,
    );
  }
  out.push('</svg>');
  return out.join('\n');
}

// Edges of heatmap cells given their centres (or indices when no coordinates are given).
function cellEdges(centres: number[] | null, n: number): number[] {
  if (n === 0) return [];
  const c = centres && centres.length >= n ? centres.slice(0, n) : Array.from({ length: n }, (_, i) => i);
  const half = n > 1 ? (c[1] - c[0]) / 2 : 0.5;
  return [c[0] - half, c[n - 1] + (n > 1 ? (c[n - 1] - c[n - 2]) / 2 : 0.5)];
}

type ToPx = (u: number) => number;

function scatterMarks(t: PlotTrace, color: string, xa: Axis, ya: Axis, px: ToPx, py: ToPx, index: number): string {
  const y = toArray(t.y);
  const x = t.x ? toArray(t.x) : y.map((_, i) => i);
  const n = Math.min(x.length, y.length);
  const mode = t.mode ?? (n < 20 ? 'lines+markers' : 'lines');
  const parts: string[] = [`<g class="trace scatter" data-index="${index}">`];
  // Gaps (null/NaN/non-positive on log axes) break the line, as in plotly.
  const segments: string[][] = [[]];
  const pts: [string, string][] = [];
  for (let i = 0; i < n; i++) {
    const ux = axisUnit(xa, x[i]);
    const uy = axisUnit(ya, y[i]);
    if (!Number.isFinite(ux) || !Number.isFinite(uy)) {
      if (segments[segments.length - 1].length) segments.push([]);
      continue;
    }
    const p: [string, string] = [fmt(px(ux)), fmt(py(uy))];
    pts.push(p);
    segments[segments.length - 1].push(`${p[0]},${p[1]}`);
  }
  if (mode.includes('lines')) {
    const width = t.line?.width ?? 2;
    const dash =
      t.line?.dash === 'dash' ? ' stroke-dasharray="6 4"' : t.line?.dash === 'dot' ? ' stroke-dasharray="2 3"' : '';
    for (const s of segments) {
      if (s.length)
        parts.push(
          `<polyline points="${s.join(' ')}" fill="none" stroke="${escapeXml(color)}" stroke-width="${width}"${dash}/>`,
        );
    }
  }
  if (mode.includes('markers')) {
    const r = (t.marker?.size ?? 6) / 2;
    const mc = typeof t.marker?.color === 'string' ? t.marker.color : color;
    // One path for all markers: a zero-length segment with round caps is a dot of diameter 2r
    // (~15 bytes a point instead of ~55 for a <circle>; lesson 02 draws 7000 points per figure).
    if (pts.length)
      parts.push(
        `<path class="markers" d="${pts.map(([cx, cy]) => `M${cx} ${cy}h0`).join('')}" stroke="${escapeXml(mc)}" stroke-width="${2 * r}" stroke-linecap="round" fill="none"/>`,
      );
  }
  parts.push('</g>');
  return parts.join('');
}

function barRects(
  t: PlotTrace,
  color: string,
  k: number,
  nBars: number,
  xa: Axis,
  ya: Axis,
  px: ToPx,
  py: ToPx,
  index: number,
): string {
  const y = toArray(t.y);
  const x = t.x ? toArray(t.x) : y.map((_, i) => i);
  // Bars of all bar traces share 80% of the smallest x spacing, side by side (plotly's 'group').
  const us = x
    .map((v) => axisUnit(xa, v))
    .filter(Number.isFinite)
    .sort((a, b) => a - b);
  let spacing = Infinity;
  for (let i = 1; i < us.length; i++) if (us[i] > us[i - 1]) spacing = Math.min(spacing, us[i] - us[i - 1]);
  if (!Number.isFinite(spacing)) spacing = 1;
  const slot = (0.8 * spacing) / nBars;
  const base = ya.kind === 'log' ? ya.lo : 0;
  const parts: string[] = [`<g class="trace bar" data-index="${index}">`];
  for (let i = 0; i < Math.min(x.length, y.length); i++) {
    const ux = axisUnit(xa, x[i]);
    const uy = axisUnit(ya, y[i]);
    if (!Number.isFinite(ux) || !Number.isFinite(uy)) continue;
    const x0 = px(ux - 0.4 * spacing + k * slot);
    const x1 = px(ux - 0.4 * spacing + (k + 1) * slot);
    const y0 = py(Math.max(base, Math.min(uy, base)));
    const y1 = py(Math.max(uy, base));
    parts.push(
      `<rect x="${fmt(Math.min(x0, x1))}" y="${fmt(Math.min(y0, y1))}" width="${fmt(Math.abs(x1 - x0))}" height="${fmt(Math.abs(y1 - y0))}" fill="${escapeXml(color)}"/>`,
    );
  }
  parts.push('</g>');
  return parts.join('');
}

function zRange(t: PlotTrace): [number, number] {
  let lo = Infinity;
  let hi = -Infinity;
  for (const row of t.z ?? [])
    for (const v of Array.from(row))
      if (num(v)) {
        lo = Math.min(lo, v);
        hi = Math.max(hi, v);
      }
  lo = t.zmin ?? lo;
  hi = t.zmax ?? hi;
  if (!Number.isFinite(lo)) return [0, 1];
  return hi > lo ? [lo, hi] : [lo, lo + 1];
}

// Heatmap cells as one embedded PNG (one pixel per cell, scaled without smoothing): far smaller
// than one <rect> per cell for 28x28 or 64x64 maps.
function heatmapImage(t: PlotTrace, xa: Axis, ya: Axis, px: ToPx, py: ToPx): string {
  const z = (t.z ?? []).map((r) => Array.from(r));
  const nr = z.length;
  const nc = nr ? Math.max(...z.map((r) => r.length)) : 0;
  if (!nr || !nc) return '';
  const [lo, hi] = zRange(t);
  const canvas = createCanvas(nc, nr);
  const ctx = canvas.getContext('2d');
  const img = ctx.createImageData(nc, nr);
  for (let r = 0; r < nr; r++) {
    for (let c = 0; c < nc; c++) {
      const v = z[r][c];
      const o = ((nr - 1 - r) * nc + c) * 4; // row 0 at the bottom
      if (!num(v)) continue; // transparent gap
      const [R, G, B] = colorAt(t.colorscale, (v - lo) / (hi - lo));
      img.data[o] = R;
      img.data[o + 1] = G;
      img.data[o + 2] = B;
      img.data[o + 3] = 255;
    }
  }
  ctx.putImageData(img, 0, 0);
  const hx = t.x ? (toArray(t.x) as number[]) : null;
  const hy = t.y ? (toArray(t.y) as number[]) : null;
  const categorical = (v: (number | string | null)[] | null) => !!v && v.some((e) => typeof e === 'string');
  const [ex0, ex1] = categorical(hx) ? [-0.5, nc - 0.5] : cellEdges(hx, nc);
  const [ey0, ey1] = categorical(hy) ? [-0.5, nr - 0.5] : cellEdges(hy, nr);
  const x0 = px(ex0),
    x1 = px(ex1),
    y0 = py(ey0),
    y1 = py(ey1);
  const href = 'data:image/png;base64,' + canvas.toBuffer('image/png').toString('base64');
  return `<image class="heatmap" x="${fmt(Math.min(x0, x1))}" y="${fmt(Math.min(y0, y1))}" width="${fmt(Math.abs(x1 - x0))}" height="${fmt(Math.abs(y1 - y0))}" preserveAspectRatio="none" style="image-rendering:pixelated" href="${href}"/>`;
}

function colorbar(t: PlotTrace, x: number, top: number, h: number, id: string): string {
  const [lo, hi] = zRange(t);
  const stops = Array.from({ length: 11 }, (_, i) => {
    const [r, g, b] = colorAt(t.colorscale, i / 10);
    return `<stop offset="${i / 10}" stop-color="rgb(${r},${g},${b})"/>`;
  });
  const ticks = niceTicks(lo, hi, 5);
  const step = ticks.length > 1 ? ticks[1] - ticks[0] : 1;
  const labels = ticks.map((v) => {
    const y = fmt(top + h - ((v - lo) / (hi - lo)) * h);
    return `<text x="${x + 18}" y="${y}" dy="0.35em">${escapeXml(formatTick(v, step))}</text>`;
  });
  return `<g class="colorbar" ${FONT} font-size="10" fill="#444444"><defs><linearGradient id="${id}" x1="0" y1="1" x2="0" y2="0">${stops.join('')}</linearGradient></defs><rect x="${x}" y="${top}" width="14" height="${h}" fill="url(#${id})"/>${labels.join('')}</g>`;
}
