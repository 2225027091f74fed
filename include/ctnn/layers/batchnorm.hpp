#pragma once
// BatchNorm<C>: batch normalisation over the channels of a C x H x W (or flat C) input, with
// PyTorch's defaults: eps 1e-5, momentum 0.1, affine, running statistics (mean 0, variance 1).

#include <concepts>
#include <cstddef>
#include <string>

#include "../backend/contract.hpp"
#include "../core/init.hpp"
#include "layer.hpp"

namespace ctnn {

template <std::size_t C>
struct BatchNorm {
  static_assert(C > 0, "ctnn::BatchNorm: the channel count must be positive");
  static constexpr float eps = 1e-5f;
  static constexpr float momentum = 0.1f;

  static std::string name() { return "BatchNorm<" + std::to_string(C) + ">"; }

  template <class X>
  using checks = wiring::checks<wiring::channel_count<BatchNorm, wiring::expects<C>, wiring::input_has<X::template dim<0>>>>;
  template <class X>
  using output = X;

  template <class X>
  static constexpr std::size_t parameter_count = 2 * C;
  template <class X>
  static constexpr std::size_t macs = X::size;

  template <class X, class D>
  class layer {
  public:
    using input_type = Tensor<X, D>;
    using output_type = Tensor<X, D>;
    using vector_type = Tensor<Shape<C>, D, float>;  // float32 at every precision
    static constexpr std::size_t spatial = X::size / C;

    layer(std::size_t max_batch, Rng&)
        : gamma_(1), beta_(1), dgamma_(1), dbeta_(1), mean_(1), var_(1), y_(max_batch), dx_(max_batch, deferred),
          kernel_(C, spatial, max_batch) {
      init::constant(gamma_, 1.f);
      init::constant(beta_, 0.f);
      init::constant(mean_, 0.f);
      init::constant(var_, 1.f);
      dgamma_.zero();
      dbeta_.zero();
    }

    const output_type& forward(const input_type& x, Mode mode) {
      x_ = &x;
      mode_ = mode;
      y_.set_batch(x.batch());
      if (mode == Mode::train) {
        if (x.batch() * spatial < 2)
          detail::fail("ctnn::BatchNorm: training needs more than one value per channel, got batch ", x.batch(), " of ",
                       spatial, " values per channel (use Mode::eval or a larger batch)");
        kernel_.forward_train(x.data(), y_.data(), gamma_.data(), beta_.data(), mean_.data(), var_.data(), x.batch(),
                              momentum, eps);
      } else {
        kernel_.forward_eval(x.data(), y_.data(), gamma_.data(), beta_.data(), mean_.data(), var_.data(), x.batch(), eps);
      }
      return y_;
    }

    const input_type& backward(const output_type& dy, bool need_dx = true) {
      detail::check_backward("BatchNorm", x_, dy);
      dx_.set_batch(dy.batch());
      if constexpr (can_mask_relu)
        kernel_.backward(x_->data(), dy.data(), need_dx ? dx_.data() : nullptr, gamma_.data(), dgamma_.data(),
                         dbeta_.data(), mean_.data(), var_.data(), dy.batch(), eps, mode_ != Mode::train, relu_);
      else
        kernel_.backward(x_->data(), dy.data(), need_dx ? dx_.data() : nullptr, gamma_.data(), dgamma_.data(),
                         dbeta_.data(), mean_.data(), var_.data(), dy.batch(), eps, mode_ != Mode::train);
      return dx_;
    }

    // A ReLU after this layer leaves its backward to this one (Seq, when planned): backward then
    // takes the ReLU's output gradient and masks it where the output, recomputed from x, is not
    // positive. One pass instead of two, and no backward reads the output.
    static constexpr bool can_mask_relu =
        requires(typename backend::kernels<D>::batchnorm& k, const float* c, float* m) {
          k.backward(c, c, m, c, m, m, c, c, std::size_t{1}, eps, true, true);
        };
    void mask_with_relu()
      requires can_mask_relu
    {
      relu_ = true;
    }

    // Backward never reads the output, so the layer after this one may overwrite it (memory plan).
    output_type& overwritable_output() { return y_; }

    // Mode::inference, folded into the convolution before it (Seq): the evaluation's coefficients
    // (y = x * scale + shift per channel) for the convolution to apply as it writes its own output;
    // this layer keeps no input, so its backward refuses to run until the next forward.
    backend::ChannelAffine fold()
      requires requires(typename backend::kernels<D>::batchnorm& k, const float* p) {
        { k.eval_coefficients(p, p, p, p, eps) } -> std::same_as<backend::ChannelAffine>;
      }
    {
      x_ = nullptr;
      return kernel_.eval_coefficients(gamma_.data(), beta_.data(), mean_.data(), var_.data(), eps);
    }

    // Writes the last forward's output again from its input (a device whose kernel can): the memory
    // plan then keeps the output only while it is read (layers/sequential.hpp).
    void recompute_output()
      requires requires(typename backend::kernels<D>::batchnorm& k, const float* x, float* y, std::size_t n) {
        k.recompute(x, y, n);
      }
    {
      detail::check_backward("BatchNorm", x_, y_);
      kernel_.recompute(x_->data(), y_.data(), x_->batch());
    }

    MemorySlot plan(MemoryPlan<D>& p, MemorySlot) {
      p.activation(y_);
      detail::plan_kernel(kernel_, p);
      return p.gradient(dx_);
    }

    void collect(Collector& c) {
      c.parameter("weight", gamma_, dgamma_, ParamKind::norm_weight);
      c.parameter("bias", beta_, dbeta_, ParamKind::norm_bias);
      c.buffer("running_mean", mean_.data(), C);
      c.buffer("running_var", var_.data(), C);
      c.synchronizable([this](CrossReplicaSum* sum) { synchronize(sum); });
    }

    // Synchronised batch norm: training statistics over the batches of every process, summed
    // through `sum` (nullptr: this batch alone). Needs a kernel that can (the CPU's can).
    void synchronize(CrossReplicaSum* sum) {
      if constexpr (requires { kernel_.synchronize(sum); })
        kernel_.synchronize(sum);
      else if (sum)
        detail::fail("ctnn::BatchNorm<", C, ">: synchronised batch norm is not available on this device");
    }

    vector_type& weight() { return gamma_; }
    vector_type& bias() { return beta_; }
    vector_type& weight_grad() { return dgamma_; }
    vector_type& bias_grad() { return dbeta_; }
    vector_type& running_mean() { return mean_; }
    vector_type& running_var() { return var_; }

  private:
    vector_type gamma_, beta_, dgamma_, dbeta_, mean_, var_;
    output_type y_;
    input_type dx_;
    const input_type* x_ = nullptr;
    Mode mode_ = Mode::train;
    bool relu_ = false;  // mask_with_relu
    typename backend::kernels<D>::batchnorm kernel_;
  };
};

}  // namespace ctnn
