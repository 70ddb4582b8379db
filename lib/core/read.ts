// Reading numbers out of tensors, asynchronously: webgpu under Node has no synchronous read
// (dataSync/arraySync), and tf.tidy cannot hold an await. So the tensor is computed in a tidy, read
// outside it, and disposed, in one call.
import * as tf from '@tensorflow/tfjs-core';

/** The first value of the tensor that `fn` computes (inside tf.tidy); the tensor is disposed. */
export async function readScalar(fn: () => tf.Tensor): Promise<number> {
  return (await readValues(fn))[0];
}

/** Every value of the tensor that `fn` computes (inside tf.tidy), flattened; the tensor is disposed. */
export async function readValues(fn: () => tf.Tensor): Promise<number[]> {
  const t = tf.tidy(fn);
  try {
    return Array.from(await t.data());
  } finally {
    t.dispose();
  }
}
