// FID/KID and the classifier behind them. Linear algebra is checked against closed forms
// (diagonal matrices, the 2x2 square-root formula) and against numpy's own eigensolver through
// /usr/bin/python3 (python3-numpy, from scripts/setup.sh: the tests fail without it); FID against the closed-form distance of known Gaussians;
// KID for unbiasedness over many independent draws; the classifier against its manifest.
import * as assert from 'assert';
import { execFileSync } from 'child_process';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { loadFashionMnist, toTensor } from '../datasets/index';
import { FashionClassifier, CLASSIFIER_FEATURES } from '../lib/eval/metrics/classifier';
import { loadPretrained, pretrainedManifest } from '../lib/course/models';
import { featureStats, fid, frechetDistance, GaussianStats } from '../lib/eval/metrics/fid';
import { kid, mmd2Unbiased } from '../lib/eval/metrics/kid';
import { nearestCentroidProbe } from '../lib/eval/metrics/nearest_centroid';
import { matmul, sqrtmPsd, symmetricEigen, trace, traceSqrtProduct } from '../lib/eval/metrics/linalg';
import { fidReport, formatFidReport } from '../lib/eval/metrics/report';
import { ssim } from '../lib/eval/metrics/ssim';
import { Rng } from '../lib/core/random';
import { trainClassifier } from '../lib/eval/metrics/train_classifier';
import { subset } from '../datasets/index';
import { hasNumpy, PY } from './helpers/python';
import { NUMPY_MISSING, requireDependency } from './helpers/require';
import { countReads, flatAfter } from './helpers/training';

/** Runs a numpy snippet that reads JSON `inp` and prints JSON. */
function numpy(code: string, inp: unknown): any {
  const script = `import json, sys\nimport numpy as np\ninp = json.loads(sys.stdin.read())\n${code}`;
  return JSON.parse(execFileSync(PY, ['-c', script], { input: JSON.stringify(inp), maxBuffer: 1 << 26 }).toString());
}

/** A random SPD matrix B B^T / n + eps I. */
function randomSpd(n: number, rng: Rng, eps = 0.1): Float64Array {
  const b = Float64Array.from(rng.normalArray(n * n));
  const a = new Float64Array(n * n);
  for (let i = 0; i < n; i++)
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let k = 0; k < n; k++) s += b[i * n + k] * b[j * n + k];
      a[i * n + j] = s / n + (i === j ? eps : 0);
    }
  return a;
}

function maxAbs(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

function transpose(a: Float64Array, n: number): Float64Array {
  const t = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) t[j * n + i] = a[i * n + j];
  return t;
}

describe('float64 linear algebra (Jacobi)', () => {
  it('diagonal matrices: eigenvalues are the diagonal, sorted; sqrtm is the elementwise root', () => {
    const d = [4, 0.25, 9, 1e-6, 2];
    const a = new Float64Array(25);
    d.forEach((v, i) => (a[i * 5 + i] = v));
    const { values } = symmetricEigen(a, 5);
    assert.deepStrictEqual(
      Array.from(values),
      [...d].sort((x, y) => x - y),
    );
    const s = sqrtmPsd(a, 5);
    d.forEach((v, i) => assert.ok(Math.abs(s[i * 5 + i] - Math.sqrt(v)) < 1e-15));
  });

  for (const n of [7, 40, 128]) {
    it(`random SPD ${n}x${n}: A V = V diag(l), V^T V = I, sqrtm(A)^2 = A`, () => {
      const a = randomSpd(n, new Rng(n));
      const { values, vectors } = symmetricEigen(a, n);
      const av = matmul(a, vectors, n);
      const vl = new Float64Array(n * n);
      for (let i = 0; i < n; i++) for (let k = 0; k < n; k++) vl[i * n + k] = vectors[i * n + k] * values[k];
      const scale = values[n - 1];
      assert.ok(maxAbs(av, vl) < 1e-11 * scale, `|AV - VL| = ${maxAbs(av, vl)}`);
      const vtv = matmul(transpose(vectors, n), vectors, n);
      const eye = new Float64Array(n * n);
      for (let i = 0; i < n; i++) eye[i * n + i] = 1;
      assert.ok(maxAbs(vtv, eye) < 1e-12, `|V^T V - I| = ${maxAbs(vtv, eye)}`);
      const s = sqrtmPsd(a, n);
      assert.ok(maxAbs(matmul(s, s, n), a) < 1e-11 * scale, `|S S - A| = ${maxAbs(matmul(s, s, n), a)}`);
    });
  }

  it('eigenvalues, sqrtm and tr sqrt(S1 S2) agree with numpy (eigh, eigvals of the non-symmetric product)', function () {
    requireDependency(this, 'numpy', hasNumpy, NUMPY_MISSING);
    const n = 16;
    const rng = new Rng(3);
    const s1 = randomSpd(n, rng);
    const s2 = randomSpd(n, rng, 0.5);
    const ref = numpy(
      `n = inp['n']; a = np.array(inp['a']).reshape(n, n); b = np.array(inp['b']).reshape(n, n)
w, v = np.linalg.eigh(a)
print(json.dumps({'w': w.tolist(), 'sqrt': (v @ np.diag(np.sqrt(w)) @ v.T).ravel().tolist(),
  'trsqrt': float(np.sum(np.sqrt(np.linalg.eigvals(a @ b).real)))}))`,
      { n, a: Array.from(s1), b: Array.from(s2) },
    );
    assert.ok(maxAbs(symmetricEigen(s1, n).values, ref.w) < 1e-12, 'eigenvalues');
    assert.ok(maxAbs(sqrtmPsd(s1, n), ref.sqrt) < 1e-12, 'sqrtm');
    assert.ok(
      Math.abs(traceSqrtProduct(s1, s2, n) - ref.trsqrt) < 1e-10 * ref.trsqrt,
      `tr sqrt: ${traceSqrtProduct(s1, s2, n)} vs ${ref.trsqrt}`,
    );
  });

  it('tr sqrt(S1 S2) for 2x2 matches the closed form sqrt(tr(S1 S2) + 2 sqrt(det S1 det S2))', () => {
    const s1 = [2, 0.7, 0.7, 1];
    const s2 = [0.5, -0.2, -0.2, 3];
    const p = matmul(s1, s2, 2);
    const det = (m: number[]) => m[0] * m[3] - m[1] * m[2];
    const expected = Math.sqrt(trace(p, 2) + 2 * Math.sqrt(det(s1) * det(s2)));
    assert.ok(
      Math.abs(traceSqrtProduct(s1, s2, 2) - expected) < 1e-13,
      `${traceSqrtProduct(s1, s2, 2)} vs ${expected}`,
    );
  });

  it('rejects non-square, non-symmetric and indefinite input', () => {
    assert.throws(() => symmetricEigen([1, 2, 3], 2), /expected 2x2 = 4 values, got 3/);
    assert.throws(() => symmetricEigen([1, 2, 3, 4], 2), /not symmetric/);
    assert.throws(() => sqrtmPsd([1, 0, 0, -1], 2), /not positive semi-definite/);
  });
});

function stats(mean: number[], cov: number[]): GaussianStats {
  return { n: Infinity, dim: mean.length, mean: Float64Array.from(mean), cov: Float64Array.from(cov) };
}

/** n samples of N(mean, L L^T) as a tensor [n, d]. */
function gaussianSamples(n: number, mean: number[], chol: number[], rng: Rng): tf.Tensor2D {
  const d = mean.length;
  const out = new Float32Array(n * d);
  for (let i = 0; i < n; i++) {
    const z = rng.normalArray(d);
    for (let r = 0; r < d; r++) {
      let v = mean[r];
      for (let c = 0; c <= r; c++) v += chol[r * d + c] * z[c];
      out[i * d + r] = v;
    }
  }
  return tf.tensor2d(out, [n, d]);
}

describe('nearest-centroid probe', () => {
  it('reads well-separated classes, not labels that have nothing to do with the vectors', () => {
    const rng = new Rng(5);
    const centres = [
      [0, 0, 0],
      [4, 0, 0],
      [0, 4, 0],
      [0, 0, 4],
    ];
    const items = Array.from({ length: 400 }, (_, i) => ({
      label: i % 4,
      v: centres[i % 4].map((c) => c + rng.normal()),
    }));
    const clear = nearestCentroidProbe(items, 4);
    assert.ok(clear.accuracy > 0.9, `separated: ${clear.accuracy}`);
    assert.strictEqual(clear.tested, 120);
    assert.strictEqual(clear.chance, 0.25);
    const shuffled = nearestCentroidProbe(
      items.map((it) => ({ ...it, label: rng.int(4) })),
      4,
    );
    assert.ok(shuffled.accuracy < 0.4, `random labels: ${shuffled.accuracy}`);
    assert.throws(() => nearestCentroidProbe(items.slice(0, 4), 4), /only 4 labelled vectors for 4 classes/);
    assert.throws(
      () => nearestCentroidProbe([{ label: 7, v: [0] }, ...items.slice(0, 9).map((it) => ({ ...it, v: [0] }))], 4),
      /label 7 outside \[0, 4\)/,
    );
  });
});

describe('FID', () => {
  before(async () => {
    await tf.setBackend('cpu');
  });

  it('a feature set against itself is 0', async () => {
    const f = new Rng(1).normalTensor([500, 32]) as tf.Tensor2D;
    const v = await fid(f, f);
    assert.ok(v < 1e-9, `FID(x, x) = ${v}`);
    f.dispose();
  });

  it('diagonal Gaussians: |m1 - m2|^2 + sum (sqrt(a) - sqrt(b))^2', () => {
    const a = stats([0, 1, 2], [1, 0, 0, 0, 4, 0, 0, 0, 9]);
    const b = stats([1, 1, 0], [4, 0, 0, 0, 4, 0, 0, 0, 0.25]);
    const expected = 1 + 0 + 4 + (1 - 2) ** 2 + 0 + (3 - 0.5) ** 2;
    assert.ok(Math.abs(frechetDistance(a, b) - expected) < 1e-12, `${frechetDistance(a, b)} vs ${expected}`);
  });

  it('sampled Gaussians with known means and covariances approach the closed form', async () => {
    // 2-D so the closed form is explicit (the 2x2 root formula above).
    const m1 = [0.5, -1];
    const m2 = [0, 0];
    const L1 = [1, 0, 0.6, 0.8]; // S1 = [[1, .6], [.6, 1]]
    const L2 = [2, 0, -0.5, 0.5]; // S2 = [[4, -1], [-1, .5]]
    const S1 = matmul(L1, transpose(Float64Array.from(L1), 2), 2);
    const S2 = matmul(L2, transpose(Float64Array.from(L2), 2), 2);
    const det = (m: ArrayLike<number>) => m[0] * m[3] - m[1] * m[2];
    const trs = Math.sqrt(trace(matmul(S1, S2, 2), 2) + 2 * Math.sqrt(det(S1) * det(S2)));
    const expected = 0.25 + 1 + trace(S1, 2) + trace(S2, 2) - 2 * trs;
    assert.ok(Math.abs(frechetDistance(stats(m1, Array.from(S1)), stats(m2, Array.from(S2))) - expected) < 1e-12);
    const rng = new Rng(7);
    const a = gaussianSamples(40000, m1, L1, rng);
    const b = gaussianSamples(40000, m2, L2, rng);
    const v = await fid(a, b);
    assert.ok(Math.abs(v - expected) < 0.03 * expected, `sampled FID ${v} vs closed form ${expected}`);
    const st = await featureStats(a);
    assert.ok(maxAbs(st.cov, S1) < 0.03, `sample covariance ${Array.from(st.cov)} vs ${Array.from(S1)}`);
    tf.dispose([a, b]);
  });
});

describe('KID', () => {
  before(async () => {
    await tf.setBackend('cpu');
  });

  it('mmd2Unbiased equals the textbook double sum in float64', async () => {
    const rng = new Rng(2);
    const m = 40;
    const d = 6;
    const x = rng.normalArray(m * d);
    const y = rng.normalArray(m * d, 0.3, 1.2);
    const k = (a: Float32Array, i: number, b: Float32Array, j: number) => {
      let s = 0;
      for (let c = 0; c < d; c++) s += a[i * d + c] * b[j * d + c];
      return (s / d + 1) ** 3;
    };
    let xx = 0;
    let yy = 0;
    let xy = 0;
    for (let i = 0; i < m; i++)
      for (let j = 0; j < m; j++) {
        if (i !== j) {
          xx += k(x, i, x, j);
          yy += k(y, i, y, j);
        }
        xy += k(x, i, y, j);
      }
    const expected = xx / (m * (m - 1)) + yy / (m * (m - 1)) - (2 * xy) / (m * m);
    const [tx, ty] = [tf.tensor2d(x, [m, d]), tf.tensor2d(y, [m, d])];
    const got = await mmd2Unbiased(tx, ty);
    tf.dispose([tx, ty]);
    assert.ok(Math.abs(got - expected) < 1e-5 * Math.abs(expected) + 1e-6, `${got} vs ${expected}`);
  });

  it('is unbiased: averages to 0 over independent pairs of one distribution, positive for a shifted one', async () => {
    const rng = new Rng(5);
    const same: number[] = [];
    const shifted: number[] = [];
    for (let r = 0; r < 30; r++) {
      const a = rng.normalTensor([100, 16]) as tf.Tensor2D;
      const b = rng.normalTensor([100, 16]) as tf.Tensor2D;
      const c = rng.normalTensor([100, 16], 0.5) as tf.Tensor2D;
      same.push(await mmd2Unbiased(a, b));
      shifted.push(await mmd2Unbiased(a, c));
      tf.dispose([a, b, c]);
    }
    const mean = (v: number[]) => v.reduce((p, q) => p + q, 0) / v.length;
    const se = Math.sqrt(same.reduce((p, q) => p + (q - mean(same)) ** 2, 0) / (same.length - 1) / same.length);
    assert.ok(Math.abs(mean(same)) < 4 * se, `same distribution: mean MMD^2 ${mean(same)} (standard error ${se})`);
    assert.ok(
      same.some((v) => v < 0),
      'an unbiased estimate must sometimes be negative',
    );
    assert.ok(mean(shifted) > 20 * se, `shifted: ${mean(shifted)} vs standard error ${se}`);
  });

  it('kid() averages subsets reproducibly and rejects bad subset sizes', async () => {
    const rng = new Rng(8);
    const a = rng.normalTensor([300, 8]) as tf.Tensor2D;
    const b = rng.normalTensor([200, 8], 0.3) as tf.Tensor2D;
    const r1 = await kid(a, b, { subsets: 5, subsetSize: 100, rng: new Rng(1) });
    const r2 = await kid(a, b, { subsets: 5, subsetSize: 100, rng: new Rng(1) });
    assert.strictEqual(r1.kid, r2.kid);
    assert.ok(r1.kid > 0 && r1.std > 0 && r1.subsets === 5 && r1.subsetSize === 100);
    const whole = await kid(a, b, { subsets: 7, subsetSize: 200 });
    assert.strictEqual(whole.subsetSize, 200);
    assert.strictEqual(whole.subsets, 7, 'a 200-row subset of 300 rows differs between draws');
    const c = tf.slice(a, 0, 200) as tf.Tensor2D;
    const all = await kid(c, b, { subsets: 7 });
    assert.strictEqual(all.subsets, 1, 'subsets holding all rows of both sets are all the same');
    assert.ok(Math.abs(all.kid - (await mmd2Unbiased(c, b))) < 1e-12);
    c.dispose();
    await assert.rejects(kid(a, b, { subsetSize: 201 }), /subsetSize must be an integer in \[2, 200\], got 201/);
    tf.dispose([a, b]);
  });
});

describe('the FID classifier (checkpoints/classifier)', function () {
  let previous = '';
  let model: FashionClassifier;
  let manifest: Record<string, unknown>;

  before(async () => {
    previous = tf.getBackend();
    // The native backend makes the 10,000-image pass take seconds; pure-JS cpu works too, slowly.
    try {
      const native = require(path.join(__dirname, '..', 'lib', 'runtime', 'native'));
      const r = await native.registerNativeBackend();
      if (!(r.ok && (await tf.setBackend('onednn')))) await tf.setBackend('cpu');
    } catch {
      await tf.setBackend('cpu');
    }
    model = loadPretrained('classifier');
    manifest = pretrainedManifest('classifier');
  });
  after(async () => {
    model?.dispose();
    if (previous) await tf.setBackend(previous);
  });

  it('trainClassifier lowers the loss, calls onEpoch at each epoch boundary, keeps the tensor count flat, reads nothing synchronously', async function () {
    // The backend of this block (native when built): pure-JS cpu conv gradients take seconds a step.
    this.timeout(300_000);
    const train = loadFashionMnist('train');
    const small = subset(
      train,
      Array.from({ length: 160 }, (_, i) => i),
    );
    const model = new FashionClassifier({ seed: 1 });
    const losses: number[] = [];
    const counts: number[] = [];
    const epochs: [number, number][] = [];
    const { result: steps, dataSync } = await countReads(() =>
      trainClassifier(model, small, {
        epochs: 3,
        batchSize: 16,
        learningRate: 3e-3,
        seed: 0,
        onStep: (_s, l) => {
          losses.push(l);
          counts.push(tf.memory().numTensors);
        },
        onEpoch: (e) => epochs.push([e, losses.length]),
      }),
    );
    assert.strictEqual(steps, 30);
    assert.deepStrictEqual(epochs, [
      [0, 10],
      [1, 20],
      [2, 30],
    ]);
    assert.strictEqual(dataSync, 0, 'the loop read a tensor synchronously');
    assert.strictEqual(flatAfter(counts), null);
    const mean = (a: number[]) => a.reduce((p, q) => p + q, 0) / a.length;
    assert.ok(
      mean(losses.slice(-5)) < 0.7 * mean(losses.slice(0, 5)),
      `loss ${mean(losses.slice(0, 5))} -> ${mean(losses.slice(-5))}`,
    );
    model.dispose();
  });

  it('loads from the committed checkpoint and reaches its manifest accuracy on the test split (± 0.5%)', async () => {
    const test = loadFashionMnist('test');
    const x = toTensor(test);
    const acc = await model.accuracy(x, test.labels);
    x.dispose();
    const claimed = manifest.accuracy as number;
    assert.ok(claimed >= 0.9, `manifest accuracy ${claimed} is below the 90% the metrics need`);
    assert.ok(Math.abs(acc - claimed) <= 0.005, `test accuracy ${acc} vs manifest ${claimed}`);
    assert.strictEqual(model.features(tf.zeros([2, 28, 28, 1]) as tf.Tensor4D).shape[1], CLASSIFIER_FEATURES);
  });

  it('fidReport: real images score near the floor, noise and a single class far above it', async () => {
    const train = loadFashionMnist('train');
    // Images from the end of the train split: the report draws its real sets by seeded permutation.
    const n = 300;
    const real = toTensor(train, { indices: Array.from({ length: n }, (_, i) => train.count - 1 - i) });
    const oneClass = toTensor(train, { indices: Array.from({ length: n }, (_, i) => i * 10 + 3) }); // all dresses
    const noise = new Rng(4).uniformTensor([n, 28, 28, 1], -1, 1) as tf.Tensor4D;
    const r = await fidReport(real, { n });
    const c = await fidReport(oneClass, { n });
    const z = await fidReport(noise, { n });
    console.log(
      `      real: ${formatFidReport(r)}\n      one class: ${formatFidReport(c)}\n      noise: ${formatFidReport(z)}`,
    );
    assert.strictEqual(r.n, n);
    assert.strictEqual(r.floor, c.floor, 'the floor depends only on n and the seed');
    assert.ok(r.fid < 2 * r.floor + 1, `real images: FID ${r.fid} vs floor ${r.floor}`);
    assert.ok(c.fid > 5 * r.fid && z.fid > 5 * r.fid, `one class ${c.fid}, noise ${z.fid}, real ${r.fid}`);
    assert.ok(
      c.kid > 10 * Math.abs(r.kid) && z.kid > 10 * Math.abs(r.kid),
      `KID one class ${c.kid}, noise ${z.kid}, real ${r.kid}`,
    );
    // The bootstrap spreads (fid_bootstrap.ts): around each FID, and far smaller than the gaps above.
    for (const x of [r, c, z]) {
      assert.ok(x.spread && x.spread.std > 0 && x.spread.lo <= x.fid && x.fid <= x.spread.hi, `spread ${x.spread}`);
      assert.strictEqual(x.spread.resamples, 200);
    }
    assert.ok(r.floorSpread && r.floorSpread.std > 0 && c.fid - r.fid > 5 * c.spread!.std, 'one class vs real');
    assert.strictEqual((await fidReport(real, { n, bootstrap: 0 })).spread, null);
    await assert.rejects(fidReport(real, { n, bootstrap: 1 }), /bootstrap must be 0 or an integer >= 2/);
    await assert.rejects(fidReport(real, { n: n + 1 }), /n must be an integer in \[2, 300\]/);
    tf.dispose([real, oneClass, noise]);
  });
});

describe('SSIM against numpy (Wang et al. 2004)', () => {
  before(function () {
    requireDependency(this, 'numpy', hasNumpy, NUMPY_MISSING);
  });
  // Reference: Wang, Bovik, Sheikh & Simoncelli's ssim_index.m written out in float64 numpy: an 11x11
  // Gaussian window (sigma 1.5, normalised to sum 1), 'valid' filtering, population (co)variances
  // E[xy] - mu_x mu_y, K1 = 0.01, K2 = 0.03 of the data range L = 2, the map's mean; each channel
  // separately, then averaged over channels.
  const REF = `
def ssim(a, b, L=2.0, k=11, sigma=1.5):
    x = np.arange(k) - (k - 1) / 2
    g = np.exp(-x**2 / (2 * sigma**2))
    w = np.outer(g, g)
    w /= w.sum()
    def filt(im):
        h, ww = im.shape
        out = np.zeros((h - k + 1, ww - k + 1))
        for i in range(h - k + 1):
            for j in range(ww - k + 1):
                out[i, j] = (w * im[i:i + k, j:j + k]).sum()
        return out
    c1, c2 = (0.01 * L) ** 2, (0.03 * L) ** 2
    vals = []
    for c in range(a.shape[2]):
        x1, x2 = a[:, :, c], b[:, :, c]
        m1, m2 = filt(x1), filt(x2)
        s11 = filt(x1 * x1) - m1 * m1
        s22 = filt(x2 * x2) - m2 * m2
        s12 = filt(x1 * x2) - m1 * m2
        smap = ((2 * m1 * m2 + c1) * (2 * s12 + c2)) / ((m1**2 + m2**2 + c1) * (s11 + s22 + c2))
        vals.append(smap.mean())
    return float(np.mean(vals))
out = []
for case in inp:
    shape = case['shape']
    a = np.array(case['a'], dtype=np.float64).reshape(shape)
    b = np.array(case['b'], dtype=np.float64).reshape(shape)
    out.append([ssim(a[n], b[n]) for n in range(shape[0])])
print(json.dumps(out))
`;

  it('matches on random, noisy, edge, shifted, contrast- and brightness-changed images', async function () {
    this.timeout(120_000);
    const rng = new Rng(30);
    const cases: { name: string; a: tf.Tensor4D; b: tf.Tensor4D }[] = [];
    const add = (name: string, a: tf.Tensor, b: tf.Tensor) =>
      cases.push({ name, a: tf.clipByValue(a, -1, 1) as tf.Tensor4D, b: tf.clipByValue(b, -1, 1) as tf.Tensor4D });
    const u = rng.uniformTensor([2, 28, 28, 1], -1, 1);
    add('independent uniform noise', u, rng.uniformTensor([2, 28, 28, 1], -1, 1));
    add('noise plus small noise', u, tf.add(u, rng.normalTensor([2, 28, 28, 1], 0, 0.1)));
    // A vertical and a diagonal edge (steps of 1.6 and 1.3), and each shifted right by one pixel.
    const edges = (shift: number) =>
      tf.tensor4d(
        Array.from({ length: 2 * 24 * 24 }, (_, p) => {
          const [n, r, c] = [Math.floor(p / 576), Math.floor(p / 24) % 24, (p % 24) - shift];
          return n === 0 ? (c > 11.5 ? 0.8 : -0.8) : r + c > 23 ? 0.6 : -0.7;
        }),
        [2, 24, 24, 1],
      );
    const edge = edges(0);
    const shifted = edges(1);
    add('edges vs a 1-pixel shift', edge, shifted);
    add('edges vs half the contrast', edge, tf.mul(edge, 0.5));
    const rgb = tf.tidy(() => tf.tanh(rng.normalTensor([1, 20, 30, 3], 0, 0.8)));
    add('3 channels, 20x30, brightness +0.3 and a channel swap', rgb, tf.add(tf.reverse(rgb, 3), 0.3));
    tf.dispose([u, edge, shifted, rgb]);
    const inp = [];
    for (const c of cases)
      inp.push({ shape: c.a.shape, a: Array.from(await c.a.data()), b: Array.from(await c.b.data()) });
    const want: number[][] = numpy(REF, inp);
    const spread: number[] = [];
    for (let i = 0; i < cases.length; i++) {
      const got = await ssim(cases[i].a, cases[i].b);
      spread.push(...want[i]);
      assert.equal(got.length, want[i].length);
      for (let n = 0; n < got.length; n++)
        assert.ok(Math.abs(got[n] - want[i][n]) < 2e-5, `${cases[i].name} [${n}]: SSIM ${got[n]}, numpy ${want[i][n]}`);
    }
    // The cases span the scale, so a check that passes on one kind of image cannot pass them all.
    assert.ok(Math.min(...spread) < 0.1 && Math.max(...spread) > 0.8, `numpy SSIMs ${spread}`);
    for (const c of cases) tf.dispose([c.a, c.b]);
  });
});
