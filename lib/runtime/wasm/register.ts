// Registers our training kernels on the 'wasm' backend so that conv2d, conv2dTranspose,
// depthwiseConv2d, maxPool, resizeNearestNeighbor and gather train unchanged under tf.grad and the
// optimizers. initBackend calls this before selecting wasm. Idempotent.
//   added (tfjs 4.22 has none on wasm): Conv2DBackpropFilter, DepthwiseConv2dNativeBackpropInput,
//     DepthwiseConv2dNativeBackpropFilter, UnsortedSegmentSum (gather's gradient)
//   replaced: Conv2DBackpropInput (scalar loop, 6-10x slower than XNNPACK conv), MaxPoolGrad and
//     ResizeNearestNeighborGrad (results differ from cpu/TensorFlow, see their files)
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-wasm';
import { conv2dBackpropFilterConfig } from './conv2d_backprop_filter';
import { conv2dBackpropInputConfig } from './conv2d_backprop_input';
import { depthwiseBackpropFilterConfig, depthwiseBackpropInputConfig } from './depthwise_backprop';
import { maxPoolGradConfig } from './max_pool_grad';
import { resizeNearestNeighborGradConfig } from './resize_nearest_grad';
import { unsortedSegmentSumConfig } from './unsorted_segment_sum';

export const WASM_TRAINING_KERNELS: readonly tf.KernelConfig[] = [
  conv2dBackpropFilterConfig,
  conv2dBackpropInputConfig,
  depthwiseBackpropInputConfig,
  depthwiseBackpropFilterConfig,
  maxPoolGradConfig,
  resizeNearestNeighborGradConfig,
  unsortedSegmentSumConfig,
];

/** Returns the names of the kernels now provided by this project on wasm. */
export function registerWasmTrainingKernels(): string[] {
  for (const cfg of WASM_TRAINING_KERNELS) {
    const existing = tf.getKernel(cfg.kernelName, 'wasm');
    if (existing && existing.kernelFunc === cfg.kernelFunc) continue;
    if (existing) tf.unregisterKernel(cfg.kernelName, 'wasm'); // tfjs's own, slow or wrong
    tf.registerKernel(cfg);
  }
  return WASM_TRAINING_KERNELS.map((c) => c.kernelName);
}
