// The names and attributes of the two GroupNorm kernels a backend may register (the onednn backend
// does, in lib/runtime/native/group_norm_kernel.ts). They live in core because core's GroupNorm
// looks them up: the runtime implements them, core only asks whether they exist.

/** Inputs x [b, h, w, c], gamma [c], beta [c]; attrs GroupNormAttrs; outputs y, mean [b, groups], rstd [b, groups]. */
export const GROUP_NORM = 'DiffusionGroupNorm';
/** Inputs dy, x, gamma, beta, mean, rstd; attrs GroupNormAttrs; outputs dx, dgamma, dbeta. */
export const GROUP_NORM_GRAD = 'DiffusionGroupNormGrad';

export interface GroupNormAttrs {
  groups: number;
  eps: number;
  silu: boolean;
}
