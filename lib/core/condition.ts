// A model's condition is a plain record of per-image values: tensors with the batch on axis 0, or
// arrays with one entry per image (class ids, captions). The operations every method needs on it
// (stacking [cond; uncond] for classifier-free guidance, slicing a batch, disposing) treat each field
// the same way, so no list of field names is repeated anywhere (guided-diffusion passes its
// model_kwargs as a dict for the same reason). Which fields a model accepts is the model's business.
import * as tf from '@tensorflow/tfjs-core';

/** One field of a condition: batch on axis 0 (tensor) or one entry per image (array). */
export type ConditionValue = tf.Tensor | readonly number[] | readonly string[] | Int32Array | Float32Array;

/** A record of condition fields; undefined fields are absent. */
export type Condition = { readonly [field: string]: ConditionValue | undefined };

function isArrayLike(v: ConditionValue): v is readonly number[] | readonly string[] | Int32Array | Float32Array {
  return Array.isArray(v) || v instanceof Int32Array || v instanceof Float32Array;
}

/** The fields that are present (not undefined), sorted. */
export function conditionFields(c: Condition): string[] {
  return Object.keys(c)
    .filter((k) => c[k] !== undefined)
    .sort();
}

function entries(c: Condition): [string, ConditionValue][] {
  return conditionFields(c).map((k) => [k, c[k] as ConditionValue]);
}

function checkValue(field: string, v: unknown, who: string): asserts v is ConditionValue {
  if (!(v instanceof tf.Tensor) && !isArrayLike(v as ConditionValue)) {
    throw new Error(`${who}: condition field '${field}' must be a tensor or an array, got ${typeof v}`);
  }
  if (v instanceof tf.Tensor && v.rank === 0)
    throw new Error(`${who}: condition field '${field}' is a scalar; it needs a batch axis`);
}

/** Images in the field: a tensor's axis 0, an array's length. */
function batchOf(v: ConditionValue): number {
  return v instanceof tf.Tensor ? v.shape[0] : v.length;
}

/**
 * The batch size every field agrees on (undefined for an empty condition). A field with another
 * count is an error naming it; with `expected`, so is a count other than that one.
 */
export function conditionBatchSize(c: Condition, who = 'condition', expected?: number): number | undefined {
  let b: number | undefined = expected;
  let from = expected === undefined ? '' : 'the batch';
  for (const [k, v] of entries(c)) {
    checkValue(k, v, who);
    const n = batchOf(v);
    if (b === undefined) {
      b = n;
      from = `'${k}'`;
    } else if (n !== b) {
      throw new Error(`${who}: condition field '${k}' holds ${n} entries, ${from} ${b}`);
    }
  }
  return b;
}

/**
 * Two conditions with the same fields stacked along the batch ([a; b]): how one batched pass runs
 * the conditional and the unconditional model together. New tensors: call inside tf.tidy or dispose.
 */
export function concatConditions<C extends Condition>(a: C, b: C, who = 'concatConditions'): C {
  const [fa, fb] = [conditionFields(a), conditionFields(b)];
  if (fa.join() !== fb.join()) throw new Error(`${who}: the conditions have different fields ([${fa}] vs [${fb}])`);
  const out: Record<string, ConditionValue> = {};
  for (const k of fa) {
    const [va, vb] = [a[k] as ConditionValue, b[k] as ConditionValue];
    checkValue(k, va, who);
    checkValue(k, vb, who);
    if (va instanceof tf.Tensor && vb instanceof tf.Tensor) out[k] = tf.concat([va, vb], 0);
    else if (va instanceof tf.Tensor || vb instanceof tf.Tensor)
      throw new Error(`${who}: field '${k}' is a tensor in one condition and an array in the other`);
    else if (va instanceof Int32Array && vb instanceof Int32Array) out[k] = Int32Array.from([...va, ...vb]);
    else if (va instanceof Float32Array && vb instanceof Float32Array) out[k] = Float32Array.from([...va, ...vb]);
    else if (Array.isArray(va) && Array.isArray(vb)) out[k] = [...va, ...vb] as readonly number[] | readonly string[];
    else throw new Error(`${who}: field '${k}' has different array types in the two conditions`);
  }
  return out as C;
}

/** Images [start, start + size) of every field. Tensors are new (dispose them); arrays are copies. */
export function sliceCondition<C extends Condition>(c: C, start: number, size: number, who = 'sliceCondition'): C {
  const b = conditionBatchSize(c, who);
  if (
    !Number.isInteger(start) ||
    !Number.isInteger(size) ||
    start < 0 ||
    size < 0 ||
    (b !== undefined && start + size > b)
  ) {
    throw new Error(`${who}: slice [${start}, ${start + size}) is outside the batch of ${b}`);
  }
  const out: Record<string, ConditionValue> = {};
  for (const [k, v] of entries(c)) {
    out[k] = v instanceof tf.Tensor ? tf.slice(v, start, size) : (v.slice(start, start + size) as ConditionValue);
  }
  return out as C;
}

/** Disposes every tensor field (arrays need nothing). */
export function disposeCondition(c: Condition | undefined): void {
  if (!c) return;
  for (const v of Object.values(c)) if (v instanceof tf.Tensor) v.dispose();
}
