// Named trainable parameters created from the seeded Rng.
// Every parameter is a tf.Variable registered under a stable dotted name
// ("down.0.res.1.conv1.weight"), so checkpoints and the PyTorch mirror can address it, and the same
// seed gives the same weights on every backend (values are drawn in JS, then uploaded).
import * as tf from '@tensorflow/tfjs-core';
// Trainable parameters need tfjs's gradient functions; tfjs-core alone does not register them.
import './tfjs_setup';
import { Rng } from './random';

export type ParamMap = Map<string, tf.Variable>;

export class ParamStore {
  readonly params: ParamMap = new Map();
  private prefixes: string[] = [];

  constructor(readonly rng: Rng) {}

  /** Runs `fn` with `name.` prepended to every parameter it creates. */
  scope<T>(name: string, fn: () => T): T {
    this.prefixes.push(name);
    try {
      return fn();
    } finally {
      this.prefixes.pop();
    }
  }

  private fullName(name: string): string {
    return [...this.prefixes, name].join('.');
  }

  private add(name: string, values: (() => Float32Array) | Float32Array, shape: number[]): tf.Variable {
    const full = this.fullName(name);
    if (this.params.has(full)) throw new Error(`ParamStore: parameter '${full}' created twice`);
    if (dryRun !== null) {
      const v = dryRun.record(full, shape);
      this.params.set(full, v);
      return v;
    }
    if (typeof values === 'function') values = values();
    // Variable names must be unique across the tfjs engine; the store's own name stays readable.
    const init = tf.tensor(values, shape, 'float32');
    const v = tf.variable(init, true, `${full}#${nextId++}`);
    init.dispose(); // the variable holds its own reference to the data
    this.params.set(full, v);
    return v;
  }

  /** Uniform(-1/sqrt(fanIn), 1/sqrt(fanIn)): PyTorch's default for Linear/Conv (kaiming_uniform, a=sqrt(5)). */
  fanInUniform(name: string, shape: number[], fanIn: number): tf.Variable {
    const bound = 1 / Math.sqrt(fanIn);
    return this.add(name, () => this.rng.uniformArray(size(shape), -bound, bound), shape);
  }

  normal(name: string, shape: number[], std: number): tf.Variable {
    return this.add(name, () => this.rng.normalArray(size(shape), 0, std), shape);
  }

  constant(name: string, shape: number[], value: number): tf.Variable {
    return this.add(name, () => new Float32Array(size(shape)).fill(value), shape);
  }
}

let nextId = 0;

/** Thrown by a dry build (paramShapes) that outgrows its limit: the config describes a larger model. */
export class DryRunLimitError extends Error {}

class DryRun {
  readonly shapes = new Map<string, number[]>();
  elements = 0;
  constructor(readonly limit: { tensors: number; elements: number }) {}

  record(name: string, shape: number[]): tf.Variable {
    this.shapes.set(name, [...shape]);
    this.elements += size(shape);
    if (this.shapes.size > this.limit.tensors)
      throw new DryRunLimitError(`it has more than ${this.limit.tensors} parameter tensors`);
    if (this.elements > this.limit.elements)
      throw new DryRunLimitError(`it has more than ${this.limit.elements} weights`);
    // A stand-in with the variable's shape: a constructor may read shapes, never values.
    return {
      name,
      shape: [...shape],
      size: size(shape),
      dtype: 'float32',
      rank: shape.length,
    } as unknown as tf.Variable;
  }
}

let dryRun: DryRun | null = null;

/**
 * The parameters `build` would create, as name -> shape, without allocating a weight: every
 * ParamStore made inside records shapes instead of drawing values. What a loader compares a file's
 * tensor table with before building a model from the file's config (a tiny file claiming a huge
 * model is refused with nothing allocated). Stops with DryRunLimitError past `limit`. The object
 * `build` returns holds stand-ins, not variables: it is dropped, never used.
 */
export function paramShapes(
  build: () => unknown,
  limit = { tensors: Number.MAX_SAFE_INTEGER, elements: Number.MAX_SAFE_INTEGER },
): Map<string, number[]> {
  if (dryRun !== null) throw new Error('paramShapes: already inside a dry build');
  const run = new DryRun(limit);
  dryRun = run;
  try {
    // Inside tidy: any tensor a constructor makes besides its parameters (a mask, a grid) is freed.
    tf.tidy(() => {
      build();
    });
  } finally {
    dryRun = null;
  }
  return run.shapes;
}

function size(shape: number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

export function countParams(params: ParamMap): number {
  let n = 0;
  for (const v of params.values()) n += v.size;
  return n;
}

export function disposeParams(params: ParamMap): void {
  for (const v of params.values()) v.dispose();
  params.clear();
}
