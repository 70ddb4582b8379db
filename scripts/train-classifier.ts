// Trains the Fashion-MNIST classifier whose features FID/KID use, and writes it to
// checkpoints/classifier/ (weights.bin + manifest.json with accuracy, steps, seed, backend, time).
//   npm run train:classifier -- [--epochs 5] [--seed 0] [--out checkpoints/classifier] [--every N] [--fresh]
// A resumable training state is written to <out>/train/ every --every steps (default: each epoch);
// re-running resumes from the newest, --fresh starts over.
import * as path from 'path';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend, formatBackendReport } from '../lib/runtime/backend';
import { FashionClassifier } from '../lib/eval/metrics/classifier';
import { pretrainedPath } from '../lib/course/models';
import { trainClassifier } from '../lib/eval/metrics/train_classifier';
import { Rng } from '../lib/core/random';
import { removeCheckpoints } from '../lib/core/train/loss_trainer';
import { loadFashionMnist, toTensor } from '../datasets/index';
import { exitStatus, intValue, SEED_MAX } from './flags';
import { stopTrainingOnCtrlC } from '../lib/core/cancel';

function arg(name: string, def: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : def;
}

const FLAGS = ['--epochs', '--seed', '--out', '--every'];

async function main(): Promise<void> {
  stopTrainingOnCtrlC();
  // A mistyped flag is an error, not a five-epoch training with the defaults.
  for (let i = 2; i < process.argv.length; i++) {
    const f = process.argv[i];
    if (FLAGS.includes(f)) {
      if (i + 1 >= process.argv.length) throw new Error(`${f} needs a value`);
      i++;
    } else if (f !== '--fresh') throw new Error(`unknown argument '${f}' (flags: ${FLAGS.join(' N, ')} N, --fresh)`);
  }
  const epochs = intValue('--epochs', arg('epochs', '5'), 1);
  const seed = intValue('--seed', arg('seed', '0'), 0, SEED_MAX);
  const out = path.resolve(arg('out', path.dirname(pretrainedPath('classifier'))));
  const every = intValue('--every', arg('every', '0'), 0); // 0: each epoch
  const states = path.join(out, 'train');
  if (process.argv.includes('--fresh')) removeCheckpoints(states);
  const report = await initBackend();
  console.log(formatBackendReport(report));
  const train = loadFashionMnist('train');
  const test = loadFashionMnist('test');
  const xTest = toTensor(test);
  const rng = new Rng(seed);
  const model = new FashionClassifier({ rng: rng.fork() });
  console.log(`classifier: ${model.paramCount} parameters, ${epochs} epochs, seed ${seed}`);
  const t0 = Date.now();
  let avg = 0;
  const steps = await trainClassifier(model, train, {
    epochs,
    seed,
    checkpointDir: states,
    checkpointEvery: every || undefined,
    onStep: (s, loss) => {
      avg = s === 0 ? loss : 0.98 * avg + 0.02 * loss;
      if (s % 100 === 0)
        console.log(
          `step ${s}: loss ${avg.toFixed(4)} (${((Date.now() - t0) / 1000).toFixed(1)} s, ${tf.memory().numTensors} tensors)`,
        );
    },
    onEpoch: async (e) =>
      console.log(`epoch ${e + 1}: test accuracy ${(100 * (await model.accuracy(xTest, test.labels))).toFixed(2)}%`),
  });
  const wallS = (Date.now() - t0) / 1000;
  const accuracy = await model.accuracy(xTest, test.labels);
  const manifest = await model.save(out, {
    accuracy,
    accuracySplit: 'fashion-mnist test (10,000 images, our fixed split)',
    steps,
    epochs,
    batchSize: 128,
    learningRate: 1e-3,
    seed,
    backend: report.backend,
    wallSeconds: Math.round(wallS * 10) / 10,
    trainedAt: new Date().toISOString(),
  });
  console.log(
    `test accuracy ${(100 * accuracy).toFixed(2)}% after ${steps} steps in ${wallS.toFixed(1)} s; wrote ${out} (sha256 ${manifest.sha256.slice(0, 12)})`,
  );
  xTest.dispose();
  model.dispose();
}

main().catch((e) => {
  console.error(e instanceof Error ? e.message : e);
  process.exit(exitStatus(e));
});
