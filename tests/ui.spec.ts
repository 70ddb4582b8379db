// The course as a person sees it: the classic Notebook that `npm start` runs, driven in headless
// Chromium. Lessons 00, 02 and 07 run through the UI's Cell → Run All in quick mode (the server's
// LESSON_MODE reaches the kernel), then the page is read: no error output, every image decoded at
// its own size, every plotly figure drawn by plotly.js with all its traces and points inside the
// axes, animations that move, no JavaScript errors. Screenshots go to build/ui/. A missing Jupyter
// or Chromium fails with one line; nothing here is skipped.
import { strict as assert } from 'assert';
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as net from 'net';
import * as os from 'os';
import * as path from 'path';
import type { Browser } from 'playwright-core';
import {
  checkHtmlExport,
  checkOffline,
  freePort,
  launchChromium,
  openUntrusted,
  prepareNotebookDir,
  reopenSaved,
  runNotebookInUi,
  startNotebookServer,
  NotebookReport,
  NotebookServer,
  UI_DIR,
} from '../scripts/ui-check';

const ROOT = path.resolve(__dirname, '..');
const LESSONS = ['00_setup', '02_diffusion_process', '07_classifier_free_guidance'];
// Lesson 02's noise panels (t = 99) hold N(0, I) samples; a rare one lies past the ±3.5 axes.
const MIN_INSIDE = 0.99;

describe('browser UI: lessons run in the classic Notebook (headless Chromium)', function () {
  this.timeout(15 * 60_000);
  let browser: Browser;
  let server: NotebookServer;
  let dir: string;
  const reports = new Map<string, NotebookReport>();

  before(async () => {
    fs.mkdirSync(UI_DIR, { recursive: true });
    dir = prepareNotebookDir(LESSONS);
    browser = await launchChromium();
    server = await startNotebookServer({ notebookDir: dir, port: await freePort(), env: { LESSON_MODE: 'quick' } });
  });
  after(async () => {
    server?.stop();
    await browser?.close();
  });

  for (const lesson of LESSONS) {
    it(`${lesson}: every cell runs and shows what it should`, async () => {
      const r = await runNotebookInUi(browser, server, `${lesson}.ipynb`);
      reports.set(lesson, r);
      assert.deepEqual(r.errors, [], 'no error output');
      assert.equal(r.cellsRun, r.codeCells, 'every code cell ran');
      assert.deepEqual(r.jsErrors, [], 'no JavaScript errors');
      for (const img of r.images) {
        assert.ok(img.naturalWidth > 0 && img.naturalHeight > 0, `cell ${img.cell}: image decoded`);
        assert.deepEqual(
          [img.width, img.height],
          [img.naturalWidth, img.naturalHeight],
          `cell ${img.cell}: natural size`,
        );
      }
      assert.ok(r.figures.length > 0, 'the lesson shows plotly figures');
      for (const f of r.figures) {
        const where = `cell ${f.cell}`;
        assert.ok(f.drawn, `${where}: figure drawn by plotly.js`);
        assert.equal(f.tracesDrawn, f.tracesSent, `${where}: every trace drawn`);
        assert.ok(
          f.pointsInside >= MIN_INSIDE * f.points,
          `${where}: ${f.pointsInside} of ${f.points} points inside the axes`,
        );
        assert.equal(f.overflowPx, 0, `${where}: figure inside the output area`);
        if (f.frames > 0) assert.ok(f.frameChanges, `${where}: moving to the last frame changes the figure`);
      }
      assert.equal(r.dragZooms, true, 'dragging across the first figure zooms it');
      assert.ok(fs.statSync(r.screenshot).size > 10_000, 'screenshot written');
    });
  }

  it('00 shows its two plotly charts and three image grids; 02 its six figures', () => {
    const r00 = reports.get('00_setup');
    const r02 = reports.get('02_diffusion_process');
    assert.ok(r00 && r02, 'the lessons above ran');
    assert.equal(r00.figures.length, 2);
    assert.equal(r00.images.length, 3);
    assert.ok(r02.figures.length >= 6, `02 drew ${r02.figures.length} figures`);
  });

  it('a saved notebook reopens with every figure drawn again (no kernel run)', async () => {
    const seen = await reopenSaved(browser, server, '02_diffusion_process.ipynb');
    assert.ok(seen.sent >= 6);
    assert.equal(seen.drawn, seen.sent);
    assert.deepEqual(seen.jsErrors, []);
  });

  it('an untrusted copy (sanitised HTML, no scripts) shows every figure as its static image', async () => {
    const seen = await openUntrusted(browser, server, dir, '02_diffusion_process.ipynb');
    assert.ok(seen.figures >= 6, `${seen.figures} figures`);
    assert.equal(seen.staticShown, seen.figures);
  });

  it("nbconvert's HTML export of an executed lesson draws its figures with plotly.js", async () => {
    const r = await checkHtmlExport(browser, path.join(dir, '02_diffusion_process.ipynb'));
    assert.ok(r.sent >= 6);
    assert.equal(r.drawn, r.sent, `${r.drawn} of ${r.sent} figures drawn in ${r.html}`);
    assert.deepEqual(r.jsErrors, []);
    // plotly.js travels once, gzipped: the page stays a few MB.
    assert.ok(r.bytes < 5e6, `export is ${(r.bytes / 1e6).toFixed(1)} MB`);
  });
});

describe('npm run handouts: lessons as HTML that works offline', function () {
  this.timeout(10 * 60_000);
  it('02 (quick mode here): every figure drawn by plotly.js and the equations typeset, no network', async () => {
    const r = spawnSync('bash', [path.join(ROOT, 'scripts', 'handouts.sh'), 'notebooks/02_diffusion_process.ipynb'], {
      cwd: ROOT,
      env: { ...process.env, LESSON_MODE: 'quick' },
      encoding: 'utf8',
    });
    assert.equal(r.status, 0, r.stderr || r.stdout);
    const html = path.join(ROOT, 'build', 'handouts', '02_diffusion_process.html');
    assert.match(r.stdout, /handouts: build\/handouts\/02_diffusion_process\.html/);
    const browser = await launchChromium();
    try {
      const seen = await checkOffline(browser, html);
      assert.ok(seen.figures >= 6, `${seen.figures} figures`);
      assert.equal(seen.drawn, seen.figures);
      assert.ok(seen.equations >= 3, `${seen.equations} equations typeset`);
      assert.deepEqual(seen.requests, [], 'nothing fetched from the network');
      assert.deepEqual(seen.jsErrors, []);
    } finally {
      await browser.close();
    }
  });
});

describe('browser UI: what cannot start says so in one line', function () {
  this.timeout(120_000);

  it('a port that is taken', async () => {
    const blocker = net.createServer();
    const port = await new Promise<number>((resolve) =>
      blocker.listen(0, '127.0.0.1', () => resolve((blocker.address() as net.AddressInfo).port)),
    );
    try {
      await assert.rejects(
        startNotebookServer({ notebookDir: os.tmpdir(), port }),
        (e: Error) => e.message === `ui: the Notebook server cannot start: port ${port} on 127.0.0.1 is in use`,
      );
    } finally {
      blocker.close();
    }
  });

  it('no Jupyter installed', async () => {
    // A PATH with only what start.sh itself needs: bash, dirname, id.
    const bin = fs.mkdtempSync(path.join(os.tmpdir(), 'nojupyter-'));
    for (const tool of ['bash', 'dirname', 'id']) fs.symlinkSync(`/usr/bin/${tool}`, path.join(bin, tool));
    try {
      await assert.rejects(
        startNotebookServer({ notebookDir: os.tmpdir(), port: await freePort(), env: { PATH: bin } }),
        (e: Error) =>
          /^ui: the Notebook server cannot start: jupyter-notebook not found/.test(e.message) &&
          !e.message.includes('\n'),
      );
    } finally {
      fs.rmSync(bin, { recursive: true, force: true });
    }
  });

  it('no Chromium', async () => {
    await assert.rejects(
      launchChromium('/nonexistent/chromium'),
      (e: Error) =>
        e.message ===
        'ui: chromium not found at /nonexistent/chromium: apt-get install chromium (or set CHROMIUM_PATH)',
    );
  });
});
