// The sampling spread of a measured share (k of n objects placed, captions fully right): the Wilson
// score interval, which stays inside [0, 1] and is honest near 0 % and 100 %, where the normal
// approximation p ± 1.96·sqrt(p(1 − p)/n) collapses to a width of 0. Two shares whose intervals
// overlap are not told apart at that n; lessons word their "better/worse" claims by it.

/** 95 % (z = 1.96) Wilson interval [lo, hi] for a share p measured on n independent trials. */
export function wilsonInterval(p: number, n: number, z = 1.96): [number, number] {
  if (!Number.isInteger(n) || n < 1) throw new Error(`wilsonInterval: n must be a positive integer, got ${n}`);
  if (!(p >= 0 && p <= 1)) throw new Error(`wilsonInterval: p must be a share in [0, 1], got ${p}`);
  const z2 = (z * z) / n;
  const centre = (p + z2 / 2) / (1 + z2);
  const half = (z / (1 + z2)) * Math.sqrt((p * (1 - p)) / n + z2 / (4 * n));
  return [Math.max(0, centre - half), Math.min(1, centre + half)];
}

/** '91 % [84, 95]': the share and its 95 % Wilson interval, in percent. */
export function formatShare(p: number, n: number): string {
  const [lo, hi] = wilsonInterval(p, n);
  return `${(100 * p).toFixed(0)} % [${(100 * lo).toFixed(0)}, ${(100 * hi).toFixed(0)}]`;
}
