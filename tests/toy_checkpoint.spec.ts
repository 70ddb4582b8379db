// Lesson 01's toy-model checkpoint (lib/methods/toy2d/toy_checkpoint.ts): saved and loaded, the three
// models have the same weights bit for bit and draw the same samples from the same seed, the loss curves
// come back exactly; a missing, truncated, foreign or inconsistent file is one error line naming it, and
// leaves no tensors behind; npm run train:toy refuses bad flags in one line and writes a file and a
// manifest (sha256, measured numbers) that load.
import { strict as assert } from 'assert';
import { spawnSync } from 'child_process';
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../lib/runtime/backend';
import { Rng } from '../lib/core/random';
import { encodeSafetensors, decodeSafetensors } from '../lib/core/checkpoint/safetensors';
import { saveCheckpoint } from '../lib/core/checkpoint/checkpoint';
import { loadPretrained } from '../lib/course/models';
import { disposeToyModels, trainToyModels, TrainedToyModels } from '../lib/methods/toy2d/compare2d';
import { sampleDiffusion2d } from '../lib/methods/toy2d/denoiser2d';
import { expectToyRun, loadToyModels, saveToyModels, toyModelsFileName } from '../lib/methods/toy2d/toy_checkpoint';
import { tempDir } from './helpers/training';

const ROOT = path.resolve(__dirname, '..');
const TSX = path.join(ROOT, 'node_modules', '.bin', 'tsx');
const RUN = { data: '8-gaussians', steps: 12, seed: 5 };

async function values(vars: tf.Variable[]): Promise<Float32Array[]> {
  return Promise.all(vars.map(async (v) => Float32Array.from(await v.data())));
}

function allVariables(m: TrainedToyModels): tf.Variable[] {
  return [
    ...m.gan.generator.variables(),
    ...m.gan.discriminator.variables(),
    ...m.vae.encoder.variables(),
    ...m.vae.decoder.variables(),
    ...m.diffusion.variables(),
  ];
}

/** Samples of all three models from fixed seeds: GAN, VAE, and 10 DDPM steps of the diffusion model. */
async function samples(m: TrainedToyModels): Promise<Float32Array[]> {
  const g = m.gan.generate(40, new Rng(1));
  const v = m.vae.generate(40, new Rng(2));
  const out = [Float32Array.from(await g.data()), Float32Array.from(await v.data())];
  tf.dispose([g, v]);
  out.push(
    await sampleDiffusion2d(m.diffusion.asDiffusionModel(), m.schedule, 40, { steps: 10, eta: 1, rng: new Rng(3) }),
  );
  return out;
}

/** Rewrites a saved file's header metadata (tensors unchanged) with `edit`. */
function editMetadata(src: string, dst: string, edit: (meta: Record<string, string>) => void): void {
  const f = decodeSafetensors(fs.readFileSync(src), src);
  const tensors = new Map(
    [...f.tensors].map(([k, t]) => [
      k,
      { dtype: 'F32' as const, shape: t.shape, data: new Float32Array(new Uint8Array(t.bytes).buffer) },
    ]),
  );
  const meta = { ...f.metadata };
  edit(meta);
  fs.writeFileSync(dst, encodeSafetensors(tensors, meta));
}

/** The error `fn` throws: one line, naming `file`, matching `re`; no tensor left behind. */
function refused(fn: () => unknown, file: string, re: RegExp): void {
  const before = tf.memory().numTensors;
  assert.throws(fn, (e: Error) => {
    assert.match(e.message, re);
    assert.ok(e.message.includes(file), `the error names ${file}: ${e.message}`);
    assert.ok(!e.message.includes('\n'), `one line: ${e.message}`);
    return true;
  });
  assert.equal(tf.memory().numTensors, before, 'tensors left behind by a refused file');
}

describe('toy checkpoint (lesson 01)', function () {
  this.timeout(600_000);
  let dir: string;
  let trained: TrainedToyModels;
  let file: string;

  before(async () => {
    await initBackend();
    dir = tempDir('toy-ckpt-');
    trained = await trainToyModels({ ...RUN, hidden: [16, 16], T: 20, showProgress: false });
    file = path.join(dir, toyModelsFileName(RUN.seed));
    await saveToyModels(file, trained, RUN);
  });
  after(() => {
    if (trained) disposeToyModels(trained);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('round trip: identical weights, samples and loss curves; dispose frees everything', async () => {
    const before = tf.memory().numTensors;
    const loaded = loadToyModels(file);
    assert.deepEqual(loaded.config, {
      kind: 'toy2d-models',
      ...RUN,
      batchSize: 256,
      hidden: [16, 16],
      T: 20,
      timeDim: 32,
      ganLatentDim: 8,
      vaeLatentDim: 2,
      decoderStd: 0.1,
    });
    const [a, b] = [await values(allVariables(trained)), await values(allVariables(loaded))];
    assert.equal(a.length, b.length);
    a.forEach((w, i) => assert.deepEqual(b[i], w, `variable ${i}`));
    const [sa, sb] = [await samples(trained), await samples(loaded)];
    sa.forEach((s, i) => assert.deepEqual(sb[i], s, ['GAN', 'VAE', 'diffusion'][i] + ' samples'));
    assert.equal(loaded.schedule.T, 20);
    for (const m of ['gan', 'vae', 'diffusion'] as const) {
      assert.deepEqual(loaded.fits[m].history, trained.fits[m].history, `${m} curves`);
      assert.equal(loaded.fits[m].ms, trained.fits[m].ms);
    }
    assert.deepEqual(Object.keys(loaded.fits.gan.history).sort(), ['d', 'g']);
    assert.equal(loaded.fits.diffusion.history.loss.length, RUN.steps);
    assert.equal(expectToyRun(loaded, RUN), loaded);
    loaded.dispose();
    assert.equal(tf.memory().numTensors, before, 'tensors left after dispose');
  });

  it('another run than the one asked for is refused with the command that writes it', () => {
    const before = tf.memory().numTensors;
    const loaded = loadToyModels(file);
    assert.throws(
      () => expectToyRun(loaded, { ...RUN, steps: 20000, seed: 0 }),
      /holds 8-gaussians, 12 steps, seed 5; wanted 8-gaussians, 20000 steps, seed 0: run npm run train:toy -- --steps 20000 --seeds 0$/,
    );
    assert.equal(tf.memory().numTensors, before, 'the refused models are freed');
  });

  it('a missing file names the command (through the table of pretrained models too)', () => {
    const missing = path.join(dir, 'nope.safetensors');
    refused(() => loadToyModels(missing), missing, /^checkpoint .*nope\.safetensors: no such file$/);
    refused(() => loadPretrained('01/toy-models', missing), missing, /not found: run npm run train:toy \(it writes/);
  });

  it('a truncated or corrupt file is one error naming it', () => {
    const bytes = fs.readFileSync(file);
    const cut = path.join(dir, 'cut.safetensors');
    fs.writeFileSync(cut, bytes.subarray(0, bytes.length - 100));
    refused(() => loadToyModels(cut), cut, /out of range|belong to no tensor/);
    const junk = path.join(dir, 'junk.safetensors');
    fs.writeFileSync(junk, Buffer.from('not a checkpoint at all'));
    refused(() => loadToyModels(junk), junk, /safetensors .*junk\.safetensors: header length/);
  });

  it("a file that is not lesson 01's models, or describes other models than it holds, is refused", async () => {
    const foreign = path.join(dir, 'foreign.safetensors');
    await saveCheckpoint(foreign, { config: { kind: 'unet' }, params: new Map() });
    refused(() => loadToyModels(foreign), foreign, /not lesson 01's toy models \(config kind is "unet"/);

    const huge = path.join(dir, 'huge.safetensors');
    editMetadata(file, huge, (m) => {
      m.config = JSON.stringify({ ...JSON.parse(m.config), hidden: [4096, 4096, 4096] });
    });
    refused(() => loadToyModels(huge), huge, /describes a larger model than the file holds/);

    const wider = path.join(dir, 'wider.safetensors');
    editMetadata(file, wider, (m) => {
      m.config = JSON.stringify({ ...JSON.parse(m.config), hidden: [16, 17] });
    });
    refused(
      () => loadToyModels(wider),
      wider,
      /tensor 'denoiser\.1\.weight' has shape \[16,16\], its config describes \[16,17\]/,
    );

    const longer = path.join(dir, 'longer.safetensors');
    editMetadata(file, longer, (m) => {
      m.config = JSON.stringify({ ...JSON.parse(m.config), steps: 13 });
    });
    refused(() => loadToyModels(longer), longer, /curve 'train\/gan\.d' has 12 entries, the run 13/);
  });

  it('a file without a curve the lesson draws, or with a NaN weight, is refused', () => {
    const f = decodeSafetensors(fs.readFileSync(file), file);
    const rewrite = (name: string, keep: (k: string) => boolean, poison?: string) => {
      const out = path.join(dir, name);
      const tensors = new Map(
        [...f.tensors]
          .filter(([k]) => keep(k))
          .map(([k, t]) => {
            const data = new Float32Array(new Uint8Array(t.bytes).buffer);
            if (k === poison) data[3] = NaN;
            return [k, { dtype: 'F32' as const, shape: t.shape, data }];
          }),
      );
      fs.writeFileSync(out, encodeSafetensors(tensors, f.metadata));
      return out;
    };
    const noCurve = rewrite('nocurve.safetensors', (k) => k !== 'train/diffusion.loss');
    refused(() => loadToyModels(noCurve), noCurve, /curve 'train\/diffusion\.loss' is missing/);
    const nan = rewrite('nan.safetensors', () => true, 'gan.generator.0.weight');
    refused(() => loadToyModels(nan), nan, /tensor 'gan\.generator\.0\.weight' holds NaN/);
  });

  it('npm run train:toy: a bad flag is one line before anything loads; a run writes a file its manifest describes', function () {
    for (const [args, re] of [
      [['--steps', '1e99'], /^train-toy: --steps needs an integer/],
      [['--steps', '0'], /^train-toy: --steps must be >= 1, got 0/],
      [['--seeds', '0,-1'], /^train-toy: --seeds must be in \[0, 2147483647\], got -1/],
      [['--seeds', '1,1'], /^train-toy: --seeds lists a seed twice/],
      [['--bogus'], /^train-toy: unknown flag '--bogus'/],
    ] as [string[], RegExp][]) {
      const r = spawnSync(TSX, [path.join(ROOT, 'scripts', 'train-toy.ts'), ...args], {
        cwd: ROOT,
        encoding: 'utf8',
        env: { ...process.env, DIFFUSION_BACKEND: 'cpu' },
        timeout: 120_000,
      });
      assert.equal(r.status, 2, `${args.join(' ')}: ${r.stdout}${r.stderr}`);
      assert.match(r.stderr, re);
      assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
      assert.match(r.stderr, /\(usage: npm run train:toy -- \[--steps N\] \[--seeds 0,1,2\] \[--out DIR\]\)$/m);
      assert.doesNotMatch(r.stdout + r.stderr, /backend|lesson 01:/i, 'got as far as starting');
    }
    const out = path.join(dir, 'run');
    const r = spawnSync(
      TSX,
      [path.join(ROOT, 'scripts', 'train-toy.ts'), '--steps', '3', '--seeds', '7', '--out', out],
      {
        cwd: ROOT,
        encoding: 'utf8',
        timeout: 400_000,
      },
    );
    assert.equal(r.status, 0, r.stdout + r.stderr);
    const manifest = JSON.parse(fs.readFileSync(path.join(out, 'manifest.json'), 'utf8'));
    const rec = manifest.models['seed-7'];
    assert.equal(rec.file, 'models-seed7.safetensors');
    const bytes = fs.readFileSync(path.join(out, rec.file));
    assert.equal(rec.sha256, crypto.createHash('sha256').update(bytes).digest('hex'));
    assert.equal(manifest.trainedWith, 'npm run train:toy -- --steps 3 --seeds 7');
    assert.deepEqual(
      rec.measured.samplers.map((s: { name: string }) => s.name),
      ['GAN', 'VAE', 'Diffusion (DDPM, 100 steps)', 'Diffusion (DDIM, 20 steps)'],
    );
    for (const s of rec.measured.samplers) assert.ok(s.quality >= 0 && s.quality <= 1 && s.mmd2 >= 0, s.name);
    const loaded = loadToyModels(path.join(out, rec.file));
    assert.deepEqual([loaded.config.steps, loaded.config.seed, loaded.config.hidden], [3, 7, [64, 64, 64]]);
    loaded.dispose();
  });
});
