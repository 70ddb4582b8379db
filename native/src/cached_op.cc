#include "cached_op.h"

#include <omp.h>

#include <unordered_map>

namespace onednn_tfjs {

static std::unordered_map<std::string, std::unique_ptr<CachedOp>>& cache() {
  static std::unordered_map<std::string, std::unique_ptr<CachedOp>> c;
  return c;
}

std::unique_ptr<CachedOp>* cacheSlot(const std::string& key) { return &cache()[key]; }
size_t cacheSize() { return cache().size(); }
void clearCache() { cache().clear(); }

OpArg makeArg(int dnnlArg, bool isOutput, const dnnl::memory::desc& user, const dnnl::memory::desc& prim) {
  OpArg a;
  a.dnnlArg = dnnlArg;
  a.isOutput = isOutput;
  a.user = user;
  a.prim = prim;
  a.needsReorder = !(user == prim);
  if (a.needsReorder) {
    ThreadScope threads(threadsForWork(double(prim.get_size()) / 4));  // reorders are sized when created too
    auto& eng = cpuEngine();
    a.reorderPrim = isOutput ? dnnl::reorder(dnnl::reorder::primitive_desc(eng, prim, eng, user))
                             : dnnl::reorder(dnnl::reorder::primitive_desc(eng, user, eng, prim));
  }
  return a;
}

int threadsForWork(double work) { return work < 4e6 ? 1 : numThreads(); }

ThreadScope::ThreadScope(int n) : saved(numThreads()) { omp_set_num_threads(n); }
void ThreadScope::set(int n) { omp_set_num_threads(n); }
ThreadScope::~ThreadScope() { omp_set_num_threads(saved); }

void CachedOp::run(const std::vector<void*>& ptrs) {
  ThreadScope threads(1);  // reorders of (small) weights run on one thread
  auto& eng = cpuEngine();
  auto& strm = cpuStream();
  std::unordered_map<int, dnnl::memory> execArgs;
  std::vector<std::pair<size_t, dnnl::memory>> pendingOut;  // outputs to reorder back after the op
  for (size_t i = 0; i < args.size(); i++) {
    OpArg& a = args[i];
    dnnl::memory userMem(a.user, eng, ptrs[i]);
    if (!a.needsReorder) {
      execArgs.emplace(a.dnnlArg, userMem);
      continue;
    }
    dnnl::memory primMem(a.prim, eng, a.buf.get(a.prim.get_size()));
    threads.set(threadsForWork(double(a.prim.get_size()) / 4));
    if (!a.isOutput) {
      a.reorderPrim.execute(strm, {{DNNL_ARG_FROM, userMem}, {DNNL_ARG_TO, primMem}});
    } else {
      pendingOut.emplace_back(i, userMem);
    }
    execArgs.emplace(a.dnnlArg, primMem);
  }
  if (scratchDesc.get_size() > 0) {
    execArgs.emplace(DNNL_ARG_SCRATCHPAD, scratchpadOf(scratchDesc));
  }
  threads.set(threadsForWork(work));
  prim.execute(strm, execArgs);
  for (auto& po : pendingOut) {
    OpArg& a = args[po.first];
    threads.set(threadsForWork(double(a.prim.get_size()) / 4));
    args[po.first].reorderPrim.execute(strm, {{DNNL_ARG_FROM, execArgs.at(a.dnnlArg)}, {DNNL_ARG_TO, po.second}});
  }
  strm.wait();
}

}  // namespace onednn_tfjs
