// Runs a notebook's code cells in order through tslab itself, without Jupyter, and writes the executed
// notebook (outputs included):
//
//   npx tsx scripts/run-notebook-tslab.ts <notebook.ipynb> <executed.ipynb>
//   bin/node app/run-notebook-tslab.js <notebook.ipynb> <executed.ipynb>      (the GPU pack's bundle)
//
// Each code cell goes to tslab's own execute-request handler (JupyterHandlerImpl.handleExecute: the code
// the tslab kernel runs for every cell nbclient sends it), with tslab's converter (its TypeScript 5.0
// type check and transpilation of the cell and of the .ts files it imports) and executor, in one Node
// process. Only the transport is left out: no ZeroMQ, no Jupyter client. That is for machines without
// pyzmq/nbclient (the GPU machines, scripts/gpu-run.sh). The working folder is the notebook's, as in
// the kernel, so `./lib/...` imports resolve there; tslab is loaded from the notebook's side first
// (the pack's node_modules), else from this script's.
//
// Prints each cell's output as it comes (display outputs as one line with their text/plain), one
// `cell N ok <s> s` line per cell (N: the cell's index in the notebook, as scripts/run_lessons.py
// names it), the total, and `NOTEBOOK_RESULT {json}` last. Stops at the first failing cell with
// `cell N failed ...: <first line of its error>` (tslab reports compile and runtime errors on the
// cell's stderr) and exit status 1; 2 when the arguments or the notebook are unusable. The executed
// notebook is written after every cell, so a run stopped from outside keeps the cells done so far.
import * as fs from 'fs';
import * as path from 'path';
import { createRequire } from 'module';

type Output = Record<string, unknown>;
interface Cell {
  cell_type: string;
  source: string | string[];
  execution_count?: number | null;
  outputs?: Output[];
  metadata?: Record<string, unknown>;
}
interface Notebook {
  cells: Cell[];
  metadata?: Record<string, unknown>;
}
interface DisplayContent {
  data: Record<string, unknown>;
  metadata: Record<string, unknown>;
  transient?: { display_id?: string };
}
interface Handler {
  handleExecute(
    req: { code: string },
    writeStream: (name: string, text: string) => void,
    writeDisplayData: (content: DisplayContent, update: boolean) => void,
  ): Promise<{ status: string; execution_count?: number }>;
}
interface Converter {
  close(): void;
}

export interface NotebookResult {
  notebook: string;
  ok: boolean;
  /** Index in the notebook's cells of the failing cell, -1 when none failed. */
  failedCell: number;
  error?: string;
  /** Code cells run (the failing one included). */
  cells: number;
  codeCells: number;
  /** From loading tslab to the end of the last cell, as nbclient's time includes the kernel's start. */
  seconds: number;
  tslab: string;
}

const realOut = process.stdout.write.bind(process.stdout);
const realErr = process.stderr.write.bind(process.stderr);
const log = (line: string) => realOut(`${line}\n`);

function fail(msg: string): never {
  realErr(`run-notebook: ${msg}\n`);
  process.exit(2);
}

function writeAtomic(file: string, nb: Notebook): void {
  const tmp = `${file}.tmp`;
  fs.writeFileSync(tmp, JSON.stringify(nb, null, 1) + '\n');
  fs.renameSync(tmp, file);
}

/**
 * The line of a failing cell's stderr that names its error: tslab's compile diagnostic (`3:7 - Type ...`), else
 * the thrown error's `Error: ...` line (Node prints the source line above it), else the first line.
 */
function errorLine(outputs: Output[]): string {
  const lines = outputs
    .filter((o) => o.output_type === 'stream' && o.name === 'stderr')
    .map((o) => String(o.text))
    .join('')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '');
  return (
    lines.find((l) => /^(\S+ )?\d+:\d+ - /.test(l)) ??
    lines.find((l) => /^[\w$.]*(Error|Exception)\b/.test(l)) ??
    lines[0] ??
    '(nothing on stderr)'
  );
}

async function main(): Promise<number> {
  const [nbArg, outArg, ...rest] = process.argv.slice(2);
  if (!nbArg || !outArg || rest.length > 0) fail('usage: run-notebook-tslab <notebook.ipynb> <executed.ipynb>');
  const nbPath = path.resolve(nbArg);
  const outPath = path.resolve(outArg);
  let nb: Notebook;
  try {
    nb = JSON.parse(fs.readFileSync(nbPath, 'utf8')) as Notebook;
  } catch (e) {
    fail(`cannot read ${nbArg} as a notebook: ${(e as Error).message.split('\n')[0]}`);
  }
  if (!Array.isArray(nb.cells)) fail(`${nbArg} is not a Jupyter notebook (no 'cells' list)`);
  fs.mkdirSync(path.dirname(outPath), { recursive: true });

  const started = Date.now();
  // As the kernel: the notebook's folder is the working folder, and tslab's converter roots there.
  process.chdir(path.dirname(nbPath));
  let tslabPkg: string;
  try {
    tslabPkg = require.resolve('tslab/package.json', { paths: [process.cwd(), __dirname] });
  } catch {
    fail(`tslab not found from ${process.cwd()} or ${__dirname} (npm install, or the pack's node_modules)`);
  }
  // Loaded at run time (never bundled), so that lib/core/kernel_display.ts finds this very jupyter module
  // in require.cache, as it does in the kernel.
  const tslabRequire = createRequire(tslabPkg);
  const tslabVersion = (JSON.parse(fs.readFileSync(tslabPkg, 'utf8')) as { version: string }).version;
  const { createConverter } = tslabRequire('./dist/converter.js') as {
    createConverter(o: { isJS: boolean; isBrowser: boolean }): Converter;
  };
  const { createExecutor } = tslabRequire('./dist/executor.js') as {
    createExecutor(root: string, convs: object, console: { log: unknown; error: unknown }): object;
  };
  const { JupyterHandlerImpl } = tslabRequire('./dist/jupyter.js') as {
    JupyterHandlerImpl: new (executor: object, isJs: boolean) => Handler;
  };
  // As tslab's startKernel (main.js): converters made on first use, the node one warmed up front.
  let nodeConv: Converter | undefined;
  let browserConv: Converter | undefined;
  const convs = {
    get node() {
      return (nodeConv ??= createConverter({ isJS: false, isBrowser: false }));
    },
    get browser() {
      return (browserConv ??= createConverter({ isJS: false, isBrowser: true }));
    },
    close() {
      nodeConv?.close();
      browserConv?.close();
    },
  };
  void convs.node;
  const executor = createExecutor(process.cwd(), convs, { log: console.log, error: console.error });
  const handler = new JupyterHandlerImpl(executor, false);
  // The kernel's handlers: report on the cell's stderr and go on.
  process.on('uncaughtException', (err) => console.error('UncaughtException:', err));
  process.on('unhandledRejection', (reason) => console.error('UnhandledPromiseRejection:', reason));

  const codeCells = nb.cells.filter((c) => c.cell_type === 'code').length;
  for (const c of nb.cells) {
    if (c.cell_type !== 'code') continue;
    c.execution_count = null;
    c.outputs = [];
  }
  // Outputs by display id, over the whole notebook: an update replaces each output shown with that id.
  const byId = new Map<string, Output[]>();
  let ran = 0;
  let failed = -1;
  let error: string | undefined;
  for (const [index, cell] of nb.cells.entries()) {
    if (cell.cell_type !== 'code') continue;
    const code = Array.isArray(cell.source) ? cell.source.join('') : cell.source;
    const outputs: Output[] = [];
    cell.outputs = outputs;
    const stream = (name: string, text: string) => {
      const last = outputs[outputs.length - 1];
      if (last?.output_type === 'stream' && last.name === name) last.text = `${String(last.text)}${text}`;
      else outputs.push({ output_type: 'stream', name: name, text: text });
      (name === 'stderr' ? realErr : realOut)(text);
    };
    const display = (content: DisplayContent, update: boolean) => {
      const id = content.transient?.display_id;
      if (update) {
        for (const o of (id && byId.get(id)) || [])
          Object.assign(o, { data: content.data, metadata: content.metadata });
        return;
      }
      const o: Output = { output_type: 'display_data', data: content.data, metadata: content.metadata ?? {} };
      outputs.push(o);
      if (id) byId.set(id, [...(byId.get(id) ?? []), o]);
      const text = content.data['text/plain'];
      const kinds = Object.keys(content.data).join(', ');
      log(typeof text === 'string' ? `${text.split('\n')[0]}  [display: ${kinds}]` : `[display: ${kinds}]`);
    };
    // Let the event loop turn between cells, as it does in the kernel while the next request arrives.
    await new Promise((resolve) => setImmediate(resolve));
    const t0 = Date.now();
    ran++;
    const reply = await handler.handleExecute({ code: code }, stream, display);
    // tslab leaves process.stdout/stderr pointing at the cell; this script's own lines go to the terminal.
    process.stdout.write = realOut;
    process.stderr.write = realErr;
    cell.execution_count = reply.execution_count ?? ran;
    const secs = ((Date.now() - t0) / 1000).toFixed(1);
    writeAtomic(outPath, nb);
    if (reply.status !== 'ok') {
      failed = index;
      error = errorLine(outputs);
      log(`cell ${index} failed after ${secs} s (code cell ${ran} of ${codeCells}): ${error}`);
      realErr(`--- cell ${index} source:\n${code}\n`);
      break;
    }
    log(`cell ${index} ok ${secs} s (code cell ${ran} of ${codeCells})`);
  }
  const seconds = (Date.now() - started) / 1000;
  const result: NotebookResult = {
    notebook: path.basename(nbPath),
    ok: failed < 0,
    failedCell: failed,
    ...(error !== undefined ? { error: error } : {}),
    cells: ran,
    codeCells: codeCells,
    seconds: Math.round(seconds * 10) / 10,
    tslab: tslabVersion,
  };
  log(
    failed < 0
      ? `run-notebook: ${result.notebook}: ${codeCells} code cells in ${seconds.toFixed(1)} s (tslab ${tslabVersion})`
      : `run-notebook: ${result.notebook}: FAILED at cell ${failed} after ${seconds.toFixed(1)} s`,
  );
  log(`run-notebook: executed notebook written to ${outPath}`);
  log(`NOTEBOOK_RESULT ${JSON.stringify(result)}`);
  return failed < 0 ? 0 : 1;
}

main().then(
  // Exit explicitly: backend worker threads (wasm) would keep the process alive.
  (code) => process.exit(code),
  (e) => {
    realErr(`run-notebook: ${(e as Error).stack ?? String(e)}\n`);
    process.exit(2);
  },
);
