// The 'onednn' backend (native oneDNN kernels on the wasm heap) against the pure-JS cpu backend,
// which implements every kernel independently. Errors are normwise: max|onednn - cpu| / max|cpu|.
// Every test also asserts, through the addon's per-function call counts, that the native kernel ran: a
// kernel that silently fell back to wasm would still match cpu. On linux-x64 (where scripts/setup.sh
// builds the addon) a missing addon fails the suite; elsewhere it is skipped with the reason printed.
import { strict as assert } from 'assert';
import * as tf from '@tensorflow/tfjs-core';
import '../lib/core/tfjs_setup';
import '@tensorflow/tfjs-backend-cpu';
import { Rng } from '../lib/core/random';
import { loadAddon, registerNativeBackend } from '../lib/runtime/native';
import { groupNorm } from '../lib/core/unet/group_norm';
import { requireDependency } from './helpers/require';

const TOL = 1e-4; // float32: the backends sum in different orders

type Arr = { shape: number[]; data: Float32Array };
type Fn = (...xs: tf.Tensor[]) => tf.Tensor;

const rng = new Rng(1234);
const arr = (...shape: number[]): Arr => ({ shape, data: rng.normalArray(shape.reduce((a, b) => a * b, 1)) });

/** Value of f and the gradients of sum(f * r) w.r.t. every input, on `backend`, as plain arrays. */
async function valueAndGradsOn(backend: string, f: Fn, inputs: Arr[], r: Arr): Promise<Float32Array[]> {
  assert.ok(await tf.setBackend(backend), `backend ${backend} failed to start`);
  return tf.tidy(() => {
    const xs = inputs.map((a) => tf.tensor(a.data, a.shape));
    const weight = tf.tensor(r.data, r.shape);
    const y = f(...xs);
    const gs = tf.grads((...ys: tf.Tensor[]) => tf.sum(tf.mul(f(...ys), weight)))(xs);
    return [y, ...gs].map((t) => Float32Array.from(t.dataSync() as Float32Array));
  });
}

function relErr(a: Float32Array, ref: Float32Array): number {
  assert.equal(a.length, ref.length, 'result sizes differ');
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < a.length; i++) {
    diff = Math.max(diff, Math.abs(a[i] - ref[i]));
    scale = Math.max(scale, Math.abs(ref[i]));
  }
  return diff / Math.max(scale, 1e-12);
}

/** Compares value and gradients of f on onednn and cpu; `outShape` is f's output shape. */
async function compare(label: string, f: Fn, inputs: Arr[], outShape: number[], withGrads = true): Promise<void> {
  const r = arr(...outShape);
  const run = (backend: string) => (withGrads ? valueAndGradsOn(backend, f, inputs, r) : valueOn(backend, f, inputs));
  const ref = await run('cpu');
  const got = await run('onednn');
  const names = ['value', ...inputs.map((_, i) => `grad${i}`)];
  const errs = got.map((g, i) => relErr(g, ref[i]));
  console.log(
    `      ${label}: largest relative error ${errs.map((e, i) => `${names[i]} ${e.toExponential(1)}`).join(', ')}`,
  );
  errs.forEach((e, i) => assert.ok(e < TOL, `${label} ${names[i]}: relative error ${e} >= ${TOL}`));
}

async function valueOn(backend: string, f: Fn, inputs: Arr[]): Promise<Float32Array[]> {
  await tf.setBackend(backend);
  return tf.tidy(() => [
    Float32Array.from(f(...inputs.map((a) => tf.tensor(a.data, a.shape))).dataSync() as Float32Array),
  ]);
}

describe('native oneDNN backend', function () {
  before(async function () {
    const reg = await registerNativeBackend();
    if (!reg.ok) {
      if (process.platform === 'linux' && process.arch === 'x64') requireDependency(this, 'native', false, reg.reason);
      console.log(`      SKIPPED: ${reg.reason}`);
      this.skip();
    }
    await tf.setBackend('cpu'); // shapes below are worked out with small ops on cpu
  });

  const addon = () => {
    const l = loadAddon();
    if (!l.ok) throw new Error(l.reason);
    return l.addon;
  };
  // A kernel that silently fell back to wasm would still match cpu: every addon function named must have
  // been called (the addon counts the completed calls of each) while f ran.
  const ranNatively = async (kernels: string[], f: () => Promise<void>): Promise<void> => {
    const before = addon().kernelCalls();
    await f();
    const after = addon().kernelCalls();
    for (const k of kernels)
      assert.ok((after[k] ?? 0) > (before[k] ?? 0), `the native ${k} kernel did not run (a fall-back to wasm?)`);
  };
  const CONV_ALL = ['conv2d', 'conv2dBackpropInput', 'conv2dBackpropFilter'];

  type ConvCase = { x: number[]; w: number[]; s: number; pad: 'same' | 'valid' | number[][]; d?: number };
  const convCases: ConvCase[] = [
    { x: [2, 9, 11, 3], w: [3, 3, 3, 5], s: 1, pad: 'same' },
    { x: [2, 9, 11, 3], w: [3, 3, 3, 5], s: 2, pad: 'same' },
    { x: [3, 8, 7, 4], w: [3, 3, 4, 6], s: 2, pad: 'valid' },
    { x: [2, 13, 10, 5], w: [5, 4, 5, 3], s: 1, pad: 'valid' },
    { x: [2, 6, 6, 16], w: [1, 1, 16, 8], s: 1, pad: 'same' },
    { x: [1, 10, 9, 1], w: [3, 3, 1, 7], s: 2, pad: 'same' },
    {
      x: [2, 7, 9, 3],
      w: [3, 2, 3, 4],
      s: 1,
      pad: [
        [0, 0],
        [1, 2],
        [0, 1],
        [0, 0],
      ],
    },
  ];
  for (const c of convCases) {
    it(`conv2d x[${c.x}] w[${c.w}] stride ${c.s} pad ${JSON.stringify(c.pad)}: value, dx, dw`, async () => {
      const x = arr(...c.x),
        w = arr(...c.w);
      const f = (a: tf.Tensor, b: tf.Tensor) => tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, c.s, c.pad as 'same');
      await tf.setBackend('cpu');
      const outShape = tf.tidy(() => f(tf.zeros(c.x), tf.zeros(c.w)).shape);
      await ranNatively(CONV_ALL, () => compare('conv2d', f as Fn, [x, w], outShape));
    });
  }

  for (const [act, grads] of [
    ['linear', true],
    ['relu', true],
    ['relu6', false],
    ['elu', false],
    ['sigmoid', false],
    ['leakyrelu', false],
  ] as const) {
    it(`fused conv2d + bias + ${act}: value${grads ? ', dx, dw, dbias' : ''}`, async () => {
      const x = arr(2, 9, 8, 3),
        w = arr(3, 3, 3, 6),
        bias = arr(6);
      const f = (a: tf.Tensor, b: tf.Tensor, c: tf.Tensor) =>
        tf.fused.conv2d({
          x: a as tf.Tensor4D,
          filter: b as tf.Tensor4D,
          strides: 2,
          pad: 'same',
          bias: c,
          activation: act,
          leakyreluAlpha: 0.3,
        });
      const kernels = grads ? ['conv2dFused', 'conv2dBackpropInput', 'conv2dBackpropFilter'] : ['conv2dFused'];
      await ranNatively(kernels, () => compare(`fused ${act}`, f as Fn, [x, w, bias], [2, 5, 4, 6], grads));
    });
  }

  for (const pad of ['same', 'valid'] as const) {
    it(`conv2d with dilation 2, pad ${pad} (forward only: tfjs has no dilated conv gradient)`, async () => {
      const x = arr(2, 11, 10, 3),
        w = arr(3, 3, 3, 4);
      const f = (a: tf.Tensor, b: tf.Tensor) => tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, 1, pad, 'NHWC', 2);
      await tf.setBackend('cpu');
      const outShape = tf.tidy(() => f(tf.zeros(x.shape), tf.zeros(w.shape)).shape);
      await ranNatively(['conv2d'], () => compare(`dilated conv2d ${pad}`, f as Fn, [x, w], outShape, false));
    });
  }

  for (const [xs, ws, s, pad] of [
    [[2, 7, 7, 6], [3, 3, 4, 6], 2, 'same'],
    [[2, 5, 6, 3], [4, 4, 2, 3], 2, 'same'],
    [[2, 5, 5, 3], [3, 3, 5, 3], 1, 'valid'],
  ] as Array<[number[], number[], number, 'same' | 'valid']>) {
    it(`conv2dTranspose x[${xs}] w[${ws}] stride ${s} ${pad}: value, dx, dw`, async () => {
      const outShape = [
        xs[0],
        s * xs[1] + (pad === 'valid' ? ws[0] - 1 : 0),
        s * xs[2] + (pad === 'valid' ? ws[1] - 1 : 0),
        ws[2],
      ];
      const f = (a: tf.Tensor, b: tf.Tensor) =>
        tf.conv2dTranspose(a as tf.Tensor4D, b as tf.Tensor4D, outShape as [number, number, number, number], s, pad);
      await ranNatively(CONV_ALL, () => compare('conv2dTranspose', f as Fn, [arr(...xs), arr(...ws)], outShape));
    });
  }

  for (const [as, bs, ta, tb] of [
    [[7, 5], [5, 9], false, false],
    [[5, 7], [5, 9], true, false],
    [[7, 5], [9, 5], false, true],
    [[5, 7], [9, 5], true, true],
    [[4, 6, 5], [4, 5, 3], false, false],
    [[4, 5, 6], [4, 3, 5], true, true],
    [[1, 6, 5], [4, 5, 3], false, false],
    [[2, 3, 6, 5], [2, 3, 5, 4], false, false],
    [[3, 64, 33], [3, 17, 33], false, true],
  ] as Array<[number[], number[], boolean, boolean]>) {
    // tfjs's own BatchMatMul gradient cannot reduce a broadcast batch (it fails on cpu too).
    const broadcast = as.length > 2 && as[0] !== bs[0];
    it(`matMul a[${as}]${ta ? 'ᵀ' : ''} b[${bs}]${tb ? 'ᵀ' : ''}: value${broadcast ? '' : ' and grads'}`, async () => {
      const a = arr(...as);
      const b = arr(...bs); // shapes as stored: a transposed operand has its last two axes swapped
      const f = (x: tf.Tensor, y: tf.Tensor) => tf.matMul(x, y, ta, tb);
      await tf.setBackend('cpu');
      const outShape = tf.tidy(() => f(tf.zeros(a.shape), tf.zeros(b.shape)).shape);
      await ranNatively(['batchMatMul'], () => compare('matMul', f as Fn, [a, b], outShape, !broadcast));
    });
  }

  // Sums and means over every kind of axis set: inner, outer (bias gradient), mixed (GroupNorm).
  for (const [shape, axes, keep] of [
    [[4, 6, 5, 8], [3], false],
    [[4, 6, 5, 8], [0, 1, 2], false],
    [[4, 6, 5, 2, 4], [1, 2, 4], true],
    [[3, 7, 9], [0, 2], true],
    [[5, 1, 6], [1], false],
    [[300, 40], [0, 1], false],
    [[2, 3, 4], [0, 1, 2], true],
    [[16, 30, 30, 8, 4], [1, 2, 4], true], // large: split across threads over the kept batch axis
    [[9000, 33], [0], false], // large: partial sums per piece over the summed axis
  ] as Array<[number[], number[], boolean]>) {
    for (const op of ['sum', 'mean'] as const) {
      it(`${op} of [${shape}] over axes [${axes}]${keep ? ' keepDims' : ''}: value and grad`, async () => {
        const f = (x: tf.Tensor) => (op === 'sum' ? tf.sum(x, axes, keep) : tf.mean(x, axes, keep));
        await tf.setBackend('cpu');
        const outShape = tf.tidy(() => f(tf.zeros(shape)).shape);
        await ranNatively(['reduceSum'], () => compare(op, f as Fn, [arr(...shape)], outShape));
      });
    }
  }

  // Broadcasting patterns of normalisation layers, biases, scalars, and both operands broadcasting.
  for (const [as, bs] of [
    [
      [4, 5, 6, 8],
      [4, 5, 6, 8],
    ],
    [[4, 5, 6, 8], [8]],
    [
      [4, 5, 6, 2, 4],
      [4, 1, 1, 2, 1],
    ],
    [
      [4, 1, 1, 3],
      [4, 5, 6, 3],
    ],
    [[4, 5, 6, 3], []],
    [
      [5, 1, 7],
      [1, 6, 1],
    ],
    [[1], [3, 1]],
  ] as Array<[number[], number[]]>) {
    for (const op of ['add', 'sub', 'mul', 'div'] as const) {
      it(`${op} [${as}] and [${bs}]: value and grads`, async () => {
        const f = (x: tf.Tensor, y: tf.Tensor) => tf[op](x, op === 'div' ? tf.add(tf.abs(y), 0.5) : y);
        const outShape = tf.broadcast_util.assertAndGetBroadcastShape(as, bs);
        await ranNatively(['binary'], () => compare(op, f as Fn, [arr(...as), arr(...bs)], outShape));
      });
    }
  }

  for (const axis of [0, 1, 3, -1]) {
    it(`concat and split along axis ${axis}: value and grads`, async () => {
      const base = [2, 3, 4, 5];
      const ax = axis < 0 ? base.length + axis : axis;
      const shapes = [2, 1, 3].map((n) => base.map((d, i) => (i === ax ? n : d)));
      const f = (a: tf.Tensor, b: tf.Tensor, c: tf.Tensor) => {
        const cat = tf.concat([a, b, c], axis);
        const [p, q] = tf.split(tf.mul(cat, cat), [4, 2], axis);
        return tf.concat([q, tf.sin(p)], axis);
      };
      const outShape = base.map((d, i) => (i === ax ? 6 : d));
      const inputs = shapes.map((sh) => arr(...sh));
      await ranNatively(['copyRows'], () => compare(`concat/split ${axis}`, f as Fn, inputs, outShape));
      // The forward pass alone: one strided copy per concat input (3 + 2) and per split piece (2).
      const copies = addon().kernelCalls().copyRows ?? 0;
      await valueOn('onednn', f as Fn, inputs);
      assert.equal((addon().kernelCalls().copyRows ?? 0) - copies, 7, 'concat or split did not run natively');
    });
  }

  // Unary kernels of GroupNorm + SiLU; inputs span exp's clamping range for sigmoid.
  const unaryCases: Array<[string, Fn]> = [
    ['sigmoid', (x) => tf.sigmoid(tf.mul(x, 30))],
    ['square', (x) => tf.square(x)],
    ['rsqrt', (x) => tf.rsqrt(tf.add(tf.abs(x), 0.5))],
    ['neg', (x) => tf.neg(x)],
  ];
  for (const [name, f] of unaryCases) {
    for (const shape of [[4, 5, 6, 8], [37]]) {
      it(`${name} of [${shape}]: value and grad`, async () => {
        await ranNatively(['unary'], () => compare(name, f, [arr(...shape)], shape));
      });
    }
  }

  // GroupNorm(+SiLU) runs as two native kernels on onednn and as composed ops on cpu (lib/core/unet/group_norm.ts).
  for (const silu of [false, true]) {
    for (const [shape, groups] of [
      [[2, 5, 3, 8], 4],
      [[3, 4, 4, 6], 3],
      [[1, 7, 5, 4], 1],
      [[2, 3, 3, 16], 16],
      [[8, 28, 28, 32], 8],
    ] as Array<[number[], number]>) {
      it(`groupNorm${silu ? '+SiLU' : ''} of [${shape}] in ${groups} groups: value and grads of x, gamma, beta`, async () => {
        const c = shape[3];
        // Off-centre, scaled x and gamma/beta away from 1/0, so that every term of the gradient counts.
        const f = (x: tf.Tensor, g: tf.Tensor, b: tf.Tensor) =>
          groupNorm(tf.add(tf.mul(x, 3), 2) as tf.Tensor4D, tf.add(tf.mul(g, 0.3), 1), b, groups, 1e-5, silu);
        await ranNatively(['groupNorm', 'groupNormGrad'], () =>
          compare(`groupNorm silu=${silu} [${shape}]`, f as Fn, [arr(...shape), arr(c), arr(c)], shape),
        );
      });
    }
  }

  it('groupNorm on onednn is one native kernel call, its gradient one more', async () => {
    await tf.setBackend('onednn');
    const x = tf.randomNormal([2, 4, 4, 8]) as tf.Tensor4D;
    const [g, b] = [tf.ones([8]), tf.zeros([8])];
    const calls = addon().elementwiseCalls();
    const y = groupNorm(x, g, b, 4, 1e-5, true);
    assert.equal(addon().elementwiseCalls() - calls, 1, 'the forward pass ran other native kernels than the fused one');
    const dy = tf.onesLike(y);
    const before = addon().elementwiseCalls();
    const [dx] = tf.grads((xs: tf.Tensor) => groupNorm(xs as tf.Tensor4D, g, b, 4, 1e-5, true))([x], dy);
    assert.equal(addon().elementwiseCalls() - before, 2, 'forward and backward: one native call each');
    tf.dispose([x, g, b, y, dy, dx]);
    await tf.setBackend('cpu');
  });

  it('sigmoid of extreme inputs stays in [0, 1] and matches cpu', async () => {
    const xs = [-1e4, -200, -88.5, -87, -20, -1e-3, 0, 1e-3, 20, 87, 88.5, 200, 1e4];
    const ref = await valueOn('cpu', (x) => tf.sigmoid(x), [{ shape: [xs.length], data: Float32Array.from(xs) }]);
    let got: Float32Array[] = [];
    await ranNatively(['unary'], async () => {
      got = await valueOn('onednn', (x) => tf.sigmoid(x), [{ shape: [xs.length], data: Float32Array.from(xs) }]);
    });
    got[0].forEach((v, i) =>
      assert.ok(Math.abs(v - ref[0][i]) < 1e-6 && v >= 0 && v <= 1, `sigmoid(${xs[i]}) = ${v}, cpu ${ref[0][i]}`),
    );
  });

  // Large enough (> 64K elements) to be split across threads: every way binary/unary split their work.
  for (const [as, bs] of [
    [
      [8, 32, 32, 8, 4],
      [8, 1, 1, 8, 1],
    ], // blocks of per-group tiles
    [[1000, 301], [301]], // one slab of long rows
    [[300007], []], // one long row
    [
      [4, 70000],
      [4, 70000],
    ],
  ] as Array<[number[], number[]]>) {
    it(`mul and sigmoid, large [${as}] and [${bs}]: value and grads`, async () => {
      const f = (x: tf.Tensor, y: tf.Tensor) => tf.sigmoid(tf.mul(x, y));
      await ranNatively(['binary', 'unary'], () =>
        compare('mul+sigmoid', f as Fn, [arr(...as), arr(...bs)], tf.broadcast_util.assertAndGetBroadcastShape(as, bs)),
      );
    });
  }

  // Nearest-neighbour resize (UNet decoder upsampling): integer and fractional scales, align corners,
  // half-pixel centers. The cpu backend's gradient is wrong for batches > 1 and ignores
  // halfPixelCenters, so the reference gradient scatter-adds the weights through the cpu forward
  // pass's own pixel map (found by resizing an image of pixel indices).
  for (const [xs, size, align, half] of [
    [[2, 4, 5, 3], [8, 10], false, false],
    [[3, 7, 7, 4], [14, 14], false, false],
    [[2, 5, 4, 2], [7, 9], false, false],
    [[2, 5, 4, 2], [7, 9], true, false],
    [[2, 5, 4, 2], [7, 9], false, true],
    [[2, 6, 6, 3], [4, 3], false, false],
  ] as Array<[number[], [number, number], boolean, boolean]>) {
    it(`resizeNearestNeighbor [${xs}] to ${size.join('x')}${align ? ' alignCorners' : ''}${half ? ' halfPixelCenters' : ''}: value and grad`, async () => {
      const [n, h, w, c] = xs;
      const [oh, ow] = size;
      const f = (x: tf.Tensor) => tf.image.resizeNearestNeighbor(x as tf.Tensor4D, size, align, half);
      const x = arr(...xs),
        r = arr(n, oh, ow, c);
      await tf.setBackend('cpu');
      const [value, src] = tf.tidy(() => [
        f(tf.tensor(x.data, x.shape)).dataSync() as Float32Array,
        f(tf.range(0, h * w, 1, 'float32').reshape([1, h, w, 1])).dataSync() as Float32Array,
      ]);
      const grad = new Float32Array(n * h * w * c);
      for (let b = 0; b < n; b++)
        for (let p = 0; p < oh * ow; p++)
          for (let k = 0; k < c; k++) grad[(b * h * w + src[p]) * c + k] += r.data[(b * oh * ow + p) * c + k];
      await ranNatively(['resizeNearestGrad'], async () => {
        const got = await valueAndGradsOn('onednn', f as Fn, [x], r);
        const errs = [relErr(got[0], value), relErr(got[1], grad)];
        console.log(
          `      resizeNearestNeighbor: largest relative error value ${errs[0].toExponential(1)}, grad0 ${errs[1].toExponential(1)}`,
        );
        errs.forEach((e) => assert.ok(e < TOL, `relative error ${e} >= ${TOL}`));
      });
    });
  }

  it('concat of int32 tensors and even splits keep exact values', async () => {
    await tf.setBackend('onednn');
    const copies = addon().kernelCalls().copyRows ?? 0;
    const a = tf.tensor2d(
      [
        [1, 2],
        [3, 4],
      ],
      [2, 2],
      'int32',
    );
    const b = tf.tensor2d([[5], [6]], [2, 1], 'int32');
    const c = tf.concat([a, b], 1);
    assert.deepEqual(Array.from(c.dataSync()), [1, 2, 5, 3, 4, 6]);
    const parts = tf.split(tf.reshape(tf.range(0, 12, 1, 'float32'), [3, 4]), 2, 1);
    assert.deepEqual(
      parts.map((p) => Array.from(p.dataSync())),
      [
        [0, 1, 4, 5, 8, 9],
        [2, 3, 6, 7, 10, 11],
      ],
    );
    // One strided copy (copyRows) per input of the concat and per piece of the split.
    assert.equal((addon().kernelCalls().copyRows ?? 0) - copies, 4, 'concat and split did not run natively');
    tf.dispose([a, b, c, ...parts]);
  });

  it('identity and same-type cast share memory yet dispose cleanly', async () => {
    await tf.setBackend('onednn');
    const before = tf.memory();
    const x = tf.tensor1d([1, 2, 3]);
    const y = tf.clone(x);
    const z = tf.cast(x, 'float32');
    const w = tf.cast(x, 'int32'); // a real conversion: wasm's kernel
    x.dispose();
    assert.deepEqual(Array.from(y.dataSync()), [1, 2, 3]);
    assert.deepEqual(Array.from(z.dataSync()), [1, 2, 3]);
    assert.equal(w.dtype, 'int32');
    tf.dispose([y, z, w]);
    const after = tf.memory();
    assert.equal(after.numTensors, before.numTensors);
    assert.equal(after.numBytes, before.numBytes);
  });

  it('frees every tensor its kernels create: 200 Adam steps of a small conv net keep tf.memory() flat', async () => {
    await tf.setBackend('onednn');
    const r = new Rng(7);
    const x = r.normalTensor([4, 12, 12, 2]);
    const target = r.normalTensor([4, 12, 12, 1]);
    const ws = [
      tf.variable(r.normalTensor([3, 3, 2, 8], 0, 0.3)),
      tf.variable(r.normalTensor([3, 3, 8, 16], 0, 0.1)),
      tf.variable(r.normalTensor([4, 4, 8, 16], 0, 0.1)), // conv2dTranspose filter: [h, w, out, in]
      tf.variable(r.normalTensor([1, 1, 8, 1], 0, 0.3)),
      tf.variable(r.normalTensor([8, 8], 0, 0.3)),
    ];
    const opt = tf.train.adam(1e-3);
    const loss = () =>
      tf.tidy(() => {
        const h1 = tf.relu(tf.conv2d(x as tf.Tensor4D, ws[0] as tf.Tensor4D, 1, 'same'));
        const h2 = tf.relu(tf.conv2d(h1, ws[1] as tf.Tensor4D, 2, 'same'));
        const up = tf.conv2dTranspose(h2, ws[2] as tf.Tensor4D, [4, 12, 12, 8], 2, 'same');
        const mixed = tf.reshape(tf.matMul(tf.reshape(tf.add(up, h1), [-1, 8]), ws[4]), [4, 12, 12, 8]) as tf.Tensor4D;
        const y = tf.conv2d(mixed, ws[3] as tf.Tensor4D, 1, 'same');
        return tf.mean(tf.square(tf.sub(y, target))) as tf.Scalar;
      });
    const calls = addon().kernelCalls();
    const counts: number[] = [];
    const bytes: number[] = [];
    let first = 0;
    let last = 0;
    for (let step = 0; step < 200; step++) {
      const l = opt.minimize(loss, true) as tf.Scalar;
      const v = l.dataSync()[0];
      if (step === 0) first = v;
      last = v;
      l.dispose();
      counts.push(tf.memory().numTensors);
      bytes.push(tf.memory().numBytes);
    }
    console.log(
      `      tensors after steps 1/10/200: ${counts[0]}/${counts[9]}/${counts[199]}; loss ${first.toFixed(4)} -> ${last.toFixed(4)}`,
    );
    assert.equal(counts[199], counts[9], `tensor count grew from ${counts[9]} to ${counts[199]}`);
    assert.equal(bytes[199], bytes[9], `tensor bytes grew from ${bytes[9]} to ${bytes[199]}`);
    assert.ok(last < first, `training did not reduce the loss (${first} -> ${last})`);
    const now = addon().kernelCalls();
    for (const k of [...CONV_ALL, 'batchMatMul', 'reduceSum', 'binary'])
      assert.ok((now[k] ?? 0) - (calls[k] ?? 0) >= 200, `native ${k} ran fewer than once per step`);
    opt.dispose();
    tf.dispose([x, target, ...ws]);
  });

  it('reports its library and threads, honouring DIFFUSION_THREADS', () => {
    const info = addon().info();
    console.log(`      ${info}`);
    assert.match(info, /^oneDNN \d+\.\d+/);
    const want = process.env.DIFFUSION_THREADS;
    if (want) assert.equal(addon().numThreads(), Number(want));
  });
});
