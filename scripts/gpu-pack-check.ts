// Checks tfjs's webgpu kernels against the pure-JS cpu backend: a few ops the UNet uses (values and
// gradients), then one forward + backward of a small UNet with the same seeded weights on both.
//   DIFFUSION_BACKEND=webgpu npx tsx scripts/gpu-pack-check.ts              (a machine with a GPU)
//   DIFFUSION_BACKEND=webgpu DIFFUSION_WEBGPU_DAWN=opengl npx tsx scripts/gpu-pack-check.ts
//       (no GPU: Dawn's OpenGL backend on Mesa's llvmpipe; slow, but a real WebGPU device)
// Prints one line per case and ends with `CHECK_RESULT {json}`; exit status 1 when any case fails.
// Every read is asynchronous (await t.data()): tfjs-webgpu's synchronous read needs OffscreenCanvas.
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { formatBackendReport, initBackend } from '../lib/runtime/backend';
import { Rng } from '../lib/core/random';
import { referenceUNetConfig } from '../lib/core/unet/config';
import { UNet } from '../lib/core/unet/unet';

/** Largest |a - b| over the largest |b|: one number per tensor, tolerant of summation order. */
function relErr(a: Float32Array, b: Float32Array): number {
  if (a.length !== b.length) return Infinity;
  let d = 0;
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    const e = Math.abs(a[i] - b[i]);
    d = Number.isNaN(e) ? Infinity : Math.max(d, e);
    m = Math.max(m, Math.abs(b[i]));
  }
  return d / Math.max(m, 1e-6);
}

function data(shape: number[], seed: number): Float32Array {
  const rng = new Rng(seed);
  return Float32Array.from({ length: shape.reduce((p, q) => p * q, 1) }, () => rng.normal());
}

interface OpCase {
  name: string;
  shapes: number[][];
  fn: (...xs: tf.Tensor[]) => tf.Tensor;
  /** The input gradients on cpu by another formula, where cpu's own gradient kernel is wrong. */
  cpuGrads?: (r: tf.Tensor, ...xs: tf.Tensor[]) => tf.Tensor[];
  /** Values only, where tfjs has no gradient (tile of rank 5 and up). */
  forwardOnly?: boolean;
}

const c4 = (x: tf.Tensor) => x as tf.Tensor4D;
const OPS: OpCase[] = [
  {
    name: 'matMul',
    shapes: [
      [33, 48],
      [48, 20],
    ],
    fn: (a, b) => tf.matMul(a as tf.Tensor2D, b as tf.Tensor2D),
  },
  {
    name: 'batchMatMul (attention scores)',
    shapes: [
      [4, 49, 16],
      [4, 16, 49],
    ],
    fn: (a, b) => tf.matMul(a as tf.Tensor3D, b as tf.Tensor3D),
  },
  {
    name: 'conv2d 3x3 same',
    shapes: [
      [2, 14, 14, 8],
      [3, 3, 8, 16],
    ],
    fn: (x, w) => tf.conv2d(c4(x), c4(w), 1, 'same'),
  },
  {
    name: 'conv2d 3x3 stride 2',
    shapes: [
      [2, 14, 14, 8],
      [3, 3, 8, 8],
    ],
    fn: (x, w) => tf.conv2d(c4(x), c4(w), 2, 'same'),
  },
  {
    name: 'conv2d 1x1',
    shapes: [
      [2, 7, 7, 16],
      [1, 1, 16, 8],
    ],
    fn: (x, w) => tf.conv2d(c4(x), c4(w), 1, 'same'),
  },
  // tfjs 4.22's cpu ResizeNearestNeighborGrad is wrong for batch > 1 (docs/backends.md, Known problems): the
  // reference gradient of a x2 nearest upsampling is the sum over each 2x2 block.
  {
    name: 'resizeNearestNeighbor x2',
    shapes: [[2, 7, 7, 4]],
    fn: (x) => tf.image.resizeNearestNeighbor(c4(x), [14, 14]),
    cpuGrads: (r) => [tf.mul(tf.avgPool(c4(r), 2, 2, 'valid'), 4)],
  },
  { name: 'softmax', shapes: [[6, 49]], fn: (x) => tf.softmax(x) },
  { name: 'sigmoid * x (SiLU)', shapes: [[4, 100]], fn: (x) => tf.mul(x, tf.sigmoid(x)) },
  {
    name: 'moments (GroupNorm statistics)',
    shapes: [[2, 7, 7, 4, 8]],
    fn: (x) => {
      const m = tf.moments(x, [1, 2, 4], true);
      return tf.div(tf.sub(x, m.mean), tf.sqrt(tf.add(m.variance, 1e-5)));
    },
  },
  {
    name: 'concat axis 3',
    shapes: [
      [2, 7, 7, 4],
      [2, 7, 7, 6],
    ],
    fn: (a, b) => tf.concat([a, b], 3),
  },
  // The gradient norm over all weights sums one scalar per weight tensor (lib/core/train/grad_clip.ts).
  { name: 'addN of 20 tensors', shapes: Array.from({ length: 20 }, () => [3, 5]), fn: (...xs) => tf.addN(xs) },
  // Lesson 08's repeatEach tiles a rank-5 tensor (lib/runtime/webgpu_fixes.ts); over 1000 values, so on the GPU.
  {
    name: 'tile rank 5',
    shapes: [[2, 12, 12, 4]],
    fn: (x) => tf.tile(tf.expandDims(x, 1), [2, 3, 1, 2, 1]),
    forwardOnly: true,
  },
  {
    name: 'sin/cos/exp (time embedding)',
    shapes: [[8, 16]],
    fn: (x) => tf.add(tf.sin(x), tf.mul(tf.cos(x), tf.exp(tf.mul(x, 0.1)))),
  },
];

/** Forward value and the gradient of sum(y * r) for a fixed random r, on the current backend. */
async function runOp(c: OpCase): Promise<Float32Array[]> {
  const xs = c.shapes.map((s, i) => tf.tensor(data(s, 10 + i), s));
  const y = c.fn(...xs);
  const r = tf.tensor(data(y.shape, 99), y.shape);
  const gs = c.forwardOnly
    ? []
    : c.cpuGrads && tf.getBackend() === 'cpu'
      ? c.cpuGrads(r, ...xs)
      : tf.grads((...a: tf.Tensor[]) => tf.sum(tf.mul(c.fn(...a), r)))(xs);
  const out = [await y.data(), ...(await Promise.all(gs.map((g) => g.data())))] as Float32Array[];
  tf.dispose([...xs, y, r, ...gs]);
  return out;
}

/**
 * Small UNet, fixed seed: its output and the gradient of a loss with respect to every weight.
 * Batch 1, because the cpu reference's upsampling gradient is wrong for batch > 1.
 */
async function runUNet(): Promise<{ names: string[]; values: Float32Array[] }> {
  const config = referenceUNetConfig({
    imageSize: 16,
    baseChannels: 8,
    groups: 4,
    numResBlocks: 1,
    attentionResolutions: [4],
  });
  const model = new UNet(config, { seed: 3 });
  const x = tf.tensor(data([1, 16, 16, 1], 7), [1, 16, 16, 1]) as tf.Tensor4D;
  const target = tf.tensor(data([1, 16, 16, 1], 8), [1, 16, 16, 1]);
  const t = [640];
  const y = model.apply(x, t);
  const vars = [...model.params.entries()];
  const { grads } = tf.variableGrads(
    () => tf.mean(tf.square(tf.sub(model.apply(x, t), target))) as tf.Scalar,
    vars.map(([, v]) => v),
  );
  const names = ['output', ...vars.map(([n]) => `grad ${n}`)];
  const values = [await y.data(), ...(await Promise.all(vars.map(([, v]) => grads[v.name].data())))] as Float32Array[];
  tf.dispose([x, target, y, ...Object.values(grads)]);
  model.dispose();
  return { names, values };
}

async function onBoth<T>(fn: () => Promise<T>): Promise<{ cpu: T; gpu: T } | { error: string }> {
  try {
    await tf.setBackend('webgpu');
    const gpu = await fn();
    await tf.setBackend('cpu');
    const cpu = await fn();
    return { cpu, gpu };
  } catch (e) {
    return { error: (e instanceof Error ? e.message : String(e)).split('\n')[0] };
  }
}

async function main(): Promise<void> {
  const tol = Number(process.env.CHECK_TOLERANCE ?? '1e-3');
  const report = await initBackend();
  console.log(formatBackendReport(report));
  if (report.backend !== 'webgpu')
    throw new Error(
      `this check compares webgpu with cpu; the backend is '${report.backend}' (set DIFFUSION_BACKEND=webgpu)`,
    );
  const rows: { name: string; ok: boolean; err?: number; worst?: string; error?: string }[] = [];
  for (const c of OPS) {
    const r = await onBoth(() => runOp(c));
    if ('error' in r) rows.push({ name: c.name, ok: false, error: r.error });
    else {
      const errs = r.gpu.map((g, i) => relErr(g, r.cpu[i]));
      const k = errs.indexOf(Math.max(...errs));
      rows.push({
        name: c.name,
        ok: errs[k] <= tol,
        err: errs[k],
        worst: k === 0 ? 'value' : `grad of input ${k - 1}`,
      });
    }
  }
  const u = await onBoth(runUNet);
  if ('error' in u) rows.push({ name: 'UNet forward + backward', ok: false, error: u.error });
  else {
    const errs = u.gpu.values.map((g, i) => relErr(g, u.cpu.values[i]));
    const k = errs.indexOf(Math.max(...errs));
    rows.push({
      name: `UNet forward + backward (${errs.length - 1} weight gradients)`,
      ok: errs[k] <= tol,
      err: errs[k],
      worst: u.gpu.names[k],
    });
  }
  for (const r of rows) {
    const what = r.error !== undefined ? `ERROR ${r.error}` : `max rel. error ${r.err!.toExponential(2)} (${r.worst})`;
    console.log(`${r.ok ? 'ok  ' : 'FAIL'} ${r.name}: ${what}`);
  }
  const failed = rows.filter((r) => !r.ok).length;
  console.log(`CHECK_RESULT ${JSON.stringify({ adapter: report.details[0], tolerance: tol, failed, rows })}`);
  process.exit(failed > 0 ? 1 : 0);
}

main().catch((e: Error) => {
  console.error(`gpu-pack-check: ${e.message}`);
  process.exit(2);
});
