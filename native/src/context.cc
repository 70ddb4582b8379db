#include "context.h"

#include <omp.h>

#include <cstdio>

namespace onednn_tfjs {

dnnl::engine& cpuEngine() {
  static dnnl::engine eng(dnnl::engine::kind::cpu, 0);
  return eng;
}

dnnl::stream& cpuStream() {
  static dnnl::stream s(cpuEngine());
  return s;
}

static std::vector<unsigned char>& scratchStorage() {
  static std::vector<unsigned char> buf;
  return buf;
}

dnnl::memory scratchpadOf(const dnnl::memory::desc& md) {
  size_t bytes = md.get_size();
  auto& buf = scratchStorage();
  if (buf.size() < bytes + 64) buf.resize(bytes + 64);
  // 64-byte alignment for AVX-512 loads inside the scratchpad.
  uintptr_t p = reinterpret_cast<uintptr_t>(buf.data());
  p = (p + 63) & ~uintptr_t(63);
  return dnnl::memory(md, cpuEngine(), reinterpret_cast<void*>(p));
}

static int gThreads = 0;

void setNumThreads(int n) {
  if (n < 1) n = 1;
  gThreads = n;
  omp_set_num_threads(n);
}

int numThreads() {
  if (gThreads == 0) gThreads = omp_get_max_threads();  // read once, before any per-op change
  return gThreads;
}

dnnl::primitive_attr defaultAttr() {
  dnnl::primitive_attr attr;
  attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
  return attr;
}

std::string cacheKey(const char* op, const int* p, int n) {
  std::string k(op);
  char tmp[16];
  for (int i = 0; i < n; i++) {
    std::snprintf(tmp, sizeof tmp, ",%d", p[i]);
    k += tmp;
  }
  return k;
}

}  // namespace onednn_tfjs
