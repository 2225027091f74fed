#pragma once
// MaxPool<K, S, P>, AvgPool<K, S, P> (padding counted in the average, as PyTorch's default) and
// GlobalAvgPool (C x H x W -> C x 1 x 1).

#include <cstddef>
#include <string>

#include "../backend/contract.hpp"
#include "layer.hpp"
#include "window.hpp"

namespace ctnn {

namespace detail {

template <class Spec, backend::PoolKind Kind, std::size_t K, std::size_t S, std::size_t P>
struct PoolSpec {
  static_assert(K > 0 && S > 0, "ctnn pooling: kernel and stride must be positive");

  template <class X>
  using window = detail::window<Spec, X, K, S, P>;

  template <class X>
  using checks = wiring::checks<typename window<X>::rank_check, wiring::pool_padding<Spec, wiring::kernel<K>, wiring::padded_input<P>>,
                                typename window<X>::height_check, typename window<X>::width_check>;
  template <class X>
  using output = Shape<window<X>::C, window<X>::Ho, window<X>::Wo>;
  template <class X>
  static constexpr std::size_t macs = output<X>::size * K * K;

  template <class X, class D>
  class layer {
  public:
    using input_type = Tensor<X, D>;
    using output_type = Tensor<output<X>, D>;

    layer(std::size_t max_batch, Rng&)
        : y_(max_batch), dx_(max_batch, deferred), kernel_(window<X>::geometry(window<X>::C), Kind, max_batch) {}

    const output_type& forward(const input_type& x, Mode) {
      x_ = &x;
      y_.set_batch(x.batch());
      kernel_.forward(x.data(), y_.data(), x.batch());
      return y_;
    }

    const input_type& backward(const output_type& dy, bool need_dx = true) {
      check_backward("pooling layer", x_, dy);
      dx_.set_batch(dy.batch());
      if (need_dx) kernel_.backward(dy.data(), dx_.data(), dy.batch());
      return dx_;
    }

    MemorySlot plan(MemoryPlan<D>& p, MemorySlot) {
      p.activation(y_);
      detail::plan_kernel(kernel_, p);
      return p.gradient(dx_);
    }

  private:
    output_type y_;
    input_type dx_;
    const input_type* x_ = nullptr;
    typename backend::kernels<D>::pool2d kernel_;
  };
};

}  // namespace detail

template <std::size_t K, std::size_t S = K, std::size_t P = 0>
struct MaxPool : detail::PoolSpec<MaxPool<K, S, P>, backend::PoolKind::max, K, S, P> {
  static std::string name() { return "MaxPool<" + detail::join_numbers(K, S, P) + ">"; }
};

template <std::size_t K, std::size_t S = K, std::size_t P = 0>
struct AvgPool : detail::PoolSpec<AvgPool<K, S, P>, backend::PoolKind::average, K, S, P> {
  static std::string name() { return "AvgPool<" + detail::join_numbers(K, S, P) + ">"; }
};

struct GlobalAvgPool {
  static std::string name() { return "GlobalAvgPool"; }

  template <class X>
  using checks = wiring::checks<wiring::input_rank<GlobalAvgPool, wiring::expects<3>, wiring::input_has<X::rank>>>;
  template <class X>
  using output = Shape<X::template dim<0>, 1, 1>;
  template <class X>
  static constexpr std::size_t macs = X::size;

  template <class X, class D>
  class layer {
  public:
    using input_type = Tensor<X, D>;
    using output_type = Tensor<output<X>, D>;
    static constexpr std::size_t C = X::template dim<0>;

    layer(std::size_t max_batch, Rng&) : y_(max_batch), dx_(max_batch, deferred), kernel_(C, X::size / C, max_batch) {}

    const output_type& forward(const input_type& x, Mode) {
      x_ = &x;
      y_.set_batch(x.batch());
      kernel_.forward(x.data(), y_.data(), x.batch());
      return y_;
    }

    const input_type& backward(const output_type& dy, bool need_dx = true) {
      detail::check_backward("GlobalAvgPool", x_, dy);
      dx_.set_batch(dy.batch());
      if (need_dx) kernel_.backward(dy.data(), dx_.data(), dy.batch());
      return dx_;
    }

    MemorySlot plan(MemoryPlan<D>& p, MemorySlot) {
      p.activation(y_);
      detail::plan_kernel(kernel_, p);
      return p.gradient(dx_);
    }

  private:
    output_type y_;
    input_type dx_;
    const input_type* x_ = nullptr;
    typename backend::kernels<D>::global_avg_pool kernel_;
  };
};

}  // namespace ctnn
