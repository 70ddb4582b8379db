// GroupNorm, optionally followed by SiLU, forward and backward in a few passes over the activation
// (NHWC, [batch, pixels, channels]). Composed of tfjs ops the pair took ~30 element-wise kernels, each
// a full read and write of the activation: about a third of a reference-UNet training step.
#pragma once
#include <cstdint>

namespace onednn_tfjs {

struct GroupNormShape {
  int64_t batch, pixels, channels, groups;
};

// y = γ·(x − mean)·rstd + β per (image, group), then y·σ(y) when silu; mean and rstd ([batch, groups])
// are written for the backward pass.
void groupNormForward(const GroupNormShape& s, const float* x, const float* gamma, const float* beta, float eps, bool silu,
                      float* y, float* mean, float* rstd);

// Gradients of the above for the incoming gradient dOut; dgamma/dbeta sum over the batch in a fixed
// order, so the result does not depend on the threads.
void groupNormBackward(const GroupNormShape& s, const float* dOut, const float* x, const float* gamma, const float* beta,
                       const float* mean, const float* rstd, bool silu, float* dx, float* dgamma, float* dbeta);

}  // namespace onednn_tfjs
