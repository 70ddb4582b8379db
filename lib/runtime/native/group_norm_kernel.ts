// GroupNorm(+SiLU) forward and backward as two kernels of their own, run by the addon in a few passes
// over the activation (native/src/group_norm.cc). lib/core/unet/group_norm.ts uses them where the backend
// has them (onednn) and composes tfjs ops elsewhere. Kernels with these names (lib/core/unet/group_norm_kernels.ts)
// are implemented only here.
import type { KernelConfig, KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import type { OnednnAddon } from './addon';
import { input } from './kernel_args';
import type { KernelArgs } from './kernel_args';
import { heapOf, offsetOf } from './wasm_heap';
import { GROUP_NORM, GROUP_NORM_GRAD } from '../../core/unet/group_norm_kernels';
import type { GroupNormAttrs } from '../../core/unet/group_norm_kernels';

function float32Inputs(args: KernelArgs, kernel: string, names: string[]): TensorInfo[] {
  return names.map((n) => {
    const t = input(args, n, kernel);
    if (t.dtype !== 'float32') throw new Error(`onednn ${kernel}: input '${n}' is ${t.dtype}, expected float32`);
    return t;
  });
}

/** [batch, pixels, channels] of an NHWC input, checked against gamma's length and the groups. */
function dims(x: TensorInfo, gamma: TensorInfo, groups: number, kernel: string): Int32Array {
  if (x.shape.length !== 4) throw new Error(`onednn ${kernel}: x must be 4-D NHWC, got [${x.shape}]`);
  const [b, h, w, c] = x.shape;
  if (gamma.shape.length !== 1 || gamma.shape[0] !== c)
    throw new Error(`onednn ${kernel}: gamma is [${gamma.shape}], x has ${c} channels`);
  if (!Number.isInteger(groups) || groups < 1 || c % groups !== 0)
    throw new Error(`onednn ${kernel}: ${c} channels not divisible by ${groups} groups`);
  return Int32Array.of(b, h * w, c);
}

export function groupNormConfigs(addon: OnednnAddon): KernelConfig[] {
  const forward = (args: KernelArgs): TensorInfo[] => {
    const backend = args.backend as BackendWasm;
    const [x, gamma, beta] = float32Inputs(args, GROUP_NORM, ['x', 'gamma', 'beta']);
    const { groups, eps, silu } = args.attrs as unknown as GroupNormAttrs;
    const d = dims(x, gamma, groups, GROUP_NORM);
    const y = backend.makeOutput(x.shape, 'float32');
    const mean = backend.makeOutput([x.shape[0], groups], 'float32');
    const rstd = backend.makeOutput([x.shape[0], groups], 'float32');
    const off = (t: TensorInfo) => offsetOf(backend, t);
    addon.groupNorm(
      heapOf(backend),
      off(x),
      off(gamma),
      off(beta),
      off(y),
      off(mean),
      off(rstd),
      d,
      groups,
      eps,
      silu ? 1 : 0,
    );
    return [y, mean, rstd];
  };
  const backward = (args: KernelArgs): TensorInfo[] => {
    const backend = args.backend as BackendWasm;
    const [dy, x, gamma, beta, mean, rstd] = float32Inputs(args, GROUP_NORM_GRAD, [
      'dy',
      'x',
      'gamma',
      'beta',
      'mean',
      'rstd',
    ]);
    const { groups, silu } = args.attrs as unknown as GroupNormAttrs;
    const d = dims(x, gamma, groups, GROUP_NORM_GRAD);
    const dx = backend.makeOutput(x.shape, 'float32');
    const dgamma = backend.makeOutput(gamma.shape, 'float32');
    const dbeta = backend.makeOutput(gamma.shape, 'float32');
    const off = (t: TensorInfo) => offsetOf(backend, t);
    addon.groupNormGrad(
      heapOf(backend),
      off(dy),
      off(x),
      off(gamma),
      off(beta),
      off(mean),
      off(rstd),
      off(dx),
      off(dgamma),
      off(dbeta),
      d,
      groups,
      silu ? 1 : 0,
    );
    return [dx, dgamma, dbeta];
  };
  return [
    { kernelName: GROUP_NORM, backendName: 'onednn', kernelFunc: forward as unknown as KernelFunc },
    { kernelName: GROUP_NORM_GRAD, backendName: 'onednn', kernelFunc: backward as unknown as KernelFunc },
  ];
}
