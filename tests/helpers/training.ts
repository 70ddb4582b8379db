// Helpers for the training specs: bit-for-bit comparison of parameter maps, snapshots, and a spy
// that counts tensor reads (the trainer promises one asynchronous read per step and no synchronous one).
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs-core';

type Params = Map<string, tf.Variable>;

/** The parameters' values as float32 copies. */
export function snapshot(params: Params): Map<string, Float32Array> {
  return new Map([...params].map(([n, v]) => [n, Float32Array.from(v.dataSync() as Float32Array)]));
}

/** The first parameter whose values differ in any bit (with where), or null when all are identical. */
export function firstDifference(
  a: Params | Map<string, Float32Array>,
  b: Params | Map<string, Float32Array>,
): string | null {
  const values = (m: Params | Map<string, Float32Array>, n: string): Float32Array | undefined => {
    const v = m.get(n);
    return v === undefined ? undefined : v instanceof Float32Array ? v : (v.dataSync() as Float32Array);
  };
  if (a.size !== b.size) return `${a.size} vs ${b.size} parameters`;
  for (const n of a.keys()) {
    const [x, y] = [values(a, n)!, values(b, n)];
    if (y === undefined) return `'${n}' missing`;
    if (x.length !== y.length) return `'${n}' sizes ${x.length} vs ${y.length}`;
    for (let i = 0; i < x.length; i++) if (!Object.is(x[i], y[i])) return `'${n}'[${i}]: ${x[i]} vs ${y[i]}`;
  }
  return null;
}

/** Runs `fn` counting Tensor.data() and Tensor.dataSync() calls made meanwhile. */
export async function countReads<T>(fn: () => Promise<T>): Promise<{ result: T; data: number; dataSync: number }> {
  const proto = tf.Tensor.prototype as unknown as {
    data: (...a: unknown[]) => unknown;
    dataSync: (...a: unknown[]) => unknown;
  };
  const [data, dataSync] = [proto.data, proto.dataSync];
  const n = { data: 0, dataSync: 0 };
  proto.data = function (this: unknown, ...a: unknown[]) {
    n.data++;
    return data.apply(this, a);
  };
  proto.dataSync = function (this: unknown, ...a: unknown[]) {
    n.dataSync++;
    return dataSync.apply(this, a);
  };
  try {
    const result = await fn();
    return { result, ...n };
  } finally {
    proto.data = data;
    proto.dataSync = dataSync;
  }
}

/** tf.memory().numTensors before each step, from the second step on equal: nothing accumulates. */
export function flatAfter(counts: number[], from = 2): string | null {
  const settled = counts[from];
  const i = counts.findIndex((c, k) => k >= from && c !== settled);
  return i < 0 ? null : `numTensors changed at step ${i}: ${settled} -> ${counts[i]}`;
}

/**
 * Simulates a run interrupted after step `step`: deletes the later checkpoints of a finished run
 * (written with keepLast large enough), so the next run in `dir` resumes from the one at `step`.
 */
export function interruptAt(dir: string, step: number): void {
  const re = /^step-(\d+)\.safetensors$/;
  const kept = fs.readdirSync(dir).filter((f) => re.test(f));
  if (!kept.some((f) => Number(re.exec(f)![1]) === step))
    throw new Error(`interruptAt: no checkpoint of step ${step} in ${dir} (${kept.join(', ')})`);
  for (const f of kept) if (Number(re.exec(f)![1]) > step) fs.rmSync(path.join(dir, f));
}

export function tempDir(prefix: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}
