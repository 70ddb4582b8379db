// The course's judge networks share one shape: three 3x3 conv + ReLU + 2x2 max-pool stages, a dense
// ReLU layer whose activations are the features of a Fréchet distance, and a linear head. The
// Fashion-MNIST classifier behind FID (classifier.ts) and lesson 16's instrument classifier are two
// sizes of it. Parameter names (conv1..conv3, fc, head) are those of the shipped weight files.
// Input: NHWC [B, side, side, 1] in [-1, 1].
import * as tf from '@tensorflow/tfjs-core';
import '../../core/tfjs_setup';
import { ParamStore, ParamMap, countParams, disposeParams } from '../../core/params';
import { Rng } from '../../core/random';
import { Conv2d, Linear } from '../../core/unet/layers';
import { readWeights, writeWeights, WeightsManifest } from './weights_file';

export interface ConvClassifierSpec {
  /** The class name, written into saved manifests and error messages. */
  model: string;
  /** What one input is called in error messages ('images', 'spectrograms'). */
  inputs: string;
  /** Input height = width. */
  side: number;
  widths: readonly [number, number, number];
  features: number;
  classes: number;
}

export class ConvClassifier {
  readonly params: ParamMap;
  private readonly convs: Conv2d[];
  private readonly fc: Linear;
  private readonly head: Linear;

  constructor(
    readonly spec: ConvClassifierSpec,
    init: { rng?: Rng; seed?: number } = {},
  ) {
    const store = new ParamStore(init.rng ?? new Rng(init.seed ?? 0));
    this.params = store.params;
    let channels = 1;
    this.convs = spec.widths.map((w, i) => {
      const conv = new Conv2d(store, `conv${i + 1}`, channels, w);
      channels = w;
      return conv;
    });
    // Each 'valid' pool halves the side, dropping an odd row/column (28 -> 14 -> 7 -> 3, as PyTorch's MaxPool2d(2)).
    const last = Math.floor(Math.floor(Math.floor(spec.side / 2) / 2) / 2);
    this.fc = new Linear(store, 'fc', last * last * channels, spec.features);
    this.head = new Linear(store, 'head', spec.features, spec.classes);
  }

  get paramCount(): number {
    return countParams(this.params);
  }

  /** Penultimate-layer activations [B, features] (after ReLU): the Fréchet distance's feature space. */
  features(x: tf.Tensor4D): tf.Tensor2D {
    const [, h, w, c] = x.shape;
    const { model, inputs, side } = this.spec;
    if (h !== side || w !== side || c !== 1)
      throw new Error(`${model}: expects [B, ${side}, ${side}, 1] ${inputs}, got [${x.shape}]`);
    return tf.tidy(() => {
      let y: tf.Tensor4D = x;
      for (const conv of this.convs) y = tf.maxPool(tf.relu(conv.apply(y)), 2, 2, 'valid');
      return tf.relu(this.fc.apply(tf.reshape(y, [y.shape[0], -1]))) as tf.Tensor2D;
    });
  }

  /** Class logits [B, classes]. */
  logits(x: tf.Tensor4D): tf.Tensor2D {
    return tf.tidy(() => this.head.apply(this.features(x)) as tf.Tensor2D);
  }

  /** Writes weights.bin + manifest.json into `dir`; `info` (accuracy, steps, ...) goes into the manifest. */
  async save(dir: string, info: Record<string, unknown>): Promise<WeightsManifest> {
    const params = [...this.params];
    const values = (await Promise.all(params.map(([, v]) => v.data()))) as Float32Array[];
    const arrays = params.map(([name, v], i) => ({ name, shape: v.shape, values: values[i] }));
    return writeWeights(dir, arrays, { model: this.spec.model, params: this.paramCount, ...info });
  }

  dispose(): void {
    disposeParams(this.params);
  }
}

/**
 * Copies the weights `save` wrote into `dir` into `model`: every tensor by name and shape, none left
 * over, and (where the manifest names one) the same model class. `who` starts each error message.
 */
export function loadWeightsInto(model: ConvClassifier, dir: string, who: string): WeightsManifest {
  const { manifest, arrays } = readWeights(dir);
  const saved = (manifest as unknown as Record<string, unknown>).model;
  if (saved !== undefined && saved !== model.spec.model)
    throw new Error(`${who}: ${dir} holds a ${String(saved)}, not a ${model.spec.model}`);
  for (const [name, v] of model.params) {
    const a = arrays.get(name);
    if (!a) throw new Error(`${who}: ${dir} has no tensor '${name}'`);
    if (a.shape.join() !== v.shape.join())
      throw new Error(`${who}: '${name}' has shape [${a.shape}] in ${dir}, the model needs [${v.shape}]`);
    tf.tidy(() => v.assign(tf.tensor(a.values, v.shape, 'float32'))); // the variable keeps its own copy
  }
  if (arrays.size !== model.params.size)
    throw new Error(`${who}: ${dir} holds ${arrays.size} tensors, the model has ${model.params.size}`);
  return manifest;
}
