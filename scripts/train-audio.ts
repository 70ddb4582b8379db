// Trains lesson 16's models and writes checkpoints/16/:
//   classifier/                the instrument classifier (metric network), trained first if missing
//   model.safetensors          the class-conditional spectrogram UNet's EMA weights (what the lesson loads)
//   train/step-N.safetensors   its resumable training state (git-ignored)
//
//   npm run train:audio -- [flags]
//
// The data set is made from its seed (lib/methods/audio/dataset.ts); the UNet trains with the course's
// Trainer and batch source on the spectrograms as 8-bit images, with condition dropout for CFG.
// Re-running resumes from the newest state in train/ unless --fresh.
import * as fs from 'fs';
import * as path from 'path';
import { formatBackendReport, initBackend } from '../lib/runtime/backend';
import { linearSchedule } from '../lib/core/schedule';
import { imageBatches } from '../lib/core/train/batch_source';
import { cosineTrainer, trainAndSave } from '../lib/core/train/train_and_save';
import { UNet } from '../lib/core/unet/unet';
import { audioImageData, makeAudioSet, NUM_CLASSES } from '../lib/methods/audio/dataset';
import { instrumentAccuracy } from '../lib/methods/audio/eval';
import { InstrumentClassifier, trainInstrumentClassifier } from '../lib/methods/audio/instrument_classifier';
import { audioUNetConfig } from '../lib/methods/audio/model';
import { exitStatus, FlagSpec, parseFlags, UsageError, usageText } from './flags';
import { stopTrainingOnCtrlC } from '../lib/core/cancel';

const FLAGS = {
  steps: { kind: 'int', default: 2000, help: 'UNet optimisation steps', min: 1 },
  batch: { kind: 'int', default: 32, help: 'batch size', min: 1 },
  lr: { kind: 'num', default: 1e-3, help: 'peak learning rate', min: 0 },
  warmup: { kind: 'int', default: 100, help: 'linear warm-up steps', min: 0 },
  minLr: { kind: 'num', default: 2e-5, help: 'floor of the cosine decay', min: 0 },
  ema: { kind: 'num', default: 0.995, help: 'EMA decay', min: 0, max: 0.999999 },
  condDropout: { kind: 'num', default: 0.15, help: 'probability a label becomes the null class', min: 0, max: 1 },
  perClass: { kind: 'int', default: 40, help: 'training clips per (pitch, instrument) class', min: 2 },
  classifierSteps: { kind: 'int', default: 400, help: 'instrument classifier steps', min: 1 },
  seed: { kind: 'int', default: 0, help: 'data set, weights, batches and noise' },
  every: { kind: 'int', default: 100, help: 'checkpoint every N steps', min: 1 },
  keep: { kind: 'int', default: 2, help: 'checkpoints to keep', min: 1 },
  out: { kind: 'str', default: 'checkpoints/16', help: 'output folder' },
  fresh: { kind: 'bool', default: false, help: 'ignore existing training states' },
} satisfies FlagSpec;

async function main(): Promise<void> {
  stopTrainingOnCtrlC();
  let a;
  try {
    const p = parseFlags(process.argv.slice(2), FLAGS);
    if (p.positional.length > 0 && !(p.positional.length === 1 && p.positional[0] === '16'))
      throw new UsageError(`unexpected argument '${p.positional.join(' ')}'`);
    a = p.values;
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    console.error(`train-audio: ${e.message}\nflags:\n${usageText(FLAGS)}`);
    process.exit(2);
  }
  const report = await initBackend();
  console.log(formatBackendReport(report));
  const t0 = Date.now();
  const set = makeAudioSet(a.perClass, a.seed);
  const data = audioImageData(set);
  console.log(`data set: ${set.count} clips in ${((Date.now() - t0) / 1000).toFixed(1)} s`);

  const clsDir = path.join(a.out, 'classifier');
  if (!fs.existsSync(path.join(clsDir, 'manifest.json'))) {
    const t1 = Date.now();
    const cls = new InstrumentClassifier({ seed: a.seed });
    await trainInstrumentClassifier(
      cls,
      { ...data, labels: Uint8Array.from(set.instruments) },
      {
        steps: a.classifierSteps,
        seed: a.seed,
      },
    );
    // Held out: another seed's clips, never seen in training.
    const test = makeAudioSet(5, a.seed + 1000);
    const acc = await instrumentAccuracy(cls, test.images, test.instruments);
    const secs = (Date.now() - t1) / 1000;
    console.log(`instrument classifier: ${cls.paramCount} parameters, held-out accuracy ${(100 * acc).toFixed(1)}%`);
    await cls.save(clsDir, {
      steps: a.classifierSteps,
      heldOutAccuracy: acc,
      heldOut: `makeAudioSet(5, ${a.seed + 1000}): ${test.count} clips`,
      trainedOn: `makeAudioSet(${a.perClass}, ${a.seed})`,
      seconds: Math.round(secs),
      command: 'npm run train:audio',
    });
    cls.dispose();
  }

  const model = new UNet(audioUNetConfig(), { seed: a.seed });
  console.log(
    `lesson 16: ${model.paramCount.toLocaleString('en')} parameters, ${set.count} spectrograms, batch ${a.batch}, ${a.steps} steps -> ${a.out}`,
  );
  try {
    await trainAndSave(
      model,
      imageBatches(data, a.batch, a.seed, {
        withLabels: true,
        condDropout: { p: a.condDropout, nullClass: NUM_CLASSES },
      }),
      {
        out: a.out,
        fresh: a.fresh,
        trainer: { ...cosineTrainer(linearSchedule(1000), 'eps', a), clipGradNorm: 1, keepLast: a.keep },
        metadata: {
          lesson: '16',
          dataset: `makeAudioSet(${a.perClass}, ${a.seed}): ${set.count} spectrograms`,
          ema_decay: String(a.ema),
          args: JSON.stringify(a),
        },
      },
    );
  } finally {
    model.dispose();
  }
}

main().catch((e: Error) => {
  console.error(`train-audio: ${e.message}`);
  process.exit(exitStatus(e));
});
