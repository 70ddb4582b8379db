// Process-wide oneDNN state shared by all kernels: one CPU engine, one stream, one scratchpad.
// JS calls the kernels from a single thread, so a single user-managed scratchpad is safe.
#pragma once
#include <dnnl.hpp>
#include <cstddef>
#include <string>
#include <vector>

namespace onednn_tfjs {

dnnl::engine& cpuEngine();
dnnl::stream& cpuStream();

// Scratch memory for a primitive, grown on demand (never shrinks; primitives are cached).
dnnl::memory scratchpadOf(const dnnl::memory::desc& md);

// A buffer kept between calls for weights reordered into oneDNN's blocked layouts.
struct Buffer {
  std::vector<float> data;
  float* get(size_t bytes) {
    if (data.size() * sizeof(float) < bytes) data.resize((bytes + sizeof(float) - 1) / sizeof(float));
    return data.data();
  }
};

void setNumThreads(int n);
int numThreads();

// Primitive attributes every kernel uses: user scratchpad (no allocation per call).
dnnl::primitive_attr defaultAttr();

// Key for the primitive caches: the op name and every integer that shapes the primitive.
std::string cacheKey(const char* op, const int* p, int n);

}  // namespace onednn_tfjs
