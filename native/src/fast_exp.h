// exp(x) for x in [-87, 88] to ~1 ulp (Cephes expf), written so the compiler vectorises the loops
// that call it (std::exp stays a scalar call). Shared by the element-wise and GroupNorm kernels.
#pragma once
#include <cmath>
#include <cstdint>
#include <cstring>

namespace onednn_tfjs {

inline float expApprox(float x) {
  x = x < -87.0f ? -87.0f : (x > 88.0f ? 88.0f : x);
  float fx = std::floor(x * 1.44269504088896341f + 0.5f);
  float r = x - fx * 0.693359375f + fx * 2.12194440e-4f;
  float z = r * r;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * z + r + 1.0f;
  int32_t bits = (int32_t(fx) + 127) << 23;
  float scale;
  std::memcpy(&scale, &bits, 4);
  return p * scale;
}

// One function per instruction set, picked at load time: the machines differ (AVX-512 here).
#define ONEDNN_TFJS_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))

}  // namespace onednn_tfjs
