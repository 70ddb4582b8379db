// Sum / mean over any set of axes of a float32 tensor, read in memory order (no transpose, which
// is what makes wasm's reductions over leading axes slow: bias gradients, GroupNorm statistics).
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

namespace onednn_tfjs {

// dims: the input shape; reduce[i]: whether axis i is summed. y has the kept axes in order.
void reduceSum(const std::vector<int64_t>& dims, const std::vector<bool>& reduce, const float* x, float* y, double scale);

}  // namespace onednn_tfjs
