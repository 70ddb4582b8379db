// The argument object tfjs passes to a kernel function, and a checked accessor for its inputs.
import type { NamedTensorInfoMap, TensorInfo } from '@tensorflow/tfjs-core';

export interface KernelArgs {
  inputs: NamedTensorInfoMap;
  backend: unknown;
  attrs?: unknown;
}

export function input(args: KernelArgs, name: string, kernel: string): TensorInfo {
  const t = args.inputs[name];
  if (t === undefined) throw new Error(`onednn ${kernel}: missing input '${name}'`);
  return t;
}
