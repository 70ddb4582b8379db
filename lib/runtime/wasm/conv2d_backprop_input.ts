// Conv2DBackpropInput for wasm (also the forward pass of conv2dTranspose). tfjs's own wasm version is
// a scalar C++ loop, 6-10x slower than XNNPACK's conv here; this one is a stride-1 convolution of dy
// with the flipped, in/out-swapped filter. For stride s > 1, dy first gets s-1 zeros inserted
// between its rows and columns (s*s times the work of the ideal sub-pixel split, but one conv).
//   dx[n, ih, iw, ci] = sum_{a,b,co} dy[n, (ih+pt-a)/s, (iw+pl-b)/s, co] * w[a,b,ci,co]  (integer quotients only)
import * as tf from '@tensorflow/tfjs-core';
import { Backend, Info, assertNHWC, free, pad, padOrCrop, reshape, run, transpose } from './kernel_ops';

/** dy [N,Ho,Wo,C] -> [N,Ho*sh,Wo*sw,C] with dy at multiples of the stride and zeros elsewhere. */
export function insertZeros(b: Backend, dy: Info, sh: number, sw: number): Info {
  const [n, ho, wo, c] = dy.shape;
  let cur = dy;
  const owned: Info[] = [];
  if (sw > 1) {
    const r = reshape(b, cur, [n * ho, wo, 1, c]);
    const p = pad(b, r, [
      [0, 0],
      [0, 0],
      [0, sw - 1],
      [0, 0],
    ]);
    cur = reshape(b, p, [n, ho, wo * sw, c]);
    owned.push(r, p, cur);
  }
  if (sh > 1) {
    const r = reshape(b, cur, [n, ho, 1, cur.shape[2] * c]);
    const p = pad(b, r, [
      [0, 0],
      [0, 0],
      [0, sh - 1],
      [0, 0],
    ]);
    cur = reshape(b, p, [n, ho * sh, cur.shape[2], c]);
    owned.push(r, p, cur);
  }
  if (owned.length === 0) return dy;
  free(b, ...owned.slice(0, -1)); // the last reshape shares data with its pad: keep that reference
  return cur;
}

function conv2dBackpropInput(args: { inputs: tf.NamedTensorInfoMap; backend: Backend; attrs?: tf.NamedAttrMap }): Info {
  const { inputs, backend: b } = args;
  const attrs = (args.attrs ?? {}) as unknown as tf.Conv2DBackpropInputAttrs;
  const { dy, filter } = inputs as unknown as { dy: Info; filter: Info };
  assertNHWC('Conv2DBackpropInput', attrs.dataFormat);
  const info = tf.backend_util.computeConv2DInfo(
    attrs.inputShape,
    filter.shape as [number, number, number, number],
    attrs.strides,
    1,
    attrs.pad,
    attrs.dimRoundingMode,
    false,
    'channelsLast',
  );
  const { filterHeight: kh, filterWidth: kw, strideHeight: sh, strideWidth: sw, inHeight: h, inWidth: w } = info;
  if (dy.shape[1] !== info.outHeight || dy.shape[2] !== info.outWidth || dy.shape[3] !== info.outChannels) {
    throw new Error(`Conv2DBackpropInput: dy shape [${dy.shape}] does not match the conv output [${info.outShape}]`);
  }
  const { top, left } = info.padInfo;
  const d = insertZeros(b, dy, sh, sw); // length ho*sh: the trailing zeros are harmless padding
  // A 'valid' conv of D padded to h + kh - 1 rows gives h rows; D's row p meets dx row p - (kh-1-top).
  const pt = kh - 1 - top;
  const pl = kw - 1 - left;
  const dp = padOrCrop(b, d, [
    [0, 0],
    [pt, h + kh - 1 - pt - d.shape[1]],
    [pl, w + kw - 1 - pl - d.shape[2]],
    [0, 0],
  ]);
  const rev = run(b, 'Reverse', { x: filter }, { dims: [0, 1] });
  const wf = transpose(b, rev, [0, 1, 3, 2]); // [kh, kw, Co, Ci]
  const out = run(
    b,
    'Conv2D',
    { x: dp, filter: wf },
    {
      strides: [1, 1],
      pad: 'valid',
      dilations: [1, 1],
      dataFormat: 'NHWC',
      dimRoundingMode: undefined,
    },
  );
  free(b, rev, wf);
  if (dp !== d) free(b, dp);
  if (d !== dy) free(b, d);
  return out;
}

export const conv2dBackpropInputConfig: tf.KernelConfig = {
  kernelName: tf.Conv2DBackpropInput,
  backendName: 'wasm',
  kernelFunc: conv2dBackpropInput as unknown as tf.KernelFunc,
};
