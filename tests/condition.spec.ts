// lib/core/condition.ts: the generic condition record (stack, slice, dispose, batch size) against
// hand-built expected values, on the cpu backend.
import { strict as assert } from 'assert';
import * as tf from '@tensorflow/tfjs-core';
import '../lib/core/tfjs_setup';
import {
  concatConditions,
  conditionBatchSize,
  conditionFields,
  disposeCondition,
  sliceCondition,
} from '../lib/core/condition';

describe('condition records', () => {
  before(async () => {
    await tf.setBackend('cpu');
  });

  it('stacks tensors on axis 0 and arrays by concatenation, field by field', async () => {
    const a = {
      classLabels: [1, 2],
      text: ['x', 'y'],
      context: tf.tensor3d([1, 2, 3, 4], [2, 1, 2]),
      ids: Int32Array.from([5, 6]),
    };
    const b = {
      classLabels: [10, 10],
      text: ['', ''],
      context: tf.tensor3d([5, 6, 7, 8], [2, 1, 2]),
      ids: Int32Array.from([7, 8]),
    };
    const before = tf.memory().numTensors;
    const c = concatConditions(a, b);
    assert.deepEqual(c.classLabels, [1, 2, 10, 10]);
    assert.deepEqual(c.text, ['x', 'y', '', '']);
    assert.deepEqual(Array.from(c.ids), [5, 6, 7, 8]);
    assert.ok(c.ids instanceof Int32Array);
    assert.deepEqual(c.context.shape, [4, 1, 2]);
    assert.deepEqual(Array.from(await c.context.data()), [1, 2, 3, 4, 5, 6, 7, 8]);
    assert.equal(conditionBatchSize(c), 4);
    disposeCondition(c);
    assert.equal(tf.memory().numTensors, before, 'disposeCondition frees the stacked tensor');
    disposeCondition(a);
    disposeCondition(b);
  });

  it('slices every field to the same images', async () => {
    const c = { y: [0, 1, 2], m: tf.tensor2d([0, 0, 1, 1, 2, 2], [3, 2]), absent: undefined };
    const s = sliceCondition(c, 1, 2);
    assert.deepEqual(s.y, [1, 2]);
    assert.deepEqual(await s.m.array(), [
      [1, 1],
      [2, 2],
    ]);
    assert.deepEqual(conditionFields(s), ['m', 'y']);
    tf.dispose([c.m, s.m]);
  });

  it('refuses mismatched fields, counts and kinds, naming the field', () => {
    const t = tf.zeros([2, 3]);
    assert.throws(() => concatConditions({ a: [1, 2] }, { b: [1, 2] }), /different fields \(\[a\] vs \[b\]\)/);
    assert.throws(
      () => concatConditions({ a: t }, { a: [1, 2] }),
      /field 'a' is a tensor in one condition and an array/,
    );
    assert.throws(() => conditionBatchSize({ a: [1, 2, 3], b: t }), /field 'b' holds 2 entries, 'a' 3/);
    assert.throws(() => conditionBatchSize({ a: [1, 2] }, 'model', 4), /field 'a' holds 2 entries, the batch 4/);
    const scalar = tf.scalar(1);
    assert.throws(() => conditionBatchSize({ a: scalar }), /field 'a' is a scalar/);
    assert.throws(
      () => conditionBatchSize({ a: 3 as unknown as number[] }),
      /field 'a' must be a tensor or an array, got number/,
    );
    assert.throws(() => sliceCondition({ a: [1, 2] }, 1, 2), /slice \[1, 3\) is outside the batch of 2/);
    assert.equal(conditionBatchSize({}), undefined);
    tf.dispose([t, scalar]);
  });
});
