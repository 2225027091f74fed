#pragma once
// cuda::StepMetrics: a training step's loss and accuracy accumulated on the device, read once per
// log interval. accumulate() is one kernel: per sample (one thread each) softmax cross-entropy with
// label smoothing, its gradient into `grad`, and the top-1 hit (portable/cross_entropy_row.hpp);
// per block the loss sum and the hits are reduced and added to device totals. Nothing waits for the
// host, so it can run inside a captured CUDA graph. read() downloads the totals (one counted host
// wait) and, by default, zeroes them for the next interval.
//
//   cuda::StepMetrics metrics;
//   metrics.accumulate(logits.data(), labels_on_device, n, classes, smoothing, grad.data());
//   ...
//   const auto t = metrics.read();   // t.mean_loss(), t.accuracy(), t.samples, t.steps
//
// Labels must lie in [0, classes) (cuda::DeviceLoader writes only dataset labels, which the
// dataset validated); a non-finite loss shows as a non-finite mean at read().

#include "buffer.hpp"
#include "check.hpp"
#include "context.hpp"
#include "device.hpp"
#include "launch.hpp"
#include "portable/cross_entropy_row.hpp"

#include <cstddef>
#include <cstdint>

namespace ctnn::cuda {

struct MetricTotals {
  double loss_sum = 0;                 // sum of the per-sample losses
  unsigned long long correct = 0;      // top-1 hits
  unsigned long long samples = 0;
  unsigned long long steps = 0;        // accumulate() calls
  double mean_loss() const { return samples ? loss_sum / double(samples) : 0.0; }
  double accuracy() const { return samples ? double(correct) / double(samples) : 0.0; }
};

namespace detail {

template <class T>
__global__ void cross_entropy_metrics(const T* logits, const std::int32_t* labels, std::size_t n, std::size_t classes,
                                      double eps, T* grad, const float* grad_scale, MetricTotals* totals) {
  const std::size_t s = static_cast<std::size_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  double loss = 0.0;
  unsigned long long hit = 0;
  if (s < n) {
    const double scale = grad_scale ? static_cast<double>(*grad_scale) : 1.0;
    const CrossEntropyRow r = cross_entropy_row(logits + s * classes, classes, static_cast<std::size_t>(labels[s]), eps,
                                                scale / static_cast<double>(n), grad + s * classes);
    loss = r.loss;
    hit = r.correct ? 1 : 0;
  }
  loss = block_sum(loss);
  hit = block_sum(hit);
  if (threadIdx.x == 0) {
    atomicAdd(&totals->loss_sum, loss);
    atomicAdd(&totals->correct, hit);
    if (blockIdx.x == 0) {
      atomicAdd(&totals->samples, static_cast<unsigned long long>(n));
      atomicAdd(&totals->steps, 1ull);
    }
  }
}

}  // namespace detail

class StepMetrics {
public:
  StepMetrics() : totals_(1, "the step metrics") { totals_.zero(); }

  // Loss, gradient (`grad` may be `logits`) and hits of n samples; labels in device memory. With
  // `grad_scale` (device memory: an fp16 network's loss scale) the gradient is multiplied by it.
  template <class T>
  void accumulate(const T* logits, const std::int32_t* labels, std::size_t n, std::size_t classes, float label_smoothing,
                  T* grad, const float* grad_scale = nullptr) {
    if (n == 0) return;
    constexpr unsigned block = 128;
    const auto grid = static_cast<unsigned>((n + block - 1) / block);
    detail::cross_entropy_metrics<T><<<grid, block, 0, context().stream()>>>(
        logits, labels, n, classes, static_cast<double>(label_smoothing), grad, grad_scale, totals_.data());
    CTNN_CUDA_CHECK_LAUNCH("ctnn::cuda::cross_entropy_metrics");
  }

  // The totals since the last reset (one host wait); zeroes them unless `reset` is false.
  MetricTotals read(bool reset = true) {
    MetricTotals t;
    Cuda::download(&t, totals_.data(), sizeof t);
    if (reset) totals_.zero();
    return t;
  }

  void reset() { totals_.zero(); }

private:
  DeviceBuffer<MetricTotals> totals_;
};

}  // namespace ctnn::cuda
