// Gradients on wasm (with this project's training kernels) against the pure-JS cpu backend, which
// implements every gradient kernel independently. Errors are normwise: max|wasm - cpu| / max|cpu|.
import { strict as assert } from 'assert';
import * as tf from '@tensorflow/tfjs-core';
import '../lib/core/tfjs_setup';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import { Rng } from '../lib/core/random';
import { registerWasmTrainingKernels } from '../lib/runtime/wasm/register';
import { getThreadsCount, registerThreadedWasm } from '../lib/runtime/wasm/threads';

const TOL = 1e-4; // float32: the two backends sum in different orders

type Arr = { shape: number[]; data: Float32Array };
type Fn = (...xs: tf.Tensor[]) => tf.Scalar;

/** Gradients of f w.r.t. all inputs on `backend`, as plain arrays. */
async function gradsOn(backend: string, f: Fn, inputs: Arr[]): Promise<Float32Array[]> {
  await tf.setBackend(backend);
  return tf.tidy(() => {
    const xs = inputs.map((a) => tf.tensor(a.data, a.shape));
    const gs = tf.grads(f)(xs);
    return gs.map((g) => g.dataSync() as Float32Array).map((d) => Float32Array.from(d));
  });
}

function relErr(a: Float32Array, ref: Float32Array): number {
  assert.equal(a.length, ref.length);
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < a.length; i++) {
    diff = Math.max(diff, Math.abs(a[i] - ref[i]));
    scale = Math.max(scale, Math.abs(ref[i]));
  }
  return diff / Math.max(scale, 1e-12);
}

/** refF: the same function written with other ops, where cpu's own gradient kernel is wrong. */
async function compare(label: string, f: Fn, inputs: Arr[], names: string[], refF: Fn = f): Promise<void> {
  const ref = await gradsOn('cpu', refF, inputs);
  const got = await gradsOn('wasm', f, inputs);
  const errs = ref.map((r, i) => relErr(got[i], r));
  console.log(`      ${label}: ${names.map((n, i) => `d${n} ${errs[i].toExponential(2)}`).join(', ')}`);
  errs.forEach((e, i) => assert.ok(e < TOL, `${label}: d${names[i]} relative error ${e} >= ${TOL}`));
  // An all-zero gradient would pass trivially: make sure each one carries signal.
  ref.forEach((r, i) =>
    assert.ok(
      r.some((v) => v !== 0),
      `${label}: d${names[i]} is all zeros on cpu`,
    ),
  );
}

/** Output shape of a tensor expression, without keeping the tensor. */
function shapeOf(f: () => tf.Tensor): number[] {
  const t = f();
  const s = t.shape.slice();
  tf.dispose(t);
  return s;
}

const rng = new Rng(1234);
const rand = (shape: number[]): Arr => ({ shape, data: rng.normalArray(shape.reduce((a, b) => a * b, 1)) });

type Pad = 'same' | 'valid' | [[number, number], [number, number], [number, number], [number, number]];
interface ConvCase {
  n: number;
  h: number;
  w: number;
  ci: number;
  co: number;
  kh: number;
  kw: number;
  s: [number, number];
  pad: Pad;
}

const CONV_CASES: ConvCase[] = [
  { n: 2, h: 8, w: 8, ci: 3, co: 4, kh: 3, kw: 3, s: [1, 1], pad: 'same' },
  { n: 3, h: 9, w: 7, ci: 2, co: 5, kh: 3, kw: 3, s: [2, 2], pad: 'same' },
  { n: 2, h: 7, w: 7, ci: 4, co: 3, kh: 3, kw: 3, s: [2, 2], pad: 'valid' },
  { n: 2, h: 10, w: 9, ci: 3, co: 2, kh: 4, kw: 2, s: [2, 2], pad: 'valid' },
  { n: 1, h: 11, w: 6, ci: 2, co: 3, kh: 5, kw: 3, s: [1, 2], pad: 'same' },
  { n: 2, h: 6, w: 6, ci: 3, co: 3, kh: 1, kw: 1, s: [1, 1], pad: 'valid' },
  { n: 2, h: 9, w: 8, ci: 2, co: 4, kh: 3, kw: 3, s: [3, 2], pad: 'same' },
  {
    n: 2,
    h: 8,
    w: 7,
    ci: 3,
    co: 2,
    kh: 3,
    kw: 2,
    s: [2, 1],
    pad: [
      [0, 0],
      [2, 0],
      [1, 3],
      [0, 0],
    ],
  },
];

/** Nearest-neighbour resize as two gathers; the source rows/columns come from the forward op. */
function nearestByGather(
  x: tf.Tensor4D,
  size: [number, number],
  alignCorners = false,
  halfPixelCenters = false,
): tf.Tensor {
  const [, h, w] = x.shape;
  const src = tf.tidy(() => {
    const ramp = tf.reshape(tf.range(0, h * w, 1, 'float32'), [1, h, w, 1]) as tf.Tensor4D;
    return tf.image.resizeNearestNeighbor(ramp, size, alignCorners, halfPixelCenters).dataSync();
  });
  const rows = Array.from({ length: size[0] }, (_, i) => Math.floor(src[i * size[1]] / w));
  const cols = Array.from({ length: size[1] }, (_, j) => src[j] % w);
  return tf.gather(tf.gather(x, tf.tensor1d(rows, 'int32'), 1), tf.tensor1d(cols, 'int32'), 2);
}

const caseName = (c: ConvCase) =>
  `x[${c.n},${c.h},${c.w},${c.ci}] k${c.kh}x${c.kw} co${c.co} s${c.s.join('x')} ${typeof c.pad === 'string' ? c.pad : 'explicit'}`;

describe('wasm training kernels: gradients match the cpu backend', function () {
  let previous = '';
  before(async () => {
    previous = tf.getBackend() ?? '';
    registerWasmTrainingKernels();
    // DIFFUSION_WASM_THREADS=2 checks the experimental threaded binary the same way.
    const threads = Number(process.env.DIFFUSION_WASM_THREADS ?? '1');
    if (threads > 1) await registerThreadedWasm(threads);
    await tf.setBackend('wasm');
    console.log(`      wasm threads: ${getThreadsCount()}`);
  });
  after(async () => {
    if (previous) await tf.setBackend(previous); // leave the process's backend as we found it
  });

  for (const c of CONV_CASES) {
    it(`conv2d ${caseName(c)}`, async () => {
      const outShape = tf.tidy(
        () =>
          tf.conv2d(
            tf.zeros([c.n, c.h, c.w, c.ci]) as tf.Tensor4D,
            tf.zeros([c.kh, c.kw, c.ci, c.co]) as tf.Tensor4D,
            c.s,
            c.pad,
          ).shape,
      );
      const r = rand(outShape);
      const f: Fn = (x, w) =>
        tf.sum(tf.mul(tf.conv2d(x as tf.Tensor4D, w as tf.Tensor4D, c.s, c.pad), tf.tensor(r.data, r.shape)));
      await compare(caseName(c), f, [rand([c.n, c.h, c.w, c.ci]), rand([c.kh, c.kw, c.ci, c.co])], ['x', 'w']);
    });
  }

  for (const c of CONV_CASES.filter((c) => typeof c.pad === 'string')) {
    it(`conv2dTranspose (input of ${caseName(c)})`, async () => {
      const pad = c.pad as 'same' | 'valid';
      const yShape = tf.tidy(
        () =>
          tf.conv2d(
            tf.zeros([c.n, c.h, c.w, c.ci]) as tf.Tensor4D,
            tf.zeros([c.kh, c.kw, c.ci, c.co]) as tf.Tensor4D,
            c.s,
            pad,
          ).shape,
      );
      const r = rand([c.n, c.h, c.w, c.ci]);
      const f: Fn = (y, w) =>
        tf.sum(
          tf.mul(
            tf.conv2dTranspose(y as tf.Tensor4D, w as tf.Tensor4D, [c.n, c.h, c.w, c.ci], c.s, pad),
            tf.tensor(r.data, r.shape),
          ),
        );
      await compare(`transpose ${caseName(c)}`, f, [rand(yShape), rand([c.kh, c.kw, c.ci, c.co])], ['y', 'w']);
    });
  }

  it('gather (embedding lookup) with repeated ids', async () => {
    const ids = [3, 0, 3, 7, 1, 3];
    const r = rand([ids.length, 5]);
    const f: Fn = (table) => tf.sum(tf.mul(tf.gather(table, tf.tensor1d(ids, 'int32')), tf.tensor(r.data, r.shape)));
    await compare('gather table[8,5]', f, [rand([8, 5])], ['table']);
  });

  // 1-input cases: f(x) = sum(op(x) * r) with a fixed random r.
  // tfjs-backend-cpu's ResizeNearestNeighborGrad is wrong for batch > 1 (it mixes batch items), so
  // resize cases are checked against the same resize written as two gathers (cpu's gather gradient).
  const unary: Array<[string, number[], (x: tf.Tensor4D) => tf.Tensor, ((x: tf.Tensor4D) => tf.Tensor)?]> = [
    ['avgPool 2 s2 same', [2, 7, 6, 3], (x) => tf.avgPool(x, 2, 2, 'same')],
    ['avgPool 3 s1 valid', [2, 6, 7, 2], (x) => tf.avgPool(x, 3, 1, 'valid')],
    ['maxPool 2 s2 valid', [2, 8, 6, 3], (x) => tf.maxPool(x, 2, 2, 'valid')],
    ['maxPool 3 s2 same, odd', [2, 7, 9, 4], (x) => tf.maxPool(x, 3, 2, 'same')],
    ['maxPool 2 s2 after relu (ties at 0)', [2, 6, 6, 3], (x) => tf.maxPool(tf.relu(x), 2, 2, 'valid')],
    ['maxPool 1 channel', [3, 5, 5, 1], (x) => tf.maxPool(x, 2, 1, 'same')],
    [
      'resizeNearest x2',
      [2, 7, 6, 3],
      (x) => tf.image.resizeNearestNeighbor(x, [14, 12]),
      (x) => nearestByGather(x, [14, 12]),
    ],
    [
      'resizeNearest 5x4 -> 12x7',
      [2, 5, 4, 2],
      (x) => tf.image.resizeNearestNeighbor(x, [12, 7]),
      (x) => nearestByGather(x, [12, 7]),
    ],
    [
      'resizeNearest halfPixelCenters 5x4 -> 11x9',
      [1, 5, 4, 3],
      (x) => tf.image.resizeNearestNeighbor(x, [11, 9], false, true),
      (x) => nearestByGather(x, [11, 9], false, true),
    ],
    [
      'resizeNearest alignCorners 5x4 -> 9x7',
      [2, 5, 4, 2],
      (x) => tf.image.resizeNearestNeighbor(x, [9, 7], true),
      (x) => nearestByGather(x, [9, 7], true),
    ],
    [
      'resizeNearest down 8x8 -> 3x5',
      [2, 8, 8, 2],
      (x) => tf.image.resizeNearestNeighbor(x, [3, 5]),
      (x) => nearestByGather(x, [3, 5]),
    ],
    ['resizeBilinear 5x5 -> 10x10', [2, 5, 5, 3], (x) => tf.image.resizeBilinear(x, [10, 10])],
  ];
  for (const [label, shape, op, refOp] of unary) {
    it(label, async () => {
      const outShape = shapeOf(() => op(tf.zeros(shape as [number, number, number, number])));
      const r = rand(outShape);
      const f: Fn = (x) => tf.sum(tf.mul(op(x as tf.Tensor4D), tf.tensor(r.data, r.shape)));
      const refF: Fn = (x) => tf.sum(tf.mul((refOp ?? op)(x as tf.Tensor4D), tf.tensor(r.data, r.shape)));
      await compare(`${label} x[${shape}]`, f, [rand(shape)], ['x'], refF);
    });
  }

  const DEPTHWISE: Array<{
    x: number[];
    k: [number, number];
    m: number;
    s: [number, number];
    pad: 'same' | 'valid';
    d?: number;
  }> = [
    { x: [2, 8, 8, 3], k: [3, 3], m: 1, s: [1, 1], pad: 'same' },
    { x: [2, 9, 7, 2], k: [3, 3], m: 2, s: [2, 2], pad: 'same' },
    { x: [1, 8, 9, 3], k: [2, 3], m: 3, s: [2, 1], pad: 'valid' },
    // dilation > 1: tfjs-core's depthwise gradient itself refuses it ("not yet supported").
  ];
  for (const c of DEPTHWISE) {
    const label = `depthwiseConv2d x[${c.x}] k${c.k.join('x')} m${c.m} s${c.s.join('x')} ${c.pad}${c.d ? ` dilation ${c.d}` : ''}`;
    it(label, async () => {
      const fshape = [c.k[0], c.k[1], c.x[3], c.m];
      const op = (x: tf.Tensor, w: tf.Tensor) =>
        tf.depthwiseConv2d(x as tf.Tensor4D, w as tf.Tensor4D, c.s, c.pad, 'NHWC', c.d ?? 1);
      const outShape = shapeOf(() => op(tf.zeros(c.x), tf.zeros(fshape)));
      const r = rand(outShape);
      const f: Fn = (x, w) => tf.sum(tf.mul(op(x, w), tf.tensor(r.data, r.shape)));
      await compare(label, f, [rand(c.x), rand(fshape)], ['x', 'w']);
    });
  }

  it('tiny 2-conv net with group norm, SiLU, upsampling, concat, attention softmax: variable grads', async () => {
    const shapes: Record<string, number[]> = {
      w1: [3, 3, 2, 8],
      b1: [8],
      w2: [3, 3, 8, 8],
      w3: [3, 3, 10, 2],
      emb: [5, 8],
    };
    const init: Record<string, Arr> = {};
    for (const [k, s] of Object.entries(shapes)) init[k] = rand(s);
    const x = rand([4, 9, 9, 2]);
    const target = rand([4, 9, 9, 2]);
    const t = [0, 4, 2, 4];
    async function run(backend: string): Promise<Record<string, Float32Array>> {
      await tf.setBackend(backend);
      const vars: Record<string, tf.Variable> = {};
      for (const [k, a] of Object.entries(init))
        vars[k] = tf.variable(tf.tensor(a.data, a.shape), true, `${k}_${backend}`);
      const { grads, value } = tf.variableGrads(() => {
        const xin = tf.tensor4d(x.data, x.shape as [number, number, number, number]);
        let h = tf.add(tf.conv2d(xin, vars.w1 as tf.Tensor4D, 1, 'same'), vars.b1);
        h = tf.add(h, tf.reshape(tf.gather(vars.emb, tf.tensor1d(t, 'int32')), [4, 1, 1, 8])); // time embedding
        const g = tf.reshape(h, [4, 9, 9, 2, 4]); // group norm, 2 groups
        const { mean, variance } = tf.moments(g, [1, 2, 4], true);
        h = tf.reshape(tf.mul(tf.sub(g, mean), tf.rsqrt(tf.add(variance, 1e-5))), [4, 9, 9, 8]);
        h = tf.mul(h, tf.sigmoid(h)); // SiLU
        let d = tf.conv2d(h as tf.Tensor4D, vars.w2 as tf.Tensor4D, 2, 'same'); // [4,5,5,8]
        const q = tf.reshape(d, [4, 25, 8]);
        const att = tf.softmax(tf.div(tf.matMul(q, q, false, true), Math.sqrt(8)));
        d = tf.reshape(tf.matMul(att, q), [4, 5, 5, 8]);
        const upsampled =
          backend === 'cpu'
            ? nearestByGather(d as tf.Tensor4D, [10, 10])
            : tf.image.resizeNearestNeighbor(d as tf.Tensor4D, [10, 10]);
        const up = tf.slice(upsampled, [0, 0, 0, 0], [4, 9, 9, 8]);
        const cat = tf.concat([up, xin], 3);
        const out = tf.conv2d(cat as tf.Tensor4D, vars.w3 as tf.Tensor4D, 1, 'same');
        return tf.mean(tf.square(tf.sub(out, tf.tensor(target.data, target.shape)))) as tf.Scalar;
      });
      const res: Record<string, Float32Array> = { loss: Float32Array.from(value.dataSync()) };
      for (const [k, g] of Object.entries(grads)) res[k.replace(`_${backend}`, '')] = Float32Array.from(g.dataSync());
      tf.dispose([value, ...Object.values(grads), ...Object.values(vars)]);
      return res;
    }
    const ref = await run('cpu');
    const got = await run('wasm');
    const names = Object.keys(shapes);
    const errs = names.map((k) => relErr(got[k], ref[k]));
    console.log(
      `      loss cpu ${ref.loss[0].toFixed(6)} wasm ${got.loss[0].toFixed(6)}; ${names.map((k, i) => `d${k} ${errs[i].toExponential(2)}`).join(', ')}`,
    );
    assert.ok(Math.abs(ref.loss[0] - got.loss[0]) < TOL * Math.abs(ref.loss[0]));
    names.forEach((k, i) => assert.ok(errs[i] < TOL, `d${k} relative error ${errs[i]} >= ${TOL}`));
  });

  it('keeps the tensor count flat across training steps', async () => {
    await tf.setBackend('wasm');
    const w = tf.variable(tf.tensor(rand([3, 3, 2, 4]).data, [3, 3, 2, 4]));
    const x = tf.tensor(rand([2, 9, 9, 2]).data, [2, 9, 9, 2]) as tf.Tensor4D;
    const opt = tf.train.adam(1e-3);
    const step = () =>
      opt.minimize(
        () =>
          tf.mean(
            tf.square(
              tf.conv2dTranspose(tf.conv2d(x, w as tf.Tensor4D, 2, 'same'), w as tf.Tensor4D, [2, 9, 9, 2], 2, 'same'),
            ),
          ) as tf.Scalar,
      );
    step();
    const before = tf.memory().numTensors;
    const bytes = tf.memory().numBytes;
    for (let i = 0; i < 5; i++) step();
    assert.equal(tf.memory().numTensors, before);
    assert.equal(tf.memory().numBytes, bytes);
    tf.dispose([w, x]);
    opt.dispose();
  });
});
