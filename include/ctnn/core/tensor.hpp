#pragma once
// Tensor<Shape, Device, T>: a batch of samples of a static shape, stored contiguously (NCHW for
// rank-3 shapes; NHWC on a device whose layout_v is Layout::nhwc, core/precision.hpp) on the heap or
// on a device. T defaults to the device's element type (float, or a 16-bit type on a device that
// runs Precision::bf16 / fp16). The capacity (maximum batch) is fixed at construction;
// the current batch can be any value up to it, so nothing is allocated after construction.
// A tensor built with `deferred` has a capacity but no storage yet: a network's memory plan binds it
// to a buffer it shares with others (bind()); one that nothing binds allocates its own at its first
// set_batch().

#include <cstddef>
#include <span>
#include <utility>

#include "device.hpp"
#include "error.hpp"
#include "precision.hpp"
#include "shape.hpp"

namespace ctnn {

struct deferred_t {
  explicit deferred_t() = default;
};
inline constexpr deferred_t deferred{};

template <ShapeType S, DeviceMemory D = Cpu, class T = element_t<D>>
class Tensor {
public:
  using shape = S;
  using device = D;
  using value_type = T;
  static constexpr std::size_t sample_size = S::size;

  Tensor() = default;
  // Storage for `capacity` samples; the batch starts at `capacity`.
  explicit Tensor(std::size_t capacity) : Tensor(capacity, capacity) {}
  Tensor(std::size_t capacity, std::size_t batch) : capacity_(capacity) {
    data_ = static_cast<T*>(D::allocate(capacity * S::size * sizeof(T), "tensor"));
    set_batch(batch);
  }
  // Storage for `capacity` samples, allocated later (see above).
  Tensor(std::size_t capacity, deferred_t) : capacity_(capacity), batch_(capacity), owned_(false) {}
  Tensor(const Tensor&) = delete;
  Tensor& operator=(const Tensor&) = delete;
  Tensor(Tensor&& o) noexcept { swap(o); }
  Tensor& operator=(Tensor&& o) noexcept {
    Tensor tmp(std::move(o));
    swap(tmp);
    return *this;
  }
  ~Tensor() {
    if (owned_) D::deallocate(data_);
  }

  void swap(Tensor& o) noexcept {
    std::swap(data_, o.data_);
    std::swap(capacity_, o.capacity_);
    std::swap(batch_, o.batch_);
    std::swap(owned_, o.owned_);
  }

  // Makes `storage` (capacity() samples, owned by the caller, e.g. a memory plan) this tensor's
  // storage, releasing its own.
  void bind(T* storage) noexcept {
    if (owned_) D::deallocate(data_);
    data_ = storage;
    owned_ = false;
  }
  // Whether the storage is this tensor's own (false when bound, or deferred and not yet allocated).
  bool owns_storage() const noexcept { return owned_ && data_; }
  std::size_t capacity_bytes() const noexcept { return capacity_ * S::size * sizeof(T); }

  std::size_t capacity() const noexcept { return capacity_; }
  std::size_t batch() const noexcept { return batch_; }
  std::size_t size() const noexcept { return batch_ * S::size; }
  std::size_t bytes() const noexcept { return size() * sizeof(T); }
  bool empty() const noexcept { return batch_ == 0; }

  void set_batch(std::size_t n) {
    if (n > capacity_)
      detail::fail("ctnn::Tensor<", S::str(), ">: batch ", n, " exceeds the capacity ", capacity_,
                   " it was allocated for");
    if (!data_ && capacity_) {  // deferred and never bound: allocate now
      data_ = static_cast<T*>(D::allocate(capacity_bytes(), "tensor"));
      owned_ = true;
    }
    batch_ = n;
  }

  T* data() noexcept { return data_; }
  const T* data() const noexcept { return data_; }
  T* sample(std::size_t n) noexcept { return data_ + n * S::size; }
  const T* sample(std::size_t n) const noexcept { return data_ + n * S::size; }

  void zero() { D::zero(data_, bytes()); }

  // Element access on host tensors: t(n, i0, i1, ...) with one index per dimension of S.
  template <class... I>
    requires(is_host_device_v<D> && sizeof...(I) == S::rank)
  T& operator()(std::size_t n, I... idx) noexcept { return data_[offset(n, idx...)]; }
  template <class... I>
    requires(is_host_device_v<D> && sizeof...(I) == S::rank)
  const T& operator()(std::size_t n, I... idx) const noexcept { return data_[offset(n, idx...)]; }

  std::span<T> span() noexcept requires is_host_device_v<D> { return {data_, size()}; }
  std::span<const T> span() const noexcept requires is_host_device_v<D> { return {data_, size()}; }

  void fill(T v) requires is_host_device_v<D> {
    for (std::size_t i = 0; i < size(); ++i) data_[i] = v;
  }

  // Copies a host buffer in; its length must be a whole number of samples within capacity.
  void copy_from(std::span<const T> host) requires is_host_device_v<D> {
    if (host.size() % S::size != 0)
      detail::fail("ctnn::Tensor<", S::str(), ">::copy_from: a buffer of ", host.size(),
                   " values is not a whole number of samples of ", S::size, " values");
    set_batch(host.size() / S::size);
    D::copy(data_, host.data(), host.size() * sizeof(T));
  }
  // Copies another tensor of the same shape and device (batch and contents).
  void copy_from(const Tensor& o) {
    set_batch(o.batch());
    D::copy(data_, o.data(), o.bytes());
  }

private:
  template <class... I>
  static std::size_t offset(std::size_t n, I... idx) noexcept {
    std::size_t off = n;
    std::size_t d = 0;
    ((off = off * S::dims[d++] + static_cast<std::size_t>(idx)), ...);
    return off;
  }

  T* data_ = nullptr;
  std::size_t capacity_ = 0;
  std::size_t batch_ = 0;
  bool owned_ = true;
};

template <class T>
struct is_tensor : std::false_type {};
template <class S, class D, class T>
struct is_tensor<Tensor<S, D, T>> : std::true_type {};
template <class T>
inline constexpr bool is_tensor_v = is_tensor<std::remove_cvref_t<T>>::value;

}  // namespace ctnn
