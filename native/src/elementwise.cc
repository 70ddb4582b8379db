#include "elementwise.h"

#include <cmath>
#include <cstring>

#include "parallel.h"

namespace onednn_tfjs {

namespace {

int64_t calls = 0;

// exp(x) for x in [-87, 88] to ~1 ulp (Cephes expf), written so the compiler vectorises it.
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

#define ONEDNN_TFJS_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))

ONEDNN_TFJS_CLONES void sigmoid(const float* x, float* y, int64_t n) {
  for (int64_t i = 0; i < n; i++) y[i] = 1.0f / (1.0f + expApprox(-x[i]));
}
ONEDNN_TFJS_CLONES void square(const float* x, float* y, int64_t n) {
  for (int64_t i = 0; i < n; i++) y[i] = x[i] * x[i];
}
ONEDNN_TFJS_CLONES void rsqrt(const float* x, float* y, int64_t n) {
  for (int64_t i = 0; i < n; i++) y[i] = 1.0f / std::sqrt(x[i]);
}
ONEDNN_TFJS_CLONES void neg(const float* x, float* y, int64_t n) {
  for (int64_t i = 0; i < n; i++) y[i] = -x[i];
}

}  // namespace

int64_t elementwiseCalls() { return calls; }
void countElementwiseCall() { calls++; }

void unary(UnaryOp op, const float* x, float* y, int64_t n) {
  calls++;
  void (*f)(const float*, float*, int64_t) = op == UnaryOp::Sigmoid ? sigmoid : op == UnaryOp::Square ? square : op == UnaryOp::Rsqrt ? rsqrt : neg;
  parallelFor(n, 1 << 16, [&](int64_t b, int64_t e) { f(x + b, y + b, e - b); });
}

void resizeNearestGrad(const float* dy, float* dx, int64_t batch, int64_t dyPixels, int64_t xPixels, int64_t depth, const int32_t* src) {
  calls++;
  std::memset(dx, 0, size_t(batch * xPixels * depth) * sizeof(float));
  for (int64_t b = 0; b < batch; b++)
    for (int64_t p = 0; p < dyPixels; p++) {
      const float* s = dy + (b * dyPixels + p) * depth;
      float* d = dx + (b * xPixels + src[p]) * depth;
      for (int64_t k = 0; k < depth; k++) d[k] += s[k];
    }
}

}  // namespace onednn_tfjs
