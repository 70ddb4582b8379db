// Conv2DBackpropFilter for wasm (tfjs 4.22 does not register it): the weight gradient of
// y = conv2d(x, w) is itself a convolution, of x with batch and channel axes swapped by dy used as a
// (large) filter, with the forward stride as dilation:
//   dW[a,b,ci,co] = sum_{n,i,j} x[n, i*s + a - pt, j*s + b - pl, ci] * dy[n,i,j,co]
// so XNNPACK's convolution does the work (measured ~2x the forward conv's time; a 9-tap matmul
// formulation was 2-7x slower because wasm BatchMatMul with transposed operands is a scalar loop).
import * as tf from '@tensorflow/tfjs-core';
import { Backend, Info, assertNHWC, free, padOrCrop, run, transpose } from './kernel_ops';

function conv2dBackpropFilter(args: {
  inputs: tf.NamedTensorInfoMap;
  backend: Backend;
  attrs?: tf.NamedAttrMap;
}): Info {
  const { inputs, backend: b } = args;
  const attrs = (args.attrs ?? {}) as unknown as tf.Conv2DBackpropFilterAttrs;
  const { x, dy } = inputs as unknown as { x: Info; dy: Info };
  assertNHWC('Conv2DBackpropFilter', attrs.dataFormat);
  const info = tf.backend_util.computeConv2DInfo(
    x.shape as [number, number, number, number],
    attrs.filterShape,
    attrs.strides,
    1,
    attrs.pad,
    attrs.dimRoundingMode,
    false,
    'channelsLast',
  );
  const { filterHeight: kh, filterWidth: kw, strideHeight: sh, strideWidth: sw, outHeight: ho, outWidth: wo } = info;
  if (dy.shape[1] !== ho || dy.shape[2] !== wo || dy.shape[3] !== info.outChannels) {
    throw new Error(`Conv2DBackpropFilter: dy shape [${dy.shape}] does not match the conv output [${info.outShape}]`);
  }
  const [, h, w] = x.shape;
  const { top, left } = info.padInfo;
  // Rows of x the window touches: top padding, then exactly (ho-1)*sh + kh rows (crop the rest).
  const bottom = (ho - 1) * sh + kh - h - top;
  const right = (wo - 1) * sw + kw - w - left;

  const xt = transpose(b, x, [3, 1, 2, 0]); // [Ci, H, W, N]
  const xp = padOrCrop(b, xt, [
    [0, 0],
    [top, bottom],
    [left, right],
    [0, 0],
  ]);
  const f = transpose(b, dy, [1, 2, 0, 3]); // [Ho, Wo, N, Co]
  const r = run(
    b,
    'Conv2D',
    { x: xp, filter: f },
    {
      strides: [1, 1],
      pad: 'valid',
      dilations: [sh, sw],
      dataFormat: 'NHWC',
      dimRoundingMode: undefined,
    },
  ); // [Ci, kh, kw, Co]
  const out = transpose(b, r, [1, 2, 0, 3]);
  free(b, xt, f, r);
  if (xp !== xt) free(b, xp);
  return out;
}

export const conv2dBackpropFilterConfig: tf.KernelConfig = {
  kernelName: tf.Conv2DBackpropFilter,
  backendName: 'wasm',
  kernelFunc: conv2dBackpropFilter as unknown as tf.KernelFunc,
};
