// A small command-line flag parser for the training scripts: each script declares its flags with a
// kind and a default, and gets typed values back, or a usage error naming the bad flag.
import * as path from 'path';
import { InterruptedError } from '../lib/core/cancel';

export type FlagKind = 'int' | 'num' | 'str' | 'bool';
export type FlagSpec = Record<
  string,
  { kind: FlagKind; default: number | string | boolean | null; help: string; min?: number; max?: number }
>;

/** The documented range of every --seed: a non-negative 32-bit signed integer (never silently reduced). */
export const SEED_MAX = 2 ** 31 - 1;

/**
 * A command-line integer: a safe integer (so '1e99', '9007199254740993' and '1.5' are errors, not
 * rounded), within [min, max]. --seed gets its documented range [0, SEED_MAX] unless a range is given.
 */
export function intValue(flag: string, v: string | undefined, min = -Infinity, max = Infinity): number {
  const x = Number(v);
  if (v === undefined || v.trim() === '' || !Number.isSafeInteger(x))
    throw new UsageError(`${flag} needs an integer (at most ${Number.MAX_SAFE_INTEGER} in size), got '${v ?? ''}'`);
  if (x < min || x > max)
    throw new UsageError(
      `${flag} must be ${Number.isFinite(max) ? `in [${min}, ${max}]` : `>= ${min}`}, got ${v}` +
        (flag === '--seed' ? ' (seeds are 0 to 2^31 - 1)' : ''),
    );
  return x;
}

/** A command-line number: finite, within [min, max]. */
export function numValue(flag: string, v: string | undefined, min = -Infinity, max = Infinity): number {
  const x = Number(v);
  if (v === undefined || v.trim() === '' || !Number.isFinite(x))
    throw new UsageError(`${flag} needs a number, got '${v ?? ''}'`);
  if (x < min || x > max)
    throw new UsageError(`${flag} must be ${Number.isFinite(max) ? `in [${min}, ${max}]` : `>= ${min}`}, got ${v}`);
  return x;
}

/** The range a flag's values must lie in: its spec's, else --seed's documented one, else any. */
function rangeOf(flag: string, s: { min?: number; max?: number }): [number, number] {
  if (flag === '--seed') return [s.min ?? 0, s.max ?? SEED_MAX];
  return [s.min ?? -Infinity, s.max ?? Infinity];
}
export type FlagValues<S extends FlagSpec> = {
  [K in keyof S]: S[K]['default'] extends boolean
    ? boolean
    : S[K]['default'] extends number
      ? number
      : S[K]['default'] extends string
        ? string
        : number | string | null;
};

export class UsageError extends Error {}

/** A script's exit status for the error that ended it: 2 bad usage, 130 stopped by Ctrl-C (cancel.ts), else 1. */
export function exitStatus(e: unknown): number {
  if (e instanceof UsageError) return 2;
  return e instanceof InterruptedError ? 130 : 1;
}

/** '--min-lr' <-> 'minLr'. */
function flagName(key: string): string {
  return '--' + key.replace(/[A-Z]/g, (c) => '-' + c.toLowerCase());
}

export function usageText(spec: FlagSpec): string {
  return Object.entries(spec)
    .map(
      ([k, s]) =>
        `  ${(flagName(k) + (s.kind === 'bool' ? '' : ' X')).padEnd(22)} ${s.help}${flagName(k) === '--seed' ? ` (0 to ${SEED_MAX})` : ''}${s.kind === 'bool' ? '' : ` [${String(s.default)}]`}`,
    )
    .join('\n');
}

/** Parses `argv` against `spec`, with `overrides` replacing the spec's defaults (per-recipe defaults). */
export function parseFlags<S extends FlagSpec>(
  argv: string[],
  spec: S,
  overrides: Partial<Record<keyof S, unknown>> = {},
): { positional: string[]; values: FlagValues<S> } {
  const values: Record<string, unknown> = {};
  for (const [k, s] of Object.entries(spec)) values[k] = k in overrides ? overrides[k as keyof S] : s.default;
  const byFlag = new Map(Object.keys(spec).map((k) => [flagName(k), k]));
  const positional: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (!a.startsWith('--')) {
      positional.push(a);
      continue;
    }
    const key = byFlag.get(a);
    if (key === undefined) throw new UsageError(`unknown flag '${a}'`);
    const kind = spec[key].kind;
    if (kind === 'bool') {
      values[key] = true;
      continue;
    }
    const v = argv[++i];
    if (v === undefined) throw new UsageError(`${a} needs a value`);
    if (kind === 'str') {
      values[key] = v;
      continue;
    }
    values[key] = (kind === 'int' ? intValue : numValue)(a, v, ...rangeOf(a, spec[key]));
  }
  return { positional, values: values as FlagValues<S> };
}

/**
 * Where a command that writes one model file keeps its resumable training states:
 * checkpoints/13/autoencoder.safetensors -> checkpoints/13/train/autoencoder/ (git-ignored, like
 * the diffusion recipes' <out>/train/). Re-running the command resumes from the newest; --fresh
 * deletes them first.
 */
export function trainStateDir(outFile: string): string {
  return path.join(path.dirname(outFile), 'train', path.basename(outFile).replace(/\.safetensors$/, ''));
}
