#include "elementwise.h"

#include <cmath>
#include <cstring>

#include "fast_exp.h"
#include "parallel.h"

namespace onednn_tfjs {

namespace {

int64_t calls = 0;

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
