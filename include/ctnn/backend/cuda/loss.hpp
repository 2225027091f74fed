#pragma once
// Softmax cross-entropy on the GPU, with the semantics of ctnn::softmax_cross_entropy (PyTorch's
// CrossEntropyLoss, mean reduction, label smoothing): per sample, in double,
//   loss = log(sum_j exp(x_j - m)) - (1 - eps) (x_y - m) - eps / C * sum_j (x_j - m),  m = max_j x_j
//   grad = (softmax(x) - target) / N,  target = (1 - eps) onehot(y) + eps / C
// One warp per sample.
//
//   backend::cuda::Loss   the loss kernel of kernels<Cuda> (backend/contract.hpp):
//       ctnn::softmax_cross_entropy(logits, labels, grad) on Cuda tensors uploads the (host)
//       labels, runs the kernel and downloads the loss sum.
//   ctnn::cuda::softmax_cross_entropy_async(logits, labels, n, classes, eps, grad, loss_sum)
//       no host synchronisation: labels already in device memory, the loss SUM is added to
//       *loss_sum (a device double the caller zeroes and reads when it wants). For training loops
//       that should not wait for the GPU every step (and for CUDA-graph capture).
// Labels must lie in [0, classes): the hook's caller validates them on the host; the async
// variant does not check them.

#include "buffer.hpp"
#include "check.hpp"
#include "context.hpp"
#include "device.hpp"
#include "half.hpp"

#include <cstddef>
#include <cstdint>
#include <span>

namespace ctnn {

namespace cuda {

namespace detail {

template <class T>
__global__ void softmax_cross_entropy_kernel(const T* logits, const std::int32_t* labels, std::size_t n,
                                             std::size_t classes, double eps, T* grad, double* loss_sum) {
  const std::size_t warps = static_cast<std::size_t>(gridDim.x) * (blockDim.x / 32);
  const int lane = threadIdx.x & 31;
  const double off = eps / static_cast<double>(classes), on = 1.0 - eps + off;
  const double inv_n = 1.0 / static_cast<double>(n);
  for (std::size_t s = static_cast<std::size_t>(blockIdx.x) * (blockDim.x / 32) + threadIdx.x / 32; s < n; s += warps) {
    const T* x = logits + s * classes;
    T* g = grad + s * classes;
    double m = -INFINITY;
    for (std::size_t j = lane; j < classes; j += 32) m = fmax(m, static_cast<double>(load(x[j])));
    for (int o = 16; o > 0; o >>= 1) m = fmax(m, __shfl_xor_sync(0xffffffffu, m, o));
    double sum_exp = 0.0, sum_shifted = 0.0;
    for (std::size_t j = lane; j < classes; j += 32) {
      const double z = static_cast<double>(load(x[j])) - m;
      sum_exp += exp(z);
      sum_shifted += z;
    }
    for (int o = 16; o > 0; o >>= 1) {
      sum_exp += __shfl_xor_sync(0xffffffffu, sum_exp, o);
      sum_shifted += __shfl_xor_sync(0xffffffffu, sum_shifted, o);
    }
    const auto y = static_cast<std::size_t>(labels[s]);
    const double shifted_label = static_cast<double>(load(x[y])) - m;
    __syncwarp();  // every lane has read x before any lane writes g (they may alias)
    const double inv_sum = 1.0 / sum_exp;
    for (std::size_t j = lane; j < classes; j += 32) {
      const double p = exp(static_cast<double>(load(x[j])) - m) * inv_sum;
      g[j] = store<T>(static_cast<float>((p - (j == y ? on : off)) * inv_n));
    }
    if (lane == 0) atomicAdd(loss_sum, log(sum_exp) - (1.0 - eps) * shifted_label - off * sum_shifted);
  }
}

}  // namespace detail

template <class T>
void softmax_cross_entropy_async(const T* logits, const std::int32_t* labels, std::size_t n, std::size_t classes,
                                 float label_smoothing, T* grad, double* loss_sum) {
  if (n == 0) return;
  constexpr int block = 128;  // 4 samples per block
  const std::size_t blocks = (n + block / 32 - 1) / (block / 32);
  const unsigned grid = static_cast<unsigned>(blocks < 65535 ? blocks : 65535);
  detail::softmax_cross_entropy_kernel<T><<<grid, block, 0, context().stream()>>>(
      logits, labels, n, classes, static_cast<double>(label_smoothing), grad, loss_sum);
  CTNN_CUDA_CHECK_LAUNCH("ctnn::cuda::softmax_cross_entropy_kernel");
}

}  // namespace cuda

namespace backend::cuda {

// The loss kernel of kernels<Cuda>: ctnn::softmax_cross_entropy(logits, labels, grad) on Cuda
// tensors uploads the (host) labels, runs the kernel and downloads the loss sum. T: the logits'
// element type (16-bit logits are read and the gradient written through cuda::load / store).
template <class T>
struct CrossEntropy {
  static double softmax_cross_entropy_sum(const T* logits, std::span<const std::int32_t> labels, std::size_t classes,
                                          float label_smoothing, T* grad) {
    struct Scratch {
      ctnn::cuda::DeviceBuffer<std::int32_t> labels;
      ctnn::cuda::DeviceBuffer<double> sum{1, "the loss sum"};
    };
    static Scratch* scratch = new Scratch();  // grows with the batch; never destroyed (see context.hpp)
    if (scratch->labels.size() < labels.size())
      scratch->labels = ctnn::cuda::DeviceBuffer<std::int32_t>(labels.size(), "the loss labels");
    Cuda::upload(scratch->labels.data(), labels.data(), labels.size_bytes());
    scratch->sum.zero();
    ctnn::cuda::softmax_cross_entropy_async(logits, scratch->labels.data(), labels.size(), classes, label_smoothing, grad,
                                            scratch->sum.data());
    double total = 0.0;
    Cuda::download(&total, scratch->sum.data(), sizeof(double));
    return total;
  }
};

using Loss = CrossEntropy<float>;

}  // namespace backend::cuda

}  // namespace ctnn
