#pragma once
// Moving tensor contents between the host and any device, through the device's upload and download
// (so the same calls serve Cpu, Cuda and a user's device):
//   copy_from_host(t, host_span)     t's batch becomes host.size() / sample size
//   copy_to_host(t, host_span)       the first t.size() values
//   to_host(t) -> std::vector<T>
//   on_device(host_tensor, staging)  a host tensor as an input on device D: the tensor itself on
//                                    the CPU, otherwise its copy uploaded into `staging`
//   host_view<D>(p, n, staging)      n floats of D's memory readable on the host: p itself where D is
//                                    host-accessible, otherwise a copy downloaded into `staging`
// Uploads and downloads return when the host buffer may be reused or read (see the device).

#include <cstddef>
#include <span>
#include <vector>

#include "device.hpp"
#include "error.hpp"
#include "tensor.hpp"

namespace ctnn {

namespace detail {
template <class S>
std::size_t whole_samples(const char* who, std::size_t values) {
  if (values % S::size != 0)
    fail("ctnn::", who, ": a buffer of ", values, " values is not a whole number of samples of ", S::str(), " (",
         S::size, " values)");
  return values / S::size;
}
}  // namespace detail

template <ShapeType S, class D, class T>
void copy_from_host(Tensor<S, D, T>& t, std::span<const T> host) {
  t.set_batch(detail::whole_samples<S>("copy_from_host", host.size()));
  D::upload(t.data(), host.data(), host.size() * sizeof(T));
}

template <ShapeType S, class D, class T>
void copy_to_host(const Tensor<S, D, T>& t, std::span<T> host) {
  if (host.size() < t.size())
    detail::fail("ctnn::copy_to_host: the host buffer holds ", host.size(), " values, the tensor ", t.size());
  D::download(host.data(), t.data(), t.bytes());
}

template <ShapeType S, class D, class T>
std::vector<T> to_host(const Tensor<S, D, T>& t) {
  std::vector<T> host(t.size());
  copy_to_host(t, std::span<T>(host));
  return host;
}

template <ShapeType S, class D, class T>
const Tensor<S, D, T>& on_device(const Tensor<S, Cpu, T>& host, Tensor<S, D, T>& staging) {
  staging.set_batch(host.batch());
  D::upload(staging.data(), host.data(), host.bytes());
  return staging;
}
template <ShapeType S, class T>
const Tensor<S, Cpu, T>& on_device(const Tensor<S, Cpu, T>& host, Tensor<S, Cpu, T>&) {
  return host;
}

template <class D, class T>
const T* host_view(const T* p, std::size_t n, std::vector<T>& staging) {
  if constexpr (is_host_device_v<D>) {
    return p;
  } else {
    if (staging.size() < n) staging.resize(n);
    D::download(staging.data(), p, n * sizeof(T));
    return staging.data();
  }
}

}  // namespace ctnn
