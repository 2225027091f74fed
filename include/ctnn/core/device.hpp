#pragma once
// Device tags and the training/evaluation mode. ctnn::Cuda lives in backend/cuda/device.hpp and
// exists only where CTNN_HAS_CUDA is 1.

#include <cstddef>
#include <cstring>
#include <type_traits>

#include "memory.hpp"

namespace ctnn {

enum class Mode { train, eval };

struct Cpu {
  static constexpr const char* name = "cpu";
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

template <class D>
inline constexpr bool is_host_device_v = std::is_same_v<D, Cpu>;

}  // namespace ctnn
