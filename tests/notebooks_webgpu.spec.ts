// Lessons 00, 02, 05 and 07 executed through nbclient on webgpu (Dawn's OpenGL backend on Mesa's llvmpipe: a
// real WebGPU device without a GPU), in quick mode, and a few printed numbers compared with the onednn run of the
// same seed. Executed copies go to build/lessons-webgpu/ so the onednn copies in build/lessons/ stay onednn's.
// The onednn reference is build/lessons/NN.ipynb when tests/notebooks.spec.ts has just written it (mocha runs
// it first: files alphabetically) and it is newer than the notebook and lib/, datasets/; else it is run here.
// Measured: 887 s on 2 busy cores (load 5-7) with all four onednn references run here; 07 alone is about 8 minutes
// on webgpu (its guidance sweep and cost cells), 05 about 3. DIFFUSION_TEST_WEBGPU_GL=0 skips.
import { strict as assert } from 'assert';
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';

const ROOT = path.resolve(__dirname, '..');
const RUNNER = path.join(ROOT, 'scripts', 'run_lessons.py');
const WEBGPU_OUT = path.join(ROOT, 'build', 'lessons-webgpu');
const ONEDNN_OUT = path.join(ROOT, 'build', 'lessons');
const WEBGPU_ENV = { DIFFUSION_BACKEND: 'webgpu', DIFFUSION_WEBGPU_DAWN: 'opengl' };
// The kernel checks' tolerance (scripts/gpu-pack-check.ts, CHECK_TOLERANCE): max |a − b| over max |b| per tensor.
const TOLERANCE = 1e-3;

/**
 * A group of printed numbers compared as one tensor: every match of `pattern` (one capture group) in order.
 * `scale` divides the difference instead of the group's largest onednn value: 1 for a residual of a checked-equal
 * cell (both sides near 0; the tensors it compares are noise predictions and samples of order 1).
 */
type Pick = { what: string; pattern: RegExp; scale?: number };

// Chosen per lesson: values the backend computes (losses, metrics, checked-equal residuals), never timings, and
// none that a handful of diverging optimiser steps or a discrete decision (a class accuracy over 20 images)
// would amplify beyond rounding.
const LESSONS: { file: string; picks: Pick[] }[] = [
  // 00 computes no value on the backend except a timing; what it shows is the backend report (asserted for every
  // lesson below) and that no tensor leaks from the convolution benchmark.
  {
    file: '00_setup.ipynb',
    picks: [{ what: 'tensors alive after the conv benchmark', pattern: /tensors alive: (\d+)/g }],
  },
  {
    file: '02_diffusion_process.ipynb',
    picks: [
      // q(x_t | x_0) in closed form (tensor ops) at six t: the forward process itself.
      { what: 'rms of the closed-form q(x_t|x0)', pattern: /rms: closed form ([\d.]+)/g },
      // The same t by the step-by-step chain.
      { what: 'rms of the step-by-step chain', pattern: /step by step ([\d.]+)/g },
      // The reverse-step check against DDPMSampler: the residual is below printing precision on both.
      {
        what: 'max |our step − DDPMSampler.step|',
        pattern: /max \|our step − DDPMSampler\.step\| = ([\d.e+-]+)/g,
        scale: 1,
      },
      {
        what: 'whole chain max |DDPMSampler − sampleDiffusion2d|',
        pattern: /sampleDiffusion2d\| = ([\d.e+-]+)/g,
        scale: 1,
      },
      // The denoiser after 300 training steps, sampled: MMD² of its points to the data (training and sampling).
      { what: 'MMD² generated vs data', pattern: /MMD² generated vs data: ([\d.]+)/g },
    ],
  },
  {
    file: '05_loss_and_training.ipynb',
    picks: [
      // The loss of the untrained UNet (forward pass only) and after 15 training steps with EMA weights: the
      // lesson's two headline numbers, forward and backward kernels both in them.
      { what: 'loss untrained / after 15 steps', pattern: /loss \(mean over the 6 images\) = ([\d.]+)/g },
      // The per-t ε-MSE of the untrained network (forward only, three t).
      { what: 'ε-MSE per t (untrained)', pattern: /: ε-MSE ([\d.]+)/g },
      // The squared error per t before -> after training (six t, twelve numbers).
      { what: 'squared error per t, before', pattern: /squared error ([\d.]+) ->/g },
      { what: 'squared error per t, after', pattern: /squared error [\d.]+ -> ([\d.]+)/g },
      // FID of 16 samples from the trained model by each of eight samplers: the sampling loops end to end.
      { what: 'FID per sampler (16 images)', pattern: /: 16 images in [\d.]+ s, FID ([\d.]+)/g },
      // The written-out samplers against the library's, checked equal in the notebook.
      { what: 'max |written-out − makeSampler|', pattern: /max \|written-out[^|]*\| = ([\d.e+-]+)/g, scale: 1 },
    ],
  },
  {
    file: '07_classifier_free_guidance.ipynb',
    picks: [
      // Six fine-tuning losses of the tiny conditional UNet (Trainer on the backend: forward, backward, Adam).
      { what: 'fine-tuning losses', pattern: /fine-tuning steps of a [\d,]+-parameter UNet in [\d.]+ s; losses (.*)/g },
      // The shipped CFG model's implicit classifier gradient: a forward pass of the 1.6M-parameter UNet.
      { what: 'implicit classifier gradient rms', pattern: /implicit classifier gradient at t = \d+: rms ([\d.]+)/g },
      {
        what: 'CFG mix max |written out − cfgModel|',
        pattern: /max \|written out − cfgModel\| = ([\d.e+-]+)/g,
        scale: 1,
      },
    ],
  },
];

function runLessons(out: string, notebook: string, env: Record<string, string>) {
  return spawnSync('/usr/bin/python3', [RUNNER, '--out', out, path.join(ROOT, 'notebooks', notebook)], {
    cwd: ROOT,
    env: { ...process.env, LESSON_MODE: 'quick', ...env },
    encoding: 'utf8',
    maxBuffer: 64 << 20,
  });
}

type Cell = {
  cell_type: string;
  execution_count: number | null;
  outputs?: { name?: string; text?: string | string[] }[];
};

function cellsOf(file: string): Cell[] {
  return JSON.parse(fs.readFileSync(file, 'utf8')).cells.filter((c: Cell) => c.cell_type === 'code');
}

function stdoutOf(cell: Cell): string {
  return (cell.outputs ?? [])
    .filter((o) => o.name === 'stdout')
    .map((o) => (Array.isArray(o.text) ? o.text.join('') : (o.text ?? '')))
    .join('');
}

/** The first line of the backend report (the first code cell's first output). */
function backendLine(file: string): string {
  return stdoutOf(cellsOf(file)[0]).split('\n')[0];
}

/** The printed numbers of one pick, as text (their decimals give the printing precision). */
function printed(file: string, pick: Pick): string[] {
  const text = cellsOf(file).map(stdoutOf).join('');
  return [...text.matchAll(pick.pattern)].flatMap((m) =>
    m[1]
      .trim()
      .split(/[\s,]+/)
      .filter(Boolean),
  );
}

/** One unit in the last printed place: two roundings of the same value differ by up to this much. */
function lastPlace(s: string): number {
  const m = /^-?\d*(?:\.(\d+))?(?:e([+-]?\d+))?$/i.exec(s);
  assert.ok(m, `not a printed number: '${s}'`);
  if (Number(s) === 0) return 0; // a printed 0 (0.0e+0 included) is exactly 0
  return 10 ** (Number(m[2] ?? 0) - (m[1]?.length ?? 0));
}

/** Newest modification time under the given paths (files the lessons' numbers depend on). */
function newest(paths: string[]): number {
  let t = 0;
  const walk = (p: string) => {
    const st = fs.statSync(p);
    if (st.isDirectory()) for (const f of fs.readdirSync(p)) walk(path.join(p, f));
    else t = Math.max(t, st.mtimeMs);
  };
  for (const p of paths) walk(path.join(ROOT, p));
  return t;
}

describe('notebooks on webgpu (Dawn OpenGL on llvmpipe, LESSON_MODE=quick, against onednn)', function () {
  this.timeout(1_800_000);

  before(function () {
    if (process.env.DIFFUSION_TEST_WEBGPU_GL === '0') {
      console.log('      (skipped: DIFFUSION_TEST_WEBGPU_GL=0)');
      this.skip();
    }
    // scripts/setup.sh installs Mesa's EGL (libegl-mesa0) wherever it can install packages (apt-get); there the
    // device must start. Only a machine setup cannot provision skips, and says so.
    const mesa = fs.existsSync('/usr/share/glvnd/egl_vendor.d/50_mesa.json');
    if (!mesa && spawnSync('sh', ['-c', 'command -v apt-get']).status !== 0) {
      console.log("      (skipped: no Mesa EGL and no apt-get to install it; Debian's libegl-mesa0 gives the device)");
      this.skip();
    }
    const r = spawnSync(
      process.execPath,
      [path.join(ROOT, 'node_modules', 'tsx', 'dist', 'cli.mjs'), 'tools/probe-backend.ts', '--json'],
      { cwd: ROOT, env: { ...process.env, ...WEBGPU_ENV }, encoding: 'utf8', timeout: 300_000 },
    );
    const why = `${r.stderr ?? ''}`.trim().split('\n').pop() || `exit ${r.status}`;
    assert.ok(
      mesa && r.status === 0,
      `webgpu (Dawn OpenGL on llvmpipe) did not start though setup provides it: ${mesa ? why : 'Mesa EGL (libegl-mesa0) missing; run npm run setup'}`,
    );
    fs.mkdirSync(WEBGPU_OUT, { recursive: true });
  });

  for (const { file, picks } of LESSONS) {
    it(`${file} runs on webgpu and prints the onednn numbers`, function () {
      const r = runLessons(WEBGPU_OUT, file, WEBGPU_ENV);
      assert.equal(r.status, 0, `${file} failed on webgpu:\n${r.stdout}\n${r.stderr}`);
      const executed = path.join(WEBGPU_OUT, file);
      assert.ok(
        cellsOf(executed).every((c) => c.execution_count !== null),
        `${file}: a cell did not run`,
      );
      assert.match(backendLine(executed), /^backend: webgpu \[forced\]/, `${file} did not run on webgpu`);

      // The onednn reference: reused only when it is onednn's and newer than what its numbers depend on.
      let reference = path.join(ONEDNN_OUT, file);
      const inputs = newest([path.join('notebooks', file), 'lib', 'datasets']);
      const fresh =
        fs.existsSync(reference) &&
        fs.statSync(reference).mtimeMs > inputs &&
        /^backend: onednn\b/.test(backendLine(reference));
      if (!fresh) {
        const o = runLessons(ONEDNN_OUT, file, { DIFFUSION_BACKEND: 'onednn' });
        assert.equal(o.status, 0, `${file} failed on onednn (the reference):\n${o.stdout}\n${o.stderr}`);
        reference = path.join(ONEDNN_OUT, file);
        assert.match(backendLine(reference), /^backend: onednn/);
      }
      console.log(`      reference: build/lessons/${file} (${fresh ? 'reused from this run' : 'run here on onednn'})`);

      for (const pick of picks) {
        const [a, b] = [printed(executed, pick), printed(reference, pick)];
        assert.ok(b.length > 0, `${file}: '${pick.what}' not printed by the onednn run (${pick.pattern})`);
        assert.equal(
          a.length,
          b.length,
          `${file}: '${pick.what}': ${a.length} numbers on webgpu, ${b.length} on onednn`,
        );
        // As the kernel checks: max |a − b| over max |b| for the group, less the printing rounding.
        const scale = pick.scale ?? Math.max(...b.map((s) => Math.abs(Number(s))), 1e-6);
        const err = Math.max(
          ...a.map((s, i) => Math.max(0, Math.abs(Number(s) - Number(b[i])) - lastPlace(b[i])) / scale),
        );
        console.log(
          `      ${pick.what}: webgpu ${a.join(' ')} | onednn ${b.join(' ')} | rel. diff ${err.toExponential(1)}`,
        );
        assert.ok(err <= TOLERANCE, `${file}: '${pick.what}' differs by ${err} > ${TOLERANCE}`);
      }
    });
  }
});
