#pragma once
// ctnn::Cuda: the device tag for NVIDIA GPUs, with the same static interface as ctnn::Cpu.
// Pointers it hands out are device pointers (cudaMalloc; never managed memory). Copies and fills
// are enqueued on the context's stream, so they are ordered with every ctnn kernel:
//   copy      device -> device, asynchronous
//   upload    host -> device; returns when the host buffer may be reused (the stream is synchronised:
//             for setting up; a training step's inputs go through cuda::DeviceLoader instead)
//   download  device -> host; returns when the data has arrived
// Both are counted host waits (cuda::host_waits()).
//   zero      asynchronous fill with zero bytes

#include "check.hpp"
#include "context.hpp"
#include "portable/device_memory.hpp"

#include <cstddef>

#include "../../core/device.hpp"
#include "../../core/error.hpp"

namespace ctnn {

struct Cuda {
  static constexpr const char* name = "cuda";
  static constexpr bool host_accessible = false;

  static void* allocate(std::size_t bytes, const char* what) {
    if (bytes == 0) return nullptr;
    void* p = nullptr;
    const cudaError_t e = cudaMalloc(&p, bytes);
    if (e == cudaSuccess) {
      cuda::detail::count_allocation(p, bytes);
      return p;
    }
    (void)cudaGetLastError();
    if (e == cudaErrorMemoryAllocation) {
      std::size_t free_bytes = 0, total_bytes = 0;
      const bool known = cudaMemGetInfo(&free_bytes, &total_bytes) == cudaSuccess;
      (void)cudaGetLastError();
      int dev = 0;
      (void)cudaGetDevice(&dev);
      if (known)
        detail::fail("ctnn: out of GPU memory: could not allocate ", bytes, " bytes (", bytes >> 20, " MiB) for ", what,
                     " on GPU ", dev, "; ", free_bytes >> 20, " MiB of ", total_bytes >> 20, " MiB are free");
      detail::fail("ctnn: out of GPU memory: could not allocate ", bytes, " bytes (", bytes >> 20, " MiB) for ", what,
                   " on GPU ", dev);
    }
    detail::fail("ctnn: cudaMalloc of ", bytes, " bytes for ", what, " failed: ", cudaGetErrorName(e), ": ",
                 cudaGetErrorString(e));
  }

  // Never throws: errors while the process shuts down (the runtime may already be unloading) are
  // ignored.
  static void deallocate(void* p) noexcept {
    if (!p) return;
    cuda::detail::count_free(p);
    if (cudaFree(p) != cudaSuccess) (void)cudaGetLastError();
  }

  static void copy(void* dst, const void* src, std::size_t bytes) {
    if (!bytes || dst == src) return;
    CTNN_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice, cuda::context().stream()));
  }

  // Returns when every piece of work enqueued so far has finished (a counted host wait): the
  // profiler's layer clocks read the time after it, so each layer's time is its own work.
  static void synchronize() { cuda::context().synchronize("ctnn::Cuda::synchronize"); }

  static void upload(void* dst, const void* host, std::size_t bytes) {
    if (!bytes) return;
    auto& ctx = cuda::context();
    CTNN_CUDA_CHECK(cudaMemcpyAsync(dst, host, bytes, cudaMemcpyHostToDevice, ctx.stream()));
    ctx.synchronize("ctnn::Cuda::upload");
  }

  static void download(void* host, const void* src, std::size_t bytes) {
    if (!bytes) return;
    auto& ctx = cuda::context();
    CTNN_CUDA_CHECK(cudaMemcpyAsync(host, src, bytes, cudaMemcpyDeviceToHost, ctx.stream()));
    ctx.synchronize("ctnn::Cuda::download");
  }

  static void zero(void* dst, std::size_t bytes) {
    if (!bytes) return;
    CTNN_CUDA_CHECK(cudaMemsetAsync(dst, 0, bytes, cuda::context().stream()));
  }
};

}  // namespace ctnn
