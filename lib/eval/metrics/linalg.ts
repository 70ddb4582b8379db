// Dense float64 linear algebra for FID: the eigendecomposition of a symmetric matrix by the cyclic
// Jacobi method, and what FID builds from it (a PSD matrix square root, the trace of sqrt(S1 S2)).
// Matrices are row-major Float64Arrays of n*n values. Jacobi is O(n^3) per sweep and converges
// quadratically: ~10 sweeps for the 128x128 covariances of our classifier's features, well under
// a second. tfjs has no float64 and no eigensolver, hence this file.

export interface SymmetricEigen {
  /** Eigenvalues, ascending. */
  values: Float64Array;
  /** Eigenvectors as columns: vectors[i * n + k] is component i of the k-th eigenvector. */
  vectors: Float64Array;
  sweeps: number;
}

function checkSquare(a: ArrayLike<number>, n: number, what: string): void {
  if (!Number.isInteger(n) || n < 1) throw new Error(`${what}: n must be a positive integer, got ${n}`);
  if (a.length !== n * n) throw new Error(`${what}: expected ${n}x${n} = ${n * n} values, got ${a.length}`);
}

/**
 * Eigenvalues and eigenvectors of a symmetric matrix (the input is not modified). Throws if it is
 * not symmetric (to 1e-9 relative), since Jacobi would silently symmetrise it.
 */
export function symmetricEigen(
  a: ArrayLike<number>,
  n: number,
  opts: { maxSweeps?: number; tol?: number } = {},
): SymmetricEigen {
  checkSquare(a, n, 'symmetricEigen');
  const { maxSweeps = 100, tol = 1e-14 } = opts;
  const A = Float64Array.from(a);
  let frob = 0;
  for (let i = 0; i < n * n; i++) {
    if (!Number.isFinite(A[i])) throw new Error(`symmetricEigen: entry ${i} is ${A[i]}`);
    frob += A[i] * A[i];
  }
  for (let i = 0; i < n; i++) {
    for (let j = i + 1; j < n; j++) {
      if (Math.abs(A[i * n + j] - A[j * n + i]) > 1e-9 * Math.sqrt(frob) + 1e-300) {
        throw new Error(
          `symmetricEigen: matrix is not symmetric (a[${i}][${j}] = ${A[i * n + j]}, a[${j}][${i}] = ${A[j * n + i]})`,
        );
      }
    }
  }
  const V = new Float64Array(n * n);
  for (let i = 0; i < n; i++) V[i * n + i] = 1;
  let sweeps = 0;
  for (; sweeps < maxSweeps; sweeps++) {
    let off = 0;
    for (let p = 0; p < n; p++) for (let q = p + 1; q < n; q++) off += A[p * n + q] ** 2;
    if (off <= tol * tol * frob) break;
    for (let p = 0; p < n - 1; p++) {
      for (let q = p + 1; q < n; q++) {
        const apq = A[p * n + q];
        if (apq === 0) continue;
        // Rotation in the (p, q) plane that zeroes a[p][q] (Numerical Recipes' stable form).
        const theta = (A[q * n + q] - A[p * n + p]) / (2 * apq);
        const t =
          Math.abs(theta) > 1e150
            ? 1 / (2 * theta)
            : Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1);
        const s = t * c;
        for (let k = 0; k < n; k++) {
          // Columns p and q of A (A J) ...
          const akp = A[k * n + p];
          const akq = A[k * n + q];
          A[k * n + p] = c * akp - s * akq;
          A[k * n + q] = s * akp + c * akq;
        }
        for (let k = 0; k < n; k++) {
          // ... then rows p and q (J^T A J).
          const apk = A[p * n + k];
          const aqk = A[q * n + k];
          A[p * n + k] = c * apk - s * aqk;
          A[q * n + k] = s * apk + c * aqk;
        }
        for (let k = 0; k < n; k++) {
          const vkp = V[k * n + p];
          const vkq = V[k * n + q];
          V[k * n + p] = c * vkp - s * vkq;
          V[k * n + q] = s * vkp + c * vkq;
        }
      }
    }
  }
  if (sweeps === maxSweeps) throw new Error(`symmetricEigen: no convergence in ${maxSweeps} sweeps (n = ${n})`);
  // Sort ascending, permuting the eigenvector columns along.
  const order = Array.from({ length: n }, (_, i) => i).sort((i, j) => A[i * n + i] - A[j * n + j]);
  const values = Float64Array.from(order, (i) => A[i * n + i]);
  const vectors = new Float64Array(n * n);
  for (let r = 0; r < n; r++) for (let k = 0; k < n; k++) vectors[r * n + k] = V[r * n + order[k]];
  return { values, vectors, sweeps };
}

/** Product of two n x n matrices. */
export function matmul(a: ArrayLike<number>, b: ArrayLike<number>, n: number): Float64Array {
  checkSquare(a, n, 'matmul');
  checkSquare(b, n, 'matmul');
  const out = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let k = 0; k < n; k++) {
      const aik = a[i * n + k];
      if (aik === 0) continue;
      for (let j = 0; j < n; j++) out[i * n + j] += aik * b[k * n + j];
    }
  }
  return out;
}

export function trace(a: ArrayLike<number>, n: number): number {
  checkSquare(a, n, 'trace');
  let t = 0;
  for (let i = 0; i < n; i++) t += a[i * n + i];
  return t;
}

/**
 * Square root of a symmetric positive semi-definite matrix: V diag(sqrt(l)) V^T. Eigenvalues that
 * round-off pushed slightly below zero are clamped to 0; clearly negative ones are an error.
 */
export function sqrtmPsd(a: ArrayLike<number>, n: number): Float64Array {
  const { values, vectors } = symmetricEigen(a, n);
  const scale = Math.max(1e-300, Math.abs(values[n - 1]));
  if (values[0] < -1e-8 * scale)
    throw new Error(`sqrtmPsd: matrix is not positive semi-definite (eigenvalue ${values[0]})`);
  const out = new Float64Array(n * n);
  for (let k = 0; k < n; k++) {
    const r = Math.sqrt(Math.max(values[k], 0));
    if (r === 0) continue;
    for (let i = 0; i < n; i++) {
      const vik = vectors[i * n + k] * r;
      for (let j = 0; j < n; j++) out[i * n + j] += vik * vectors[j * n + k];
    }
  }
  return out;
}

/**
 * tr sqrt(S1 S2) for covariance matrices S1, S2. S1 S2 is not symmetric, but it is similar to
 * S1^1/2 S2 S1^1/2, which is symmetric PSD with the same eigenvalues: their square roots sum to it.
 */
export function traceSqrtProduct(s1: ArrayLike<number>, s2: ArrayLike<number>, n: number): number {
  const h = sqrtmPsd(s1, n);
  const m = matmul(matmul(h, s2, n), h, n);
  // Symmetrise away the round-off of the two products before the symmetric solver sees it.
  for (let i = 0; i < n; i++) {
    for (let j = i + 1; j < n; j++) {
      const v = 0.5 * (m[i * n + j] + m[j * n + i]);
      m[i * n + j] = v;
      m[j * n + i] = v;
    }
  }
  const { values } = symmetricEigen(m, n);
  let t = 0;
  for (const v of values) t += Math.sqrt(Math.max(v, 0));
  return t;
}

/**
 * Eigenvalues only (ascending) of a symmetric matrix, by Householder reduction to tridiagonal form and
 * the implicit QL method (Numerical Recipes' tred2 without vectors, then tqli): O(n^3) once instead of
 * per Jacobi sweep, about 30x faster at 128x128, which is what makes a bootstrap of FID cheap. Reads
 * the lower triangle; the input is not modified.
 */
export function symmetricEigenvalues(a: ArrayLike<number>, n: number): Float64Array {
  checkSquare(a, n, 'symmetricEigenvalues');
  const A = Float64Array.from(a);
  for (let i = 0; i < n * n; i++)
    if (!Number.isFinite(A[i])) throw new Error(`symmetricEigenvalues: entry ${i} is ${A[i]}`);
  const d = new Float64Array(n);
  const e = new Float64Array(n);
  // Householder: row i's part left of the diagonal is reflected onto its subdiagonal entry e[i].
  for (let i = n - 1; i > 0; i--) {
    const l = i - 1;
    let h = 0;
    let scale = 0;
    if (l > 0) {
      for (let k = 0; k <= l; k++) scale += Math.abs(A[i * n + k]);
      if (scale === 0) e[i] = A[i * n + l];
      else {
        for (let k = 0; k <= l; k++) {
          A[i * n + k] /= scale;
          h += A[i * n + k] ** 2;
        }
        let f = A[i * n + l];
        let g = f >= 0 ? -Math.sqrt(h) : Math.sqrt(h);
        e[i] = scale * g;
        h -= f * g;
        A[i * n + l] = f - g;
        f = 0;
        for (let j = 0; j <= l; j++) {
          g = 0;
          for (let k = 0; k <= j; k++) g += A[j * n + k] * A[i * n + k];
          for (let k = j + 1; k <= l; k++) g += A[k * n + j] * A[i * n + k];
          e[j] = g / h;
          f += e[j] * A[i * n + j];
        }
        const hh = f / (h + h);
        for (let j = 0; j <= l; j++) {
          f = A[i * n + j];
          e[j] = g = e[j] - hh * f;
          for (let k = 0; k <= j; k++) A[j * n + k] -= f * e[k] + g * A[i * n + k];
        }
      }
    } else e[i] = A[i * n + l];
  }
  for (let i = 0; i < n; i++) d[i] = A[i * n + i];
  // Implicit QL with Wilkinson shifts on the tridiagonal (d, e).
  for (let i = 1; i < n; i++) e[i - 1] = e[i];
  e[n - 1] = 0;
  for (let l = 0; l < n; l++) {
    let iter = 0;
    let m: number;
    do {
      for (m = l; m < n - 1; m++) {
        const dd = Math.abs(d[m]) + Math.abs(d[m + 1]);
        if (Math.abs(e[m]) <= Number.EPSILON * dd) break;
      }
      if (m !== l) {
        if (iter++ === 60) throw new Error(`symmetricEigenvalues: no convergence (n = ${n})`);
        let g = (d[l + 1] - d[l]) / (2 * e[l]);
        let r = Math.hypot(g, 1);
        g = d[m] - d[l] + e[l] / (g + (g >= 0 ? r : -r));
        let s = 1;
        let c = 1;
        let p = 0;
        let i: number;
        for (i = m - 1; i >= l; i--) {
          const f = s * e[i];
          const b = c * e[i];
          e[i + 1] = r = Math.hypot(f, g);
          if (r === 0) {
            d[i + 1] -= p;
            e[m] = 0;
            break;
          }
          s = f / r;
          c = g / r;
          g = d[i + 1] - p;
          r = (d[i] - g) * s + 2 * c * b;
          p = s * r;
          d[i + 1] = g + p;
          g = c * r - b;
        }
        if (r === 0 && i >= l) continue;
        d[l] -= p;
        e[l] = g;
        e[m] = 0;
      }
    } while (m !== l);
  }
  return d.sort();
}
