#pragma once
// The shape arithmetic shared by the layers that slide a K x K window with stride S and padding P
// over a C x H x W input (Conv, MaxPool, AvgPool), and the checks that go with it.

#include <cstddef>

#include "../backend/contract.hpp"
#include "../core/shape.hpp"
#include "../core/wiring.hpp"
#include "layer.hpp"

namespace ctnn::detail {

template <class Spec, class X, std::size_t K, std::size_t S, std::size_t P>
struct window {
  static constexpr std::size_t C = dim_or_one<X, 0>;
  static constexpr std::size_t H = dim_or_one<X, 1>;
  static constexpr std::size_t W = dim_or_one<X, 2>;

  using rank_check = wiring::input_rank<Spec, wiring::expects<3>, wiring::input_has<X::rank>>;
  using height_check = wiring::kernel_fits<Spec, wiring::kernel<K>, wiring::padded_input<H + 2 * P>>;
  using width_check = wiring::kernel_fits<Spec, wiring::kernel<K>, wiring::padded_input<W + 2 * P>>;

  // 1 x 1 when the window does not fit (a fallback: the failed check is reported instead).
  static constexpr bool fits = X::rank == 3 && K <= H + 2 * P && K <= W + 2 * P;
  static constexpr std::size_t Ho = fits ? (H + 2 * P - K) / S + 1 : 1;
  static constexpr std::size_t Wo = fits ? (W + 2 * P - K) / S + 1 : 1;

  static constexpr backend::Geometry2d geometry(std::size_t out_c, std::size_t groups = 1) {
    return {C, H, W, out_c, Ho, Wo, K, S, P, groups};
  }
};

}  // namespace ctnn::detail
