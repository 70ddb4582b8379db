// Conv2D, Conv2DBackpropInput (also conv2dTranspose) and Conv2DBackpropFilter run by oneDNN on the
// wasm heap: the output is allocated by the wasm backend, then written in place by the addon.
import { backend_util, Conv2D, Conv2DBackpropFilter, Conv2DBackpropInput, FusedConv2D } from '@tensorflow/tfjs-core';
import type {
  Conv2DAttrs,
  FusedConv2DAttrs,
  Conv2DBackpropFilterAttrs,
  Conv2DBackpropInputAttrs,
  KernelConfig,
  KernelFunc,
  TensorInfo,
} from '@tensorflow/tfjs-core';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import type { OnednnAddon } from './addon';
import { heapOf, offsetOf } from './wasm_heap';
import { input } from './kernel_args';
import type { KernelArgs } from './kernel_args';

type Fallback = KernelFunc | undefined;

/** Packs conv geometry in the order native/src/conv.h's ConvParam expects. */
export function convParams(info: backend_util.Conv2DInfo): Int32Array {
  const p = info.padInfo;
  return Int32Array.from([
    info.batchSize,
    info.inHeight,
    info.inWidth,
    info.inChannels,
    info.filterHeight,
    info.filterWidth,
    info.outChannels,
    info.outHeight,
    info.outWidth,
    info.strideHeight,
    info.strideWidth,
    info.dilationHeight,
    info.dilationWidth,
    p.top,
    p.left,
    p.bottom,
    p.right,
  ]);
}

function size(shape: number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

// oneDNN needs non-negative padding; tfjs may produce negative-free but odd explicit pads, and NCHW
// is not supported by the wasm heap layout we write. Those cases go to the wasm kernel.
function nativeCanRun(info: backend_util.Conv2DInfo): boolean {
  const p = info.padInfo;
  return info.dataFormat === 'channelsLast' && p.top >= 0 && p.left >= 0 && p.bottom >= 0 && p.right >= 0;
}

function fallbackOrThrow(fallback: Fallback, name: string, args: KernelArgs, why: string) {
  if (!fallback) throw new Error(`onednn ${name}: ${why} and wasm has no ${name} kernel to fall back to`);
  return fallback(args as never) as TensorInfo;
}

export function conv2dConfig(addon: OnednnAddon, fallback: Fallback): KernelConfig {
  const kernelFunc = (args: KernelArgs) => {
    const backend = args.backend as BackendWasm;
    const x = input(args, 'x', Conv2D),
      filter = input(args, 'filter', Conv2D);
    const { strides, pad, dataFormat, dilations, dimRoundingMode } = args.attrs as unknown as Conv2DAttrs;
    const info = backend_util.computeConv2DInfo(
      x.shape as [number, number, number, number],
      filter.shape as [number, number, number, number],
      strides,
      dilations,
      pad,
      dimRoundingMode,
      false,
      backend_util.convertConv2DDataFormat(dataFormat),
    );
    if (!nativeCanRun(info)) return fallbackOrThrow(fallback, Conv2D, args as never, 'unsupported layout or padding');
    const out = backend.makeOutput(info.outShape, 'float32');
    if (size(info.outShape) > 0) {
      addon.conv2d(
        heapOf(backend),
        offsetOf(backend, x),
        offsetOf(backend, filter),
        offsetOf(backend, out),
        convParams(info),
      );
    }
    return out;
  };
  return { kernelName: Conv2D, backendName: 'onednn', kernelFunc: kernelFunc as unknown as KernelFunc };
}

// Activation codes of native/src/conv.h's Activation; 'prelu' (per-channel weights) is not fused.
const ACTIVATIONS: Record<string, number> = { linear: 0, relu: 1, relu6: 2, elu: 3, sigmoid: 4, leakyrelu: 5 };

/** tf.fused.conv2d (conv + bias + activation), which layers with a bias use. */
export function fusedConv2dConfig(addon: OnednnAddon, fallback: Fallback): KernelConfig {
  const kernelFunc = (args: KernelArgs) => {
    const backend = args.backend as BackendWasm;
    const x = input(args, 'x', FusedConv2D),
      filter = input(args, 'filter', FusedConv2D);
    const bias = args.inputs.bias;
    const { strides, pad, dataFormat, dilations, dimRoundingMode, activation, leakyreluAlpha } =
      args.attrs as unknown as FusedConv2DAttrs;
    const info = backend_util.computeConv2DInfo(
      x.shape as [number, number, number, number],
      filter.shape as [number, number, number, number],
      strides,
      dilations,
      pad,
      dimRoundingMode,
      false,
      backend_util.convertConv2DDataFormat(dataFormat),
    );
    const act = ACTIVATIONS[activation ?? 'linear'];
    // A bias must hold exactly one value per output channel to be fused (tfjs also allows broadcasts).
    const biasOk = bias === undefined || size(bias.shape) === info.outChannels;
    if (!nativeCanRun(info) || act === undefined || !biasOk) {
      return fallbackOrThrow(
        fallback,
        FusedConv2D,
        args,
        `unsupported activation '${activation}', bias shape or layout`,
      );
    }
    const out = backend.makeOutput(info.outShape, 'float32');
    if (size(info.outShape) > 0) {
      addon.conv2dFused(
        heapOf(backend),
        offsetOf(backend, x),
        offsetOf(backend, filter),
        bias ? offsetOf(backend, bias) : -1,
        offsetOf(backend, out),
        convParams(info),
        act,
        leakyreluAlpha ?? 0.2,
      );
    }
    return out;
  };
  return { kernelName: FusedConv2D, backendName: 'onednn', kernelFunc: kernelFunc as unknown as KernelFunc };
}

export function conv2dBackpropInputConfig(addon: OnednnAddon, fallback: Fallback): KernelConfig {
  const kernelFunc = (args: KernelArgs) => {
    const backend = args.backend as BackendWasm;
    const dy = input(args, 'dy', Conv2DBackpropInput),
      filter = input(args, 'filter', Conv2DBackpropInput);
    const { inputShape, strides, pad, dataFormat, dimRoundingMode } = args.attrs as unknown as Conv2DBackpropInputAttrs;
    const info = backend_util.computeConv2DInfo(
      inputShape,
      filter.shape as [number, number, number, number],
      strides,
      1,
      pad,
      dimRoundingMode,
      false,
      backend_util.convertConv2DDataFormat(dataFormat),
    );
    if (!nativeCanRun(info))
      return fallbackOrThrow(fallback, Conv2DBackpropInput, args as never, 'unsupported layout or padding');
    const out = backend.makeOutput(info.inShape, 'float32');
    if (size(info.inShape) > 0) {
      addon.conv2dBackpropInput(
        heapOf(backend),
        offsetOf(backend, dy),
        offsetOf(backend, filter),
        offsetOf(backend, out),
        convParams(info),
      );
    }
    return out;
  };
  return { kernelName: Conv2DBackpropInput, backendName: 'onednn', kernelFunc: kernelFunc as unknown as KernelFunc };
}

export function conv2dBackpropFilterConfig(addon: OnednnAddon, fallback: Fallback): KernelConfig {
  const kernelFunc = (args: KernelArgs) => {
    const backend = args.backend as BackendWasm;
    const x = input(args, 'x', Conv2DBackpropFilter),
      dy = input(args, 'dy', Conv2DBackpropFilter);
    const { filterShape, strides, pad, dataFormat, dimRoundingMode } =
      args.attrs as unknown as Conv2DBackpropFilterAttrs;
    const info = backend_util.computeConv2DInfo(
      x.shape as [number, number, number, number],
      filterShape,
      strides,
      1,
      pad,
      dimRoundingMode,
      false,
      backend_util.convertConv2DDataFormat(dataFormat),
    );
    if (!nativeCanRun(info))
      return fallbackOrThrow(fallback, Conv2DBackpropFilter, args as never, 'unsupported layout or padding');
    const out = backend.makeOutput(filterShape, 'float32');
    if (size(filterShape) > 0) {
      addon.conv2dBackpropFilter(
        heapOf(backend),
        offsetOf(backend, x),
        offsetOf(backend, dy),
        offsetOf(backend, out),
        convParams(info),
      );
    }
    return out;
  };
  return { kernelName: Conv2DBackpropFilter, backendName: 'onednn', kernelFunc: kernelFunc as unknown as KernelFunc };
}
