#include "reduce.h"

#include <algorithm>

#include "parallel.h"

namespace onednn_tfjs {

namespace {

// Runs of adjacent axes with the same reduce flag, merged into one axis each.
struct Seg {
  int64_t size;
  bool reduce;
  int64_t inStride;   // elements between consecutive indices in x
  int64_t outStride;  // in y (0 for reduced segments)
};

std::vector<Seg> segments(const std::vector<int64_t>& dims, const std::vector<bool>& reduce) {
  std::vector<Seg> segs;
  for (size_t i = 0; i < dims.size(); i++) {
    if (dims[i] == 1) continue;  // size-1 axes change nothing
    if (!segs.empty() && segs.back().reduce == reduce[i]) segs.back().size *= dims[i];
    else segs.push_back({dims[i], bool(reduce[i]), 0, 0});
  }
  int64_t in = 1, out = 1;
  for (size_t i = segs.size(); i-- > 0;) {
    segs[i].inStride = in;
    in *= segs[i].size;
    segs[i].outStride = segs[i].reduce ? 0 : out;
    if (!segs[i].reduce) out *= segs[i].size;
  }
  return segs;
}

// Adds the part of x described by segs[k..] into acc.
void accumulate(const std::vector<Seg>& segs, size_t k, const float* x, double* acc) {
  const Seg& s = segs[k];
  if (k + 1 == segs.size()) {  // innermost run is contiguous
    if (s.reduce) {
      double sum = 0;
      for (int64_t i = 0; i < s.size; i++) sum += x[i];
      acc[0] += sum;
    } else {
      for (int64_t i = 0; i < s.size; i++) acc[i] += x[i];
    }
    return;
  }
  for (int64_t i = 0; i < s.size; i++) accumulate(segs, k + 1, x + i * s.inStride, acc + i * s.outStride);
}

}  // namespace

void reduceSum(const std::vector<int64_t>& dims, const std::vector<bool>& reduce, const float* x, float* y, double scale) {
  std::vector<Seg> segs = segments(dims, reduce);
  int64_t outSize = 1;
  for (const Seg& s : segs)
    if (!s.reduce) outSize *= s.size;
  if (segs.empty()) {  // every axis has size 1
    y[0] = float(x[0] * scale);
    return;
  }
  // A short innermost summed run (GroupNorm's channels per group, [.., G, C/G] over C/G) would sum a
  // few elements per call: keep it in the accumulator instead (contiguous runs of G * C/G), then
  // fold it at the end.
  int64_t fold = 1;
  if (segs.size() >= 2 && segs.back().reduce && segs.back().size < 16) {
    fold = segs.back().size;
    std::vector<int64_t> d;
    std::vector<bool> red;
    for (const Seg& s : segs) {
      d.push_back(s.size);
      red.push_back(s.reduce);
    }
    red.back() = false;
    segs = segments(d, red);
  }
  const int64_t accSize = outSize * fold;
  std::vector<double> acc(accSize, 0.0);
  // Split over the outermost axis (parallel.h), in pieces of about 64K elements fixed by the shape
  // alone, so the summation order, and the result, never depends on the threads.
  const Seg& s0 = segs[0];
  const int64_t grain = std::max<int64_t>(1, (int64_t(1) << 16) / s0.inStride);
  const int64_t pieces = (s0.size + grain - 1) / grain;
  if (segs.size() == 1 || pieces <= 1) {
    accumulate(segs, 0, x, acc.data());
  } else if (!s0.reduce) {  // pieces write disjoint parts of acc
    parallelFor(s0.size, grain, [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; i++) accumulate(segs, 1, x + i * s0.inStride, acc.data() + i * s0.outStride);
    });
  } else {  // each piece sums into its own partial accumulator; partials are added in order
    std::vector<double> part(pieces * accSize, 0.0);
    parallelFor(pieces, 1, [&](int64_t p0, int64_t p1) {
      for (int64_t p = p0; p < p1; p++)
        for (int64_t i = p * grain, e = std::min(s0.size, (p + 1) * grain); i < e; i++)
          accumulate(segs, 1, x + i * s0.inStride, part.data() + p * accSize);
    });
    for (int64_t p = 0; p < pieces; p++)
      for (int64_t j = 0; j < accSize; j++) acc[j] += part[p * accSize + j];
  }
  for (int64_t j = 0; j < outSize; j++) {
    double sum = 0;
    for (int64_t k = 0; k < fold; k++) sum += acc[j * fold + k];
    y[j] = float(sum * scale);
  }
}

}  // namespace onednn_tfjs
