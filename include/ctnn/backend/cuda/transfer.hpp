#pragma once
// Asynchronous uploads from pinned host memory (the device-generic copy_from_host, copy_to_host
// and to_host are in core/transfer.hpp):
//   copy_from_host_async(t, pinned, n)  enqueues the copy of n values from a pinned buffer on the
//                                       context stream; keep the buffer unchanged until the stream
//                                       has passed it (e.g. the next step's sync)

#include "buffer.hpp"
#include "check.hpp"
#include "context.hpp"
#include "device.hpp"

#include <cstddef>

#include "../../core/error.hpp"
#include "../../core/tensor.hpp"
#include "../../core/transfer.hpp"

namespace ctnn {

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
