#pragma once
// Network<Spec, InShape, Device, Precision>: an instantiated network. Every parameter, gradient, activation
// and workspace is allocated here, once, for max_batch samples; a training step allocates nothing.
// After the layers are built, the memory plan (core/memory_plan.hpp) lets the activation gradients
// share a few buffers and every kernel share one workspace; memory() reports the bytes by role.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include "core/device.hpp"
#include "core/error.hpp"
#include "core/memory_plan.hpp"
#include "core/parameter.hpp"
#include "core/precision.hpp"
#include "core/random.hpp"
#include "core/tensor.hpp"
#include "core/wiring.hpp"
#include "layers/layer.hpp"

namespace ctnn {

namespace io {
// Reads and writes a network's weights; defined in <ctnn/io/checkpoint.hpp> (which the umbrella
// <ctnn/ctnn.hpp> includes), so that defining a network needs no file-system code.
struct Weights;
}  // namespace io

// Precision (core/precision.hpp): bf16 and fp16 run activations in 16 bits on a device that has
// them (CUDA), with float32 parameters; `device` is then the device tag of that precision.
template <class Spec, ShapeType InShape, class BaseDevice = Cpu, Precision P = Precision::fp32>
class Network {
  static_assert(ctnn::Device<BaseDevice>, "ctnn::Network: the device must be a ctnn::Device (core/device.hpp)");
  using Device = precision_device_t<BaseDevice, P>;

public:
  using spec = Spec;
  using device = Device;
  static constexpr Precision precision = P;
  using input_shape = InShape;
  using output_shape = output_shape_t<Spec, InShape>;
  using input_type = Tensor<InShape, Device>;
  using output_type = Tensor<output_shape, Device>;
  using root_type = layer_t<Spec, InShape, Device>;  // reports a wiring error, once, with its path

  static constexpr std::size_t static_parameter_count = parameter_count_v<Spec, InShape>;

  explicit Network(std::size_t max_batch, std::uint64_t seed = 0)
      : max_batch_(check_batch(max_batch)), init_rng_(seed), root_(max_batch, init_rng_) {
    Collector c;
    c.gradient_hook(&hook_);
    c.layer_timer(&timer_);
    if constexpr (!detail::CompositeSpec<Spec, InShape>) {
      c.timed_layer("", layer_name<Spec>());
      root_timed_ = true;
    }
    collect_state(root_, c);
    timed_ = std::move(c.timed_layers());
    params_ = std::move(c.parameters());
    buffers_ = std::move(c.buffers());
    syncs_ = std::move(c.synchronizables());
    bind_gradients(c.gradient_rebinders());
    for (const auto& p : params_) parameter_count_ += p.size;
    if constexpr (runnable) detail::plan_layer(root_, plan_, MemoryPlan<Device>::external);
    plan_.finish();
  }

  Network(const Network&) = delete;
  Network& operator=(const Network&) = delete;

  // The returned tensor stays valid until the next forward(). x must stay alive and unchanged
  // until backward() has run. The mode has no default: Mode::train updates the batch-norm
  // statistics (and draws dropout masks), Mode::eval does neither, and which one a call means
  // should be visible where it is made.
  const output_type& forward(const input_type& x, Mode mode) {
    if (x.batch() == 0) detail::fail("ctnn::Network::forward: the input batch is empty");
    if (x.batch() > max_batch_)
      detail::fail("ctnn::Network::forward: batch ", x.batch(), " exceeds the max_batch ", max_batch_,
                   " the network was built for");
    forward_batch_ = 0;  // stays 0 if a layer throws
    if constexpr (runnable) {
      detail::LayerClock<Device> timing(root_timed_ ? &timer_ : nullptr, 0, Pass::forward);
      const output_type& y = root_.forward(x, mode);
      timing.stop();
      forward_batch_ = x.batch();
      forward_mode_ = mode;
      return y;
    } else {
      std::abort();  // unreachable: the spec's error has already failed the compilation
    }
  }

  // Accumulates parameter gradients (call zero_grad() between steps). Returns dL/dx when
  // need_input_grad is true; otherwise the first layer skips that work.
  const input_type& backward(const output_type& grad_out, bool need_input_grad = false) {
    if (forward_batch_ == 0) detail::fail("ctnn::Network::backward called before forward");
    if (forward_mode_ == Mode::inference)
      detail::fail("ctnn::Network::backward: the last forward ran in Mode::inference, which keeps nothing for "
                   "backward; use Mode::eval for gradients in evaluation mode");
    if (grad_out.batch() != forward_batch_)
      detail::fail("ctnn::Network::backward: gradient batch ", grad_out.batch(), " differs from the forward batch ",
                   forward_batch_);
    if constexpr (runnable) {
      detail::LayerClock<Device> timing(root_timed_ ? &timer_ : nullptr, 0, Pass::backward);
      const input_type& dx = root_.backward(grad_out, need_input_grad);
      timing.stop();
      if (hook_ && !params_.empty()) hook_->gradients_ready(0, params_.size());
      return dx;
    } else {
      std::abort();
    }
  }

  // During backward, `hook` is told which parameters' gradients are final, in the order backward
  // finishes them (a composite layer tells after each child; the network, all of them at the end).
  // nullptr removes it. The hook must outlive its use.
  void set_gradient_hook(GradientHook* hook) { hook_ = hook; }
  GradientHook* gradient_hook() const { return hook_; }

  // While set, `timer` is told how long each of timed_layers() took in every forward and backward
  // (ctnn::Profiler in <ctnn/profile.hpp> is one). nullptr removes it. It must outlive its use.
  void set_layer_timer(LayerTimer* timer) { timer_ = timer; }
  // The leaf layers and the composites' own work (Residual's add), in the order forward runs them.
  std::span<const TimedLayer> timed_layers() const { return timed_; }

  // Batch norm over the batches of all processes: each batch-norm layer sums its per-channel
  // statistics through `sum` in training (nullptr: each process its own batch, the default).
  // Returns the number of layers synchronised; throws ctnn::Error when a layer cannot be on this
  // device.
  std::size_t synchronize_batch_norm(CrossReplicaSum* sum) {
    for (auto& set : syncs_) set(sum);
    return syncs_.size();
  }

  std::span<Parameter> parameters() { return params_; }
  std::span<const Parameter> parameters() const { return params_; }
  std::span<Buffer> buffers() { return buffers_; }
  std::span<const Buffer> buffers() const { return buffers_; }
  std::size_t parameter_count() const { return parameter_count_; }
  // The one buffer that holds the parameters' gradients, the last parameter's first.
  std::span<float> gradient_buffer() { return {gradients_.data(), gradients_.capacity()}; }

  // The bytes this network holds, by role (all of them for networks of ctnn's layers; a layer
  // without a plan member is not counted). ctnn::memory(net, optimizer) adds the optimizer's state.
  MemoryReport memory() const {
    MemoryReport r = plan_.report();
    for (const auto& p : params_) r.parameters += p.size * sizeof(float);
    r.gradients = gradients_.capacity_bytes();
    for (const std::size_t i : loose_gradients_) r.gradients += params_[i].size * sizeof(float);
    for (const auto& b : buffers_) r.buffers += b.size * sizeof(float);
    return r;
  }
  std::size_t max_batch() const { return max_batch_; }

  // One memset: the gradients share one buffer (those of layers that report raw pointers, one each).
  void zero_grad() {
    if (gradients_.capacity()) gradients_.zero();
    for (const std::size_t i : loose_gradients_) Device::zero(params_[i].grad, params_[i].size * sizeof(float));
  }

  root_type& root() { return root_; }

  // Identifies the architecture: spec, input shape and the size of every parameter and buffer.
  static std::string architecture() {
    return layer_name<Spec>() + " on " + InShape::str();
  }

  // architecture() followed by the name and size of every parameter and buffer, one per line; a
  // checkpoint stores architecture() and a hash of this (io/format.hpp).
  std::string architecture_signature() const { return ctnn::architecture_signature(architecture(), params_, buffers_); }

  // Writes the parameters and buffers to `path` atomically (io::save_weights). load() accepts a
  // file from save() or io::save_checkpoint(), checks its integrity and that it was written for
  // this architecture, and throws ctnn::Error, leaving the network unchanged, when it does not fit.
  // Both need <ctnn/io/checkpoint.hpp> (an "incomplete type 'ctnn::io::Weights'" error says it is
  // missing).
  template <class Io = io::Weights>
  void save(const std::string& path) const { Io::save(path, *this); }
  template <class Io = io::Weights>
  void load(const std::string& path) { Io::load(path, *this); }

private:
  static constexpr bool runnable = wiring::wired_v<Spec, InShape> && detail::runnable_v<Spec, InShape, Device>;

  // Every parameter's gradient in one buffer, the last parameter first (backward finishes them in
  // about that order, so a data-parallel bucket is one contiguous range), each at a 64-byte boundary.
  void bind_gradients(std::vector<std::function<void(float*)>>& rebind) {
    constexpr std::size_t align = 64 / sizeof(float);
    constexpr std::size_t none = ~std::size_t{0};
    std::vector<std::size_t> offset(params_.size(), none);
    std::size_t total = 0;
    for (std::size_t i = params_.size(); i-- > 0;) {
      if (!rebind[i]) {
        loose_gradients_.push_back(i);
        continue;
      }
      offset[i] = total;
      total += (params_[i].size + align - 1) / align * align;
    }
    if (total == 0) return;
    gradients_ = Tensor<Shape<1>, Device, float>(total);
    gradients_.zero();
    for (std::size_t i = 0; i < params_.size(); ++i)
      if (offset[i] != none) {
        rebind[i](gradients_.data() + offset[i]);
        params_[i].grad = gradients_.data() + offset[i];
      }
  }

  static std::size_t check_batch(std::size_t n) {
    if (n == 0) detail::fail("ctnn::Network: max_batch must be at least 1");
    return n;
  }

  std::size_t max_batch_;
  Rng init_rng_;
  MemoryPlan<Device> plan_;  // owns the shared buffers the layers are bound to: declared before them
  Tensor<Shape<1>, Device, float> gradients_;  // every gradient the layers let it hold (bind_gradients)
  std::vector<std::size_t> loose_gradients_;  // parameters whose gradients stay in their layers
  root_type root_;
  std::vector<Parameter> params_;
  std::vector<Buffer> buffers_;
  std::vector<std::function<void(CrossReplicaSum*)>> syncs_;
  GradientHook* hook_ = nullptr;
  LayerTimer* timer_ = nullptr;
  std::vector<TimedLayer> timed_;
  bool root_timed_ = false;  // a network of one leaf layer: the network times it
  std::size_t parameter_count_ = 0;
  std::size_t forward_batch_ = 0;  // batch of the last successful forward(), 0 before the first
  Mode forward_mode_ = Mode::train;  // mode of the last successful forward()
};

// net.memory() with the optimizer's state (which the optimizer allocates now if it has not yet).
template <class Net, class Optimizer>
  requires requires(Net& n, Optimizer& o) { n.memory(); o.state(n.parameters()); }
MemoryReport memory(Net& net, Optimizer& optimizer) {
  MemoryReport r = net.memory();
  for (const auto& b : optimizer.state(net.parameters())) r.optimizer_state += b.size * sizeof(float);
  return r;
}

}  // namespace ctnn
