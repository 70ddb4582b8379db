// Elementwise a (op) b with numpy broadcasting, float32. wasm's broadcasting path is slow for the
// per-channel / per-group shapes normalisation layers use (measured 6.1 ms vs 0.45 ms here).
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

namespace onednn_tfjs {

enum class BinaryOp { Add = 0, Sub = 1, Mul = 2, Div = 3 };

// aDims, bDims: shapes already left-padded with 1s to the output's rank.
void binaryBroadcast(BinaryOp op, const std::vector<int64_t>& aDims, const float* a, const std::vector<int64_t>& bDims,
                     const float* b, const std::vector<int64_t>& outDims, float* out);

}  // namespace onednn_tfjs
