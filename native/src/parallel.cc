#include "parallel.h"

#include <atomic>
#include <cstdlib>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>

#include "context.h"

namespace onednn_tfjs {

namespace {

struct Job {
  const std::function<void(int64_t, int64_t)>* f;
  int64_t n, grain, pieces;
  std::atomic<int64_t> next{0};
  int refs = 0;  // helpers working on it (guarded by Pool::m)
};

void work(Job& j) {
  for (int64_t p; (p = j.next.fetch_add(1, std::memory_order_relaxed)) < j.pieces;) {
    int64_t b = p * j.grain, e = b + j.grain < j.n ? b + j.grain : j.n;
    (*j.f)(b, e);
  }
}

struct Pool {
  std::mutex m;
  std::condition_variable wake, done;
  Job* current = nullptr;
  uint64_t gen = 0;
  std::vector<std::thread> helpers;

  void helperLoop() {
    uint64_t seen = 0;
    std::unique_lock<std::mutex> lock(m);
    for (;;) {
      wake.wait(lock, [&] { return gen != seen; });
      seen = gen;
      Job* j = current;
      if (!j) continue;
      j->refs++;
      lock.unlock();
      work(*j);
      lock.lock();
      if (--j->refs == 0) done.notify_all();
    }
  }

  void ensure(int n) {
    while (int(helpers.size()) < n) {
      helpers.emplace_back([this] { helperLoop(); });
      helpers.back().detach();  // lives as long as the process
    }
  }
};

Pool& pool() {
  static Pool* p = new Pool();  // never destroyed: detached helpers may still wait on it at exit
  return *p;
}

// DIFFUSION_ELEMENTWISE_THREADS (experiment knob): threads for these kernels; default all of oneDNN's.
int initialHelpers() {
  const char* e = std::getenv("DIFFUSION_ELEMENTWISE_THREADS");
  return e && std::atoi(e) >= 1 ? std::atoi(e) - 1 : -1;
}

int wantedHelpers = initialHelpers();

}  // namespace

void setElementwiseHelpers(int n) { wantedHelpers = n < 0 ? 0 : n; }

void parallelFor(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& f) {
  if (n <= 0) return;
  if (grain < 1) grain = 1;
  int helpers = wantedHelpers >= 0 ? wantedHelpers : numThreads() - 1;
  if (helpers <= 0 || n <= grain) {
    f(0, n);
    return;
  }
  Pool& P = pool();
  Job j;
  j.f = &f;
  j.n = n;
  j.grain = grain;
  j.pieces = (n + grain - 1) / grain;
  {
    std::lock_guard<std::mutex> lock(P.m);
    P.ensure(helpers);
    P.current = &j;
    P.gen++;
  }
  P.wake.notify_all();
  work(j);
  std::unique_lock<std::mutex> lock(P.m);
  P.current = nullptr;
  P.done.wait(lock, [&] { return j.refs == 0; });
}

}  // namespace onednn_tfjs
