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
// A Precision::bf16 network runs the same step in 16 bits (the batch is written NHWC in 16 bits);
// a Precision::fp16 network adds dynamic loss scaling (cuda::LossScaler): the loss gradient is
// scaled, the gradients unscaled and checked after backward, the update skipped on an inf/NaN
// (opt.skip_when), and the scale updated, all on the device.

#include "../core/config.hpp"
#if !CTNN_HAS_CUDA || !defined(__CUDACC__)
#error "ctnn/train/device_step.hpp needs nvcc (CTNN_HAS_CUDA == 1)"
#endif

#include <cstddef>
#include <cstdint>
#include <type_traits>
#include <variant>

#include "../backend/cuda/buffer.hpp"
#include "../backend/cuda/device.hpp"
#include "../backend/cuda/loss_scale.hpp"
#include "../backend/cuda/step_metrics.hpp"
#include "../core/device.hpp"
#include "../core/error.hpp"
#include "../core/precision.hpp"
#include "../core/tensor.hpp"
#include "../data/device_loader.hpp"

namespace ctnn::cuda {

template <class Net, class Opt>
class DeviceStep {
  using In = typename Net::input_shape;
  using Out = typename Net::output_shape;
  static_assert(std::is_base_of_v<Cuda, typename Net::device>, "ctnn::cuda::DeviceStep: the network must be on ctnn::Cuda");
  static constexpr bool scaled = Net::precision == Precision::fp16;
  static_assert(Out::rank == 1, "ctnn::cuda::DeviceStep: the network must output one logit per class");

public:
  DeviceStep(Net& net, Opt& optimizer, DeviceLoader<In>& loader, float label_smoothing = 0.f)
      : net_(net), opt_(optimizer), loader_(loader), smoothing_(label_smoothing), x_(loader.local_batch()),
        grad_(loader.local_batch()), labels_(loader.local_batch(), "the device step's labels") {
    if (loader.options().ranks > 1)
      ctnn::detail::fail("ctnn::cuda::DeviceStep: the loader is sharded (rank ", loader.options().rank, " of ",
                         loader.options().ranks, " processes) but a DeviceStep does not add the gradients over the "
                         "processes; use an unsharded loader, or a step of your own with dist::DataParallel");
    if (loader.local_batch() > net.max_batch())
      ctnn::detail::fail("ctnn::cuda::DeviceStep: the loader's batch ", loader.local_batch(),
                         " exceeds the network's max_batch ", net.max_batch());
    if (!(label_smoothing >= 0.f && label_smoothing <= 1.f))
      ctnn::detail::fail("ctnn::cuda::DeviceStep: label_smoothing = ", label_smoothing, " is outside [0, 1]");
    if constexpr (scaled) {
      static_assert(requires(Opt& o, const std::uint32_t* f) { o.skip_when(f); },
                    "ctnn::cuda::DeviceStep: an fp16 network needs an optimizer that can skip a step (skip_when)");
      // Loss scaling unscales the one gradient buffer: every gradient must live in it.
      const auto all = net.gradient_buffer();
      for (const auto& p : net.parameters())
        if (p.grad && (p.grad < all.data() || p.grad + p.size > all.data() + all.size()))
          ctnn::detail::fail("ctnn::cuda::DeviceStep: parameter ", p.name,
                             " keeps its gradient outside Network::gradient_buffer(); fp16 loss scaling needs them all there");
      optimizer.skip_when(scaler_.found_inf());
    }
  }

  void operator()() {
    loader_.next(x_, labels_.data());
    const auto& logits = net_.forward(x_, Mode::train);
    grad_.set_batch(logits.batch());
    metrics_.accumulate(logits.data(), labels_.data(), logits.batch(), Out::size, smoothing_, grad_.data(), grad_scale());
    net_.zero_grad();
    net_.backward(grad_);
    if constexpr (scaled) {
      const auto g = net_.gradient_buffer();
      scaler_.unscale(g.data(), g.size());
    }
    opt_.step(net_.parameters());
    if constexpr (scaled) scaler_.update();
  }

  const float* grad_scale() const noexcept {
    if constexpr (scaled)
      return scaler_.scale();
    else
      return nullptr;
  }

  // The loss scale (fp16 networks): its state on the host (one host wait).
  detail::LossScaleState loss_scale()
    requires scaled
  {
    return scaler_.read();
  }

  // Mean loss and accuracy of the steps since the last read (one host wait).
  MetricTotals read() { return metrics_.read(); }

  const typename Net::input_type& input() const noexcept { return x_; }
  const std::int32_t* labels() const noexcept { return labels_.data(); }

private:
  Net& net_;
  Opt& opt_;
  DeviceLoader<In>& loader_;
  float smoothing_;
  typename Net::input_type x_;
  typename Net::output_type grad_;
  DeviceBuffer<std::int32_t> labels_;
  StepMetrics metrics_;
  [[no_unique_address]] std::conditional_t<scaled, LossScaler, std::monostate> scaler_;
};

}  // namespace ctnn::cuda
