// A oneDNN primitive plus, for each argument, the user's plain layout (NHWC / HWIO / row-major) and
// the layout the primitive prefers. Arguments whose layouts differ are reordered through a buffer
// kept with the op; the others are read or written in place (zero copy).
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "context.h"

namespace onednn_tfjs {

struct OpArg {
  int dnnlArg;              // DNNL_ARG_SRC, DNNL_ARG_WEIGHTS, DNNL_ARG_DST, ...
  bool isOutput;
  dnnl::memory::desc user;  // layout of the tensor in the wasm heap
  dnnl::memory::desc prim;  // layout the primitive was created for
  bool needsReorder = false;
  dnnl::primitive reorderPrim;
  Buffer buf;
};

struct CachedOp {
  dnnl::primitive prim;
  dnnl::memory::desc scratchDesc;
  std::vector<OpArg> args;
  // Multiply-adds (or elements) of the op: small ops run on one thread, because waking the
  // other threads costs more than they save (much more when other processes share the cores).
  double work = 0;
  // Runs the primitive on user pointers given in args order.
  void run(const std::vector<void*>& ptrs);
};

// Fills arg.prim/needsReorder/reorderPrim once the primitive's preferred layout is known.
OpArg makeArg(int dnnlArg, bool isOutput, const dnnl::memory::desc& user, const dnnl::memory::desc& prim);

// Cache of ops keyed by op name + shape integers; build() is called only on a miss, with the
// thread count for `work` in effect: oneDNN fixes a primitive's thread split when it creates it.
template <typename Build>
CachedOp& cachedOp(const std::string& key, double work, Build build);

// Sets the OpenMP thread count for oneDNN's next primitive creation or execution; restores on exit.
struct ThreadScope {
  int saved;
  explicit ThreadScope(int n);
  void set(int n);
  ~ThreadScope();
};

// Threads for an op of `work` multiply-adds: 1 below a threshold, else the configured count.
int threadsForWork(double work);

size_t cacheSize();
void clearCache();

// Implementation detail of cachedOp (kept here so the template can use it).
std::unique_ptr<CachedOp>* cacheSlot(const std::string& key);

template <typename Build>
CachedOp& cachedOp(const std::string& key, double work, Build build) {
  std::unique_ptr<CachedOp>* slot = cacheSlot(key);
  if (!*slot) {
    ThreadScope threads(threadsForWork(work));
    *slot = std::make_unique<CachedOp>(build());
    (*slot)->work = work;
  }
  return **slot;
}

}  // namespace onednn_tfjs
