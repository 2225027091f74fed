#pragma once
// Element-wise activations, each one fused expression forward and one backward (ctnn::expr), so
// they run on every device:
//   ReLU                 max(x, 0)
//   LeakyReLU<Slope>     x for x > 0, Slope * x otherwise (PyTorch's default slope 0.01)
//   GELU                 x * Phi(x) with the exact normal CDF Phi (PyTorch's approximate='none')
//   Sigmoid              1 / (1 + exp(-x))
//   Tanh                 tanh(x)
// An activation is a Pointwise spec over a function object F that gives the output expression and
// the gradient expression, of the input or (F::from_output) of the output.

#include <cstddef>
#include <cstdio>
#include <string>
#include <type_traits>

#include "../core/number.hpp"
#include "../expr/evaluator.hpp"
#include "../expr/nodes.hpp"
#include "layer.hpp"

namespace ctnn {

namespace detail {

// "0.01" for 0.01 (std::to_string gives "0.010000").
inline std::string format_number(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", v);
  return buf;
}

struct relu_fn;

template <class F>
struct Pointwise {
  template <class X>
  using output = X;
  template <class X>
  static constexpr std::size_t macs = 0;

  template <class X, class D>
  class layer {
  public:
    using input_type = Tensor<X, D>;
    using output_type = Tensor<X, D>;

    layer(std::size_t max_batch, Rng&) : y_(max_batch, deferred), dx_(max_batch, deferred) {}

    const output_type& forward(const input_type& x, Mode) {
      x_ = &x;
      y_.set_batch(x.batch());
      expr::assign(y_, F::forward(x));
      return y_;
    }

    const input_type& backward(const output_type& dy, bool need_dx = true) {
      detail::check_backward(F::name, x_, dy);
      if (by_norm_) return dy;  // the batch norm before applies the mask
      dx_.set_batch(dy.batch());
      if (need_dx) {
        if constexpr (F::from_output)
          expr::assign(dx_, F::backward(y_, dy));
        else
          expr::assign(dx_, F::backward(*x_, dy));
      }
      return dx_;
    }

    // An activation whose gradient needs only its output runs in place on an input that nothing
    // else reads later (Seq asks when the layer before offers its output: ReLU after BatchNorm).
    void compute_in_place(input_type& x)
      requires(F::from_output)
    {
      y_.bind(x.data());
      in_place_ = true;
    }

    // In place: recomputes the output from the input once that is recomputed (BatchNorm's
    // recompute_output), for the memory plan.
    void recompute_output()
      requires(F::from_output)
    {
      detail::check_backward(F::name, x_, y_);
      expr::assign(y_, F::forward(*x_));
    }
    // Mode::inference: a ReLU after a batch norm after a convolution, whose max(y, 0) the
    // convolution applied as it wrote (Seq): nothing is left to do, and backward refuses to run
    // until the next forward.
    void fold()
      requires std::is_same_v<F, relu_fn>
    {
      x_ = nullptr;
    }
    // A ReLU after a batch norm that masks the gradient itself (Seq, BatchNorm::mask_with_relu):
    // backward passes its gradient on as it is, and needs no buffer.
    void leave_backward_to_norm()
      requires std::is_same_v<F, relu_fn>
    {
      by_norm_ = true;
    }
    bool in_place() const { return in_place_; }
    output_type& output() { return y_; }

    MemorySlot plan(MemoryPlan<D>& p, MemorySlot dy) {
      if (!in_place_) {
        y_.set_batch(y_.capacity());  // allocates it now, with the rest of the network
        p.activation(y_);
      }
      return by_norm_ ? dy : p.gradient(dx_);
    }

  private:
    output_type y_;
    input_type dx_;
    const input_type* x_ = nullptr;
    bool in_place_ = false;
    bool by_norm_ = false;  // leave_backward_to_norm
  };
};

struct relu_fn {
  static constexpr const char* name = "ReLU";
  static constexpr bool from_output = true;  // y > 0 exactly where x > 0
  template <class A> static auto forward(const A& x) { return expr::relu(x); }
  template <class A, class G> static auto backward(const A& y, const G& dy) { return dy * expr::greater(y, 0.f); }
};

template <Number Slope>
struct leaky_relu_fn {
  static constexpr const char* name = "LeakyReLU";
  static constexpr bool from_output = false;  // a negative slope would flip the sign of y
  static constexpr float slope = static_cast<float>(Slope);
  template <class A> static auto forward(const A& x) { return expr::select(expr::greater(x, 0.f), x, x * slope); }
  template <class A, class G> static auto backward(const A& x, const G& dy) {
    return dy * expr::select(expr::greater(x, 0.f), 1.f, slope);
  }
};

struct gelu_fn {
  static constexpr const char* name = "GELU";
  static constexpr bool from_output = false;
  static constexpr float inv_sqrt2 = 0.70710678118654752f;
  static constexpr float inv_sqrt_2pi = 0.39894228040143268f;
  // x * Phi(x), Phi(x) = (1 + erf(x / sqrt 2)) / 2
  template <class A> static auto forward(const A& x) { return 0.5f * x * (1.f + expr::erf(x * inv_sqrt2)); }
  // Phi(x) + x * phi(x), phi(x) = exp(-x^2 / 2) / sqrt(2 pi)
  template <class A, class G> static auto backward(const A& x, const G& dy) {
    return dy * (0.5f * (1.f + expr::erf(x * inv_sqrt2)) + x * expr::exp(-0.5f * x * x) * inv_sqrt_2pi);
  }
};

struct sigmoid_fn {
  static constexpr const char* name = "Sigmoid";
  static constexpr bool from_output = true;
  template <class A> static auto forward(const A& x) { return expr::sigmoid(x); }
  template <class A, class G> static auto backward(const A& y, const G& dy) { return dy * y * (1.f - y); }
};

struct tanh_fn {
  static constexpr const char* name = "Tanh";
  static constexpr bool from_output = true;
  template <class A> static auto forward(const A& x) { return expr::tanh(x); }
  template <class A, class G> static auto backward(const A& y, const G& dy) { return dy * (1.f - y * y); }
};

}  // namespace detail

struct ReLU : detail::Pointwise<detail::relu_fn> {
  static std::string name() { return "ReLU"; }
};

template <Number Slope = 0.01>
struct LeakyReLU : detail::Pointwise<detail::leaky_relu_fn<Slope>> {
  static std::string name() { return "LeakyReLU<" + detail::format_number(Slope) + ">"; }
};

struct GELU : detail::Pointwise<detail::gelu_fn> {
  static std::string name() { return "GELU"; }
};

struct Sigmoid : detail::Pointwise<detail::sigmoid_fn> {
  static std::string name() { return "Sigmoid"; }
};

struct Tanh : detail::Pointwise<detail::tanh_fn> {
  static std::string name() { return "Tanh"; }
};

}  // namespace ctnn
