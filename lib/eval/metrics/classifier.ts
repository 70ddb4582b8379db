// The project's own Fashion-MNIST classifier, whose penultimate layer is the feature space for FID
// and KID (as fast.ai's course does: an Inception net trained on ImageNet says little about 28x28
// clothes, and none can be downloaded here). Small on purpose: three 3x3 conv + max-pool stages and
// a 128-unit dense layer, ~98k parameters (~390 KB), trained by scripts/train-classifier.ts.
// Input: NHWC [B, 28, 28, 1] in [-1, 1], the diffusion convention, so samples go in unchanged.
import * as tf from '@tensorflow/tfjs-core';
import { Rng } from '../../core/random';
import { ConvClassifier, loadWeightsInto } from './conv_classifier';
import { WeightsManifest } from './weights_file';

/** Width of the feature vector FID/KID use. */
export const CLASSIFIER_FEATURES = 128;
export const CLASSIFIER_CLASSES = 10;

export class FashionClassifier extends ConvClassifier {
  constructor(init: { rng?: Rng; seed?: number } = {}) {
    super(
      {
        model: 'FashionClassifier',
        inputs: 'images',
        side: 28,
        widths: [16, 32, 64],
        features: CLASSIFIER_FEATURES,
        classes: CLASSIFIER_CLASSES,
      },
      init,
    );
  }

  /** Applies `fn` to batches of `x` (to bound memory) and concatenates the rows. */
  batched(x: tf.Tensor4D, fn: (b: tf.Tensor4D) => tf.Tensor2D, batchSize = 500): tf.Tensor2D {
    const n = x.shape[0];
    const parts: tf.Tensor2D[] = [];
    for (let s = 0; s < n; s += batchSize) {
      const size = Math.min(batchSize, n - s);
      parts.push(tf.tidy(() => fn(tf.slice(x, [s, 0, 0, 0], [size, -1, -1, -1]))));
    }
    const out = parts.length === 1 ? parts[0] : (tf.concat(parts, 0) as tf.Tensor2D);
    if (parts.length > 1) tf.dispose(parts);
    return out;
  }

  /** Fraction of images whose arg-max class equals the label. */
  async accuracy(x: tf.Tensor4D, labels: ArrayLike<number>): Promise<number> {
    if (labels.length !== x.shape[0]) throw new Error(`accuracy: ${labels.length} labels for ${x.shape[0]} images`);
    const pred = tf.tidy(() =>
      tf.argMax(
        this.batched(x, (b) => this.logits(b)),
        1,
      ),
    );
    const p = await pred.data();
    pred.dispose();
    let ok = 0;
    for (let i = 0; i < p.length; i++) if (p[i] === labels[i]) ok++;
    return ok / p.length;
  }
}

/** Loads a classifier saved by `save` into `dir`, and its manifest (the committed one: lib/course/models.ts, 'classifier'). */
export function loadClassifier(dir: string): { model: FashionClassifier; manifest: WeightsManifest } {
  const model = new FashionClassifier();
  return { model, manifest: loadWeightsInto(model, dir, 'loadClassifier') };
}
