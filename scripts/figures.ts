// npm run figures [-- --from DIR] [--out DIR]: regenerates the article's figures.
// Executes every lesson (LESSON_MODE, default standard) into build/lessons through scripts/run_lessons.py, renders
// every output image to PNG (render-figures), and writes <out>/index.html: each article figure 1-29 with its caption,
// the lesson cell tagged `// Figure N:` and its images, the coverage, and the `// Table:` cells' measured output.
// --from DIR skips the execution and builds from notebooks already executed into DIR.
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { renderFigures } from './render-figures';
import { ARTICLE_FIGURES, buildFigureIndex, FigureIndex, FigureIndexMeta } from './figure-index';

const ROOT = path.resolve(__dirname, '..');
const MODES = ['quick', 'standard', 'full'];
const USAGE = 'Usage: npm run figures [-- --from DIR] [--out DIR]';

export interface FiguresOptions {
  from?: string;
  out: string;
}

export function parseFiguresArgs(argv: string[]): FiguresOptions {
  const opts: FiguresOptions = { out: 'build/figures' };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--from' || a === '--out') {
      const v = argv[++i];
      if (!v || v.startsWith('--')) throw new Error(`figures: ${a} needs a folder. ${USAGE}`);
      if (a === '--from') opts.from = v;
      else opts.out = v;
    } else {
      throw new Error(`figures: unknown argument '${a}'. ${USAGE}`);
    }
  }
  return opts;
}

/** Renders the images of the executed notebooks in lessonsDir into figuresDir and writes the index there. */
/** With startedAt (ms), the index reports the wall time from then to the end of the rendering. */
export async function figuresFromExecuted(
  lessonsDir: string,
  figuresDir: string,
  meta: FigureIndexMeta = {},
  opts: { startedAt?: number; log?: (line: string) => void } = {},
): Promise<FigureIndex> {
  const log = opts.log ?? ((s: string) => console.log(s));
  if (!fs.existsSync(lessonsDir))
    throw new Error(`figures: no folder ${lessonsDir} (execute the lessons first, or drop --from)`);
  log(`figures: rendering the outputs of ${lessonsDir} into ${figuresDir}`);
  const rendered = await renderFigures({ inDir: lessonsDir, outDir: figuresDir, log: () => {} });
  log(`figures: ${rendered.length} PNGs written`);
  const wallSeconds = opts.startedAt === undefined ? meta.wallSeconds : (Date.now() - opts.startedAt) / 1000;
  return buildFigureIndex(lessonsDir, figuresDir, { ...meta, wallSeconds });
}

async function main(): Promise<number> {
  const started = Date.now();
  const opts = parseFiguresArgs(process.argv.slice(2));
  let lessonsDir = opts.from;
  let failed = false;
  let mode: string | undefined;
  if (lessonsDir === undefined) {
    mode = process.env.LESSON_MODE || 'standard';
    if (!MODES.includes(mode))
      throw new Error(`figures: unknown LESSON_MODE '${mode}': use one of ${MODES.join(', ')}.`);
    lessonsDir = path.join(ROOT, 'build', 'lessons');
    console.log(`figures: executing the lessons (LESSON_MODE=${mode}) into ${path.relative(ROOT, lessonsDir)}/`);
    const r = spawnSync('/usr/bin/python3', [path.join(ROOT, 'scripts', 'run_lessons.py'), '--out', lessonsDir], {
      cwd: ROOT,
      stdio: 'inherit',
      env: { ...process.env, LESSON_MODE: mode },
    });
    if (r.error) throw new Error(`figures: cannot run scripts/run_lessons.py: ${r.error.message}`);
    if (r.status === 2) return 2; // the runner's own set-up error, already printed
    failed = r.status !== 0;
    if (failed) console.log('figures: some lessons failed; their figures up to the failing cell are still indexed');
  } else if (!fs.existsSync(lessonsDir) || !fs.statSync(lessonsDir).isDirectory()) {
    throw new Error(`figures: --from ${lessonsDir}: no such folder`);
  }
  // With --from, the run is only rendering and indexing: its wall time says nothing about the lessons.
  const index = await figuresFromExecuted(
    lessonsDir,
    opts.out,
    { mode, date: new Date(started) },
    { startedAt: opts.from === undefined ? started : undefined },
  );
  console.log(
    `figures: ${index.covered.length} / ${ARTICLE_FIGURES.length} figures regenerated${index.missing.length ? ` (not reproduced: ${index.missing.join(', ')})` : ''}`,
  );
  console.log(
    `figures: ${index.cells.filter((c) => c.tag.kind === 'table').length} measured tables; mode ${index.mode}, backend ${index.backend}; ${((Date.now() - started) / 1000).toFixed(1)} s`,
  );
  console.log(`figures: ${index.file}`);
  return failed ? 1 : 0;
}

if (require.main === module) {
  main().then(
    (code) => process.exit(code),
    (e: Error) => {
      console.error(e.message);
      process.exit(2);
    },
  );
}
