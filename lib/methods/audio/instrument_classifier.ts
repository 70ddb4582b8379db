// A small CNN that tells the three instruments apart from a spectrogram image: the judge of the
// generated notes' timbre, and (its 64-unit penultimate layer) the feature space of the Fréchet
// distance between generated and real spectrograms, as the project's Fashion-MNIST classifier is for
// FID. Trained on the seeded data set by the lesson's training script (scripts/train-audio.ts).
import * as tf from '@tensorflow/tfjs-core';
import '../../core/tfjs_setup';
import { imageBatches, ImageData, TrainBatch } from '../../core/train/batch_source';
import { LossTrainer, runTrainer } from '../../core/train/loss_trainer';
import { ConvClassifier, loadWeightsInto } from '../../eval/metrics/conv_classifier';
import { crossEntropy } from '../../eval/metrics/train_classifier';
import { NUM_INSTRUMENTS } from './dataset';
import { BANDS } from './semitone_filterbank';

export const INSTRUMENT_FEATURES = 64;

export class InstrumentClassifier extends ConvClassifier {
  constructor(init: { seed?: number } = {}) {
    super(
      {
        model: 'InstrumentClassifier',
        inputs: 'spectrograms',
        side: BANDS,
        widths: [16, 32, 32],
        features: INSTRUMENT_FEATURES,
        classes: NUM_INSTRUMENTS,
      },
      init,
    );
  }

  /** Predicted instrument per image. */
  async predict(x: tf.Tensor4D): Promise<Int32Array> {
    const p = tf.tidy(() => tf.argMax(this.logits(x), 1));
    const v = Int32Array.from(await p.data());
    p.dispose();
    return v;
  }
}

export function loadInstrumentClassifier(dir: string): InstrumentClassifier {
  const m = new InstrumentClassifier();
  loadWeightsInto(m, dir, 'loadInstrumentClassifier');
  return m;
}

/**
 * Trains on 8-bit spectrogram images whose labels are the INSTRUMENT (0..2): Adam on cross-entropy
 * through the course's training loop. Returns the steps taken.
 */
export async function trainInstrumentClassifier(
  model: InstrumentClassifier,
  data: ImageData,
  o: { steps: number; batchSize?: number; learningRate?: number; seed: number },
): Promise<number> {
  const loss = (b: TrainBatch) => crossEntropy(model.logits(b.x), b.cond!.classLabels as number[]);
  const trainer = new LossTrainer(model.params, loss, {
    learningRate: o.learningRate ?? 1e-3,
    totalSteps: o.steps,
    epsilon: 1e-7,
    seed: o.seed,
    config: { kind: 'instrument-classifier' },
    describe: { batchSize: o.batchSize ?? 64, images: data.count },
    progress: false,
  });
  const { history } = await runTrainer(
    trainer,
    imageBatches(data, o.batchSize ?? 64, o.seed, { withLabels: true }),
    {},
  );
  return history.loss.length;
}
