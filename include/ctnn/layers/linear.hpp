#pragma once
// Linear<In, Out>: fully connected layer with bias on a flat input, y = x W^T + b, W of shape
// [Out, In], initialised as PyTorch's nn.Linear (uniform within +-1/sqrt(In)).

#include <cstddef>
#include <string>

#include "../backend/contract.hpp"
#include "../core/init.hpp"
#include "layer.hpp"

namespace ctnn {

template <std::size_t In, std::size_t Out>
struct Linear {
  static_assert(In > 0 && Out > 0, "ctnn::Linear: feature counts must be positive");

  static std::string name() { return "Linear<" + detail::join_numbers(In, Out) + ">"; }

  template <class X>
  using checks = wiring::checks<wiring::input_rank<Linear, wiring::expects<1>, wiring::input_has<X::rank>>,
                                wiring::feature_count<Linear, wiring::expects<In>, wiring::input_has<X::size>>>;
  template <class X>
  using output = Shape<Out>;

  template <class X>
  static constexpr std::size_t parameter_count = In * Out + Out;
  template <class X>
  static constexpr std::size_t macs = In * Out;

  template <class X, class D>
  class layer {
  public:
    using input_type = Tensor<X, D>;
    using output_type = Tensor<Shape<Out>, D>;

    layer(std::size_t max_batch, Rng& rng)
        : w_(1), dw_(1), b_(1), db_(1), y_(max_batch), dx_(max_batch, deferred), kernel_(In, Out, max_batch) {
      init::uniform_fan_in(w_, In, rng);
      init::uniform_fan_in(b_, In, rng);
      dw_.zero();
      db_.zero();
    }

    const output_type& forward(const input_type& x, Mode) {
      x_ = &x;
      y_.set_batch(x.batch());
      kernel_.forward(x.data(), w_.data(), b_.data(), y_.data(), x.batch());
      return y_;
    }

    const input_type& backward(const output_type& dy, bool need_dx = true) {
      detail::check_backward("Linear", x_, dy);
      dx_.set_batch(dy.batch());
      kernel_.backward(x_->data(), w_.data(), dy.data(), need_dx ? dx_.data() : nullptr, dw_.data(), db_.data(),
                       dy.batch());
      return dx_;
    }

    // Backward never reads the output, so the layer after this one may overwrite it (memory plan).
    output_type& overwritable_output() { return y_; }

    MemorySlot plan(MemoryPlan<D>& p, MemorySlot) {
      p.activation(y_);
      detail::plan_kernel(kernel_, p);
      return p.gradient(dx_);
    }

    void collect(Collector& c) {
      c.parameter("weight", w_, dw_, ParamKind::weight, {Out, In});
      c.parameter("bias", b_, db_, ParamKind::bias);
    }

    Tensor<Shape<Out * In>, D, float>& weight() { return w_; }
    Tensor<Shape<Out * In>, D, float>& weight_grad() { return dw_; }
    Tensor<Shape<Out>, D, float>& bias() { return b_; }
    Tensor<Shape<Out>, D, float>& bias_grad() { return db_; }

  private:
    Tensor<Shape<Out * In>, D, float> w_, dw_;
    Tensor<Shape<Out>, D, float> b_, db_;  // float32 at every precision
    output_type y_;
    input_type dx_;
    const input_type* x_ = nullptr;
    typename backend::kernels<D>::linear kernel_;
  };
};

}  // namespace ctnn
