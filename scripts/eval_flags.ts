// The pieces every `npm run eval` lesson entry shares: the entry's shape and the flag walker for
// --n/--seed/--batch/--steps, with typed helpers for the lesson's own flags.
import * as fs from 'fs';
import { fileKind } from '../lib/core/checkpoint/read_file';
import { SEED_MAX, UsageError } from './flags';

export { UsageError };

export interface LessonEval {
  summary: string;
  flags: string;
  /** Runs the evaluation (backend already initialised) and returns the headline record. */
  run(argv: string[], backend: string): Promise<Record<string, unknown>>;
}

/** A safe integer in [min, max] ('1e99' and '9007199254740993' are errors, not rounded). */
export function intFlag(flag: string, v: string | undefined, min: number, max = Number.MAX_SAFE_INTEGER): number {
  const x = Number(v);
  if (v === undefined || v.trim() === '' || !Number.isSafeInteger(x) || x < min || x > max)
    throw new UsageError(
      `${flag} needs an integer ${max === Number.MAX_SAFE_INTEGER ? `>= ${min}` : `in [${min}, ${max}]`}, got '${v ?? ''}'`,
    );
  return x;
}

/** The flags every sampling evaluation shares; steps only where the lesson has that flag. */
export interface CommonFlags {
  n: number;
  seed: number;
  batch: number;
  steps?: number;
}

export type FlagHandler = (next: () => string | undefined, flag: string) => void;

/** Walks argv: --n/--seed/--batch(/--steps) update a copy of `defaults`, `own` handles the lesson's other flags. */
export function walkFlags<C extends CommonFlags>(
  argv: string[],
  lesson: string,
  defaults: C,
  nMin: number,
  own: Record<string, FlagHandler>,
): C {
  const c = { ...defaults };
  for (let i = 0; i < argv.length; i++) {
    const f = argv[i];
    const next = () => argv[++i];
    if (f === '--n') c.n = intFlag(f, next(), nMin);
    else if (f === '--seed') c.seed = intFlag(f, next(), 0, SEED_MAX);
    else if (f === '--batch') c.batch = intFlag(f, next(), 1);
    else if (f === '--steps' && c.steps !== undefined) c.steps = intFlag(f, next(), 1);
    else if (Object.prototype.hasOwnProperty.call(own, f)) own[f](next, f);
    else throw new UsageError(`unknown flag '${f}' for lesson ${lesson}`);
  }
  if (c.n > 10000) throw new UsageError(`--n ${c.n} exceeds the 10,000 real test images FID compares against`);
  return c;
}

/** A file flag's value, or a usage error. */
export function fileFlag(flag: string, v: string | undefined): string {
  if (!v) throw new UsageError(`${flag} needs a file`);
  // A directory, /dev/zero or a FIFO is refused here in one line naming the flag (a FIFO would block
  // the read, /dev/zero never ends); a missing file is left to the loader, which names the command that makes it.
  if (fs.existsSync(v)) {
    const st = fs.statSync(v);
    if (!st.isFile()) throw new Error(`${flag} ${v}: is ${fileKind(st)}, not a regular file`);
  }
  return v;
}

/** A comma-separated list of numbers >= 0. */
export function scaleList(flag: string, v: string | undefined): number[] {
  const xs = (v ?? '')
    .split(',')
    .map((x) => x.trim())
    .filter((x) => x.length > 0)
    .map(Number);
  if (xs.length === 0 || xs.some((x) => !Number.isFinite(x) || x < 0))
    throw new UsageError(`${flag} needs a list of numbers >= 0 such as 1,3,5, got '${v ?? ''}'`);
  return xs;
}
