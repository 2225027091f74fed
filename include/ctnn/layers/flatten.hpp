#pragma once
// Flatten: C x H x W (any rank >= 2) -> C*H*W. The memory layout is unchanged, so forward and
// backward are copies.

#include <string>

#include "layer.hpp"

namespace ctnn {

struct Flatten {
  static std::string name() { return "Flatten"; }

  template <class X>
  using checks = wiring::checks<wiring::flatten_input<Flatten, wiring::input_has<X::rank>>>;
  template <class X>
  using output = Shape<X::size>;

  template <class X, class D>
  class layer {
    // On an NHWC device (Precision::bf16/fp16) the copy would order the features H, W, C, not C, H,
    // W as the CPU and checkpoints do; after a 1 x 1 map (GlobalAvgPool) the two orders agree.
    static_assert(layout_v<D> != Layout::nhwc || X::size == X::template dim<0>,
                  "ctnn::Flatten: with Precision::bf16/fp16 (NHWC) a Flatten must follow a 1 x 1 map (GlobalAvgPool); "
                  "flattening a spatial map in 16 bits is not supported yet");

  public:
    using input_type = Tensor<X, D>;
    using output_type = Tensor<Shape<X::size>, D>;

    layer(std::size_t max_batch, Rng&) : y_(max_batch), dx_(max_batch, deferred) {}

    const output_type& forward(const input_type& x, Mode) {
      y_.set_batch(x.batch());
      D::copy(y_.data(), x.data(), x.bytes());
      return y_;
    }

    const input_type& backward(const output_type& dy, bool need_dx = true) {
      dx_.set_batch(dy.batch());
      if (need_dx && dx_.data() != dy.data()) D::copy(dx_.data(), dy.data(), dy.bytes());
      return dx_;
    }

    // The gradient keeps its layout, so dx_ shares dy's slot (the copy above is then skipped).
    MemorySlot plan(MemoryPlan<D>& p, MemorySlot dy) {
      p.activation(y_);
      if (dy == MemoryPlan<D>::external) return p.gradient(dx_);
      p.bind(dx_, dy);
      return dy;
    }

  private:
    output_type y_;
    input_type dx_;
  };
};

}  // namespace ctnn
