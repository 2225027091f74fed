#pragma once
// Moving tensor contents between the host and a device (any device tag, so device-generic code can
// use the same calls for Cpu and Cuda):
//   copy_from_host(t, host_span)        t's batch becomes host.size() / sample size; synchronous
//   copy_to_host(t, host_span)          the first t.size() values; synchronous
//   to_host(t) -> std::vector<T>
//   copy_from_host_async(t, pinned, n)  Cuda only: enqueues the copy of n values from a pinned
//                                       buffer on the context stream; keep the buffer unchanged
//                                       until the stream has passed it (e.g. the next step's sync)

#include "buffer.hpp"
#include "check.hpp"
#include "context.hpp"
#include "device.hpp"

#include <cstddef>
#include <span>
#include <vector>

#include "../../core/error.hpp"
#include "../../core/tensor.hpp"

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

template <ShapeType S, class T>
void copy_from_host_async(Tensor<S, Cuda, T>& t, const cuda::PinnedBuffer<T>& pinned, std::size_t n) {
  if (n > pinned.size())
    detail::fail("ctnn::copy_from_host_async: ", n, " values requested from a pinned buffer of ", pinned.size());
  t.set_batch(detail::whole_samples<S>("copy_from_host_async", n));
  if (n)
    CTNN_CUDA_CHECK(cudaMemcpyAsync(t.data(), pinned.data(), n * sizeof(T), cudaMemcpyHostToDevice,
                                    cuda::context().stream()));
}

}  // namespace ctnn
