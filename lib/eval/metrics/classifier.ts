// The project's own Fashion-MNIST classifier, whose penultimate layer is the feature space for FID
// and KID (as fast.ai's course does: an Inception net trained on ImageNet says little about 28x28
// clothes, and none can be downloaded here). Small on purpose: three 3x3 conv + max-pool stages and
// a 128-unit dense layer, ~98k parameters (~390 KB), trained by scripts/train-classifier.ts.
// Input: NHWC [B, 28, 28, 1] in [-1, 1], the diffusion convention, so samples go in unchanged.
import * as tf from '@tensorflow/tfjs-core';
import '../../core/tfjs_setup';
import { ParamStore, ParamMap, countParams, disposeParams } from '../../core/params';
import { Rng } from '../../core/random';
import { Conv2d, Linear } from '../../core/unet/layers';
import { readWeights, writeWeights, WeightsManifest } from './weights_file';

/** Width of the feature vector FID/KID use. */
export const CLASSIFIER_FEATURES = 128;
export const CLASSIFIER_CLASSES = 10;

export class FashionClassifier {
  readonly params: ParamMap;
  private readonly convs: Conv2d[];
  private readonly fc: Linear;
  private readonly head: Linear;

  constructor(init: { rng?: Rng; seed?: number } = {}) {
    const store = new ParamStore(init.rng ?? new Rng(init.seed ?? 0));
    this.params = store.params;
    this.convs = [
      new Conv2d(store, 'conv1', 1, 16),
      new Conv2d(store, 'conv2', 16, 32),
      new Conv2d(store, 'conv3', 32, 64),
    ];
    this.fc = new Linear(store, 'fc', 3 * 3 * 64, CLASSIFIER_FEATURES);
    this.head = new Linear(store, 'head', CLASSIFIER_FEATURES, CLASSIFIER_CLASSES);
  }

  get paramCount(): number {
    return countParams(this.params);
  }

  /** Penultimate-layer activations [B, 128] (after ReLU): the FID/KID feature space. */
  features(x: tf.Tensor4D): tf.Tensor2D {
    const [, h, w, c] = x.shape;
    if (h !== 28 || w !== 28 || c !== 1)
      throw new Error(`FashionClassifier: expects [B, 28, 28, 1] images, got [${x.shape}]`);
    return tf.tidy(() => {
      let y: tf.Tensor4D = x;
      // 28 -> 14 -> 7 -> 3 (the last pool drops the odd row/column, as PyTorch's MaxPool2d(2)).
      for (const conv of this.convs) y = tf.maxPool(tf.relu(conv.apply(y)), 2, 2, 'valid');
      return tf.relu(this.fc.apply(tf.reshape(y, [y.shape[0], -1]))) as tf.Tensor2D;
    });
  }

  /** Class logits [B, 10]. */
  logits(x: tf.Tensor4D): tf.Tensor2D {
    return tf.tidy(() => this.head.apply(this.features(x)) as tf.Tensor2D);
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

  /** Writes weights.bin + manifest.json into `dir`; `info` (accuracy, steps, ...) goes into the manifest. */
  async save(dir: string, info: Record<string, unknown>): Promise<WeightsManifest> {
    const params = [...this.params];
    const values = (await Promise.all(params.map(([, v]) => v.data()))) as Float32Array[];
    const arrays = params.map(([name, v], i) => ({ name, shape: v.shape, values: values[i] }));
    return writeWeights(dir, arrays, { model: 'FashionClassifier', params: this.paramCount, ...info });
  }

  dispose(): void {
    disposeParams(this.params);
  }
}

/** Loads a classifier saved by `save` into `dir`, and its manifest (the committed one: lib/course/models.ts, 'classifier'). */
export function loadClassifier(dir: string): { model: FashionClassifier; manifest: WeightsManifest } {
  const { manifest, arrays } = readWeights(dir);
  const model = new FashionClassifier();
  for (const [name, v] of model.params) {
    const a = arrays.get(name);
    if (!a) throw new Error(`loadClassifier: ${dir} has no tensor '${name}'`);
    if (a.shape.join() !== v.shape.join())
      throw new Error(`loadClassifier: '${name}' has shape [${a.shape}] in ${dir}, the model needs [${v.shape}]`);
    const t = tf.tensor(a.values, v.shape, 'float32');
    v.assign(t);
    t.dispose();
  }
  if (arrays.size !== model.params.size)
    throw new Error(`loadClassifier: ${dir} holds ${arrays.size} tensors, the model has ${model.params.size}`);
  return { model, manifest };
}
