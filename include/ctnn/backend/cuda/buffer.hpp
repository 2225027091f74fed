#pragma once
// Device and pinned host buffers with RAII ownership.
//   cuda::DeviceBuffer<T>  cudaMalloc'd storage for n values (kernel scratch, saved statistics)
//   cuda::PinnedBuffer<T>  page-locked host memory (cudaMallocHost) that copies can read
//                          asynchronously: what a data loader fills for copy_from_host_async

#include "check.hpp"
#include "device.hpp"

#include <cstddef>
#include <span>
#include <utility>

#include "../../core/error.hpp"

namespace ctnn::cuda {

template <class T>
class DeviceBuffer {
public:
  DeviceBuffer() = default;
  explicit DeviceBuffer(std::size_t n, const char* what = "device buffer")
      : p_(static_cast<T*>(Cuda::allocate(n * sizeof(T), what))), n_(n) {}
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  DeviceBuffer(DeviceBuffer&& o) noexcept : p_(std::exchange(o.p_, nullptr)), n_(std::exchange(o.n_, 0)) {}
  DeviceBuffer& operator=(DeviceBuffer&& o) noexcept {
    if (this != &o) {
      Cuda::deallocate(p_);
      p_ = std::exchange(o.p_, nullptr);
      n_ = std::exchange(o.n_, 0);
    }
    return *this;
  }
  ~DeviceBuffer() { Cuda::deallocate(p_); }

  T* data() noexcept { return p_; }
  const T* data() const noexcept { return p_; }
  std::size_t size() const noexcept { return n_; }
  void zero() { Cuda::zero(p_, n_ * sizeof(T)); }

private:
  T* p_ = nullptr;
  std::size_t n_ = 0;
};

template <class T>
class PinnedBuffer {
public:
  PinnedBuffer() = default;
  explicit PinnedBuffer(std::size_t n) : n_(n) {
    if (n == 0) return;
    const cudaError_t e = cudaMallocHost(reinterpret_cast<void**>(&p_), n * sizeof(T));
    if (e != cudaSuccess) {
      (void)cudaGetLastError();
      p_ = nullptr;
      n_ = 0;
      ctnn::detail::fail("ctnn: could not allocate ", n * sizeof(T), " bytes of pinned host memory (cudaMallocHost: ",
                         cudaGetErrorString(e), ")");
    }
  }
  PinnedBuffer(const PinnedBuffer&) = delete;
  PinnedBuffer& operator=(const PinnedBuffer&) = delete;
  PinnedBuffer(PinnedBuffer&& o) noexcept : p_(std::exchange(o.p_, nullptr)), n_(std::exchange(o.n_, 0)) {}
  PinnedBuffer& operator=(PinnedBuffer&& o) noexcept {
    if (this != &o) {
      release();
      p_ = std::exchange(o.p_, nullptr);
      n_ = std::exchange(o.n_, 0);
    }
    return *this;
  }
  ~PinnedBuffer() { release(); }

  T* data() noexcept { return p_; }
  const T* data() const noexcept { return p_; }
  std::size_t size() const noexcept { return n_; }
  std::span<T> span() noexcept { return {p_, n_}; }
  std::span<const T> span() const noexcept { return {p_, n_}; }
  T& operator[](std::size_t i) noexcept { return p_[i]; }
  const T& operator[](std::size_t i) const noexcept { return p_[i]; }

private:
  void release() noexcept {
    if (p_ && cudaFreeHost(p_) != cudaSuccess) (void)cudaGetLastError();
    p_ = nullptr;
  }
  T* p_ = nullptr;
  std::size_t n_ = 0;
};

}  // namespace ctnn::cuda
