// Unary float32 kernels (Sigmoid, Square, Rsqrt, Neg) and the gradient of nearest-neighbour resize,
// in place on the wasm heap. wasm runs these single-threaded without AVX; Sigmoid alone was ~8% of
// a reference-UNet training step (GroupNorm+SiLU forward and backward).
#pragma once
#include <cstddef>
#include <cstdint>

namespace onednn_tfjs {

enum class UnaryOp { Sigmoid = 0, Square = 1, Rsqrt = 2, Neg = 3 };

void unary(UnaryOp op, const float* x, float* y, int64_t n);

// dx[b, src[p], :] += dy[b, p, :] over the dyPixels pixels p of each image (dx zeroed first); src
// maps each output pixel of the forward resize to the input pixel it copied (< xPixels).
void resizeNearestGrad(const float* dy, float* dx, int64_t batch, int64_t dyPixels, int64_t xPixels, int64_t depth, const int32_t* src);

// Number of calls of the kernels above and of binary/reduce (tests check the native path ran).
int64_t elementwiseCalls();
void countElementwiseCall();

}  // namespace onednn_tfjs
