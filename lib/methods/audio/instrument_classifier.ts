// A small CNN that tells the three instruments apart from a spectrogram image: the judge of the
// generated notes' timbre, and (its 64-unit penultimate layer) the feature space of the Fréchet
// distance between generated and real spectrograms, as the project's Fashion-MNIST classifier is for
// FID. Trained on the seeded data set by the lesson's training script (scripts/train-audio.ts).
import * as tf from '@tensorflow/tfjs-core';
import '../../core/tfjs_setup';
import { countParams, disposeParams, ParamMap, ParamStore } from '../../core/params';
import { Rng } from '../../core/random';
import { imageBatches, ImageData, TrainBatch } from '../../core/train/batch_source';
import { LossTrainer, runTrainer } from '../../core/train/loss_trainer';
import { Conv2d, Linear } from '../../core/unet/layers';
import { crossEntropy } from '../../eval/metrics/train_classifier';
import { readWeights, writeWeights } from '../../eval/metrics/weights_file';
import { NUM_INSTRUMENTS } from './dataset';
import { BANDS } from './semitone_filterbank';

export const INSTRUMENT_FEATURES = 64;

export class InstrumentClassifier {
  readonly params: ParamMap;
  private readonly convs: Conv2d[];
  private readonly fc: Linear;
  private readonly head: Linear;

  constructor(init: { seed?: number } = {}) {
    const store = new ParamStore(new Rng(init.seed ?? 0));
    this.params = store.params;
    this.convs = [
      new Conv2d(store, 'conv1', 1, 16),
      new Conv2d(store, 'conv2', 16, 32),
      new Conv2d(store, 'conv3', 32, 32),
    ];
    this.fc = new Linear(store, 'fc', 4 * 4 * 32, INSTRUMENT_FEATURES);
    this.head = new Linear(store, 'head', INSTRUMENT_FEATURES, NUM_INSTRUMENTS);
  }

  get paramCount(): number {
    return countParams(this.params);
  }

  /** Penultimate activations [B, 64]: the Fréchet distance's features. */
  features(x: tf.Tensor4D): tf.Tensor2D {
    const [, h, w, c] = x.shape;
    if (h !== BANDS || w !== BANDS || c !== 1)
      throw new Error(`InstrumentClassifier: expects [B, ${BANDS}, ${BANDS}, 1] spectrograms, got [${x.shape}]`);
    return tf.tidy(() => {
      let y: tf.Tensor4D = x;
      for (const conv of this.convs) y = tf.maxPool(tf.relu(conv.apply(y)), 2, 2, 'valid'); // 32 -> 16 -> 8 -> 4
      return tf.relu(this.fc.apply(tf.reshape(y, [y.shape[0], -1]))) as tf.Tensor2D;
    });
  }

  logits(x: tf.Tensor4D): tf.Tensor2D {
    return tf.tidy(() => this.head.apply(this.features(x)) as tf.Tensor2D);
  }

  /** Predicted instrument per image. */
  async predict(x: tf.Tensor4D): Promise<Int32Array> {
    const p = tf.tidy(() => tf.argMax(this.logits(x), 1));
    const v = Int32Array.from(await p.data());
    p.dispose();
    return v;
  }

  async save(dir: string, info: Record<string, unknown>): Promise<void> {
    const params = [...this.params];
    const values = (await Promise.all(params.map(([, v]) => v.data()))) as Float32Array[];
    writeWeights(
      dir,
      params.map(([name, v], i) => ({ name, shape: v.shape, values: values[i] })),
      { model: 'InstrumentClassifier', params: this.paramCount, ...info },
    );
  }

  dispose(): void {
    disposeParams(this.params);
  }
}

export function loadInstrumentClassifier(dir: string): InstrumentClassifier {
  const { manifest, arrays } = readWeights(dir);
  if ((manifest as unknown as Record<string, unknown>).model !== 'InstrumentClassifier')
    throw new Error(`loadInstrumentClassifier: ${dir} does not hold an InstrumentClassifier`);
  const m = new InstrumentClassifier();
  for (const [name, v] of m.params) {
    const a = arrays.get(name);
    if (!a || a.values.length !== v.size)
      throw new Error(`loadInstrumentClassifier: ${dir} lacks '${name}' of ${v.size} values`);
    tf.tidy(() => v.assign(tf.tensor(a.values, v.shape))); // the source tensor is freed, the variable keeps a copy
  }
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
