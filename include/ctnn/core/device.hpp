#pragma once
// Devices. A device is a tag type that owns a memory space; its static functions are the memory
// and transfer families of the backend contract:
//   allocate(bytes, what) -> void*   deallocate(p)   copy(dst, src, bytes)   zero(dst, bytes)
//   upload(dst, host, bytes)         download(host, src, bytes)
//   name (for messages)              host_accessible (whether the host may read its pointers)
// ctnn::Device<D> states them; backend/contract.hpp checks them together with the device's kernels
// where the device registers. ctnn::Cpu is the host; ctnn::Cuda (backend/cuda/device.hpp) exists
// where CTNN_HAS_CUDA is 1.

#include <concepts>
#include <cstddef>
#include <cstring>
#include <type_traits>

#include "memory.hpp"

namespace ctnn {

// How a forward pass runs. train: batch statistics (updated running statistics), dropout masks.
// eval: running statistics, no dropout; backward may follow (gradients in evaluation mode, with
// respect to the input for example). inference: eval's results for a forward that no backward
// follows, so layers may keep less and fuse: a convolution applies the batch norm after it, a ReLU
// after that, and a residual block's add, as it writes its output (Seq, Residual; on devices whose
// kernel can). backward after it throws ctnn::Error.
enum class Mode { train, eval, inference };

template <class D>
concept DeviceMemory = requires(void* p, const void* src, std::size_t bytes, const char* what) {
  { D::name } -> std::convertible_to<const char*>;
  { D::host_accessible } -> std::convertible_to<bool>;
  { D::allocate(bytes, what) } -> std::same_as<void*>;
  { D::deallocate(p) } noexcept;
  D::copy(p, src, bytes);
  D::zero(p, bytes);
};

template <class D>
concept DeviceTransfers = requires(void* p, const void* src, std::size_t bytes) {
  D::upload(p, src, bytes);
  D::download(p, src, bytes);
};

template <class D>
concept Device = DeviceMemory<D> && DeviceTransfers<D>;

struct Cpu {
  static constexpr const char* name = "cpu";
  static constexpr bool host_accessible = true;
  static void* allocate(std::size_t bytes, const char* what) { return detail::host_allocate(bytes, what); }
  static void deallocate(void* p) noexcept { detail::host_deallocate(p); }
  static void copy(void* dst, const void* src, std::size_t bytes) {
    if (bytes) std::memcpy(dst, src, bytes);
  }
  static void upload(void* dst, const void* host, std::size_t bytes) { copy(dst, host, bytes); }
  static void download(void* host, const void* src, std::size_t bytes) { copy(host, src, bytes); }
  static void zero(void* dst, std::size_t bytes) {
    if (bytes) std::memset(dst, 0, bytes);
  }
};

// Whether the host may dereference D's pointers (element access on tensors, no staging copies).
template <class D>
inline constexpr bool is_host_device_v = [] {
  if constexpr (requires { D::host_accessible; })
    return bool(D::host_accessible);
  else
    return false;
}();

}  // namespace ctnn
