#pragma once
// Conv<In, Out, Kernel, Stride, Pad, Options...>: 2-D convolution, square kernel, NCHW. Weights are
// [Out, In / groups, Kernel, Kernel], Kaiming-normal (fan_out) initialised, as in ResNet.
//
// Options, in any order:
//   ctnn::with_bias    a bias per output channel, initialised as PyTorch's Conv2d (uniform within
//                      +-1/sqrt(fan_in)). Without it there is no bias: the ResNet convention, where
//                      a batch norm follows every convolution (PyTorch's Conv2d has bias=True by
//                      default; torchvision's ResNets pass bias=False).
//   ctnn::groups<G>    a grouped convolution: G independent convolutions of In / G input and
//                      Out / G output channels (PyTorch's groups=G).
// DepthwiseConv<C, Kernel, Stride, Pad, Options...> is Conv<C, C, ..., groups<C>>.

#include <cstddef>
#include <string>
#include <type_traits>

#include "../backend/contract.hpp"
#include "../core/init.hpp"
#include "../expr/evaluator.hpp"
#include "../expr/nodes.hpp"
#include "layer.hpp"
#include "window.hpp"

namespace ctnn {

struct with_bias {};
template <std::size_t G>
struct groups {
  static_assert(G > 0, "ctnn::groups<G>: G must be positive");
};

namespace detail {
template <class T>
struct group_count : std::integral_constant<std::size_t, 1> {};
template <std::size_t G>
struct group_count<groups<G>> : std::integral_constant<std::size_t, G> {};
template <class T>
inline constexpr bool is_group_option_v = false;
template <std::size_t G>
inline constexpr bool is_group_option_v<groups<G>> = true;
}  // namespace detail

template <std::size_t In, std::size_t Out, std::size_t Kernel = 3, std::size_t Stride = 1, std::size_t Pad = Kernel / 2,
          class... Options>
struct Conv {
  static_assert(In > 0 && Out > 0, "ctnn::Conv: channel counts must be positive");
  static_assert(Kernel > 0 && Stride > 0, "ctnn::Conv: kernel and stride must be positive");
  static_assert(((std::is_same_v<Options, with_bias> || detail::is_group_option_v<Options>) && ...),
                "ctnn::Conv: the options are ctnn::with_bias and ctnn::groups<G>");
  static_assert((std::size_t{0} + ... + std::size_t{detail::is_group_option_v<Options>}) <= 1 &&
                    (std::size_t{0} + ... + std::size_t{std::is_same_v<Options, with_bias>}) <= 1,
                "ctnn::Conv: each option at most once");

  static constexpr std::size_t group_count = (std::size_t{1} * ... * detail::group_count<Options>::value);
  static constexpr bool has_bias = (std::is_same_v<Options, with_bias> || ...);
  static_assert(In % group_count == 0 && Out % group_count == 0,
                "ctnn::Conv: groups<G> must divide both the input and the output channels");

  static std::string name() {
    std::string s = "Conv<" + detail::join_numbers(In, Out, Kernel, Stride, Pad);
    if constexpr (group_count != 1) s += ", groups<" + std::to_string(group_count) + ">";
    if constexpr (has_bias) s += ", with_bias";
    return s + ">";
  }

  template <class X>
  using window = detail::window<Conv, X, Kernel, Stride, Pad>;

  template <class X>
  using checks = wiring::checks<typename window<X>::rank_check,
                                wiring::channel_count<Conv, wiring::expects<In>, wiring::input_has<window<X>::C>>,
                                typename window<X>::height_check, typename window<X>::width_check>;
  template <class X>
  using output = Shape<Out, window<X>::Ho, window<X>::Wo>;

  static constexpr std::size_t weight_size = Out * (In / group_count) * Kernel * Kernel;
  template <class X>
  static constexpr std::size_t parameter_count = weight_size + (has_bias ? Out : 0);
  template <class X>
  static constexpr std::size_t macs = output<X>::size * (In / group_count) * Kernel * Kernel;

  template <class X, class D>
  class layer {
  public:
    using input_type = Tensor<X, D>;
    using output_type = Tensor<output<X>, D>;
    using weight_type = Tensor<Shape<weight_size>, D, float>;  // float32 at every precision
    using bias_type = Tensor<Shape<Out>, D, float>;

    layer(std::size_t max_batch, Rng& rng)
        : w_(1), dw_(1), b_(has_bias ? 1 : 0), db_(has_bias ? 1 : 0), sums_(has_bias ? 1 : 0), y_(max_batch),
          dx_(max_batch, deferred), kernel_(window<X>::geometry(Out, group_count), max_batch) {
      init::kaiming_normal_fan_out(w_, Out * Kernel * Kernel, rng);
      dw_.zero();
      if constexpr (has_bias) {
        init::uniform_fan_in(b_, (In / group_count) * Kernel * Kernel, rng);
        db_.zero();
      }
    }

    const output_type& forward(const input_type& x, Mode) {
      x_ = &x;
      y_.set_batch(x.batch());
      kernel_.forward(x.data(), w_.data(), y_.data(), x.batch());
      if constexpr (has_bias) expr::assign(y_, y_ + expr::channel(b_));
      return y_;
    }

    const input_type& backward(const output_type& dy, bool need_dx = true) {
      detail::check_backward("Conv", x_, dy);
      dx_.set_batch(dy.batch());
      kernel_.backward(x_->data(), w_.data(), dy.data(), need_dx ? dx_.data() : nullptr, dw_.data(), dy.batch());
      if constexpr (has_bias) {  // db[c] += the sum of dy over the batch and the plane of channel c
        expr::sum_per_channel<output<X>, D>(sums_.data(), dy.batch(), dy);
        expr::assign(db_, db_ + expr::as<float>(sums_));
      }
      return dx_;
    }

    // Mode::inference with a batch norm after it (Seq): the output is affine(conv(x)), the batch
    // norm's (and a ReLU's) result, in one pass; no input is kept for backward. Only without a
    // bias (a bias would round once more than the unfused layers do).
    const output_type& forward_folded(const input_type& x, const backend::ChannelAffine& affine)
      requires(!has_bias) && requires(typename backend::kernels<D>::conv2d& k, const float* c, float* m) {
        k.forward(c, c, m, std::size_t{1}, affine);
      }
    {
      x_ = nullptr;
      y_.set_batch(x.batch());
      kernel_.forward(x.data(), w_.data(), y_.data(), x.batch(), affine);
      return y_;
    }

    // Backward never reads the output, so the layer after this one may overwrite it (memory plan).
    output_type& overwritable_output() { return y_; }

    // With `over` (a slot holding the input that nothing reads after this backward, Seq), the input
    // gradient is written over the input, where the kernel reads x only before it writes dx.
    MemorySlot plan(MemoryPlan<D>& p, MemorySlot, MemorySlot over = MemoryPlan<D>::external) {
      p.activation(y_);
      p.state(sums_);
      detail::plan_kernel(kernel_, p);
      if constexpr (requires { requires kernel_type::dx_may_overwrite_x; }) {
        if (over != MemoryPlan<D>::external) {
          p.bind(dx_, over);
          return over;
        }
      }
      return p.gradient(dx_);
    }

    void collect(Collector& c) {
      c.parameter("weight", w_, dw_, ParamKind::weight, {Out, In / group_count, Kernel, Kernel});
      if constexpr (has_bias) c.parameter("bias", b_, db_, ParamKind::bias);
    }

    weight_type& weight() { return w_; }
    weight_type& weight_grad() { return dw_; }
    bias_type& bias() requires has_bias { return b_; }
    bias_type& bias_grad() requires has_bias { return db_; }

  private:
    weight_type w_, dw_;
    bias_type b_, db_;
    Tensor<Shape<Out>, D, double> sums_;
    output_type y_;
    input_type dx_;
    const input_type* x_ = nullptr;
    using kernel_type = typename backend::kernels<D>::conv2d;
    kernel_type kernel_;
  };
};

template <std::size_t C, std::size_t Kernel = 3, std::size_t Stride = 1, std::size_t Pad = Kernel / 2, class... Options>
using DepthwiseConv = Conv<C, C, Kernel, Stride, Pad, groups<C>, Options...>;

}  // namespace ctnn
