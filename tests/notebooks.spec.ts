// Every lesson notebook executed headlessly through Jupyter's own client (nbclient) with the
// course kernel, in quick mode; plus the runner's failure reporting on a deliberately failing fixture.
import { strict as assert } from 'assert';
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { createCanvas, loadImage } from 'canvas';
import { ARTICLE_FIGURES, buildFigureIndex, parseTag } from '../scripts/figure-index';
import { figuresFromExecuted } from '../scripts/figures';

const ROOT = path.resolve(__dirname, '..');
const RUNNER = path.join(ROOT, 'scripts', 'run_lessons.py');

function runLessons(args: string[], env: Record<string, string> = {}) {
  const r = spawnSync('/usr/bin/python3', [RUNNER, ...args], {
    cwd: ROOT,
    env: { ...process.env, LESSON_MODE: 'quick', ...env },
    encoding: 'utf8',
    maxBuffer: 64 << 20,
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('notebooks (executed through nbclient, LESSON_MODE=quick)', function () {
  const notebooks = fs
    .readdirSync(path.join(ROOT, 'notebooks'))
    .filter((f) => /^\d\d_.*\.ipynb$/.test(f))
    .sort();

  it('there are lesson notebooks, committed without outputs', () => {
    assert.ok(notebooks.includes('00_setup.ipynb'), `notebooks: ${notebooks.join(', ')}`);
    for (const f of notebooks) {
      const nb = JSON.parse(fs.readFileSync(path.join(ROOT, 'notebooks', f), 'utf8'));
      assert.equal(nb.metadata.kernelspec.name, 'diffusion-ts', `${f} must use the course kernel`);
      for (const cell of nb.cells) assert.ok(!cell.outputs || cell.outputs.length === 0, `${f} has outputs`);
    }
  });

  for (const f of notebooks) {
    it(`${f} runs top to bottom`, () => {
      const r = runLessons([path.join(ROOT, 'notebooks', f)]);
      assert.equal(r.status, 0, `${f} failed:\n${r.stdout}\n${r.stderr}`);
      assert.match(r.stdout, new RegExp(`ok +notebooks/${f}`));
      const executed = JSON.parse(fs.readFileSync(path.join(ROOT, 'build', 'lessons', f), 'utf8'));
      const codeCells = executed.cells.filter((c: { cell_type: string }) => c.cell_type === 'code');
      assert.ok(codeCells.every((c: { execution_count: number | null }) => c.execution_count !== null));
    });
  }

  it('figure tags: parsed from executed cells, indexed with their images and tables (hand-made notebook)', () => {
    assert.deepEqual(parseTag('// Figure 2, 23: two figures\nconst a = 1;'), {
      kind: 'figure',
      numbers: [2, 23],
      title: 'two figures',
    });
    assert.deepEqual(parseTag('// Table: FID per scale'), { kind: 'table', title: 'FID per scale' });
    assert.deepEqual(parseTag('// New figure: a spectrogram'), { kind: 'new', title: 'a spectrogram' });
    assert.equal(parseTag('const a = 1; // Figure 3: not on the first line'), null);
    assert.equal(parseTag('// Figures are drawn below'), null);
    assert.throws(() => parseTag('// Figure 30: beyond the article'), /figure 30 is not in the article/);

    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'figure-index-'));
    const [lessons, figures] = [path.join(dir, 'lessons'), path.join(dir, 'figures')];
    fs.mkdirSync(lessons);
    fs.mkdirSync(figures);
    const png = createCanvas(4, 3).toBuffer('image/png');
    const image = {
      output_type: 'display_data',
      data: { 'image/png': png.toString('base64'), 'text/plain': 'a grid' },
      metadata: {},
    };
    const stdout = (text: string) => ({ output_type: 'stream', name: 'stdout', text: [text] });
    const code = (source: string[], outputs: object[]) => ({
      cell_type: 'code',
      execution_count: 1,
      metadata: {},
      source,
      outputs,
    });
    const nb = {
      cells: [
        code(
          ['// Figure 2, 23: hand-made samples\n', 'show();'],
          [stdout('backend: cpu, 1 thread\nLESSON_MODE = quick\n'), image],
        ),
        { cell_type: 'markdown', metadata: {}, source: ['// Figure 5: markdown is never a figure'] },
        code(
          ['// Table: measured <numbers>\n', 'console.log(t);'],
          [stdout('| a | b |\n'), { output_type: 'stream', name: 'stderr', text: 'warning\n' }],
        ),
        code(['show(); // Figure 7: not a tag\n'], [image]),
      ],
      metadata: {},
      nbformat: 4,
      nbformat_minor: 5,
    };
    fs.writeFileSync(path.join(lessons, '99_fake.ipynb'), JSON.stringify(nb));
    for (const f of ['99_fake_0_1.png', '99_fake_3_0.png']) fs.writeFileSync(path.join(figures, f), png);

    const index = buildFigureIndex(lessons, figures);
    assert.deepEqual(
      index.cells.map((c) => [c.cell, c.tag.kind]),
      [
        [0, 'figure'],
        [2, 'table'],
      ],
    );
    assert.deepEqual(index.cells[0].images, ['99_fake_0_1.png']);
    assert.deepEqual(index.covered, [2, 23]);
    assert.equal(index.missing.length, ARTICLE_FIGURES.length - 2);
    assert.equal(index.mode, 'quick');
    assert.equal(index.backend, 'cpu');
    const html = fs.readFileSync(index.file, 'utf8');
    assert.match(html, /2 \/ 29 figures regenerated/);
    assert.match(
      html,
      /id="figure-23"><h2>Figure 23 · 그림23\. DALLE2가 생성한 이미지<\/h2><div class="cell"><p>99_fake · cell 0 · hand-made samples/,
    );
    assert.match(html, /id="figure-7"><h2>[^<]*<\/h2><p class="status">not reproduced/);
    assert.match(html, /cell 2 · measured &lt;numbers&gt;<\/h3><pre>\| a \| b \|<\/pre>/);
    assert.ok(!html.includes('99_fake_3_0.png'), 'an untagged cell is not linked');
    assert.ok(!html.includes('warning'), 'stderr is not part of a table');
  });

  it('npm run figures: the index names all 29 article figures, links decodable PNGs and counts them (from build/lessons)', async function () {
    const lessonsDir = path.join(ROOT, 'build', 'lessons');
    const absent = notebooks.filter((f) => !fs.existsSync(path.join(lessonsDir, f)));
    if (absent.length) {
      console.log(
        `      skipped: build/lessons lacks ${absent.join(', ')} (the 'runs top to bottom' tests above write them)`,
      );
      this.skip();
    }
    const out = fs.mkdtempSync(path.join(os.tmpdir(), 'figures-'));
    const index = await figuresFromExecuted(lessonsDir, out, {}, { log: () => {} });
    const html = fs.readFileSync(index.file, 'utf8');
    // The article's figures, in order; figures beyond the article (class "figure new") follow in their own section.
    const sections = [
      ...html.matchAll(/<section class="figure(?: missing)?" id="figure-\d+">[\s\S]*?<\/section>/g),
    ].map((m) => m[0]);
    assert.equal(sections.length, 29);
    const extras = [...html.matchAll(/<section class="figure new"><h3>([^<]*)<\/h3>[\s\S]*?<\/section>/g)];
    assert.ok(
      extras.some((m) => m[1].startsWith('16_audio · ') && m[0].includes('<img ')),
      "lesson 16's new figure is listed with its image",
    );
    for (let n = 1; n <= 29; n++) {
      assert.ok(
        sections[n - 1].includes(`id="figure-${n}"><h2>Figure ${n} · 그림${n}. ${ARTICLE_FIGURES[n - 1]}</h2>`),
        `figure ${n}`,
      );
    }
    const withImages = sections.filter((s) => s.includes('<img ')).length;
    const coverage = /<p class="coverage">(\d+) \/ 29 figures regenerated/.exec(html);
    assert.ok(coverage, 'coverage line');
    assert.equal(Number(coverage[1]), withImages);
    assert.equal(index.covered.length, withImages);
    const srcs = [...html.matchAll(/<img src="([^"]+)"/g)].map((m) => m[1]);
    assert.ok(srcs.length >= withImages);
    for (const src of srcs) {
      const file = path.join(out, src);
      assert.ok(fs.existsSync(file), `${src} is linked but missing`);
      const buf = fs.readFileSync(file);
      assert.ok(
        buf.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])),
        `${src}: PNG signature`,
      );
      assert.equal(buf.toString('latin1', 12, 16), 'IHDR', `${src}: IHDR chunk`);
      const img = await loadImage(buf);
      assert.deepEqual([img.width, img.height], [buf.readUInt32BE(16), buf.readUInt32BE(20)], `${src} decodes`);
    }
    // A tag on a cell that shows nothing would claim a figure the lesson does not draw.
    for (const c of index.cells.filter((c) => c.tag.kind === 'figure')) {
      assert.ok(c.images.length > 0, `${c.notebook} cell ${c.cell} is tagged as a figure but rendered no image`);
    }
  });

  it('a failing notebook fails the run and its stderr, cell source and name are reported', () => {
    const out = fs.mkdtempSync(path.join(os.tmpdir(), 'lessons-'));
    const fixture = path.join(ROOT, 'tests', 'fixtures', 'failing.ipynb');
    const r = runLessons(['--out', out, fixture]);
    assert.equal(r.status, 1, r.stdout + r.stderr);
    assert.match(r.stdout, /FAIL +tests\/fixtures\/failing\.ipynb/);
    assert.match(r.stderr, /notebook: tests\/fixtures\/failing\.ipynb, cell 1/);
    assert.match(r.stderr, /function explode\(\): never/); // the cell's source
    assert.match(r.stderr, /Error: deliberate failure from the fixture notebook/); // tslab's stderr
    assert.match(r.stdout, /0 passed, 1 failed/);
    // The executed copy is kept, and the cell after the failure never ran.
    const executed = JSON.parse(fs.readFileSync(path.join(out, 'failing.ipynb'), 'utf8'));
    assert.equal(executed.cells[2].execution_count, null);
  });

  it('a progress bar redrawn thousands of times in a blocking loop loses neither its final state nor later output', () => {
    const out = fs.mkdtempSync(path.join(os.tmpdir(), 'lessons-'));
    const r = runLessons(['--out', out, path.join(ROOT, 'tests', 'fixtures', 'progress_flood.ipynb')]);
    assert.equal(r.status, 0, r.stdout + r.stderr);
    const cells = JSON.parse(fs.readFileSync(path.join(out, 'progress_flood.ipynb'), 'utf8')).cells;
    const text = (c: { outputs: { text?: string; data?: Record<string, string> }[] }) =>
      c.outputs.map((o) => o.text ?? o.data?.['text/plain'] ?? '').join('');
    assert.match(text(cells[0]), /3000\/3000/, 'the bar shows its final state');
    assert.match(text(cells[0]), /after the loop/);
    assert.match(text(cells[1]), /next cell ran/);
  });

  it('an unknown LESSON_MODE is one clear line and a non-zero exit', () => {
    const r = runLessons([], { LESSON_MODE: 'turbo' });
    assert.equal(r.status, 2);
    assert.match(r.stderr, /unknown LESSON_MODE 'turbo': use one of quick, standard, full/);
  });
});
