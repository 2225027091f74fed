#pragma once
// Conv<In, Out, Kernel, Stride, Pad>: 2-D convolution without bias (ResNet convention), square
// kernel, NCHW. Weights are [Out, In, Kernel, Kernel], Kaiming-normal (fan_out) initialised.

#include <cstddef>
#include <string>

#include "../backend/kernels.hpp"
#include "../core/init.hpp"
#include "layer.hpp"

namespace ctnn {

template <std::size_t In, std::size_t Out, std::size_t Kernel = 3, std::size_t Stride = 1, std::size_t Pad = Kernel / 2>
struct Conv {
  static_assert(In > 0 && Out > 0, "ctnn::Conv: channel counts must be positive");
  static_assert(Kernel > 0 && Stride > 0, "ctnn::Conv: kernel and stride must be positive");

  static std::string name() { return "Conv<" + detail::join_numbers(In, Out, Kernel, Stride, Pad) + ">"; }

  template <class X>
  struct infer {
    static constexpr std::size_t C = detail::dim_or_one<X, 0>;
    static constexpr std::size_t H = detail::dim_or_one<X, 1>;
    static constexpr std::size_t W = detail::dim_or_one<X, 2>;
    static constexpr bool ok =
        wiring::all_v<wiring::input_rank<Conv, wiring::expects<3>, wiring::input_has<X::rank>>,
                      wiring::channel_count<Conv, wiring::expects<In>, wiring::input_has<C>>,
                      wiring::kernel_fits<Conv, wiring::kernel<Kernel>, wiring::padded_input<H + 2 * Pad>>,
                      wiring::kernel_fits<Conv, wiring::kernel<Kernel>, wiring::padded_input<W + 2 * Pad>>>;
    static constexpr std::size_t Ho = ok ? (H + 2 * Pad - Kernel) / Stride + 1 : 1;
    static constexpr std::size_t Wo = ok ? (W + 2 * Pad - Kernel) / Stride + 1 : 1;
    using type = Shape<Out, Ho, Wo>;
    static constexpr backend::Geometry2d geometry{In, H, W, Out, Ho, Wo, Kernel, Stride, Pad};
  };

  template <class X>
  using output = typename infer<X>::type;
  template <class X>
  static constexpr bool check = infer<X>::ok;

  static constexpr std::size_t weight_size = Out * In * Kernel * Kernel;
  template <class X>
  static constexpr std::size_t parameter_count = weight_size;
  template <class X>
  static constexpr std::size_t macs = output<X>::size * In * Kernel * Kernel;

  template <class X, class D>
  class layer {
  public:
    using input_type = Tensor<X, D>;
    using output_type = Tensor<output<X>, D>;
    using weight_type = Tensor<Shape<weight_size>, D>;

    layer(std::size_t max_batch, Rng& rng)
        : w_(1), dw_(1), y_(max_batch), dx_(max_batch), kernel_(infer<X>::geometry, max_batch) {
      init::kaiming_normal_fan_out(w_, Out * Kernel * Kernel, rng);
      dw_.zero();
    }

    const output_type& forward(const input_type& x, Mode) {
      x_ = &x;
      y_.set_batch(x.batch());
      kernel_.forward(x.data(), w_.data(), y_.data(), x.batch());
      return y_;
    }

    const input_type& backward(const output_type& dy, bool need_dx = true) {
      detail::check_backward("Conv", x_, dy);
      dx_.set_batch(dy.batch());
      kernel_.backward(x_->data(), w_.data(), dy.data(), need_dx ? dx_.data() : nullptr, dw_.data(), dy.batch());
      return dx_;
    }

    void collect(Collector& c) { c.parameter("weight", w_.data(), dw_.data(), weight_size, ParamKind::weight); }

    weight_type& weight() { return w_; }
    weight_type& weight_grad() { return dw_; }

  private:
    weight_type w_, dw_;
    output_type y_;
    input_type dx_;
    const input_type* x_ = nullptr;
    typename backend::kernels<D>::conv2d kernel_;
  };
};

}  // namespace ctnn
