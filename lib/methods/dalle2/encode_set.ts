// A whole captioned set through the frozen CLIP model: the (text embedding, image embedding) pairs the
// prior is trained on, computed once, in chunks so memory stays bounded.
import * as tf from '@tensorflow/tfjs-core';
import '../../core/tfjs_setup';
import type { ShapesSet } from '../../../datasets/shapes';
import { Clip } from '../clip/clip';
import { shapesImages } from '../clip/train_clip';

export function encodeShapesSet(clip: Clip, set: ShapesSet, chunk = 250): { text: tf.Tensor2D; image: tf.Tensor2D } {
  if (set.count === 0) throw new Error('encodeShapesSet: the set is empty');
  const texts: tf.Tensor2D[] = [];
  const images: tf.Tensor2D[] = [];
  try {
    for (let i = 0; i < set.count; i += chunk) {
      const idx = Int32Array.from({ length: Math.min(chunk, set.count - i) }, (_, k) => i + k);
      texts.push(clip.encodeText(Array.from(idx, (j) => set.captions[j])));
      const x = shapesImages(set, idx);
      images.push(clip.encodeImages(x));
      x.dispose();
    }
    return { text: tf.concat(texts, 0) as tf.Tensor2D, image: tf.concat(images, 0) as tf.Tensor2D };
  } finally {
    tf.dispose([...texts, ...images]);
  }
}
