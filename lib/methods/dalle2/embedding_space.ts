// How lesson 12 feeds CLIP embeddings to its diffusion models. CLIP's embeddings are unit vectors, so
// each of E coordinates is about 1/sqrt(E) in size: tiny next to unit Gaussian noise. Both the prior
// (which diffuses image embeddings) and the decoder (which reads them as a context token) work on
// sqrt(E) * embedding instead, whose coordinates have variance about 1, like the images' pixels.
import * as tf from '@tensorflow/tfjs-core';
import '../../core/tfjs_setup';

/** Unit-norm [B, E] -> [B, E] with norm sqrt(E). */
export function toDiffusionSpace(emb: tf.Tensor2D): tf.Tensor2D {
  return tf.mul(emb, Math.sqrt(emb.shape[1])) as tf.Tensor2D;
}

/** Back to unit norm (renormalised, since a sampled vector's norm is only close to sqrt(E)). */
export function fromDiffusionSpace(z: tf.Tensor2D): tf.Tensor2D {
  return tf.tidy(() => tf.div(z, tf.sqrt(tf.add(tf.sum(tf.square(z), 1, true), 1e-12))) as tf.Tensor2D);
}

/** The decoder's condition: a context token, and with `vector` the same vector for the time embedding. */
export type EmbeddingCondition = {
  context: tf.Tensor3D;
  contextMask: tf.Tensor2D;
  vector?: tf.Tensor2D;
};

/**
 * The decoder's condition: the image embedding as one context token [B, 1, E] (scaled to
 * diffusion space), mask all ones, and with `vector` (a decoder built with vectorDim) the same
 * scaled embedding as cond.vector [B, E], which the UNet adds to its time embedding as unCLIP does.
 * `keep` [B] (1 keep, 0 drop) replaces dropped rows by the zero vector: the "no image embedding"
 * input of classifier-free guidance. A zero input still passes the projections' biases, so the null
 * condition is learned, not a fixed blank.
 */
export function embeddingContext(emb: tf.Tensor2D, keep?: ArrayLike<number>, vector = false): EmbeddingCondition {
  const [b, e] = emb.shape;
  if (keep !== undefined && keep.length !== b)
    throw new Error(`embeddingContext: keep has ${keep.length} entries for a batch of ${b}`);
  return tf.tidy(() => {
    let z = toDiffusionSpace(emb);
    if (keep !== undefined) z = tf.mul(z, tf.tensor2d(Float32Array.from(keep), [b, 1]));
    const cond: EmbeddingCondition = {
      context: tf.reshape(z, [b, 1, e]) as tf.Tensor3D,
      contextMask: tf.ones([b, 1]) as tf.Tensor2D,
    };
    if (vector) cond.vector = z;
    return cond;
  });
}

/** The null condition for a batch of b: zero embeddings. */
export function nullEmbeddingContext(b: number, e: number, vector = false): EmbeddingCondition {
  return tf.tidy(() => embeddingContext(tf.zeros([b, e]) as tf.Tensor2D, undefined, vector));
}

/**
 * Spherical interpolation between unit vectors a and b (each [E] or rows of [B, E]) at fraction f:
 * stays on the unit sphere, where CLIP embeddings live; a straight line would pass through shorter
 * vectors the decoder never saw.
 */
export function slerp(a: tf.Tensor2D, b: tf.Tensor2D, f: number): tf.Tensor2D {
  if (a.shape.join() !== b.shape.join()) throw new Error(`slerp: shapes differ, [${a.shape}] vs [${b.shape}]`);
  if (!(f >= 0 && f <= 1)) throw new Error(`slerp: fraction must be in [0, 1], got ${f}`);
  return tf.tidy(() => {
    const cos = tf.clipByValue(tf.sum(tf.mul(a, b), 1, true), -1, 1);
    const omega = tf.acos(cos);
    const sin = tf.sin(omega);
    // Nearly parallel vectors: fall back to the straight line (sin(omega) ~ 0).
    const safe = tf.greater(sin, 1e-4);
    const wa = tf.where(safe, tf.div(tf.sin(tf.mul(omega, 1 - f)), tf.maximum(sin, 1e-4)), tf.fill(sin.shape, 1 - f));
    const wb = tf.where(safe, tf.div(tf.sin(tf.mul(omega, f)), tf.maximum(sin, 1e-4)), tf.fill(sin.shape, f));
    return tf.add(tf.mul(a, wa), tf.mul(b, wb)) as tf.Tensor2D;
  });
}
