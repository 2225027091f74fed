#pragma once
// cuda::DeviceStep: a training step on the GPU during which the host never waits.
//
//   cuda::DeviceLoader<Shape<3, 32, 32>> loader(train_set, data::LoaderOptions::training(1, 512));
//   cuda::DeviceStep step(net, optimizer, loader, /*label_smoothing=*/0.f);
//   for (std::size_t t = 0; t < steps; ++t) {
//     optimizer.lr = schedule(t);
//     step();                                     // or cuda::CapturedStep graph([&] { step(); })
//     if ((t + 1) % 100 == 0) report(step.read());   // the one host wait of the interval
//   }
//
// One step: the next batch augmented on the GPU (cuda::DeviceLoader), forward in training mode,
// softmax cross-entropy with its gradient and the top-1 hits accumulated on the device
// (cuda::StepMetrics), zero_grad (one memset), backward, and the optimizer's update (one
// multi-tensor launch). Nothing is allocated, uploaded or read back, so the step can also be
// captured as a CUDA graph and replayed (graph.hpp). read() returns the mean loss and accuracy
// since the last read(); a non-finite loss shows there, not at the step that produced it.

#include "../core/config.hpp"
#if !CTNN_HAS_CUDA || !defined(__CUDACC__)
#error "ctnn/train/device_step.hpp needs nvcc (CTNN_HAS_CUDA == 1)"
#endif

#include <cstddef>
#include <cstdint>
#include <type_traits>

#include "../backend/cuda/buffer.hpp"
#include "../backend/cuda/device.hpp"
#include "../backend/cuda/step_metrics.hpp"
#include "../core/device.hpp"
#include "../core/error.hpp"
#include "../core/tensor.hpp"
#include "../data/device_loader.hpp"

namespace ctnn::cuda {

template <class Net, class Opt>
class DeviceStep {
  using In = typename Net::input_shape;
  using Out = typename Net::output_shape;
  static_assert(std::is_same_v<typename Net::device, Cuda>, "ctnn::cuda::DeviceStep: the network must be on ctnn::Cuda");
  static_assert(Out::rank == 1, "ctnn::cuda::DeviceStep: the network must output one logit per class");

public:
  DeviceStep(Net& net, Opt& optimizer, DeviceLoader<In>& loader, float label_smoothing = 0.f)
      : net_(net), opt_(optimizer), loader_(loader), smoothing_(label_smoothing), x_(loader.batch()), grad_(loader.batch()),
        labels_(loader.batch(), "the device step's labels") {
    if (loader.batch() > net.max_batch())
      ctnn::detail::fail("ctnn::cuda::DeviceStep: the loader's batch ", loader.batch(), " exceeds the network's max_batch ",
                         net.max_batch());
    if (!(label_smoothing >= 0.f && label_smoothing <= 1.f))
      ctnn::detail::fail("ctnn::cuda::DeviceStep: label_smoothing = ", label_smoothing, " is outside [0, 1]");
  }

  void operator()() {
    loader_.next(x_, labels_.data());
    const auto& logits = net_.forward(x_, Mode::train);
    grad_.set_batch(logits.batch());
    metrics_.accumulate(logits.data(), labels_.data(), logits.batch(), Out::size, smoothing_, grad_.data());
    net_.zero_grad();
    net_.backward(grad_);
    opt_.step(net_.parameters());
  }

  // Mean loss and accuracy of the steps since the last read (one host wait).
  MetricTotals read() { return metrics_.read(); }

  const Tensor<In, Cuda>& input() const noexcept { return x_; }
  const std::int32_t* labels() const noexcept { return labels_.data(); }

private:
  Net& net_;
  Opt& opt_;
  DeviceLoader<In>& loader_;
  float smoothing_;
  Tensor<In, Cuda> x_;
  Tensor<Out, Cuda> grad_;
  DeviceBuffer<std::int32_t> labels_;
  StepMetrics metrics_;
};

}  // namespace ctnn::cuda
