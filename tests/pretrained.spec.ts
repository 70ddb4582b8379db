// lib/course/pretrained.ts: quick mode trains (even when a checkpoint exists) and the model it
// returns denoises a held-out batch better than the same network at its initial weights; standard
// mode loads the checkpoint it is pointed at (same weights, same outputs) and trains when the file
// is missing; training leaks no tensors.
import * as assert from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../lib/runtime/backend';
import { saveUNetWeights } from '../lib/core/checkpoint/unet_checkpoint';
import { pretrainedUNet } from '../lib/course/pretrained';
import { pretrainedPath } from '../lib/course/models';
import { repoRoot } from '../lib/runtime/repo_root';
import { diffusionLoss } from '../lib/core/loss';
import { Rng } from '../lib/core/random';
import { linearSchedule } from '../lib/core/schedule';
import { referenceUNetConfig } from '../lib/core/unet/config';
import { UNet } from '../lib/core/unet/unet';
import { loadFashionMnist, toTensor } from '../datasets/index';

/** The eps-MSE on fixed held-out images, timesteps and noise (the same numbers for every model). */
function heldOutLoss(u: UNet): number {
  const schedule = linearSchedule(1000);
  const test = loadFashionMnist('test');
  const rng = new Rng(123);
  const n = 64;
  const x0 = toTensor(test, { indices: Array.from({ length: n }, (_, i) => i * 7) });
  const t = Array.from({ length: n }, () => rng.int(1000));
  const noise = rng.normalTensor(x0.shape) as tf.Tensor4D;
  const l = diffusionLoss((xt, tt) => u.apply(xt, tt), schedule, x0, t, noise);
  const v = l.dataSync()[0];
  tf.dispose([x0, noise, l]);
  return v;
}

describe('pretrained lesson model', function () {
  this.timeout(600000);
  let tmp: string;
  before(async () => {
    await initBackend();
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'pretrained-'));
  });
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));

  it('resolves the repository root (through symlinks) and the shipped checkpoint path', () => {
    const root = repoRoot();
    assert.ok(
      fs.existsSync(path.join(root, 'package.json')) &&
        fs.existsSync(path.join(root, 'lib', 'course', 'pretrained.ts')),
      root,
    );
    assert.strictEqual(pretrainedPath('05/unet'), path.join(root, 'checkpoints', '05', 'model.safetensors'));
  });

  it("standard mode without a checkpoint option loads the shipped model (the table's 05/unet)", async () => {
    const r = await pretrainedUNet({ mode: 'standard', progress: false });
    assert.strictEqual(r.source, 'shipped checkpoint');
    assert.strictEqual(r.file, pretrainedPath('05/unet'));
    r.unet.dispose();
  });

  it('quick mode trains a small UNet whose held-out loss drops, ignoring an existing checkpoint', async () => {
    const file = path.join(tmp, 'present.safetensors');
    const other = new UNet(
      referenceUNetConfig({
        baseChannels: 8,
        channelMults: [1, 2],
        numResBlocks: 1,
        attentionResolutions: [],
        midAttention: false,
      }),
      { seed: 3 },
    );
    await saveUNetWeights(file, other);
    other.dispose();
    const before = tf.memory().numTensors;
    const r = await pretrainedUNet({ mode: 'quick', checkpoint: file, progress: false });
    assert.strictEqual(r.source, 'trained here (30 steps)');
    assert.strictEqual(r.file, null);
    assert.strictEqual(r.history!.loss.length, 30);
    const lTrained = heldOutLoss(r.unet);
    r.unet.dispose();
    assert.strictEqual(tf.memory().numTensors, before, 'training and disposing the model leaked tensors');
    const initial = new UNet(r.unet.config, { seed: 0 }); // the same network at its starting weights
    const lInit = heldOutLoss(initial);
    initial.dispose();
    assert.ok(
      lTrained < 0.6 * lInit,
      `held-out eps-MSE ${lTrained.toFixed(3)} after training vs ${lInit.toFixed(3)} at init`,
    );
    const h = r.history!.loss;
    const mean = (a: number[]) => a.reduce((p, q) => p + q, 0) / a.length;
    assert.ok(mean(h.slice(-5)) < mean(h.slice(0, 5)), `training loss ${mean(h.slice(0, 5))} -> ${mean(h.slice(-5))}`);
  });

  it('standard mode loads the checkpoint it is pointed at: same weights, same outputs', async () => {
    const file = path.join(tmp, 'model.safetensors');
    const saved = new UNet(
      referenceUNetConfig({ baseChannels: 8, channelMults: [1, 2], numResBlocks: 1, attentionResolutions: [14] }),
      { seed: 11 },
    );
    await saveUNetWeights(file, saved, { lesson: 'test' }, 1234);
    const r = await pretrainedUNet({ mode: 'standard', checkpoint: file, progress: false });
    assert.strictEqual(r.source, 'shipped checkpoint');
    assert.strictEqual(r.file, file);
    assert.strictEqual(r.history, null);
    assert.strictEqual(r.schedule.T, 1000);
    assert.deepStrictEqual(r.unet.config, saved.config);
    for (const [name, v] of saved.params) {
      assert.deepStrictEqual(Array.from(r.unet.params.get(name)!.dataSync()), Array.from(v.dataSync()), name);
    }
    const x = new Rng(5).normalTensor([2, 28, 28, 1]) as tf.Tensor4D;
    const a = saved.apply(x, [10, 900]);
    const b = r.unet.apply(x, [10, 900]);
    assert.ok(tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]) < 1e-5);
    tf.dispose([x, a, b]);
    saved.dispose();
    r.unet.dispose();
  });

  it('standard mode without the file trains here and says so; bad step counts are refused', async () => {
    const missing = path.join(tmp, 'nope', 'model.safetensors');
    const r = await pretrainedUNet({
      mode: 'standard',
      checkpoint: missing,
      steps: 2,
      batchSize: 4,
      config: { baseChannels: 8, channelMults: [1, 2], midAttention: false },
      progress: false,
    });
    assert.strictEqual(r.source, 'trained here (2 steps)');
    assert.strictEqual(r.history!.loss.length, 2);
    r.unet.dispose();
    await assert.rejects(
      pretrainedUNet({ mode: 'quick', steps: 0, progress: false }),
      /steps must be a positive integer, got 0/,
    );
  });
});
