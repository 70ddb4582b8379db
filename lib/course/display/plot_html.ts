// text/html for a plotly figure, for frontends that run the scripts of HTML outputs but have no plotly
// renderer (classic Notebook, nbconvert HTML). The div first holds the static SVG as an <img> (what
// shows without JavaScript, or in an untrusted notebook, whose HTML is sanitised); plotly.js then
// draws the interactive figure over it.
//
// plotly.js (4.8 MB minified, 1.5 MB gzipped) is loaded once per notebook: before its first figure a
// kernel sends one extra, invisible output, the loader, carrying it gzipped + base64 (~1.9 MB), which
// the browser decompresses (DecompressionStream). The loader is its own output so that figures updated
// in place (live loss curves) never resend it. Every figure queues its drawing until window.Plotly
// exists, so figures shown before the library finishes decompressing, and figures of a reopened
// notebook or an exported page (outputs render top to bottom, the loader first), draw too. A figure
// whose page never receives the library (the loader's output was cleared or re-run) keeps its static
// image.
import * as fs from 'fs';
import { gzipSync } from 'zlib';
import { randomBytes } from 'crypto';

let libraryPayload: string | undefined;

/** plotly.min.js from node_modules, gzipped and base64-encoded (read once per process). */
function plotlyGzipBase64(): string {
  if (libraryPayload === undefined) {
    let file: string;
    try {
      file = require.resolve('plotly.js-dist-min/plotly.min.js');
    } catch {
      throw new Error("plotly.js-dist-min is missing from node_modules: run 'npm install'");
    }
    libraryPayload = gzipSync(fs.readFileSync(file), { level: 9 }).toString('base64');
  }
  return libraryPayload;
}

// Defines window.Plotly once per page: later copies of the loader (another notebook's outputs on the
// same page) see the flag and do nothing. Drains the queue of figures waiting to be drawn.
export function plotlyLoaderHtml(): string {
  const payload = plotlyGzipBase64();
  return `<script type="text/javascript">
(function () {
  var w = window;
  if (w.Plotly || w.__coursePlotlyLoading) return;
  w.__coursePlotlyLoading = true;
  var bin = atob("${payload}");
  var bytes = new Uint8Array(bin.length);
  for (var i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
  var stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("gzip"));
  new Response(stream).text().then(function (code) {
    var s = document.createElement("script");
    s.text = code;
    document.head.appendChild(s);
    var q = w.__coursePlotlyQueue || [];
    w.__coursePlotlyQueue = [];
    q.forEach(function (draw) { draw(); });
  }, function (e) { console.warn("course: could not load plotly.js", e); });
})();
</script>`;
}

// JSON inside a <script>: '</' would end the script element early.
const scriptJson = (v: unknown) => JSON.stringify(v).replace(/<\//g, '<\\/').replace(/<!--/g, '<\\!--');

const escapeAttr = (s: string) => s.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;');

export interface PlotHtmlFigure {
  data: unknown[];
  layout: Record<string, unknown>;
  frames?: unknown[];
}

/** The text/html entry: the static image, replaced by plotly.js once the loader has defined it. */
export function plotHtml(fig: PlotHtmlFigure, svg: string, alt: string): string {
  const id = `course-plot-${randomBytes(6).toString('hex')}`;
  const width = typeof fig.layout.width === 'number' ? fig.layout.width : 640;
  const height = typeof fig.layout.height === 'number' ? fig.layout.height : 420;
  const img = `data:image/svg+xml;base64,${Buffer.from(svg).toString('base64')}`;
  const parts: string[] = [];
  parts.push(
    `<div class="course-plot" id="${id}" style="max-width:100%;width:${width}px;min-height:${height}px">` +
      `<img src="${img}" alt="${escapeAttr(alt)}" style="max-width:100%;height:auto"/></div>`,
  );
  parts.push(`<script type="text/javascript">
(function () {
  var w = window;
  var fig = ${scriptJson({ data: fig.data, layout: fig.layout, frames: fig.frames ?? [] })};
  function draw() {
    var el = document.getElementById("${id}");
    if (!el || el.getAttribute("data-drawn")) return;
    el.setAttribute("data-drawn", "1");
    el.innerHTML = "";
    el.style.minHeight = "";
    fig.config = { responsive: true, displaylogo: false };
    w.Plotly.newPlot(el, fig);
  }
  // The classic Notebook may run this script before the output is attached to the page: retry briefly.
  function whenAttached(tries) {
    if (document.getElementById("${id}")) draw();
    else if (tries > 0) setTimeout(function () { whenAttached(tries - 1); }, 50);
  }
  if (w.Plotly) whenAttached(100);
  else (w.__coursePlotlyQueue = w.__coursePlotlyQueue || []).push(function () { whenAttached(100); });
})();
</script>`);
  return parts.join('\n');
}
