// MaxPoolGrad for wasm. tfjs 4.22's own wasm MaxPoolGrad (and MaxPoolWithArgmax) disagree with the
// cpu backend and TensorFlow (measured: wrong with several channels, and also with one channel and
// 'same' padding). Ours is composed from kernels that are right: for each window tap in row-major
// order, the positions whose value equals the pooled maximum claim the remaining dy (so the first
// maximum wins ties, as in TensorFlow), and the claimed part is scattered back with the stride.
import * as tf from '@tensorflow/tfjs-core';
import { Backend, Info, free, padOrCrop, run } from './kernel_ops';
import { insertZeros } from './conv2d_backprop_input';

function maxPoolGrad(args: { inputs: tf.NamedTensorInfoMap; backend: Backend; attrs?: tf.NamedAttrMap }): Info {
  const { inputs, backend: b } = args;
  const attrs = (args.attrs ?? {}) as unknown as tf.MaxPoolGradAttrs;
  const { dy, input, output } = inputs as unknown as { dy: Info; input: Info; output: Info };
  const info = tf.backend_util.computePool2DInfo(
    input.shape as [number, number, number, number],
    attrs.filterSize,
    attrs.strides,
    1,
    attrs.pad,
    attrs.dimRoundingMode,
  );
  const { filterHeight: kh, filterWidth: kw, strideHeight: sh, strideWidth: sw, outHeight: ho, outWidth: wo } = info;
  const [n, h, w, c] = input.shape;
  const { top, left } = info.padInfo;
  // Padded frame that holds every window: rows -top .. (ho-1)*sh + kh - top.
  const hp = (ho - 1) * sh + kh;
  const wp = (wo - 1) * sw + kw;
  const framePads: Array<[number, number]> = [
    [0, 0],
    [top, hp - h - top],
    [left, wp - w - left],
    [0, 0],
  ];
  const xNegInf = run(
    b,
    'PadV2',
    { x: input },
    { paddings: framePads.map(([lo, hi]) => [Math.max(0, lo), Math.max(0, hi)]), constantValue: -Infinity },
  );
  const xp = padOrCrop(
    b,
    xNegInf,
    framePads.map(([lo, hi]) => [Math.min(0, lo), Math.min(0, hi)] as [number, number]),
  );
  let rest = dy; // the part of dy no earlier tap has claimed
  let acc: Info | null = null;
  for (let a = 0; a < kh; a++) {
    for (let bb = 0; bb < kw; bb++) {
      const win = run(
        b,
        'StridedSlice',
        { x: xp },
        {
          begin: [0, a, bb, 0],
          end: [n, a + (ho - 1) * sh + 1, bb + (wo - 1) * sw + 1, c],
          strides: [1, sh, sw, 1],
          beginMask: 0,
          endMask: 0,
          ellipsisMask: 0,
          newAxisMask: 0,
          shrinkAxisMask: 0,
        },
      );
      const eq = run(b, 'Equal', { a: win, b: output });
      const mask = run(b, 'Cast', { x: eq }, { dtype: 'float32' });
      const g = run(b, 'Multiply', { a: mask, b: rest });
      const nextRest = run(b, 'Sub', { a: rest, b: g });
      // Scatter g to rows a + i*sh of the frame.
      const z = insertZeros(b, g, sh, sw);
      const placed = padOrCrop(b, z, [
        [0, 0],
        [a, hp - a - z.shape[1]],
        [bb, wp - bb - z.shape[2]],
        [0, 0],
      ]);
      let sum: Info = placed;
      if (acc) {
        sum = run(b, 'Add', { a: acc, b: placed });
        free(b, acc, placed);
      }
      acc = sum;
      free(b, win, eq, mask, g);
      if (z !== g && z !== placed) free(b, z);
      if (rest !== dy) free(b, rest);
      rest = nextRest;
    }
  }
  if (rest !== dy) free(b, rest);
  // Back from the frame to the input: drop the padding, re-add rows the windows never reached.
  const out = padOrCrop(
    b,
    acc as Info,
    framePads.map(([lo, hi]) => [-lo, -hi] as [number, number]),
  );
  if (out !== acc) free(b, acc as Info);
  free(b, xNegInf);
  if (xp !== xNegInf) free(b, xp);
  return out;
}

export const maxPoolGradConfig: tf.KernelConfig = {
  kernelName: tf.MaxPoolGrad,
  backendName: 'wasm',
  kernelFunc: maxPoolGrad as unknown as tf.KernelFunc,
};
