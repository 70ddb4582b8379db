// Small helpers to build a wasm kernel out of other wasm kernels: each call runs the registered
// kernelFunc on the same backend (no tensors, no engine bookkeeping), so a composed kernel is as
// fast as its parts and the caller disposes every intermediate with `free`.
import * as tf from '@tensorflow/tfjs-core';

export type Info = tf.TensorInfo;
export type Backend = tf.KernelBackend;

/** Runs the wasm kernel `name` and returns its single output. */
export function run(b: Backend, name: string, inputs: Record<string, Info>, attrs: Record<string, unknown> = {}): Info {
  const k = tf.getKernel(name, 'wasm');
  if (!k) throw new Error(`wasm kernel '${name}' is not registered (needed by a composed training kernel)`);
  const out = k.kernelFunc({ inputs, backend: b, attrs: attrs as tf.NamedAttrMap });
  if (Array.isArray(out)) throw new Error(`wasm kernel '${name}' returned several outputs; expected one`);
  return out;
}

/** Releases intermediates (reshape outputs share data and only drop a reference). */
export function free(b: Backend, ...infos: Info[]): void {
  for (const t of infos) b.disposeData(t.dataId);
}

export const transpose = (b: Backend, x: Info, perm: number[]): Info => run(b, 'Transpose', { x }, { perm });
export const reshape = (b: Backend, x: Info, shape: number[]): Info => run(b, 'Reshape', { x }, { shape });
export const slice = (b: Backend, x: Info, begin: number[], size: number[]): Info =>
  run(b, 'Slice', { x }, { begin, size });
export const pad = (b: Backend, x: Info, paddings: Array<[number, number]>): Info =>
  run(b, 'PadV2', { x }, { paddings, constantValue: 0 });

/**
 * Applies signed padding per axis: positive pads with zeros, negative crops. Used to line a tensor
 * up exactly with a convolution window when the forward pass ignored trailing rows (stride > 1).
 * Returns x itself (not a copy) when nothing changes; check before freeing.
 */
export function padOrCrop(b: Backend, x: Info, pads: Array<[number, number]>): Info {
  let cur = x;
  if (pads.some(([lo, hi]) => lo < 0 || hi < 0)) {
    const begin = pads.map(([lo]) => Math.max(0, -lo));
    const size = x.shape.map((d, i) => d - begin[i] - Math.max(0, -pads[i][1]));
    if (size.some((s) => s <= 0))
      throw new Error(`padOrCrop: cropping ${JSON.stringify(pads)} empties shape [${x.shape}]`);
    cur = slice(b, x, begin, size);
  }
  if (pads.some(([lo, hi]) => lo > 0 || hi > 0)) {
    const padded = pad(
      b,
      cur,
      pads.map(([lo, hi]) => [Math.max(0, lo), Math.max(0, hi)] as [number, number]),
    );
    if (cur !== x) free(b, cur);
    cur = padded;
  }
  return cur;
}

/** Throws unless the layout is NHWC: the wasm convolutions only implement channels-last. */
export function assertNHWC(kernel: string, dataFormat: unknown): void {
  if (dataFormat !== undefined && dataFormat !== 'NHWC' && dataFormat !== 'channelsLast') {
    throw new Error(`${kernel} on wasm supports dataFormat 'NHWC' only, got '${String(dataFormat)}'`);
  }
}
