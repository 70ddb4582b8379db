// Writes every figure of executed notebooks as PNG: image/png outputs are decoded as they are,
// plotly figures (and SVG-only outputs) are drawn by plotly.js / the browser in headless Chromium,
// launched once for the whole run.
//   npx tsx scripts/render-figures.ts [--in build/lessons] [--out build/figures]
// File names: <notebook-stem>_<cell-index>_<output-index>.png (indices count all cells, from 0).
import * as fs from 'fs';
import * as path from 'path';
import type { Browser, Page } from 'playwright-core';

const PLOTLY_MIME = 'application/vnd.plotly.v1+json';
const CHROMIUM_FLAGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];

export interface RenderOptions {
  inDir: string;
  outDir: string;
  /** Chromium binary (default $CHROMIUM_PATH or /usr/bin/chromium). */
  chromiumPath?: string;
  log?: (line: string) => void;
}

export interface RenderedFigure {
  file: string;
  kind: 'png' | 'plotly' | 'svg';
  width: number;
  height: number;
}

interface NbOutput {
  output_type: string;
  data?: Record<string, unknown>;
}

// nbformat stores text either as one string or as a list of lines.
const joinText = (v: unknown): string => (Array.isArray(v) ? v.join('') : String(v));

function pngSize(png: Buffer): { width: number; height: number } {
  if (png.length < 24 || png.toString('latin1', 1, 4) !== 'PNG') throw new Error('not a PNG');
  return { width: png.readUInt32BE(16), height: png.readUInt32BE(20) };
}

// One browser and one page with plotly.js loaded, started on the first figure that needs it.
class Renderer {
  private browser?: Browser;
  private page?: Page;
  constructor(private readonly chromiumPath: string) {}

  private async ready(): Promise<Page> {
    if (this.page) return this.page;
    if (!fs.existsSync(this.chromiumPath)) {
      throw new Error(
        `chromium not found at ${this.chromiumPath}: install chromium: apt-get install chromium (or set CHROMIUM_PATH)`,
      );
    }
    const { chromium } = await import('playwright-core');
    this.browser = await chromium.launch({ executablePath: this.chromiumPath, headless: true, args: CHROMIUM_FLAGS });
    this.page = await this.browser.newPage();
    await this.page.setContent('<!doctype html><html><body style="margin:0"><div id="fig"></div></body></html>');
    await this.page.addScriptTag({ path: require.resolve('plotly.js-dist-min') });
    return this.page;
  }

  async plotly(fig: { data?: unknown; layout?: Record<string, unknown> }): Promise<Buffer> {
    const page = await this.ready();
    // plotly's own defaults when the layout gives no size.
    const width = Number(fig.layout?.width) || 700;
    const height = Number(fig.layout?.height) || 450;
    const url = await page.evaluate(
      async ({ fig, width, height }) => {
        const P = (globalThis as unknown as { Plotly: { toImage(f: unknown, o: unknown): Promise<string> } }).Plotly;
        return P.toImage(
          { data: fig.data ?? [], layout: fig.layout ?? {} },
          { format: 'png', width, height, scale: 1 },
        );
      },
      { fig, width, height },
    );
    return Buffer.from(url.slice(url.indexOf(',') + 1), 'base64');
  }

  async svg(svg: string): Promise<Buffer> {
    const page = await this.ready();
    await page.setViewportSize({ width: 2000, height: 2000 });
    await page.evaluate((s) => {
      document.getElementById('fig')!.innerHTML = s;
    }, svg);
    const el = await page.$('#fig > svg');
    if (!el) throw new Error('SVG output has no <svg> element');
    const png = await el.screenshot({ type: 'png' });
    await page.evaluate(() => {
      document.getElementById('fig')!.innerHTML = '';
    });
    return png;
  }

  async close(): Promise<void> {
    await this.browser?.close();
  }
}

/** Renders all figures of all notebooks in inDir into outDir; returns what it wrote. */
export async function renderFigures(opts: RenderOptions): Promise<RenderedFigure[]> {
  const log = opts.log ?? ((s: string) => console.log(s));
  if (!fs.existsSync(opts.inDir))
    throw new Error(`render-figures: no folder ${opts.inDir} (execute the lessons first)`);
  const notebooks = fs
    .readdirSync(opts.inDir)
    .filter((f) => f.endsWith('.ipynb'))
    .sort();
  fs.mkdirSync(opts.outDir, { recursive: true });
  const renderer = new Renderer(opts.chromiumPath ?? process.env.CHROMIUM_PATH ?? '/usr/bin/chromium');
  const written: RenderedFigure[] = [];
  try {
    for (const nbFile of notebooks) {
      const stem = path.basename(nbFile, '.ipynb');
      let nb: { cells?: { outputs?: NbOutput[] }[] };
      try {
        nb = JSON.parse(fs.readFileSync(path.join(opts.inDir, nbFile), 'utf8'));
      } catch (e) {
        throw new Error(`render-figures: ${nbFile} is not valid notebook JSON (${(e as Error).message})`);
      }
      for (const [ci, cell] of (nb.cells ?? []).entries()) {
        for (const [oi, out] of (cell.outputs ?? []).entries()) {
          if (out.output_type !== 'display_data' && out.output_type !== 'execute_result') continue;
          const data = out.data ?? {};
          let png: Buffer;
          let kind: RenderedFigure['kind'];
          // plotly first: it is the real renderer; our SVG is only its stand-in.
          if (data[PLOTLY_MIME]) {
            const fig =
              typeof data[PLOTLY_MIME] === 'string' ? JSON.parse(data[PLOTLY_MIME] as string) : data[PLOTLY_MIME];
            png = await renderer.plotly(fig as { data?: unknown; layout?: Record<string, unknown> });
            kind = 'plotly';
          } else if (data['image/png']) {
            png = Buffer.from(joinText(data['image/png']).replace(/\s/g, ''), 'base64');
            kind = 'png';
          } else if (data['image/svg+xml']) {
            png = await renderer.svg(joinText(data['image/svg+xml']));
            kind = 'svg';
          } else {
            continue;
          }
          const { width, height } = pngSize(png);
          const file = path.join(opts.outDir, `${stem}_${ci}_${oi}.png`);
          fs.writeFileSync(file, png);
          written.push({ file, kind, width, height });
          log(`${file}  ${kind} ${width}x${height}`);
        }
      }
    }
  } finally {
    await renderer.close();
  }
  log(
    `${written.length} figure${written.length === 1 ? '' : 's'} from ${notebooks.length} notebook${notebooks.length === 1 ? '' : 's'} in ${opts.outDir}`,
  );
  return written;
}

function parseArgs(argv: string[]): RenderOptions {
  const opts: RenderOptions = { inDir: 'build/lessons', outDir: 'build/figures' };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if ((a === '--in' || a === '--out') && argv[i + 1]) {
      if (a === '--in') opts.inDir = argv[++i];
      else opts.outDir = argv[++i];
    } else {
      throw new Error(
        `render-figures: unknown argument '${a}'. Usage: render-figures [--in build/lessons] [--out build/figures]`,
      );
    }
  }
  return opts;
}

if (require.main === module) {
  renderFigures(parseArgs(process.argv.slice(2))).catch((e: Error) => {
    console.error(e.message);
    process.exit(1);
  });
}
