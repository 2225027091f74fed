#pragma once
// Aligned host allocation, a count of the bytes it holds, growable scratch buffers, and the
// workspace of a kernel (scratch used only inside one call, which a memory plan lets every kernel
// of a network share). Everything goes through operator new so that allocation-counting tests see it.

#include <atomic>
#include <cstddef>
#include <new>

#include "error.hpp"

namespace ctnn {

namespace detail {

inline constexpr std::size_t host_alignment = 64;  // one cache line, one AVX-512 vector

// Bytes currently held by host_allocate, over all threads.
inline std::atomic<std::size_t>& host_bytes_counter() {
  static std::atomic<std::size_t> bytes{0};
  return bytes;
}

// Each block starts with one cache line holding its size, so that deallocation can count it.
inline void* host_allocate(std::size_t bytes, const char* what = "tensor") {
  if (bytes == 0) return nullptr;
  try {
    auto* base = static_cast<std::byte*>(::operator new(bytes + host_alignment, std::align_val_t{host_alignment}));
    *reinterpret_cast<std::size_t*>(base) = bytes;
    host_bytes_counter().fetch_add(bytes, std::memory_order_relaxed);
    return base + host_alignment;
  } catch (const std::bad_alloc&) {
    fail("ctnn: out of host memory: could not allocate ", bytes, " bytes for ", what);
  }
}

inline void host_deallocate(void* p) noexcept {
  if (!p) return;
  std::byte* base = static_cast<std::byte*>(p) - host_alignment;
  host_bytes_counter().fetch_sub(*reinterpret_cast<std::size_t*>(base), std::memory_order_relaxed);
  ::operator delete(base, std::align_val_t{host_alignment});
}

inline constexpr std::size_t align_up(std::size_t bytes, std::size_t alignment = host_alignment) {
  return (bytes + alignment - 1) / alignment * alignment;
}

// A growable, aligned scratch buffer of T. Grows, never shrinks.
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
  std::size_t bytes() const noexcept { return cap_ * sizeof(T); }

private:
  T* ptr_ = nullptr;
  std::size_t cap_ = 0;
};

// The scratch memory of one kernel that lives only during one of its calls (im2col columns,
// Winograd's transformed tiles), as one block of named parts. A network's memory plan points the
// blocks of all its kernels at one shared arena sized by the largest (layers run one at a time);
// a kernel used on its own allocates its block at its first call (ready()).
class Workspace {
public:
  // A part of `count` T's at a fixed offset in the block.
  template <class T>
  struct Part {
    std::size_t offset = 0, count = 0;
  };

  Workspace() = default;
  Workspace(const Workspace&) = delete;
  Workspace& operator=(const Workspace&) = delete;
  Workspace(Workspace&& o) noexcept : bytes_(o.bytes_), base_(o.base_), own_(o.own_) { o.base_ = o.own_ = nullptr; }
  Workspace& operator=(Workspace&&) = delete;
  ~Workspace() { host_deallocate(own_); }

  // Adds a part (before the block is bound or allocated).
  template <class T>
  Part<T> add(std::size_t count) {
    if (base_) fail("ctnn::detail::Workspace::add: the workspace is already in use");
    const Part<T> p{bytes_, count};
    bytes_ += align_up(count * sizeof(T));
    return p;
  }
  template <class T>
  T* operator[](Part<T> p) noexcept { return reinterpret_cast<T*>(base_ + p.offset); }

  std::size_t bytes() const noexcept { return bytes_; }
  // Uses `arena` (at least bytes() long, owned by the caller) instead of a block of its own.
  void bind(std::byte* arena) noexcept {
    host_deallocate(own_);
    own_ = nullptr;
    base_ = arena;
  }
  // Allocates the block if nothing was bound; kernels call it before their first use of a part.
  void ready() {
    if (!base_ && bytes_) base_ = own_ = static_cast<std::byte*>(host_allocate(bytes_, "workspace"));
  }

private:
  std::size_t bytes_ = 0;
  std::byte* base_ = nullptr;
  std::byte* own_ = nullptr;
};

}  // namespace detail

// Bytes of host memory ctnn holds now (tensors, workspaces, memory plans), over all networks.
inline std::size_t host_memory_in_use() noexcept {
  return detail::host_bytes_counter().load(std::memory_order_relaxed);
}

}  // namespace ctnn
