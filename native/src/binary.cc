#include "binary.h"

#include <algorithm>

#include "parallel.h"

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

// The m x n slab at (a + oa, b + ob) of one operand, laid out contiguously in `tile` (rows of
// short broadcast runs, e.g. per-group statistics, become one long contiguous run).
inline const float* gather(const float* p, int64_t s0, int64_t s1, int64_t m, int64_t n, float* tile) {
  for (int64_t j = 0; j < m; j++)
    for (int64_t k = 0; k < n; k++) tile[j * n + k] = p[j * s0 + k * s1];
  return tile;
}

// Blocks [q0, q1) of the output (block = the m x n slab over the two innermost axes).
template <BinaryOp OP>
void runBlocks(const Layout& L, const float* a, const float* b, float* out, int64_t q0, int64_t q1) {
  const size_t r = L.dims.size();
  const int64_t n = L.dims[r - 1], m = L.dims[r - 2];
  // Short rows (n < 16, per-group shapes): each block's m x n slab of a broadcast operand is gathered
  // into a contiguous tile (rebuilt only when the block moves to another part of it), so the op runs
  // over m * n contiguous elements instead of m runs of n.
  const bool tiled = n < 16 && m * n <= 4096 && m > 1;
  const bool aContig = L.sa[r - 1] == 1 && L.sa[r - 2] == n, bContig = L.sb[r - 1] == 1 && L.sb[r - 2] == n;
  std::vector<float> tileA(tiled && !aContig ? m * n : 0), tileB(tiled && !bContig ? m * n : 0);
  int64_t lastOa = -1, lastOb = -1;
  const float *ta = nullptr, *tb = nullptr;
  // Odometer over the outer axes: index and offsets of a and b for block q.
  std::vector<int64_t> idx(r, 0);
  int64_t oa = 0, ob = 0;
  for (size_t i = r - 2, rem = size_t(q0); i-- > 0;) {
    idx[i] = int64_t(rem) % L.dims[i];
    rem /= size_t(L.dims[i]);
    oa += idx[i] * L.sa[i];
    ob += idx[i] * L.sb[i];
  }
  for (int64_t q = q0; q < q1; q++) {
    float* o = out + q * m * n;
    if (tiled) {
      if (aContig) ta = a + oa;
      else if (oa != lastOa) ta = gather(a + oa, L.sa[r - 2], L.sa[r - 1], m, n, tileA.data());
      if (bContig) tb = b + ob;
      else if (ob != lastOb) tb = gather(b + ob, L.sb[r - 2], L.sb[r - 1], m, n, tileB.data());
      lastOa = oa;
      lastOb = ob;
      row<OP>(m * n, ta, 1, tb, 1, o);
    } else {
      for (int64_t j = 0; j < m; j++) row<OP>(n, a + oa + j * L.sa[r - 2], L.sa[r - 1], b + ob + j * L.sb[r - 2], L.sb[r - 1], o + j * n);
    }
    for (size_t i = r - 2; i-- > 0;) {  // next block
      oa += L.sa[i];
      ob += L.sb[i];
      if (++idx[i] < L.dims[i]) break;
      oa -= L.sa[i] * L.dims[i];
      ob -= L.sb[i] * L.dims[i];
      idx[i] = 0;
    }
  }
}

template <BinaryOp OP>
void run(Layout L, const float* a, const float* b, float* out) {
  if (L.dims.size() == 1) {  // give every layout an outer axis so the loops are uniform
    L.dims.insert(L.dims.begin(), 1);
    L.sa.insert(L.sa.begin(), 0);
    L.sb.insert(L.sb.begin(), 0);
  }
  const size_t r = L.dims.size();
  const int64_t n = L.dims[r - 1], m = L.dims[r - 2];
  int64_t blocks = 1;
  for (size_t i = 0; i + 2 < r; i++) blocks *= L.dims[i];
  // Split across threads by parallelFor (see parallel.h), in pieces of about kGrain elements.
  const int64_t kGrain = 1 << 16;
  if (blocks > 1) {
    parallelFor(blocks, std::max<int64_t>(1, kGrain / (m * n)), [&](int64_t q0, int64_t q1) { runBlocks<OP>(L, a, b, out, q0, q1); });
  } else if (m > 1 && n >= 16) {  // one slab of long rows
    const int64_t sa0 = L.sa[r - 2], sb0 = L.sb[r - 2], sa1 = L.sa[r - 1], sb1 = L.sb[r - 1];
    parallelFor(m, std::max<int64_t>(1, kGrain / n), [&](int64_t j0, int64_t j1) {
      for (int64_t j = j0; j < j1; j++) row<OP>(n, a + j * sa0, sa1, b + j * sb0, sb1, out + j * n);
    });
  } else if (m == 1) {  // one long row (same-shape operands, scalars)
    const int64_t sa1 = L.sa[r - 1], sb1 = L.sb[r - 1];
    parallelFor(n, kGrain, [&](int64_t c0, int64_t c1) { row<OP>(c1 - c0, a + c0 * sa1, sa1, b + c0 * sb1, sb1, out + c0); });
  } else {
    runBlocks<OP>(L, a, b, out, 0, 1);
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
