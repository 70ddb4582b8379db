// Seeded 2-D toy distributions, the standard test beds for diffusion on points. Each is scaled so
// both coordinates have a standard deviation near 1 (between 0.8 and 1.2), matching the unit-variance
// noise the forward process adds. All randomness comes from the Rng passed in.
import { Rng } from '../lib/core/random';

export const TOY_NAMES = [
  'swiss-roll',
  'two-moons',
  '8-gaussians',
  'checkerboard',
  'circles',
  'spirals',
  '25-gaussians',
] as const;
export type ToyName = (typeof TOY_NAMES)[number];

/** Mixture components, for measuring mode coverage: centre k is (centres[2k], centres[2k+1]). */
export interface ToyModes {
  centres: Float32Array;
  /** Per-coordinate standard deviation of every component. */
  std: number;
}

const SQRT2 = Math.SQRT2;

// Mixture definitions: 8 modes on a circle of radius sqrt(2), and a 5x5 grid with spacing
// 1/sqrt(2): both have per-coordinate centre variance 1.
function eightCentres(): Float32Array {
  const c = new Float32Array(16);
  for (let k = 0; k < 8; k++) {
    c[2 * k] = SQRT2 * Math.cos((k * Math.PI) / 4);
    c[2 * k + 1] = SQRT2 * Math.sin((k * Math.PI) / 4);
  }
  return c;
}

function gridCentres(): Float32Array {
  const c = new Float32Array(50);
  let k = 0;
  for (let i = -2; i <= 2; i++) {
    for (let j = -2; j <= 2; j++) {
      c[k++] = i / SQRT2;
      c[k++] = j / SQRT2;
    }
  }
  return c;
}

const MODES: Partial<Record<ToyName, () => ToyModes>> = {
  '8-gaussians': () => ({ centres: eightCentres(), std: 0.1 }),
  '25-gaussians': () => ({ centres: gridCentres(), std: 0.05 }),
};

export function checkToyName(name: string): asserts name is ToyName {
  if (!(TOY_NAMES as readonly string[]).includes(name)) {
    throw new Error(`unknown toy distribution '${name}': use one of ${TOY_NAMES.join(', ')}`);
  }
}

/** The mixture's components, or null for the distributions that are not mixtures. */
export function toyModes(name: string): ToyModes | null {
  checkToyName(name);
  const m = MODES[name];
  return m === undefined ? null : m();
}

type Point = (rng: Rng) => [number, number];

// One sampler per distribution. The final divisors were measured (std of 200k samples) so each
// coordinate's std lands near 1.
const SAMPLERS: Record<ToyName, Point> = {
  // sklearn's make_swiss_roll projected on its (x, z) plane, noise 0.5, x shifted by its mean (2).
  'swiss-roll': (rng) => {
    const t = 1.5 * Math.PI * (1 + 2 * rng.uniform());
    return [(t * Math.cos(t) - 2 + 0.5 * rng.normal()) / 6.6, (t * Math.sin(t) + 0.5 * rng.normal()) / 7];
  },
  // sklearn's make_moons (noise 0.1), centred.
  'two-moons': (rng) => {
    const th = Math.PI * rng.uniform();
    const upper = rng.uniform() < 0.5;
    const x = upper ? Math.cos(th) : 1 - Math.cos(th);
    const y = upper ? Math.sin(th) : 0.5 - Math.sin(th);
    return [(x - 0.5 + 0.1 * rng.normal()) / 0.87, (y - 0.25 + 0.1 * rng.normal()) / 0.5];
  },
  '8-gaussians': (rng) => mixturePoint(rng, eightCentres(), 0.1),
  '25-gaussians': (rng) => mixturePoint(rng, gridCentres(), 0.05),
  // 8 of the 16 squares of a 4x4 board on [-2, 2]^2, alternating like a chessboard.
  checkerboard: (rng) => {
    const x = 4 * rng.uniform() - 2;
    const row = 2 * rng.int(2) + (Math.floor(x) & 1); // 0..3: pick a row of the same colour
    const y = row + rng.uniform() - 2;
    return [x / 1.155, y / 1.155];
  },
  // sklearn's make_circles (factor 0.5), radii 1.78 and 0.89, noise 0.09.
  circles: (rng) => {
    const r = rng.uniform() < 0.5 ? 1.78 : 0.89;
    const th = 2 * Math.PI * rng.uniform();
    return [r * Math.cos(th) + 0.09 * rng.normal(), r * Math.sin(th) + 0.09 * rng.normal()];
  },
  // Two interleaved spirals (as in FFJORD's "2spirals"), noise 0.1 before scaling.
  spirals: (rng) => {
    const n = Math.sqrt(rng.uniform()) * 3 * Math.PI;
    const s = rng.uniform() < 0.5 ? 1 : -1;
    const x = s * -Math.cos(n) * n + 0.1 * rng.normal();
    const y = s * Math.sin(n) * n + 0.1 * rng.normal();
    return [x / 4.6, y / 4.6];
  },
};

function mixturePoint(rng: Rng, centres: Float32Array, std: number): [number, number] {
  const k = rng.int(centres.length / 2);
  return [centres[2 * k] + std * rng.normal(), centres[2 * k + 1] + std * rng.normal()];
}

/** n points of the named distribution as [x0, y0, x1, y1, ...]. Same rng state, same points. */
export function sampleToy(name: string, n: number, rng: Rng): Float32Array {
  checkToyName(name);
  if (!Number.isInteger(n) || n < 0) throw new Error(`sampleToy: n must be a non-negative integer, got ${n}`);
  const f = SAMPLERS[name];
  const out = new Float32Array(2 * n);
  for (let i = 0; i < n; i++) {
    const [x, y] = f(rng);
    out[2 * i] = x;
    out[2 * i + 1] = y;
  }
  return out;
}

/** For each point, the index of the nearest mode centre, or -1 if it is farther than maxDist. */
export function nearestMode(points: Float32Array, modes: ToyModes, maxDist = 3 * modes.std): Int32Array {
  const k = modes.centres.length / 2;
  const out = new Int32Array(points.length / 2);
  for (let i = 0; i < out.length; i++) {
    let best = -1;
    let bestD = maxDist * maxDist;
    for (let m = 0; m < k; m++) {
      const dx = points[2 * i] - modes.centres[2 * m];
      const dy = points[2 * i + 1] - modes.centres[2 * m + 1];
      const d = dx * dx + dy * dy;
      if (d <= bestD) {
        bestD = d;
        best = m;
      }
    }
    out[i] = best;
  }
  return out;
}
