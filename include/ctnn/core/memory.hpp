#pragma once
// Aligned host allocation. Everything goes through operator new so that allocation-counting
// tests see it.

#include <cstddef>
#include <new>

#include "error.hpp"

namespace ctnn::detail {

inline constexpr std::size_t host_alignment = 64;  // one cache line, one AVX-512 vector

inline void* host_allocate(std::size_t bytes, const char* what = "tensor") {
  if (bytes == 0) return nullptr;
  try {
    return ::operator new(bytes, std::align_val_t{host_alignment});
  } catch (const std::bad_alloc&) {
    fail("ctnn: out of host memory: could not allocate ", bytes, " bytes for ", what);
  }
}

inline void host_deallocate(void* p) noexcept {
  if (p) ::operator delete(p, std::align_val_t{host_alignment});
}

// A growable, aligned scratch buffer of T (workspaces). Grows, never shrinks.
template <class T>
class Scratch {
public:
  Scratch() = default;
  explicit Scratch(std::size_t n) { reserve(n); }
  Scratch(const Scratch&) = delete;
  Scratch& operator=(const Scratch&) = delete;
  Scratch(Scratch&& o) noexcept : ptr_(o.ptr_), cap_(o.cap_) { o.ptr_ = nullptr; o.cap_ = 0; }
  Scratch& operator=(Scratch&& o) noexcept {
    if (this != &o) {
      host_deallocate(ptr_);
      ptr_ = o.ptr_; cap_ = o.cap_;
      o.ptr_ = nullptr; o.cap_ = 0;
    }
    return *this;
  }
  ~Scratch() { host_deallocate(ptr_); }

  void reserve(std::size_t n) {
    if (n <= cap_) return;
    T* fresh = static_cast<T*>(host_allocate(n * sizeof(T), "workspace"));
    host_deallocate(ptr_);
    ptr_ = fresh;
    cap_ = n;
  }
  T* data() noexcept { return ptr_; }
  const T* data() const noexcept { return ptr_; }
  std::size_t capacity() const noexcept { return cap_; }

private:
  T* ptr_ = nullptr;
  std::size_t cap_ = 0;
};

}  // namespace ctnn::detail
