#pragma once
// A count of the times ctnn made the host wait for the GPU (no CUDA header: the counting itself is
// tested on the CPU, tests/cuda_host/host_waits.cpp). Every wait ctnn's CUDA backend makes goes
// through count_host_wait(why) first: a stream synchronisation (Context::synchronize, and so
// Cuda::upload / Cuda::download and every read of a device value), an event wait
// (cuda::detail::wait_for). A training step meant to run without waiting is checked by counting:
//
//   const auto before = cuda::host_waits();
//   for (...) step();                       // then read the metrics once
//   CHECK(cuda::host_waits() - before <= 1);
//
// Waits the CUDA runtime makes by itself (cudaFree, a copy from pageable memory) are not counted;
// a step that never allocates or copies from pageable memory has none. last_host_wait() says what
// the most recent one was for.

#include <atomic>
#include <cstdint>

namespace ctnn::cuda {

namespace detail {

struct HostWaitCounter {
  std::atomic<std::uint64_t> count{0};
  std::atomic<const char*> last{""};
};

inline HostWaitCounter& host_wait_counter() noexcept {
  static HostWaitCounter counter;
  return counter;
}

// Called by ctnn right before it blocks the host on the GPU; `why` is a string literal.
inline void count_host_wait(const char* why) noexcept {
  auto& c = host_wait_counter();
  c.last.store(why, std::memory_order_relaxed);
  c.count.fetch_add(1, std::memory_order_relaxed);
}

}  // namespace detail

// Host waits ctnn has made in this process so far.
inline std::uint64_t host_waits() noexcept { return detail::host_wait_counter().count.load(std::memory_order_relaxed); }

// What the most recent host wait was for ("" before the first).
inline const char* last_host_wait() noexcept { return detail::host_wait_counter().last.load(std::memory_order_relaxed); }

}  // namespace ctnn::cuda
