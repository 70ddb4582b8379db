// Training must not leak tensors: 200 steps of a small UNet on each backend that can train, and
// tf.memory().numTensors stays flat after the first steps (Adam creates its moment variables on
// the first step).
import * as assert from 'assert';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import { Rng } from '../lib/core/random';
import { linearSchedule } from '../lib/core/schedule';
import { DDIMSampler } from '../lib/core/samplers/ddim';
import { unetModel } from '../lib/core/samplers/types';
import { makeTrainStep } from '../lib/core/train/train_step';
import { UNet } from '../lib/core/unet/unet';
import { registerWasmTrainingKernels } from '../lib/runtime/wasm/register';
import { TINY_UNET } from './helpers/tiny_unet';

type Activate = () => Promise<string | null>; // null: ready; otherwise why it is skipped

const backends: Record<string, Activate> = {
  cpu: async () => ((await tf.setBackend('cpu')) ? null : "tf.setBackend('cpu') failed"),
  wasm: async () => {
    registerWasmTrainingKernels();
    return (await tf.setBackend('wasm')) ? null : "tf.setBackend('wasm') failed";
  },
  onednn: async () => {
    try {
      // Optional native backend (another part of the project); absent on most machines.
      const native = require(path.join(__dirname, '..', 'lib', 'runtime', 'native'));
      const r = await native.registerNativeBackend();
      if (!r.ok) return r.reason as string;
      return (await tf.setBackend('onednn')) ? null : "tf.setBackend('onednn') failed";
    } catch (e) {
      return `lib/runtime/native not available (${String((e as Error).message).split('\n')[0]})`;
    }
  },
};

describe('training memory stays flat', function () {
  let previous = '';
  before(() => {
    previous = tf.getBackend();
  });
  after(async () => {
    if (previous) await tf.setBackend(previous);
  });

  for (const [name, activate] of Object.entries(backends)) {
    it(`${name}: 200 train steps + a DDIM sample keep numTensors constant`, async function () {
      const why = await activate();
      if (why !== null) {
        console.log(`      skipped ${name}: ${why}`);
        this.skip();
      }
      const rng = new Rng(0);
      const model = new UNet(
        // Tiny on purpose: the pure-JS cpu backend's conv weight gradient is slow.
        { ...TINY_UNET, numClasses: 2 },
        { rng },
      );
      const schedule = linearSchedule(100);
      const step = makeTrainStep(model, { schedule, rng: rng.fork(), learningRate: 1e-3 });
      const x0 = tf.tidy(() => tf.sub(tf.mul(rng.uniformTensor([4, 8, 8, 1]), 2), 1)) as tf.Tensor4D;
      const counts: number[] = [];
      const losses: number[] = [];
      for (let i = 0; i < 200; i++) {
        losses.push(await step(x0, { classLabels: [0, 1, 2, i % 3] }));
        counts.push(tf.memory().numTensors);
      }
      const settled = counts[2];
      const grew = counts.findIndex((c, i) => i >= 2 && c !== settled);
      assert.strictEqual(grew, -1, `numTensors changed at step ${grew}: ${counts[2]} -> ${counts[grew]}`);
      assert.ok(losses.every(Number.isFinite), 'non-finite loss');
      // Training on one fixed batch must make progress (the memory test is also a smoke test).
      const mean = (a: number[]) => a.reduce((p, q) => p + q, 0) / a.length;
      assert.ok(
        mean(losses.slice(-20)) < mean(losses.slice(0, 20)),
        `loss did not fall: ${mean(losses.slice(0, 20))} -> ${mean(losses.slice(-20))}`,
      );
      const before = tf.memory().numTensors;
      const sampler = new DDIMSampler(schedule);
      const imgs = sampler.sample(unetModel(model, 'eps', { classLabels: [1, 1] }), [2, 8, 8, 1], { steps: 5, rng });
      imgs.dispose();
      assert.strictEqual(tf.memory().numTensors, before, 'sampling leaked tensors');
      x0.dispose();
      step.dispose();
      model.dispose();
      // Adam's moments are released with the optimizer: back to where we started.
      assert.ok(tf.memory().numTensors < settled - model.params.size, 'optimizer or model tensors were not released');
    });
  }
});
