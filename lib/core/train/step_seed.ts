// Per-step random streams derived from (seed, step, stream): step k's noise, timesteps and batch
// order depend only on these three numbers, never on how many draws came before. That is what makes
// a run resumed from a checkpoint at step k draw exactly what the uninterrupted run drew, without
// saving any generator state.
import { Rng } from '../random';

/** Stream ids, so data order and diffusion noise never share numbers. */
export const STREAM = { noise: 1, data: 2, dropout: 3 } as const;

/** A 32-bit seed mixed from the three inputs (murmur3-style finaliser on each). */
export function mixSeed(seed: number, step: number, stream: number): number {
  let h = Math.floor(seed) >>> 0;
  for (const v of [step, stream]) {
    let k = Math.imul(Math.floor(v) >>> 0, 0xcc9e2d51);
    k = Math.imul((k << 15) | (k >>> 17), 0x1b873593);
    h ^= k;
    h = (Math.imul((h << 13) | (h >>> 19), 5) + 0xe6546b64) >>> 0;
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

export function stepRng(seed: number, step: number, stream: number): Rng {
  if (!Number.isInteger(step) || step < 0) throw new Error(`stepRng: step must be an integer >= 0, got ${step}`);
  return new Rng(mixSeed(seed, step, stream));
}
