#pragma once
// ReLU, element-wise through expression templates (one pass forward, one pass backward).

#include <string>

#include "../expr.hpp"
#include "layer.hpp"

namespace ctnn {

struct ReLU {
  static std::string name() { return "ReLU"; }

  template <class X>
  using output = X;
  template <class X>
  static constexpr std::size_t macs = 0;

  template <class X, class D>
  class layer {
  public:
    using input_type = Tensor<X, D>;
    using output_type = Tensor<X, D>;

    layer(std::size_t max_batch, Rng&) : y_(max_batch), dx_(max_batch) {}

    const output_type& forward(const input_type& x, Mode) {
      y_.set_batch(x.batch());
      expr::assign(y_, expr::relu(x));
      forwarded_ = true;
      return y_;
    }

    const input_type& backward(const output_type& dy, bool need_dx = true) {
      detail::check_backward("ReLU", forwarded_ ? &y_ : nullptr, dy);
      dx_.set_batch(dy.batch());
      // y > 0 exactly where x > 0, so the saved output gives the mask.
      if (need_dx) expr::assign(dx_, dy * expr::greater(y_, 0.f));
      return dx_;
    }

  private:
    output_type y_;
    input_type dx_;
    bool forwarded_ = false;
  };
};

}  // namespace ctnn
