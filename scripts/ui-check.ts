// Drives the course's real UI in headless Chromium: the classic Notebook server that `npm start` runs,
// lessons run cell by cell through the Notebook's own "Run All", and what a person would see read
// back from the page (errors, images, plotly figures), with screenshots in build/ui/. Also exports an
// executed notebook with nbconvert and checks the figures in that HTML. tests/ui.spec.ts asserts on
// the report.
//   npx tsx scripts/ui-check.ts [00_setup 02_diffusion_process ...]   (LESSON_MODE=quick by default)
// The lessons run on copies in build/ui/notebooks/ (saved there with their outputs), never on
// notebooks/ itself, which stays without outputs.
import { spawn, execFileSync, ChildProcess } from 'child_process';
import * as fs from 'fs';
import * as net from 'net';
import * as path from 'path';
import type { Browser, Page } from 'playwright-core';

const ROOT = path.resolve(__dirname, '..');
export const UI_DIR = path.join(ROOT, 'build', 'ui');
const PLOTLY_MIME = 'application/vnd.plotly.v1+json';
const CHROMIUM_FLAGS = ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--no-first-run'];

/** A failure a person can act on: one line, no stack trace needed. */
export class UiSetupError extends Error {}

export interface NotebookServer {
  base: string;
  token: string;
  stop(): void;
}

/** A port that was free a moment ago (the server is told not to try another one). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
  });
}

/**
 * Starts the classic Notebook through scripts/start.sh (localhost, token) on `port`, serving
 * `notebookDir`, with `env` added to the server's (and so the kernels') environment.
 */
export async function startNotebookServer(opts: {
  notebookDir: string;
  port: number;
  env?: Record<string, string>;
  timeoutMs?: number;
}): Promise<NotebookServer> {
  const child: ChildProcess = spawn(
    'bash',
    [path.join(ROOT, 'scripts', 'start.sh'), `--port=${opts.port}`, '--port-retries=0', '--no-browser'],
    {
      cwd: ROOT,
      env: {
        ...process.env,
        JUPYTER_APP: 'notebook',
        NOTEBOOK_DIR: opts.notebookDir,
        BROWSER: 'true',
        ...opts.env,
      },
      detached: true,
    },
  );
  const stop = () => {
    try {
      if (child.pid && child.exitCode === null) process.kill(-child.pid, 'SIGTERM');
    } catch {
      // already gone
    }
  };
  let log = '';
  try {
    const [base, token] = await new Promise<[string, string]>((resolve, reject) => {
      const timer = setTimeout(
        () =>
          reject(
            new UiSetupError(`ui: the Notebook server printed no URL within ${(opts.timeoutMs ?? 90000) / 1000} s`),
          ),
        opts.timeoutMs ?? 90000,
      );
      const onData = (d: Buffer) => {
        log += d.toString();
        const m = log.match(/(http:\/\/127\.0\.0\.1:\d+)\/(?:tree)?\?token=([0-9a-f]+)/);
        if (m) {
          clearTimeout(timer);
          resolve([m[1], m[2]]);
        }
      };
      child.stdout!.on('data', onData);
      child.stderr!.on('data', onData);
      child.on('error', (e) => reject(new UiSetupError(`ui: could not run scripts/start.sh: ${e.message}`)));
      child.on('exit', (code) => {
        clearTimeout(timer);
        const startLine = log.split('\n').find((l) => l.startsWith('start: ') && /not found|no Jupyter/.test(l));
        if (startLine) reject(new UiSetupError(`ui: the Notebook server cannot start: ${startLine.slice(7)}`));
        else if (/already in use|no available port/i.test(log))
          reject(new UiSetupError(`ui: the Notebook server cannot start: port ${opts.port} on 127.0.0.1 is in use`));
        else reject(new UiSetupError(`ui: the Notebook server exited (code ${code}): ${log.trim().split('\n').pop()}`));
      });
    });
    return { base, token, stop };
  } catch (e) {
    stop();
    throw e;
  }
}

/** Headless Chromium, or one line saying how to get it. */
export async function launchChromium(
  chromiumPath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
): Promise<Browser> {
  if (!fs.existsSync(chromiumPath))
    throw new UiSetupError(
      `ui: chromium not found at ${chromiumPath}: apt-get install chromium (or set CHROMIUM_PATH)`,
    );
  const { chromium } = await import('playwright-core');
  return chromium.launch({ executablePath: chromiumPath, headless: true, args: CHROMIUM_FLAGS });
}

export interface FigureSeen {
  cell: number;
  /** Traces in the plotly JSON the kernel sent, and in the figure plotly.js drew. */
  tracesSent: number;
  tracesDrawn: number;
  /** Drawn by plotly.js (its .main-svg is there and the static image was replaced). */
  drawn: boolean;
  /** Points of the sent data that lie inside the axes' ranges as plotly.js set them, of all finite points. */
  pointsInside: number;
  points: number;
  /** The figure's right edge lies inside the output area (px past it, 0 when inside). */
  overflowPx: number;
  frames: number;
  /** With frames: whether moving to the last frame changed what is drawn. */
  frameChanges?: boolean;
}

export interface ImageSeen {
  cell: number;
  naturalWidth: number;
  naturalHeight: number;
  width: number;
  height: number;
}

export interface NotebookReport {
  name: string;
  codeCells: number;
  cellsRun: number;
  errors: string[];
  images: ImageSeen[];
  figures: FigureSeen[];
  jsErrors: string[];
  screenshot: string;
  seconds: number;
  /** Dragging across the first figure's plot area zoomed its x axis (what lesson 00 promises). */
  dragZooms?: boolean;
}

// Classic Notebook noise that is not ours (missing optional files of a bare install).
// MathJax (typesetting the lessons' LaTeX) probes a font at about:blank, which Chromium refuses.
const IGNORED_CONSOLE = [
  /custom\.(js|css)/,
  /favicon/,
  /nbextensions/,
  /Failed to load resource.*404/,
  /Access to font at 'about:blank'/,
  /net::ERR_FAILED \(about:blank\)/,
];

// tsx (esbuild) wraps named functions in __name(...) calls, which then reach the page inside the
// functions given to page.evaluate: define it there.
async function newPage(browser: Browser): Promise<Page> {
  const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
  await page.addInitScript('window.__name = (f) => f;');
  return page;
}

function watchErrors(page: Page, into: string[]) {
  page.on('pageerror', (e) => into.push(`pageerror: ${e.message}`));
  page.on('console', (m) => {
    const text = `${m.text()} (${m.location().url || 'about:blank'})`;
    if (m.type() === 'error' && !IGNORED_CONSOLE.some((r) => r.test(text))) into.push(`console: ${text}`);
  });
}

// What the page shows, read in the browser: errors, images and figures of every code cell.
async function readPage(page: Page) {
  return page.evaluate((PLOTLY) => {
    const J = (window as any).Jupyter;
    const cells = J.notebook.get_cells();
    const errors: string[] = [];
    const images: any[] = [];
    const figures: any[] = [];
    let cellsRun = 0;
    let codeCells = 0;
    cells.forEach((cell: any, ci: number) => {
      if (cell.cell_type !== 'code') return;
      codeCells++;
      if (typeof cell.input_prompt_number === 'number') cellsRun++;
      const el: HTMLElement = cell.element[0];
      el.querySelectorAll('.output_error, .output_stderr').forEach((e) => errors.push(`cell ${ci}: ${e.textContent}`));
      el.querySelectorAll('.output_area img').forEach((img) => {
        const i = img as HTMLImageElement;
        if (i.closest('.course-plot')) return; // a figure's static image: counted with the figures
        images.push({
          cell: ci,
          naturalWidth: i.naturalWidth,
          naturalHeight: i.naturalHeight,
          width: i.width,
          height: i.height,
        });
      });
      const sent = cell.output_area.outputs.filter((o: any) => o.data && o.data[PLOTLY]);
      const divs = Array.from(el.querySelectorAll('.course-plot')) as any[];
      const area = el.querySelector('.output_subarea')?.getBoundingClientRect();
      sent.forEach((o: any, k: number) => {
        const fig = o.data[PLOTLY];
        const gd = divs[k];
        const full = gd?._fullLayout;
        let points = 0;
        let inside = 0;
        (gd?._fullData ?? []).forEach((t: any) => {
          const xa = full[(t.xaxis ?? 'x').replace('x', 'xaxis')];
          const ya = full[(t.yaxis ?? 'y').replace('y', 'yaxis')];
          if (!xa || !ya || !t.y || t.type === 'heatmap' || t.type === 'image') return;
          // y-only traces: plotly puts point i at x0 + i * dx.
          const xs = t.x ?? Array.from(t.y, (_: unknown, i: number) => (t.x0 ?? 0) + i * (t.dx ?? 1));
          const within = (ax: any, v: any) => {
            const u = ax.d2l(v);
            const [a, b] = ax.range.map((r: any) => ax.r2l(r));
            return u >= Math.min(a, b) && u <= Math.max(a, b);
          };
          for (let i = 0; i < Math.min(xs.length, t.y.length); i++) {
            if (xs[i] === null || t.y[i] === null || !Number.isFinite(Number(t.y[i]))) continue;
            points++;
            if (within(xa, xs[i]) && (t.type === 'bar' || within(ya, t.y[i]))) inside++;
          }
        });
        const r = gd?.getBoundingClientRect();
        figures.push({
          cell: ci,
          tracesSent: fig.data.length,
          tracesDrawn: gd?.querySelectorAll('.scatterlayer .trace, .barlayer .trace, .heatmaplayer .hm').length ?? 0,
          drawn:
            !!gd &&
            gd.getAttribute('data-drawn') === '1' &&
            !!gd.querySelector('.main-svg') &&
            !gd.querySelector('img'),
          pointsInside: inside,
          points,
          overflowPx: r && area ? Math.max(0, Math.round(r.right - area.right)) : -1,
          frames: (fig.frames ?? []).length,
        });
      });
      if (divs.length !== sent.length)
        errors.push(`cell ${ci}: ${sent.length} plotly outputs but ${divs.length} html figures on the page`);
    });
    return { errors, images, figures, cellsRun, codeCells };
  }, PLOTLY_MIME);
}

// Moves each animated figure to its last frame (as its slider would) and says whether the drawing changed.
async function checkFrames(page: Page, figures: FigureSeen[]) {
  const changed: boolean[] = await page.evaluate(async () => {
    const P = (window as any).Plotly;
    const out: boolean[] = [];
    for (const gd of Array.from(document.querySelectorAll('.course-plot')) as any[]) {
      const frames = gd._transitionData?._frames ?? [];
      if (!frames.length) continue;
      const before = gd.querySelector('.main-svg').innerHTML;
      await P.animate(gd, [frames[frames.length - 1].name], {
        frame: { duration: 0, redraw: true },
        transition: { duration: 0 },
        mode: 'immediate',
      });
      out.push(gd.querySelector('.main-svg').innerHTML !== before);
    }
    return out;
  });
  figures.filter((f) => f.frames > 0).forEach((f, i) => (f.frameChanges = changed[i]));
}

// Drags the mouse across the middle of the first figure's plot area, as a person zooming would.
async function checkDragZoom(page: Page): Promise<boolean | undefined> {
  const drag = await page.$('.course-plot .nsewdrag');
  if (!drag) return undefined;
  const range = () =>
    page.evaluate(() => JSON.stringify((document.querySelector('.course-plot') as any)._fullLayout.xaxis.range));
  const before = await range();
  await drag.scrollIntoViewIfNeeded();
  const box = (await drag.boundingBox())!;
  const y = box.y + box.height / 2;
  await page.mouse.move(box.x + box.width * 0.3, y);
  await page.mouse.down();
  await page.mouse.move(box.x + box.width * 0.5, y, { steps: 8 });
  await page.mouse.move(box.x + box.width * 0.6, y, { steps: 8 });
  await page.mouse.up();
  await page.waitForTimeout(500);
  return (await range()) !== before;
}

// A screenshot of the whole notebook: the classic Notebook scrolls inside #site, so the viewport is
// made as tall as the notebook first.
async function screenshotNotebook(page: Page, file: string) {
  const h = await page.evaluate(() => {
    const nb = document.querySelector('#notebook') as HTMLElement;
    const header = document.querySelector('#header') as HTMLElement;
    return nb.scrollHeight + (header?.offsetHeight ?? 0) + 40;
  });
  await page.setViewportSize({ width: 1200, height: Math.min(Math.max(h, 800), 30000) });
  await page.waitForTimeout(500);
  await page.screenshot({ path: file });
  await page.setViewportSize({ width: 1200, height: 900 });
}

async function openNotebook(page: Page, server: NotebookServer, file: string) {
  await page.goto(`${server.base}/notebooks/${encodeURIComponent(file)}?token=${server.token}`);
  await page
    .waitForFunction(
      () => {
        const J = (window as any).Jupyter;
        return (
          !!J?.notebook?._fully_loaded &&
          !!J.notebook.kernel?.is_connected() &&
          !!document.querySelector('#kernel_indicator_icon.kernel_idle_icon')
        );
      },
      null,
      { timeout: 120_000, polling: 500 },
    )
    .catch(async () => {
      const state = await page.evaluate(() => {
        const J = (window as any).Jupyter;
        return `loaded: ${!!J?.notebook?._fully_loaded}, kernel connected: ${!!J?.notebook?.kernel?.is_connected()}, indicator: ${document.querySelector('#kernel_indicator_icon')?.className}`;
      });
      await page.screenshot({ path: path.join(UI_DIR, `${path.basename(file, '.ipynb')}.open-failed.png`) });
      throw new UiSetupError(`ui: ${file} did not open with a ready kernel within 120 s (${state})`);
    });
  // Never autosave: the test saves once, explicitly, when all cells have run.
  await page.evaluate(() => (window as any).Jupyter.notebook.set_autosave_interval(0));
}

/** Runs one notebook (in the server's folder) through the UI's Cell → Run All and reports what shows. */
export async function runNotebookInUi(
  browser: Browser,
  server: NotebookServer,
  file: string,
  timeoutMs = 600_000,
): Promise<NotebookReport> {
  const t0 = Date.now();
  const name = path.basename(file, '.ipynb');
  const page = await newPage(browser);
  const jsErrors: string[] = [];
  watchErrors(page, jsErrors);
  try {
    await openNotebook(page, server, file);
    await page.click('#celllink');
    await page.click('#run_all_cells > a');
    // Every code cell shows [*] while queued; done when none does and the kernel is idle.
    await page.waitForFunction(
      () => {
        const J = (window as any).Jupyter;
        const cells = J.notebook.get_cells().filter((c: any) => c.cell_type === 'code');
        return (
          cells.some((c: any) => c.input_prompt_number !== null && c.input_prompt_number !== undefined) &&
          !cells.some((c: any) => c.input_prompt_number === '*') &&
          !!document.querySelector('#kernel_indicator_icon.kernel_idle_icon')
        );
      },
      null,
      { timeout: timeoutMs, polling: 1000 },
    );
    // Let plotly.js (decompressed asynchronously) and the images finish.
    await page
      .waitForFunction(
        () =>
          Array.from(document.querySelectorAll('.course-plot')).every((d) => d.getAttribute('data-drawn')) &&
          Array.from(document.querySelectorAll('.output_area img')).every((i) => (i as HTMLImageElement).complete),
        null,
        { timeout: 60_000, polling: 500 },
      )
      .catch(() => undefined); // what is still missing shows in the report
    const seen = await readPage(page);
    const report: NotebookReport = {
      name,
      ...seen,
      jsErrors,
      screenshot: path.join(UI_DIR, `${name}.png`),
      seconds: 0,
    };
    await screenshotNotebook(page, report.screenshot);
    // Each figure and image output on its own, readable at full size.
    const outs = await page.$$('.output_subarea:has(.course-plot), .output_subarea.output_png');
    for (const [k, el] of outs.entries()) await el.screenshot({ path: path.join(UI_DIR, `${name}.out${k}.png`) });
    await checkFrames(page, report.figures);
    report.dragZooms = await checkDragZoom(page);
    await page.evaluate(() => (window as any).Jupyter.notebook.save_notebook());
    await page.waitForFunction(() => !(window as any).Jupyter.notebook.dirty, null, { timeout: 60_000 });
    report.seconds = (Date.now() - t0) / 1000;
    return report;
  } finally {
    await page.close();
  }
}

/** Reopens a saved notebook (outputs only, no kernel run) and says how many of its figures plotly.js drew. */
export async function reopenSaved(
  browser: Browser,
  server: NotebookServer,
  file: string,
): Promise<{ sent: number; drawn: number; jsErrors: string[] }> {
  const page = await newPage(browser);
  const jsErrors: string[] = [];
  watchErrors(page, jsErrors);
  try {
    await openNotebook(page, server, file);
    await page
      .waitForFunction(
        () => Array.from(document.querySelectorAll('.course-plot')).every((d) => d.getAttribute('data-drawn')),
        null,
        { timeout: 60_000, polling: 500 },
      )
      .catch(() => undefined);
    const seen = await readPage(page);
    return { sent: seen.figures.length, drawn: seen.figures.filter((f: FigureSeen) => f.drawn).length, jsErrors };
  } finally {
    await page.close();
  }
}

/**
 * Opens an untrusted copy of a saved notebook (its HTML outputs are sanitised: no scripts run) and
 * counts the figures that still show their static image.
 */
export async function openUntrusted(
  browser: Browser,
  server: NotebookServer,
  dir: string,
  file: string,
): Promise<{ figures: number; staticShown: number; jsErrors: string[] }> {
  // Any change to the content voids the signature the Notebook gave the notebook when it saved it.
  const nb = JSON.parse(fs.readFileSync(path.join(dir, file), 'utf8'));
  nb.metadata = { ...nb.metadata, ui_check_untrusted_copy: true };
  const copy = file.replace(/\.ipynb$/, '.untrusted.ipynb');
  fs.writeFileSync(path.join(dir, copy), JSON.stringify(nb));
  const page = await newPage(browser);
  const jsErrors: string[] = [];
  watchErrors(page, jsErrors);
  try {
    await openNotebook(page, server, copy);
    await page.waitForTimeout(2000);
    const figs = await page.$$('.course-plot');
    const stem = path.basename(file, '.ipynb');
    for (const [k, el] of figs.entries()) await el.screenshot({ path: path.join(UI_DIR, `${stem}.untrusted${k}.png`) });
    return await page
      .evaluate(() => {
        const figs = Array.from(document.querySelectorAll('.course-plot'));
        const shown = figs.filter((d) => {
          const img = d.querySelector('img') as HTMLImageElement | null;
          return !!img && img.complete && img.naturalWidth > 0;
        });
        return { figures: figs.length, staticShown: shown.length, jsErrors: [] as string[] };
      })
      .then((r) => ({ ...r, jsErrors }));
  } finally {
    await page.close();
  }
}

/** Exports an executed notebook with nbconvert (HTML) and counts the figures plotly.js draws in it. */
export async function checkHtmlExport(
  browser: Browser,
  ipynb: string,
): Promise<{ html: string; bytes: number; sent: number; drawn: number; jsErrors: string[]; screenshot: string }> {
  const name = path.basename(ipynb, '.ipynb');
  try {
    execFileSync('jupyter-nbconvert', ['--to', 'html', '--output-dir', UI_DIR, ipynb], { stdio: 'pipe' });
  } catch (e) {
    const err = e as { code?: string; stderr?: Buffer };
    if (err.code === 'ENOENT')
      throw new UiSetupError('ui: jupyter-nbconvert not found: apt-get install jupyter-nbconvert');
    throw new UiSetupError(
      `ui: nbconvert failed: ${String(err.stderr ?? e)
        .trim()
        .split('\n')
        .pop()}`,
    );
  }
  const html = path.join(UI_DIR, `${name}.html`);
  const nb = JSON.parse(fs.readFileSync(ipynb, 'utf8'));
  const sent = nb.cells
    .flatMap((c: { outputs?: { data?: Record<string, unknown> }[] }) => c.outputs ?? [])
    .filter((o: { data?: Record<string, unknown> }) => o.data?.[PLOTLY_MIME]).length;
  const page = await newPage(browser);
  const jsErrors: string[] = [];
  watchErrors(page, jsErrors);
  const screenshot = path.join(UI_DIR, `${name}.export.png`);
  try {
    await page.goto('file://' + html);
    await page
      .waitForFunction((n) => document.querySelectorAll('.course-plot[data-drawn] .main-svg').length >= n, sent, {
        timeout: 60_000,
        polling: 500,
      })
      .catch(() => undefined);
    const drawn = await page.evaluate(
      () => Array.from(document.querySelectorAll('.course-plot')).filter((d) => d.querySelector('.main-svg')).length,
    );
    await page.screenshot({ path: screenshot, fullPage: true });
    return { html, bytes: fs.statSync(html).size, sent, drawn, jsErrors, screenshot };
  } finally {
    await page.close();
  }
}

/**
 * Opens an HTML page with every request that is not a local file refused (as offline) and says what
 * it drew: plotly figures, typeset equations, and which requests it tried.
 */
export async function checkOffline(
  browser: Browser,
  html: string,
): Promise<{ figures: number; drawn: number; equations: number; requests: string[]; jsErrors: string[] }> {
  const page = await newPage(browser);
  const requests: string[] = [];
  const jsErrors: string[] = [];
  watchErrors(page, jsErrors);
  await page.route('**/*', (route) => {
    const url = route.request().url();
    if (url.startsWith('file:')) return route.continue();
    requests.push(url);
    return route.abort();
  });
  try {
    await page.goto('file://' + path.resolve(html));
    await page
      .waitForFunction(
        () => Array.from(document.querySelectorAll('.course-plot')).every((d) => d.querySelector('.main-svg')),
        null,
        { timeout: 60_000, polling: 500 },
      )
      .catch(() => undefined);
    await page.waitForTimeout(3000); // MathJax typesets asynchronously
    const seen = await page.evaluate(() => ({
      figures: document.querySelectorAll('.course-plot').length,
      drawn: Array.from(document.querySelectorAll('.course-plot')).filter((d) => d.querySelector('.main-svg')).length,
      equations: document.querySelectorAll('.MathJax_CHTML').length,
    }));
    return { ...seen, requests, jsErrors };
  } finally {
    await page.close();
  }
}

/** Copies lessons into build/ui/notebooks/ (with the lib/ and datasets/ links the notebooks import through). */
export function prepareNotebookDir(lessons: string[]): string {
  const dir = path.join(UI_DIR, 'notebooks');
  fs.mkdirSync(dir, { recursive: true });
  for (const link of ['lib', 'datasets']) {
    const p = path.join(dir, link);
    if (!fs.existsSync(p)) fs.symlinkSync(path.join('..', '..', '..', link), p);
  }
  for (const l of lessons) {
    const src = path.join(ROOT, 'notebooks', l.endsWith('.ipynb') ? l : `${l}.ipynb`);
    if (!fs.existsSync(src)) throw new UiSetupError(`ui: no such lesson: ${src}`);
    fs.copyFileSync(src, path.join(dir, path.basename(src)));
  }
  return dir;
}

async function main() {
  const lessons = process.argv.slice(2).length
    ? process.argv.slice(2)
    : ['00_setup', '02_diffusion_process', '07_classifier_free_guidance'];
  fs.mkdirSync(UI_DIR, { recursive: true });
  const dir = prepareNotebookDir(lessons);
  const browser = await launchChromium();
  const server = await startNotebookServer({
    notebookDir: dir,
    port: await freePort(),
    env: { LESSON_MODE: process.env.LESSON_MODE ?? 'quick' },
  });
  try {
    for (const l of lessons) {
      const r = await runNotebookInUi(browser, server, `${l}.ipynb`);
      console.log(JSON.stringify(r, null, 1));
    }
  } finally {
    server.stop();
    await browser.close();
  }
}

if (require.main === module) {
  main().catch((e) => {
    console.error(e instanceof UiSetupError ? e.message : e);
    process.exit(1);
  });
}
