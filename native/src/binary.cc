#include "binary.h"

namespace onednn_tfjs {

namespace {

template <BinaryOp OP>
inline float apply(float x, float y) {
  if (OP == BinaryOp::Add) return x + y;
  if (OP == BinaryOp::Sub) return x - y;
  if (OP == BinaryOp::Mul) return x * y;
  return x / y;
}

// Innermost run: strides of a and b are 0 (broadcast) or 1.
template <BinaryOp OP>
inline void row(int64_t n, const float* a, int64_t sa, const float* b, int64_t sb, float* out) {
  if (sa && sb) {
    for (int64_t i = 0; i < n; i++) out[i] = apply<OP>(a[i], b[i]);
  } else if (sa) {
    const float y = b[0];
    for (int64_t i = 0; i < n; i++) out[i] = apply<OP>(a[i], y);
  } else if (sb) {
    const float x = a[0];
    for (int64_t i = 0; i < n; i++) out[i] = apply<OP>(x, b[i]);
  } else {
    const float v = apply<OP>(a[0], b[0]);
    for (int64_t i = 0; i < n; i++) out[i] = v;
  }
}

struct Layout {
  std::vector<int64_t> dims, sa, sb;  // merged output dims and element strides of a, b
};

// Merges adjacent axes that broadcast the same way, so the inner run is as long as possible.
Layout layout(const std::vector<int64_t>& aDims, const std::vector<int64_t>& bDims, const std::vector<int64_t>& outDims) {
  const size_t r = outDims.size();
  std::vector<int64_t> sa(r), sb(r);
  int64_t ta = 1, tb = 1;
  for (size_t i = r; i-- > 0;) {
    sa[i] = aDims[i] == 1 ? 0 : ta;
    sb[i] = bDims[i] == 1 ? 0 : tb;
    ta *= aDims[i];
    tb *= bDims[i];
  }
  Layout L;
  for (size_t i = 0; i < r; i++) {
    if (outDims[i] == 1) continue;
    if (!L.dims.empty()) {
      size_t j = L.dims.size() - 1;
      // Axis i continues axis j when each operand either broadcasts both or is contiguous across them.
      bool aOk = (sa[i] == 0 && L.sa[j] == 0) || (sa[i] != 0 && L.sa[j] == sa[i] * outDims[i]);
      bool bOk = (sb[i] == 0 && L.sb[j] == 0) || (sb[i] != 0 && L.sb[j] == sb[i] * outDims[i]);
      if (aOk && bOk) {
        L.dims[j] *= outDims[i];
        L.sa[j] = sa[i];
        L.sb[j] = sb[i];
        continue;
      }
    }
    L.dims.push_back(outDims[i]);
    L.sa.push_back(sa[i]);
    L.sb.push_back(sb[i]);
  }
  if (L.dims.empty()) {
    L.dims = {1};
    L.sa = {0};
    L.sb = {0};
  }
  return L;
}

template <BinaryOp OP>
void run(Layout L, const float* a, const float* b, float* out) {
  if (L.dims.size() == 1) {  // give every layout an outer axis so the loop below is uniform
    L.dims.insert(L.dims.begin(), 1);
    L.sa.insert(L.sa.begin(), 0);
    L.sb.insert(L.sb.begin(), 0);
  }
  const size_t r = L.dims.size();
  const int64_t n = L.dims[r - 1], m = L.dims[r - 2];
  int64_t blocks = 1;
  for (size_t i = 0; i + 2 < r; i++) blocks *= L.dims[i];
  // Each block is an m x n slab of the output; short rows (per-group shapes) stay cheap this way.
  // One thread on purpose: these ops are memory-bound, and measured here a second OpenMP thread
  // made them 10-40x slower whenever other processes shared the cores.
  for (int64_t q = 0; q < blocks; q++) {
    int64_t rem = q, oa = 0, ob = 0;
    for (size_t i = r - 2; i-- > 0;) {
      int64_t idx = rem % L.dims[i];
      rem /= L.dims[i];
      oa += idx * L.sa[i];
      ob += idx * L.sb[i];
    }
    float* o = out + q * m * n;
    for (int64_t j = 0; j < m; j++) row<OP>(n, a + oa + j * L.sa[r - 2], L.sa[r - 1], b + ob + j * L.sb[r - 2], L.sb[r - 1], o + j * n);
  }
}

}  // namespace

void binaryBroadcast(BinaryOp op, const std::vector<int64_t>& aDims, const float* a, const std::vector<int64_t>& bDims,
                     const float* b, const std::vector<int64_t>& outDims, float* out) {
  Layout L = layout(aDims, bDims, outDims);
  switch (op) {
    case BinaryOp::Add: run<BinaryOp::Add>(L, a, b, out); break;
    case BinaryOp::Sub: run<BinaryOp::Sub>(L, a, b, out); break;
    case BinaryOp::Mul: run<BinaryOp::Mul>(L, a, b, out); break;
    case BinaryOp::Div: run<BinaryOp::Div>(L, a, b, out); break;
  }
}

}  // namespace onednn_tfjs
