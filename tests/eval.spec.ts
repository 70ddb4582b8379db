// `npm run eval` and the lesson-05 measurement behind it. The script runs as a child process (as a
// user runs it) on a tiny random UNet saved in a temp dir; the measurement is checked against the
// samplers and fidReport called directly, which share none of its batching and seeding code.
import { strict as assert } from 'assert';
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs-core';
import '../lib/core/tfjs_setup';
import { saveUNetWeights } from '../lib/core/checkpoint/unet_checkpoint';
import {
  compareSamplers,
  disposeResults,
  fidVsStepsTraces,
  formatResultsTable,
  parseSamplerSpecs,
  resultRecord,
} from '../lib/eval/lesson05';
import { fidReport } from '../lib/eval/metrics/report';
import { Rng } from '../lib/core/random';
import { makeSampler } from '../lib/core/samplers/index';
import { unetModel } from '../lib/core/samplers/types';
import { linearSchedule } from '../lib/core/schedule';
import { resolveUNetConfig } from '../lib/core/unet/config';
import { UNet } from '../lib/core/unet/unet';

const ROOT = path.resolve(__dirname, '..');
const TSX = path.join(ROOT, 'node_modules', '.bin', 'tsx');

function tinyUNet(seed = 1): UNet {
  return new UNet(
    resolveUNetConfig({
      imageSize: 28,
      inChannels: 1,
      outChannels: 1,
      baseChannels: 8,
      channelMults: [1, 2],
      numResBlocks: 1,
      groups: 4,
      attentionHeads: 2,
      midAttention: false,
    }),
    { seed },
  );
}

function runEval(args: string[]): { status: number | null; stdout: string; stderr: string } {
  // The cpu backend keeps the child small and independent of the native build; the script is the same.
  const r = spawnSync(TSX, [path.join(ROOT, 'scripts', 'eval.ts'), ...args], {
    cwd: ROOT,
    encoding: 'utf8',
    env: { ...process.env, DIFFUSION_BACKEND: 'cpu' },
    timeout: 240_000,
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('npm run eval', function () {
  this.timeout(300_000);
  let dir = '';
  let ckpt = '';

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'eval-spec-'));
    ckpt = path.join(dir, 'model.safetensors');
    const m = tinyUNet();
    await saveUNetWeights(ckpt, m, { lesson: '05' });
    m.dispose();
  });

  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('lesson 05 ends with one JSON line holding finite headline numbers', () => {
    const samplers = 'ddim:3,dpm++2m:2,plms:3';
    const r = runEval(['05', '--checkpoint', ckpt, '--n', '12', '--samplers', samplers, '--batch', '5']);
    assert.equal(r.status, 0, r.stderr);
    const lines = r.stdout.trim().split('\n');
    const rec = JSON.parse(lines[lines.length - 1]) as Record<string, unknown>;
    assert.equal(rec.lesson, '05');
    assert.equal(rec.sampler, 'ddim'); // the first listed run is the headline
    assert.equal(rec.steps, 3);
    assert.equal(rec.n, 12);
    assert.equal(rec.backend, 'cpu');
    for (const k of ['fid', 'fid_floor', 'kid', 'seconds'])
      assert.ok(Number.isFinite(rec[k] as number), `${k} = ${rec[k]}`);
    assert.ok((rec.fid as number) > 0 && (rec.fid_floor as number) > 0);
    // A random network's samples are far from Fashion-MNIST: worse than real-vs-real.
    assert.ok((rec.fid as number) > (rec.fid_floor as number), `fid ${rec.fid} vs floor ${rec.fid_floor}`);
    assert.match(r.stdout, /DPM-Solver\+\+\(2M\)\s+2\s+12/); // every run is in the table
    assert.match(r.stdout, /PLMS\s+3\s+12/);
  });

  it('an unknown lesson is an error that lists the known ones', () => {
    const r = runEval(['99']);
    assert.equal(r.status, 2);
    assert.match(r.stderr, /unknown lesson '99': known lessons are 05/);
  });

  it('a missing checkpoint says how to make it', () => {
    const r = runEval(['05', '--checkpoint', path.join(dir, 'nope.safetensors'), '--n', '4']);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /nope\.safetensors not found: run npm run train -- 05/);
  });

  it('bad flags are usage errors', () => {
    assert.equal(runEval(['05', '--samplers', 'euler:10']).status, 2);
    assert.equal(runEval(['05', '--n', '1']).status, 2);
  });
});

describe('lesson 05 measurement (compareSamplers)', function () {
  // Generous: each FID report also bootstraps its spread (200 eigenvalue solves), and the machine is shared.
  this.timeout(300_000);

  it('matches the samplers and fidReport called directly, from the same starting noise', async () => {
    const m = tinyUNet(2);
    const model = unetModel(m, 'eps');
    const schedule = linearSchedule(1000);
    const seed = 3;
    const specs = parseSamplerSpecs('ddim:4,ddpm:3');
    // batchSize 6 > n: one batch, whose x_T is drawn from Rng(seed * 100003 + 0) by the contract.
    const results = await compareSamplers(model, schedule, specs, {
      n: 6,
      seed,
      batchSize: 6,
      keep: 6,
      progress: false,
    });
    try {
      for (const [i, spec] of specs.entries()) {
        const rng = new Rng(seed * 100003);
        const xT = rng.normalTensor([6, 28, 28, 1]) as tf.Tensor4D;
        const direct = makeSampler(spec.sampler, schedule).sample(model, [6, 28, 28, 1], {
          steps: spec.steps,
          rng,
          xT,
        });
        const diff = tf.tidy(() => tf.max(tf.abs(tf.sub(direct, results[i].samples))).dataSync()[0]);
        assert.ok(diff < 1e-5, `${spec.sampler}: max |diff| ${diff}`);
        const ref = await fidReport(direct, { n: 6, seed });
        assert.ok(Math.abs(ref.fid - results[i].fid!.fid) < 1e-6 * Math.max(1, ref.fid));
        assert.equal(ref.floor, results[i].fid!.floor);
        assert.ok(results[i].seconds > 0);
        tf.dispose([xT, direct]);
      }
      // Batching must not change the images: 6 images in batches of 4 + 2 start from other x_T for
      // the second batch, but the first 4 are the same draws.
      const batched = await compareSamplers(model, schedule, [specs[0]], {
        n: 6,
        seed,
        batchSize: 4,
        keep: 6,
        fid: false,
        progress: false,
      });
      const d4 = tf.tidy(
        () =>
          tf.max(tf.abs(tf.sub(tf.slice(batched[0].samples, 0, 4), tf.slice(results[0].samples, 0, 4)))).dataSync()[0],
      );
      assert.ok(d4 < 1e-5, `first batch differs by ${d4}`);
      assert.equal(batched[0].fid, null);
      const noFid = await compareSamplers(model, schedule, [{ sampler: 'ddim', steps: 2, n: 3, fid: false }], {
        n: 6,
        seed,
        keep: 8,
        progress: false,
      });
      assert.equal(noFid[0].fid, null);
      assert.equal(noFid[0].n, 3);
      assert.deepEqual(noFid[0].samples.shape, [3, 28, 28, 1]); // keep is capped at the run's n
      disposeResults(noFid);
      disposeResults(batched);
      assert.match(formatResultsTable(results), /DDIM\s+4\s+6/);
      const rec = resultRecord(results[0]);
      assert.deepEqual(Object.keys(rec).slice(0, 5), ['lesson', 'sampler', 'steps', 'fid', 'fid_floor']);
      // The bootstrap spread rides along (fid_bootstrap.ts): a std and an interval around the FID.
      const ci = rec.fid_ci as number[];
      assert.ok((rec.fid_spread as number) > 0 && ci[0] <= (rec.fid as number) && (rec.fid as number) <= ci[1]);
      const traces = fidVsStepsTraces(results);
      assert.equal(traces.length, 3); // DDIM, DDPM, the floor
    } finally {
      disposeResults(results);
      m.dispose();
    }
  });

  it('rejects bad specs and options with one clear line', async () => {
    assert.throws(() => parseSamplerSpecs('ddim'), /not name:steps/);
    assert.throws(() => parseSamplerSpecs('heun:10'), /unknown sampler 'heun'/);
    assert.throws(() => parseSamplerSpecs('ddim:0'), /\[1, 1000\]/);
    assert.deepEqual(parseSamplerSpecs('ddim:50, dpm++2m:20'), [
      { sampler: 'ddim', steps: 50 },
      { sampler: 'dpm++2m', steps: 20 },
    ]);
    const fake = { prediction: 'eps' as const, predict: (x: tf.Tensor4D) => tf.zerosLike(x) };
    await assert.rejects(compareSamplers(fake, linearSchedule(10), [], {}), /no samplers/);
    await assert.rejects(
      compareSamplers(fake, linearSchedule(10), [{ sampler: 'ddim', steps: 2 }], { n: 1 }),
      /n must be an integer >= 2/,
    );
  });
});
