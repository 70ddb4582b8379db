// Issue #29: the WebGPU backend under Node has no synchronous read, so every read of tensor values in
// lib/, datasets/, scripts/, tools/ and the notebooks' code cells is asynchronous (await t.data() / t.array()).
// This spec fails on any dataSync / arraySync / bufferSync call left there, outside the short list
// below (each entry says why it must stay synchronous), and checks its own detector on planted code.
import { strict as assert } from 'assert';
import * as fs from 'fs';
import * as path from 'path';

const ROOT = path.resolve(__dirname, '..');
const FOLDERS = ['lib', 'datasets', 'scripts', 'tools'];
const CODE = /\.(ts|js|mjs|cjs)$/;

/**
 * Files allowed synchronous reads, with the exact count. Keep it tiny: a new entry needs a reason why
 * the value cannot be read with await.
 */
const ALLOWED: Record<string, { count: number; why: string }> = {
  'lib/core/samplers/finite_watch.ts': {
    count: 1,
    why:
      'sample() hands its tensor back synchronously (the sampling loop and its ~80 callers); the NaN watch ' +
      'reads one scalar per run on CPU backends and skips the check on webgpu',
  },
};

// A call (x.dataSync(), x\n  .arraySync (), x?.bufferSync()) or a computed access (x['dataSync']).
const SYNC_READ = /\??\.\s*(dataSync|arraySync|bufferSync)\s*\(|\[\s*['"`](dataSync|arraySync|bufferSync)['"`]\s*\]/g;

export function countSyncReads(code: string): number {
  return [...code.matchAll(SYNC_READ)].length;
}

function filesUnder(dir: string): string[] {
  const out: string[] = [];
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) {
      if (e.name !== 'node_modules' && !e.name.startsWith('.')) out.push(...filesUnder(p));
    } else if (CODE.test(e.name)) out.push(p);
  }
  return out;
}

/** The code cells of a notebook, joined (markdown may name the methods when it explains them). */
function notebookCode(file: string): string {
  const nb = JSON.parse(fs.readFileSync(file, 'utf8')) as { cells: { cell_type: string; source: string | string[] }[] };
  return nb.cells
    .filter((c) => c.cell_type === 'code')
    .map((c) => (Array.isArray(c.source) ? c.source.join('') : c.source))
    .join('\n');
}

describe('no synchronous tensor reads (webgpu under Node has none)', () => {
  it('the detector finds planted reads and passes asynchronous ones', () => {
    assert.equal(countSyncReads('const v = x.dataSync()[0];'), 1);
    assert.equal(countSyncReads('const a = t.arraySync ();\nconst b = t\n  .bufferSync();'), 2);
    assert.equal(countSyncReads("const f = t['dataSync']; const g = t?.dataSync();"), 2);
    assert.equal(countSyncReads('const v = await x.data(); const a = await t.array(); // dataSync is gone'), 0);
    assert.equal(countSyncReads('fs.readFileSync(f); backend.readSync(id); writeSync(fd, b);'), 0);
  });

  it(`${FOLDERS.join('/, ')}/ read tensors with await only (outside the listed CPU-only helpers)`, () => {
    const found: Record<string, number> = {};
    for (const folder of FOLDERS)
      for (const file of filesUnder(path.join(ROOT, folder))) {
        const n = countSyncReads(fs.readFileSync(file, 'utf8'));
        if (n) found[path.relative(ROOT, file).split(path.sep).join('/')] = n;
      }
    const unexpected = Object.entries(found).filter(([f, n]) => ALLOWED[f]?.count !== n);
    assert.deepEqual(
      unexpected,
      [],
      'synchronous reads (use await t.data() / t.array(); in a tf.tidy, compute inside and read outside): ' +
        unexpected.map(([f, n]) => `${f}: ${n}`).join(', '),
    );
    // A listed file that no longer reads synchronously leaves the list.
    const stale = Object.keys(ALLOWED).filter((f) => !found[f]);
    assert.deepEqual(stale, [], `no longer reads synchronously, remove from ALLOWED: ${stale.join(', ')}`);
  });

  it("the notebooks' code cells read tensors with await only", () => {
    const dir = path.join(ROOT, 'notebooks');
    const notebooks = fs.readdirSync(dir).filter((f) => f.endsWith('.ipynb'));
    assert.ok(notebooks.length >= 16, `found ${notebooks.length} notebooks`);
    const found = notebooks
      .map((f) => [f, countSyncReads(notebookCode(path.join(dir, f)))] as const)
      .filter(([, n]) => n > 0);
    assert.deepEqual(found, [], `synchronous reads in notebook code cells: ${found.map(([f, n]) => `${f}: ${n}`)}`);
  });
});
