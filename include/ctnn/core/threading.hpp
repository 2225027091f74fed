#pragma once
// Threading: ctnn parallelises over the batch with OpenMP when the compiler has it (the ctnn::ctnn
// CMake target adds it) and runs serially otherwise.

#include <algorithm>
#include <cstddef>

#include "config.hpp"

#if CTNN_HAS_OPENMP
#include <omp.h>
#endif

namespace ctnn {

// Threads used by ctnn's CPU kernels (OpenMP's setting; 1 without OpenMP).
inline int num_threads() {
#if CTNN_HAS_OPENMP
  return omp_get_max_threads();
#else
  return 1;
#endif
}

inline void set_num_threads(int n) {
#if CTNN_HAS_OPENMP
  omp_set_num_threads(std::max(1, n));
#else
  (void)n;
#endif
}

namespace detail {

// The threads a kernel sized for `workers` threads (its per-thread workspaces) runs now: OpenMP's
// setting may have dropped since it was built. At least 1.
inline int active_workers(int workers) { return std::max(1, std::min(workers, num_threads())); }

// The threads that share `items` independent pieces of work: no more than there are pieces.
inline int team_size(std::size_t items, int workers) {
  return static_cast<int>(std::max<std::size_t>(1, std::min<std::size_t>(items, static_cast<std::size_t>(active_workers(workers)))));
}

// Calls f(i, worker) for i in [0, n), spread over at most `workers` threads; worker < workers
// indexes per-thread workspaces allocated up front.
template <class F>
void parallel_for(std::size_t n, int workers, F&& f) {
  const int t = team_size(n, workers);
#if CTNN_HAS_OPENMP
  if (t > 1) {
#pragma omp parallel for schedule(static) num_threads(t)
    for (std::ptrdiff_t i = 0; i < static_cast<std::ptrdiff_t>(n); ++i)
      f(static_cast<std::size_t>(i), omp_get_thread_num());
    return;
  }
#endif
  (void)t;
  for (std::size_t i = 0; i < n; ++i) f(i, 0);
}

// Calls f(worker, begin, end) once per thread over a static partition of [0, n).
template <class F>
void parallel_chunks(std::size_t n, int workers, F&& f) {
  const int t = team_size(n, workers);
#if CTNN_HAS_OPENMP
  if (t > 1) {
#pragma omp parallel num_threads(t)
    {
      const int w = omp_get_thread_num();
      const int nt = omp_get_num_threads();
      const std::size_t begin = n * static_cast<std::size_t>(w) / static_cast<std::size_t>(nt);
      const std::size_t end = n * static_cast<std::size_t>(w + 1) / static_cast<std::size_t>(nt);
      f(w, begin, end);
    }
    return;
  }
#endif
  (void)t;
  f(0, std::size_t{0}, n);
}

}  // namespace detail
}  // namespace ctnn
