// Interrupt: every long loop asks one cancellation signal at its step boundaries and stops there,
// releasing its tensors; a training writes a checkpoint first and says how to resume; progress bars
// say where it stopped; the next loop runs normally. First in this process (the signal raised by
// hand), then through Jupyter's own client against the course kernel: Interrupt during a Trainer
// cell and two sampling cells, the message, the checkpoint, the next cell's answer time and the
// tensor count.
import * as assert from 'assert';
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import * as vm from 'vm';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { InterruptedError, requestInterrupt } from '../lib/core/cancel';
import { Rng } from '../lib/core/random';
import { DDPMSampler } from '../lib/core/samplers/ddpm';
import { unetModel } from '../lib/core/samplers/types';
import { linearSchedule } from '../lib/core/schedule';
import { listCheckpoints } from '../lib/core/train/loss_trainer';
import { Trainer } from '../lib/core/train/trainer';
import { UNet } from '../lib/core/unet/unet';
import { sampleInBatches } from '../lib/eval/batched_sampling';
import { fit2d } from '../lib/methods/toy2d/train2d';
import { PY } from './helpers/python';
import { tempDir } from './helpers/training';
import { TINY_UNET_NO_ATTENTION } from './helpers/tiny_unet';

const ROOT = path.resolve(__dirname, '..');
const tiny = TINY_UNET_NO_ATTENTION;
const batches = (step: number) => ({ x: new Rng(step).normalTensor([4, 8, 8, 1]) as tf.Tensor4D });

describe('interrupt: loops stop at a step boundary on the shared signal', () => {
  before(async () => {
    await tf.setBackend('cpu');
  });

  it('a training stops after the step in progress, writes a checkpoint, says how to resume; the next run resumes', async () => {
    const schedule = linearSchedule(100);
    const dir = tempDir('interrupt-train-');
    const net = new UNet(tiny, { seed: 1 });
    const before = tf.memory().numTensors;
    const log: string[] = [];
    const progress = { mode: 'log' as const, stream: { write: (s: string) => log.push(s) } };
    const options = { schedule, totalSteps: 20, learningRate: 1e-3, checkpointDir: dir, checkpointEvery: 15, progress };
    const trainer = new Trainer(net, options);
    let error: unknown = null;
    try {
      await trainer.train(batches, { onStep: (r) => r.step === 6 && requestInterrupt() });
    } catch (e) {
      error = e;
    } finally {
      trainer.dispose();
    }
    assert.ok(error instanceof InterruptedError, `expected InterruptedError, got ${String(error)}`);
    assert.strictEqual(error.step, 7, 'stopped after the step in progress (step 6), before step 7');
    const ckpt = path.join(dir, 'step-00000007.safetensors');
    assert.deepStrictEqual(
      listCheckpoints(dir).map((c) => c.file),
      [ckpt],
    );
    assert.match(error.message, /Training interrupted at step 7 of 20; checkpoint written to .*step-00000007/);
    assert.match(error.message, /resumes from it/);
    assert.match(log.join(''), /train .*7\/20 .* interrupted at step 7\n$/);
    assert.strictEqual(tf.memory().numTensors, before, 'the trainer released what it held');

    // The signal is reset: a fresh trainer resumes from the checkpoint and runs to the end.
    const again = new Trainer(net, options);
    try {
      assert.ok(await again.resume());
      assert.strictEqual(again.step, 7);
      await again.train(batches);
      assert.strictEqual(again.step, 20);
    } finally {
      again.dispose();
    }
    net.dispose();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('sampling stops at the next step and releases its tensors; so does sampleInBatches', async () => {
    const schedule = linearSchedule(100);
    const net = new UNet(tiny, { seed: 2 });
    const model = unetModel(net);
    const ddpm = new DDPMSampler(schedule);
    const before = tf.memory().numTensors;
    let seen = 0;
    assert.throws(
      () =>
        ddpm.sample(model, [2, 8, 8, 1], {
          steps: 50,
          rng: new Rng(1),
          onStep: (s) => {
            seen = s.index + 1;
            if (s.index === 9) requestInterrupt();
          },
        }),
      (e: unknown) => e instanceof InterruptedError && e.step === 10 && /ddpm interrupted at step 10/.test(e.message),
    );
    assert.strictEqual(seen, 10, 'no step after the interrupt');
    assert.strictEqual(tf.memory().numTensors, before);

    let steps = 0;
    await assert.rejects(
      () =>
        sampleInBatches(
          { n: 8, batchSize: 2, seed: 1, imageShape: [8, 8, 1], steps: 20, label: 'ddpm', progress: false },
          (b) =>
            ddpm.sample(model, [b.size, 8, 8, 1], {
              steps: 20,
              rng: b.rng,
              xT: b.xT,
              onStep: () => {
                b.onStep?.();
                if (++steps === 25) requestInterrupt();
              },
            }),
        ),
      InterruptedError,
    );
    assert.strictEqual(steps, 25, 'no step after the interrupt');
    assert.strictEqual(tf.memory().numTensors, before, 'the finished batch and the running one are released');

    // The next sampling runs normally.
    const x = ddpm.sample(model, [1, 8, 8, 1], { steps: 5, rng: new Rng(3) });
    assert.deepStrictEqual(x.shape, [1, 8, 8, 1]);
    x.dispose();
    net.dispose();
  });

  it('a sampling loop Node stops inside tfjs bookkeeping: nothing freed twice or left behind', async () => {
    // In the kernel's synchronous part SIGINT stops the code at any statement (tslab runs cells with
    // vm's breakOnSigint). vm's timeout stops it the same way (V8's TerminateExecution); a method that
    // never returns on its n-th call puts the stop inside tfjs's bookkeeping: in a disposal after tfjs
    // counted the tensor out (disposing it again counted it out twice: the kernel once read 103
    // tensors against 104), in engine.track after a new tensor was counted or a tidy's scope popped
    // but before a scope took the tensor, or while a tidy whose result is kept (FiniteWatch's) closes
    // (then no scope ever disposed the tensor).
    const schedule = linearSchedule(100);
    const net = new UNet(tiny, { seed: 4 });
    const model = unetModel(net);
    const ddpm = new DDPMSampler(schedule);
    const backend = tf.backend();
    const engine = tf.engine();
    const state = engine.state as unknown as { activeScope: { track: tf.Tensor[] } | null };
    type Cut = {
      where: 'disposeData' | 'removeDataId' | 'track' | 'disposeTensor';
      n: number;
      when?: (args: unknown[]) => boolean;
    };
    const outsideTidy = () => state.activeScope === null;
    const cuts: Cut[] = [
      { where: 'disposeData', n: 1 },
      { where: 'disposeData', n: 250 },
      { where: 'removeDataId', n: 100 },
      { where: 'track', n: 200 }, // a new tensor
      // A tidy's result moving to the parent scope (it was tracked in the inner one before).
      { where: 'track', n: 20, when: (args) => (args[0] as { scopeId?: number }).scopeId != null },
      // A tidy closing whose result is kept.
      { where: 'disposeData', n: 3, when: () => !!state.activeScope?.track.some((t) => t.kept) },
      // Disposals in the loop itself, outside its tidy (the previous sample, x0, FiniteWatch's value).
      { where: 'disposeTensor', n: 4, when: outsideTidy },
      { where: 'disposeTensor', n: 5, when: outsideTidy },
      { where: 'disposeTensor', n: 6, when: outsideTidy },
    ];
    const sample5 = async () => {
      const x = ddpm.sample(model, [1, 8, 8, 1], { steps: 5, rng: new Rng(3) });
      const values = Array.from(await x.data());
      x.dispose();
      return values;
    };
    const reference = await sample5();
    const before = tf.memory().numTensors;
    for (const cut of cuts) {
      const target = (cut.where === 'disposeData' ? backend : engine) as unknown as Record<string, unknown>;
      const own = Object.prototype.hasOwnProperty.call(target, cut.where);
      const original = target[cut.where] as (...args: unknown[]) => unknown;
      let calls = 0;
      target[cut.where] = function (this: unknown, ...args: unknown[]) {
        if ((!cut.when || cut.when(args)) && ++calls === cut.n) for (;;); // where Node's stop lands
        return original.apply(this, args);
      };
      try {
        const run = () => ddpm.sample(model, [2, 8, 8, 1], { steps: 50, rng: new Rng(1) }).dispose();
        assert.throws(() => vm.runInNewContext('run()', { run }, { timeout: 300 }), /timed out/);
      } finally {
        if (own) target[cut.where] = original;
        else delete target[cut.where];
      }
      await new Promise((r) => setImmediate(r)); // the loop guard's cleanup
      assert.strictEqual(tf.memory().numTensors, before, `stopped in ${cut.where} call ${cut.n}`);
    }
    // Nothing else was freed: the next sampling gives the same sample as before the stops.
    assert.deepStrictEqual(await sample5(), reference);
    assert.strictEqual(tf.memory().numTensors, before);
    net.dispose();
  });

  it('a 2-D toy training stops between steps and releases its batch', async () => {
    const before = tf.memory().numTensors;
    let done = 0;
    await assert.rejects(
      () =>
        fit2d({
          data: '8-gaussians',
          steps: 100,
          batchSize: 8,
          rng: new Rng(1),
          showProgress: false,
          step: () => {
            if (++done === 4) requestInterrupt();
            return 0;
          },
        }),
      (e: unknown) => e instanceof InterruptedError && e.step === 4,
    );
    assert.strictEqual(done, 4);
    assert.strictEqual(tf.memory().numTensors, before);
  });
});

interface CellRun {
  status: string;
  text: string;
  seconds: number;
  stopSeconds: number | null;
  found: boolean;
}

interface KernelReport {
  checkpointDir: string;
  baseline: number;
  train: CellRun;
  checkpoints: string[];
  afterTrain: number;
  afterTrainSeconds: number;
  sampleSync: CellRun;
  afterSampleSync: number;
  afterSampleSyncSeconds: number;
  sampleAsync: CellRun;
  afterSampleAsync: number;
  afterSampleAsyncSeconds: number;
  after: CellRun;
  afterCount: number | null;
  /** Outputs of tensor-count cells that ended in an error (a SIGINT's stop arriving late). */
  failedCounts: string[];
}

describe('interrupt in the course kernel (Jupyter client, diffusion-ts)', function () {
  this.timeout(600_000);
  let r: KernelReport;

  before(function () {
    const run = spawnSync(PY, [path.join(ROOT, 'tests', 'helpers', 'interrupt_kernel.py')], {
      cwd: ROOT,
      encoding: 'utf8',
      maxBuffer: 64 << 20,
      timeout: 590_000,
    });
    const how = run.error ? `${run.error.message}, ` : ''; // ETIMEDOUT: it ran past 590 s
    assert.strictEqual(
      run.status,
      0,
      `interrupt_kernel.py failed (${how}exit ${run.status}):\n${run.stdout}\n${run.stderr}`,
    );
    r = JSON.parse(run.stdout.trim().split('\n').pop() as string) as KernelReport;
  });

  after(() => {
    if (r) fs.rmSync(r.checkpointDir, { recursive: true, force: true });
  });

  const quickAnswer = 2; // seconds: the bound for the next cell

  it('a Trainer cell: stops within seconds, says where the checkpoint is, the checkpoint exists, the tensor count is back', () => {
    const t = r.train;
    assert.ok(t.found, `no interrupted message:\n${t.text}`);
    assert.ok((t.stopSeconds as number) < 10, `message ${t.stopSeconds}s after Interrupt`);
    const m = /Training interrupted at step (\d+) of 3000; checkpoint written to (\S+)\./.exec(t.text);
    assert.ok(m, t.text);
    const step = Number(m[1]);
    assert.ok(step >= 3 && step < 3000, `stopped at step ${step}`);
    assert.match(t.text, new RegExp(`train .* interrupted at step ${step}`), 'the bar says where it stopped');
    assert.deepStrictEqual(r.checkpoints, [`step-${String(step).padStart(8, '0')}.safetensors`]);
    assert.strictEqual(path.basename(m[2]), r.checkpoints[0]);
    assert.ok(r.afterTrainSeconds < quickAnswer, `next cell answered after ${r.afterTrainSeconds}s`);
    assert.strictEqual(r.afterTrain, r.baseline, 'tensor count');
  });

  it('a sampling cell in the synchronous part: stops at once, its tensors are released, the next cell answers', () => {
    const s = r.sampleSync;
    assert.ok(s.found, `no interrupted message:\n${s.text}`);
    assert.match(s.text, /ddpm interrupted at step \d+; its tensors were released/);
    assert.ok((s.stopSeconds as number) < 10, `message ${s.stopSeconds}s after Interrupt`);
    assert.ok(r.afterSampleSyncSeconds < quickAnswer, `next cell answered after ${r.afterSampleSyncSeconds}s`);
    assert.strictEqual(r.afterSampleSync, r.baseline, 'tensor count');
    // Node's own stop for the SIGINT ends this cell, never a later one.
    assert.deepStrictEqual(r.failedCounts, [], 'the cells after it ran without error');
  });

  it('a sampling cell after an await: stops at the next step, the bar says where, the tensor count is back', () => {
    const s = r.sampleAsync;
    assert.strictEqual(s.status, 'error');
    assert.match(s.text, /InterruptedError: ddpm interrupted at step \d+/);
    assert.match(s.text, /ddpm .*\/1000 .* interrupted at step \d+/);
    assert.ok((s.stopSeconds as number) < 10, `message ${s.stopSeconds}s after Interrupt`);
    assert.ok(r.afterSampleAsyncSeconds < quickAnswer, `next cell answered after ${r.afterSampleAsyncSeconds}s`);
    assert.strictEqual(r.afterSampleAsync, r.baseline, 'tensor count');
  });

  it('the signal is reset: the next training cell runs to its end', () => {
    assert.strictEqual(r.after.status, 'ok', r.after.text);
    assert.match(r.after.text, /trained 3 steps/);
    assert.strictEqual(r.afterCount, r.baseline);
  });
});
