// The bootstrap spread of FID (lib/eval/metrics/fid_bootstrap.ts) and the eigenvalue solver it uses.
// The reference is numpy through /usr/bin/python3: each bootstrap FID recomputed from the same resampling
// indices with np.cov and np.linalg.eigvals of the non-symmetric product, then its std and percentiles.
// Properties: no spread when every feature is the same; the spread shrinks about as 1/sqrt(n).
import * as assert from 'assert';
import { execFileSync } from 'child_process';
import { Rng } from '../lib/core/random';
import { featureStats, frechetDistance } from '../lib/eval/metrics/fid';
import {
  bootstrapFids,
  bootstrapIndices,
  fidSpread,
  fidsDiffer,
  formatFidWithSpread,
  pairedFidDifference,
  summariseBootstrap,
} from '../lib/eval/metrics/fid_bootstrap';
import { symmetricEigen, symmetricEigenvalues } from '../lib/eval/metrics/linalg';
import { hasNumpy, PY } from './helpers/python';
import { NUMPY_MISSING, requireDependency } from './helpers/require';

function numpy(code: string, inp: unknown): any {
  const script = `import json, sys\nimport numpy as np\ninp = json.loads(sys.stdin.read())\n${code}`;
  return JSON.parse(execFileSync(PY, ['-c', script], { input: JSON.stringify(inp), maxBuffer: 1 << 26 }).toString());
}

/** n rows of dim Gaussian features with mean `shift` in every coordinate and correlated coordinates. */
function gaussianFeatures(n: number, dim: number, shift: number, rng: Rng) {
  const data = new Float64Array(n * dim);
  for (let i = 0; i < n; i++) {
    const z = rng.normalArray(dim);
    for (let j = 0; j < dim; j++) data[i * dim + j] = shift + z[j] + (j > 0 ? 0.5 * z[j - 1] : 0);
  }
  return { data, n, dim };
}

describe('symmetricEigenvalues (Householder + implicit QL)', () => {
  for (const n of [1, 2, 7, 40, 128]) {
    it(`agrees with the Jacobi eigenvalues on a random PSD ${n}x${n} matrix`, () => {
      const f = gaussianFeatures(3 * n + 2, n, 0, new Rng(n));
      const a = Float64Array.from(f.data.subarray(0, n * n), (v) => Math.max(v, 0));
      // A^T A: symmetric PSD with a spread of eigenvalues (and often a few near 0).
      const s = new Float64Array(n * n);
      for (let i = 0; i < n; i++)
        for (let j = 0; j < n; j++) for (let k = 0; k < n; k++) s[i * n + j] += a[k * n + i] * a[k * n + j];
      const ref = symmetricEigen(s, n).values;
      const got = symmetricEigenvalues(s, n);
      const scale = Math.max(1, ref[n - 1]);
      for (let i = 0; i < n; i++) assert.ok(Math.abs(got[i] - ref[i]) < 1e-11 * scale, `${i}: ${got[i]} vs ${ref[i]}`);
    });
  }

  it('agrees with numpy eigvalsh, and rejects bad input', function () {
    requireDependency(this, 'numpy', hasNumpy, NUMPY_MISSING);
    const n = 16;
    const f = gaussianFeatures(n, n, 0, new Rng(5));
    const s = new Float64Array(n * n);
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) s[i * n + j] = f.data[i * n + j] + f.data[j * n + i];
    const ref: number[] = numpy(
      `n = inp['n']; print(json.dumps(np.linalg.eigvalsh(np.array(inp['a']).reshape(n, n)).tolist()))`,
      {
        n,
        a: Array.from(s),
      },
    );
    const got = symmetricEigenvalues(s, n);
    ref.forEach((v, i) => assert.ok(Math.abs(got[i] - v) < 1e-12, `${i}: ${got[i]} vs ${v}`));
    assert.throws(() => symmetricEigenvalues([1, 2, 3], 2), /expected 2x2/);
    assert.throws(() => symmetricEigenvalues([1, NaN, NaN, 1], 2), /entry 1 is NaN/);
  });
});

describe('the bootstrap spread of FID', () => {
  it('each bootstrap FID, their std and interval agree with numpy on the same resampling indices', async function () {
    requireDependency(this, 'numpy', hasNumpy, NUMPY_MISSING);
    const gen = gaussianFeatures(40, 5, 0.4, new Rng(1));
    const realSet = gaussianFeatures(60, 5, 0, new Rng(2));
    const real = await featureStats(realSet);
    const fid = frechetDistance(await featureStats(gen), real);
    const resamples = 30;
    const fids = await bootstrapFids(gen, real, { resamples, seed: 7 });
    const spread = await fidSpread(gen, real, fid, { resamples, seed: 7 });
    const idx = bootstrapIndices(gen.n, resamples, 7).map((a) => Array.from(a));
    const ref = numpy(
      `g = np.array(inp['gen']).reshape(-1, 5); r = np.array(inp['real']).reshape(-1, 5)
mr, cr = r.mean(0), np.cov(r, rowvar=False)
def fid(x):
    m, c = x.mean(0), np.cov(x, rowvar=False)
    tr_sqrt = np.sum(np.sqrt(np.linalg.eigvals(c @ cr).real))
    return float(np.sum((m - mr) ** 2) + np.trace(c) + np.trace(cr) - 2 * tr_sqrt)
f0 = fid(g); fs = np.array([fid(g[i]) for i in inp['idx']])
lo, hi = np.percentile(fs, [2.5, 97.5]) - fs.mean() + f0
print(json.dumps({'fid': f0, 'fids': fs.tolist(), 'std': float(fs.std(ddof=1)), 'lo': float(lo), 'hi': float(hi)}))`,
      { gen: Array.from(gen.data), real: Array.from(realSet.data), idx },
    );
    assert.ok(Math.abs(fid - ref.fid) < 1e-10, `FID ${fid} vs numpy ${ref.fid}`);
    assert.strictEqual(fids.length, resamples);
    fids.forEach((f, i) => assert.ok(Math.abs(f - ref.fids[i]) < 1e-10, `draw ${i}: ${f} vs numpy ${ref.fids[i]}`));
    assert.ok(new Set(fids).size > resamples / 2, 'the draws differ');
    assert.ok(Math.abs(spread.std - ref.std) < 1e-10, `std ${spread.std} vs ${ref.std}`);
    assert.ok(Math.abs(spread.lo - ref.lo) < 1e-10 && Math.abs(spread.hi - ref.hi) < 1e-10, 'interval');
    assert.ok(spread.lo < fid && fid < spread.hi, `${fid} in [${spread.lo}, ${spread.hi}]`);
    assert.strictEqual(spread.resamples, resamples);
  });

  it('is 0 when every generated feature is the same (every draw is the same set)', async () => {
    const dim = 4;
    const data = new Float64Array(50 * dim).map((_, i) => 0.3 * (i % dim));
    const real = await featureStats(gaussianFeatures(80, dim, 0, new Rng(3)));
    const fids = await bootstrapFids({ data, n: 50, dim }, real, { resamples: 20 });
    const s = summariseBootstrap(fids[0], fids);
    assert.ok(s.std < 1e-9 * fids[0], `std ${s.std} of FID ${fids[0]}`);
    assert.ok(Math.abs(s.hi - s.lo) < 1e-9 * fids[0]);
  });

  it('shrinks about as 1/sqrt(n): four times the images, about half the spread', async () => {
    const dim = 6;
    const real = await featureStats(gaussianFeatures(20000, dim, 0, new Rng(4)));
    const spreadAt = async (n: number) => {
      const g = gaussianFeatures(n, dim, 0.5, new Rng(n));
      const f = frechetDistance(await featureStats(g), real);
      return (await fidSpread(g, real, f, { resamples: 400, seed: 1 })).std;
    };
    const [small, large] = [await spreadAt(250), await spreadAt(1000)];
    const ratio = small / large;
    assert.ok(ratio > 1.6 && ratio < 2.5, `std at n = 250: ${small}, at n = 1000: ${large}, ratio ${ratio}`);
  });

  it('paired difference: the spread of per-draw differences, 0 against itself, tighter than unpaired', async () => {
    const dim = 4;
    const real = await featureStats(gaussianFeatures(400, dim, 0, new Rng(6)));
    const a = gaussianFeatures(120, dim, 0.4, new Rng(7));
    // b: row i is row i of a slightly moved, as SR3 and the regression share test image i.
    const noise = new Rng(8).normalArray(a.data.length);
    const b = { ...a, data: a.data.map((v, i) => 1.1 * v + 0.2 * noise[i]) };
    const report = async (f: typeof a) => {
      const fid = frechetDistance(await featureStats(f), real);
      return { fid, spread: await fidSpread(f, real, fid, { resamples: 100, seed: 3 }) };
    };
    const [ra, rb] = [await report(a), await report(b)];
    const d = pairedFidDifference(ra, rb);
    const per = ra.spread.draws.map((v, i) => v - rb.spread.draws[i]);
    const m = per.reduce((x, y) => x + y, 0) / per.length;
    const sd = Math.sqrt(per.reduce((x, y) => x + (y - m) ** 2, 0) / (per.length - 1));
    assert.ok(Math.abs(d.std - sd) < 1e-12 && Math.abs(d.diff - (ra.fid - rb.fid)) < 1e-12);
    assert.ok(d.lo < d.diff && d.diff < d.hi, `${d.diff} in [${d.lo}, ${d.hi}]`);
    assert.ok(
      d.std < 0.8 * Math.hypot(ra.spread.std, rb.spread.std),
      `paired ${d.std}, unpaired ${Math.hypot(ra.spread.std, rb.spread.std)}`,
    );
    const self = pairedFidDifference(ra, ra);
    assert.strictEqual(self.diff, 0);
    assert.strictEqual(self.std, 0);
    const other = { fid: rb.fid, spread: await fidSpread(b, real, rb.fid, { resamples: 100, seed: 4 }) };
    assert.throws(() => pairedFidDifference(ra, other), /not paired/);
  });

  it('formats as "14.6 ± 0.5" and reads a difference against both spreads', () => {
    const s = summariseBootstrap(14.56, [14.1, 14.5, 15.0]);
    assert.ok(Math.abs(s.std - 0.45092497528) < 1e-9, `${s.std}`);
    assert.strictEqual(formatFidWithSpread(14.56, s), '14.6 ± 0.5');
    assert.strictEqual(formatFidWithSpread(14.56, s, 2), '14.56 ± 0.45');
    assert.strictEqual(formatFidWithSpread(14.56, null, 2), '14.56');
    assert.strictEqual(fidsDiffer({ fid: 8.7, std: 0.3 }, { fid: 21.3, std: 0.8 }), true);
    // 1.96 * hypot(0.4, 0.3) = 0.98
    assert.strictEqual(fidsDiffer({ fid: 7.1, std: 0.4 }, { fid: 6.2, std: 0.3 }), false);
    assert.throws(() => summariseBootstrap(1, [1]), /at least 2/);
    assert.throws(() => bootstrapIndices(10, 1, 0), /resamples must be an integer >= 2/);
  });
});
