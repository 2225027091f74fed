#pragma once
// Dropout<P>: in training, zeroes each element with probability P and scales the others by
// 1 / (1 - P) (PyTorch's nn.Dropout(p=P)); in evaluation, passes its input through.
//
// The mask is not stored: element i of the step with seed s is kept when uniform(s, i) >= P, a
// counter-based random number (expr::uniform_random) that forward and backward compute alike, on
// any device. Each training forward draws a fresh seed from the layer's own stream (seeded from the
// network's initialisation generator), so the masks of a run depend only on the network's seed and
// the number of training steps; they are not part of a checkpoint, so a resumed run draws other
// masks than an uninterrupted one would.

#include <cstddef>
#include <cstdint>
#include <string>

#include "../expr/evaluator.hpp"
#include "../expr/nodes.hpp"
#include "activation.hpp"
#include "layer.hpp"

namespace ctnn {

template <Number P = 0.5>
struct Dropout {
  static_assert(P >= 0.0 && P < 1.0, "ctnn::Dropout<P>: P is a probability in [0, 1)");

  static std::string name() { return "Dropout<" + detail::format_number(P) + ">"; }

  template <class X>
  using output = X;
  template <class X>
  static constexpr std::size_t macs = 0;

  template <class X, class D>
  class layer {
  public:
    using input_type = Tensor<X, D>;
    using output_type = Tensor<X, D>;

    layer(std::size_t max_batch, Rng& rng) : y_(max_batch), dx_(max_batch, deferred), stream_(rng.next_u64()) {}

    const output_type& forward(const input_type& x, Mode mode) {
      x_ = &x;
      dropping_ = mode == Mode::train && P > 0.0;
      if (!dropping_) return x;
      seed_ = Rng(stream_ + ++steps_).next_u64();
      y_.set_batch(x.batch());
      expr::assign(y_, x * mask());
      return y_;
    }

    const input_type& backward(const output_type& dy, bool need_dx = true) {
      detail::check_backward("Dropout", x_, dy);
      dx_.set_batch(dy.batch());
      if (!need_dx) return dx_;
      if (dropping_)
        expr::assign(dx_, dy * mask());
      else  // a copy, so that the result is always dx_ (where the memory plan expects it)
        D::copy(dx_.data(), dy.data(), dy.bytes());
      return dx_;
    }

    MemorySlot plan(MemoryPlan<D>& p, MemorySlot) {
      p.activation(y_);
      return p.gradient(dx_);
    }

    // Training forward passes so far (each one draws a new mask).
    std::uint64_t steps() const { return steps_; }

  private:
    static constexpr float keep_scale = static_cast<float>(1.0 / (1.0 - P));
    auto mask() const {
      return expr::select(expr::greater_equal(expr::uniform_random(seed_), static_cast<float>(P)), keep_scale, 0.f);
    }

    output_type y_;
    input_type dx_;
    const input_type* x_ = nullptr;
    std::uint64_t stream_;
    std::uint64_t steps_ = 0;
    std::uint64_t seed_ = 0;
    bool dropping_ = false;
  };
};

}  // namespace ctnn
