// A parallel-for for the memory-bound elementwise kernels that cannot stall when the machine is
// shared. OpenMP's fork-join makes the caller wait at a barrier for every team thread, so a helper
// thread that another process has descheduled stalls the op for a whole time slice (measured: 10-40x
// slower elementwise ops under load). Here the calling thread claims chunks itself and helpers only
// join in while they are actually running: a descheduled helper costs at most the one chunk it holds.
#pragma once
#include <cstdint>
#include <functional>

namespace onednn_tfjs {

// Calls f(begin, end) over [0, n) in pieces of about `grain` (the last may be shorter). With one
// configured thread, or n <= grain, f(0, n) runs on the caller.
void parallelFor(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& f);

// Helpers used by parallelFor: numThreads() - 1, started on first use.
void setElementwiseHelpers(int n);

}  // namespace onednn_tfjs
