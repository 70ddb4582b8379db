// Depthwise convolution gradients for wasm (tfjs 4.22 registers neither).
// Input gradient: a depthwise conv of dy (zeros inserted for stride > 1) with the flipped filter,
// then the channel multiplier summed out. Filter gradient: per tap, a strided window of x times dy,
// summed over batch and space (depthwise layers are cheap; this stays a few elementwise passes).
import * as tf from '@tensorflow/tfjs-core';
import { Backend, Info, assertNHWC, free, padOrCrop, reshape, run } from './kernel_ops';
import { insertZeros } from './conv2d_backprop_input';

type KArgs = { inputs: tf.NamedTensorInfoMap; backend: Backend; attrs?: tf.NamedAttrMap };

function depthwiseBackpropInput(args: KArgs): Info {
  const { inputs, backend: b } = args;
  const attrs = (args.attrs ?? {}) as unknown as tf.DepthwiseConv2dNativeBackpropInputAttrs;
  const { dy, filter } = inputs as unknown as { dy: Info; filter: Info };
  const info = tf.backend_util.computeConv2DInfo(
    attrs.inputShape,
    filter.shape as [number, number, number, number],
    attrs.strides,
    attrs.dilations,
    attrs.pad,
    attrs.dimRoundingMode,
    true,
  );
  const { strideHeight: sh, strideWidth: sw, dilationHeight: dh, dilationWidth: dw, inHeight: h, inWidth: w } = info;
  const [kh, kw, c, m] = filter.shape;
  const ekh = (kh - 1) * dh + 1;
  const ekw = (kw - 1) * dw + 1;
  const d = insertZeros(b, dy, sh, sw);
  const pt = ekh - 1 - info.padInfo.top;
  const pl = ekw - 1 - info.padInfo.left;
  const dp = padOrCrop(b, d, [
    [0, 0],
    [pt, h + ekh - 1 - pt - d.shape[1]],
    [pl, w + ekw - 1 - pl - d.shape[2]],
    [0, 0],
  ]);
  const rev = run(b, 'Reverse', { x: filter }, { dims: [0, 1] });
  const f1 = reshape(b, rev, [kh, kw, c * m, 1]); // one filter per dy channel
  const y = run(
    b,
    'DepthwiseConv2dNative',
    { x: dp, filter: f1 },
    {
      strides: [1, 1],
      pad: 'valid',
      dilations: [dh, dw],
      dimRoundingMode: undefined,
      dataFormat: 'NHWC',
    },
  ); // [N, H, W, C*m]
  let out = y;
  if (m > 1) {
    const y5 = reshape(b, y, [y.shape[0], h, w, c, m]);
    out = run(b, 'Sum', { x: y5 }, { axis: [4], keepDims: false });
    free(b, y5, y);
  }
  free(b, rev, f1);
  if (dp !== d) free(b, dp);
  if (d !== dy) free(b, d);
  return out;
}

function depthwiseBackpropFilter(args: KArgs): Info {
  const { inputs, backend: b } = args;
  const attrs = (args.attrs ?? {}) as unknown as tf.DepthwiseConv2dNativeBackpropFilterAttrs;
  const { x, dy } = inputs as unknown as { x: Info; dy: Info };
  const info = tf.backend_util.computeConv2DInfo(
    x.shape as [number, number, number, number],
    attrs.filterShape,
    attrs.strides,
    attrs.dilations,
    attrs.pad,
    attrs.dimRoundingMode,
    true,
  );
  const {
    strideHeight: sh,
    strideWidth: sw,
    dilationHeight: dh,
    dilationWidth: dw,
    outHeight: ho,
    outWidth: wo,
  } = info;
  const [kh, kw, c, m] = attrs.filterShape;
  const [n, h, w] = x.shape;
  const { top, left } = info.padInfo;
  // Pad x so every tap's strided window is in range: rows top .. (ho-1)*sh + (kh-1)*dh + 1.
  const xp = padOrCrop(b, x, [
    [0, 0],
    [top, (ho - 1) * sh + (kh - 1) * dh + 1 - h - top],
    [left, (wo - 1) * sw + (kw - 1) * dw + 1 - w - left],
    [0, 0],
  ]);
  const dy5 = reshape(b, dy, [n, ho, wo, c, m]);
  const taps: Info[] = [];
  for (let a = 0; a < kh; a++) {
    for (let bb = 0; bb < kw; bb++) {
      const win = run(
        b,
        'StridedSlice',
        { x: xp },
        {
          begin: [0, a * dh, bb * dw, 0],
          end: [n, a * dh + (ho - 1) * sh + 1, bb * dw + (wo - 1) * sw + 1, c],
          strides: [1, sh, sw, 1],
          beginMask: 0,
          endMask: 0,
          ellipsisMask: 0,
          newAxisMask: 0,
          shrinkAxisMask: 0,
        },
      ); // [N, Ho, Wo, C]
      const win5 = reshape(b, win, [n, ho, wo, c, 1]);
      const prod = run(b, 'Multiply', { a: win5, b: dy5 }); // broadcasts over the multiplier axis
      taps.push(run(b, 'Sum', { x: prod }, { axis: [0, 1, 2], keepDims: false })); // [C, m]
      free(b, win, win5, prod);
    }
  }
  const stacked = run(b, 'Concat', taps as unknown as Record<string, Info>, { axis: 0 }); // Concat takes an array;
  const out = reshape(b, stacked, [kh, kw, c, m]);
  free(b, ...taps, stacked, dy5);
  if (xp !== x) free(b, xp);
  return out;
}

function checkedNHWC(name: string, f: (a: KArgs) => Info): (a: KArgs) => Info {
  return (a) => {
    assertNHWC(name, (a.attrs as { dataFormat?: unknown } | undefined)?.dataFormat);
    return f(a);
  };
}

export const depthwiseBackpropInputConfig: tf.KernelConfig = {
  kernelName: tf.DepthwiseConv2dNativeBackpropInput,
  backendName: 'wasm',
  kernelFunc: checkedNHWC('DepthwiseConv2dNativeBackpropInput', depthwiseBackpropInput) as unknown as tf.KernelFunc,
};

export const depthwiseBackpropFilterConfig: tf.KernelConfig = {
  kernelName: tf.DepthwiseConv2dNativeBackpropFilter,
  backendName: 'wasm',
  kernelFunc: checkedNHWC('DepthwiseConv2dNativeBackpropFilter', depthwiseBackpropFilter) as unknown as tf.KernelFunc,
};
