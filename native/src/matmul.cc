#include "matmul.h"

#include <algorithm>

#include "cached_op.h"

namespace onednn_tfjs {

using dnnl::memory;

static double matmulMacs(const int* p) {
  return double(std::max(p[kBatchA], p[kBatchB])) * p[kM] * p[kK] * p[kNcols];
}

void batchMatMul(const int* p, const float* a, const float* b, float* c) {
  CachedOp& op = cachedOp(cacheKey("matmul", p, kMatMulParamCount), matmulMacs(p), [&] {
    const memory::dim bA = p[kBatchA], bB = p[kBatchB], M = p[kM], K = p[kK], N = p[kNcols];
    const memory::dim B = std::max(bA, bB);
    // Transposes are expressed as strides, so nothing is copied.
    memory::desc aMd({bA, M, K}, memory::data_type::f32,
                     p[kTransA] ? memory::dims{M * K, 1, M} : memory::dims{M * K, K, 1});
    memory::desc bMd({bB, K, N}, memory::data_type::f32,
                     p[kTransB] ? memory::dims{K * N, 1, K} : memory::dims{K * N, N, 1});
    memory::desc cMd({B, M, N}, memory::data_type::f32, memory::dims{M * N, N, 1});
    dnnl::matmul::desc desc(aMd, bMd, cMd);
    dnnl::matmul::primitive_desc pd(desc, defaultAttr(), cpuEngine());
    CachedOp op;
    op.prim = dnnl::matmul(pd);
    op.scratchDesc = pd.scratchpad_desc();
    op.args.push_back(makeArg(DNNL_ARG_SRC, false, aMd, pd.src_desc()));
    op.args.push_back(makeArg(DNNL_ARG_WEIGHTS, false, bMd, pd.weights_desc()));
    op.args.push_back(makeArg(DNNL_ARG_DST, true, cMd, pd.dst_desc()));
    return op;
  });
  op.run({const_cast<float*>(a), const_cast<float*>(b), c});
}

}  // namespace onednn_tfjs
