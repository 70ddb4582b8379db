#include "reduce.h"

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
  std::vector<double> acc(outSize, 0.0);
  // One thread on purpose (memory-bound; see binary.cc).
  accumulate(segs, 0, x, acc.data());
  for (int64_t j = 0; j < outSize; j++) y[j] = float(acc[j] * scale);
}

}  // namespace onednn_tfjs
