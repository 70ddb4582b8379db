// npm run format: prettier (print width 120, .prettierrc.json) over the TypeScript of lib/, datasets/,
// scripts/, tools/ and tests/, and over every code cell of the notebooks (prettier's TypeScript parser,
// one cell at a time, as tslab compiles them). `--check` changes nothing and exits 1 naming each file
// (and notebook cell) that is not formatted; `npm test` runs it that way. Paths after the flags
// (files or folders) restrict it to those, e.g. `npm run format -- notebooks/05_loss_and_training.ipynb`.
import * as fs from 'fs';
import * as path from 'path';
import * as prettier from 'prettier';

const ROOT = path.resolve(__dirname, '..');
const FOLDERS = ['lib', 'datasets', 'scripts', 'tools', 'tests'];
const NOTEBOOKS = ['notebooks', path.join('tests', 'fixtures')];

function tsFiles(dir: string): string[] {
  const out: string[] = [];
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    // Symlinks (notebooks/lib, tests/fixtures/lib) point at folders formatted under their own name.
    if (e.isSymbolicLink()) continue;
    if (e.isDirectory()) out.push(...tsFiles(p));
    else if (e.name.endsWith('.ts')) out.push(p);
  }
  return out;
}

interface NotebookCell {
  cell_type: string;
  source: string | string[];
}

async function formatNotebook(file: string, options: prettier.Options): Promise<{ text: string; cells: number[] }> {
  const original = fs.readFileSync(file, 'utf8');
  const nb = JSON.parse(original) as { cells: NotebookCell[] };
  const changed: number[] = [];
  for (const [i, cell] of nb.cells.entries()) {
    if (cell.cell_type !== 'code') continue;
    const src = Array.isArray(cell.source) ? cell.source.join('') : cell.source;
    if (src.trim() === '') continue;
    let out: string;
    try {
      out = (await prettier.format(src, { ...options, parser: 'typescript' })).replace(/\n$/, '');
    } catch (e) {
      throw new Error(
        `${path.relative(ROOT, file)} cell ${i}: prettier cannot parse it (${(e as Error).message.split('\n')[0]})`,
      );
    }
    if (out !== src) {
      changed.push(i);
      cell.source = out.split(/(?<=\n)/);
    }
  }
  // The notebooks' own JSON layout (Jupyter's: indent 1, non-ASCII kept, newline at the end).
  return { text: changed.length ? JSON.stringify(nb, null, 1) + '\n' : original, cells: changed };
}

async function main(): Promise<void> {
  const check = process.argv.includes('--check');
  const options = (await prettier.resolveConfig(path.join(ROOT, 'package.json'))) ?? {};
  const only = process.argv
    .slice(2)
    .filter((a) => !a.startsWith('--'))
    .map((a) => path.resolve(a));
  const wanted = (file: string) => only.length === 0 || only.some((o) => file === o || file.startsWith(o + path.sep));
  const bad: string[] = [];
  for (const file of FOLDERS.flatMap((d) => tsFiles(path.join(ROOT, d))).filter(wanted)) {
    const src = fs.readFileSync(file, 'utf8');
    const out = await prettier.format(src, { ...options, filepath: file });
    if (out === src) continue;
    bad.push(path.relative(ROOT, file));
    if (!check) fs.writeFileSync(file, out);
  }
  for (const dir of NOTEBOOKS) {
    for (const name of fs
      .readdirSync(path.join(ROOT, dir))
      .filter((f) => f.endsWith('.ipynb'))
      .sort()) {
      const file = path.join(ROOT, dir, name);
      if (!wanted(file)) continue;
      const { text, cells } = await formatNotebook(file, options);
      if (cells.length === 0) continue;
      bad.push(`${path.relative(ROOT, file)} (code cells ${cells.join(', ')})`);
      if (!check) fs.writeFileSync(file, text);
    }
  }
  if (check) {
    if (bad.length) {
      console.error(`not formatted (run npm run format):\n${bad.map((b) => `  ${b}`).join('\n')}`);
      process.exit(1);
    }
    console.log('format: every file and notebook cell is formatted');
  } else {
    console.log(bad.length ? `format: rewrote ${bad.length} files` : 'format: nothing to change');
  }
}

main().catch((e) => {
  console.error(e instanceof Error ? e.message : e);
  process.exit(2);
});
