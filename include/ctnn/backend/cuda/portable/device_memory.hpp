#pragma once
// A count of the device memory ctnn holds, without a CUDA header (tests/cuda_host/device_memory.cpp).
// Cuda::allocate / Cuda::deallocate and the context's workspaces report to it.

#include <algorithm>
#include <cstddef>
#include <mutex>
#include <unordered_map>

namespace ctnn::cuda {

// The device memory ctnn holds (its allocations, the shared convolution workspace and cuBLAS's
// workspace; not what cuDNN or cuBLAS allocate for themselves): now and at its peak since the last
// reset_peak_device_memory(). Allocation is rare in ctnn (networks allocate once), so a map of
// sizes under a mutex is cheap enough.
struct DeviceMemory {
  std::size_t in_use = 0;
  std::size_t peak = 0;
};

namespace detail {
struct DeviceMemoryCount {
  std::mutex m;
  std::unordered_map<const void*, std::size_t> sizes;
  DeviceMemory bytes;
};
inline DeviceMemoryCount& device_memory_count() {
  static auto* c = new DeviceMemoryCount();  // never destroyed: frees may come during static destruction
  return *c;
}
inline void count_allocation(const void* p, std::size_t bytes) {
  auto& c = device_memory_count();
  std::lock_guard lock(c.m);
  c.sizes[p] = bytes;
  c.bytes.in_use += bytes;
  c.bytes.peak = std::max(c.bytes.peak, c.bytes.in_use);
}
inline void count_free(const void* p) noexcept {
  auto& c = device_memory_count();
  std::lock_guard lock(c.m);
  const auto it = c.sizes.find(p);
  if (it == c.sizes.end()) return;
  c.bytes.in_use -= it->second;
  c.sizes.erase(it);
}
}  // namespace detail

inline DeviceMemory device_memory() {
  auto& c = detail::device_memory_count();
  std::lock_guard lock(c.m);
  return c.bytes;
}
inline void reset_peak_device_memory() {
  auto& c = detail::device_memory_count();
  std::lock_guard lock(c.m);
  c.bytes.peak = c.bytes.in_use;
}

}  // namespace ctnn::cuda

