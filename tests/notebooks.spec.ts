// Every lesson notebook executed headlessly through Jupyter's own client (nbclient) with the
// course kernel, in quick mode; plus the runner's failure reporting on a deliberately failing fixture.
import { strict as assert } from 'assert';
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

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
