#pragma once
// Seq<Layers...>: sequential composition. Shapes flow through the list at compile time; each
// layer reads its predecessor's output buffer. Children are named by position ("0", "1", ...).

#include <cstddef>
#include <cstdlib>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>

#include "layer.hpp"

namespace ctnn {

namespace detail {

// The input shapes of each layer of a chain, the final output shape, and whether every layer's
// checks pass. Inference stops at the first layer whose checks fail: that layer's (fallback)
// output becomes the chain's output and the layers after it get the input wiring::unreached, so
// one wiring mistake gives one compile error instead of a cascade.
template <class In, class... Ls>
struct chain {
  using inputs = std::tuple<>;
  using out = In;
  static constexpr bool ok = true;
};
template <class Out, class... Rest>
struct chain_stopped {
  using inputs = std::tuple<std::conditional_t<true, wiring::unreached, Rest>...>;
  using out = Out;
  static constexpr bool ok = false;
};
template <class In, class L, class... Rest>
struct chain<In, L, Rest...> {
  using here = output_shape_t<L, In>;
  using next = std::conditional_t<wiring::wired_v<L, In>, chain<here, Rest...>, chain_stopped<here, Rest...>>;
  using inputs = decltype(std::tuple_cat(std::declval<std::tuple<In>>(), std::declval<typename next::inputs>()));
  using out = typename next::out;
  static constexpr bool ok = next::ok;
};

template <class Specs, class Inputs>
struct zip_children;
template <class... Ls, class... Ins>
struct zip_children<std::tuple<Ls...>, std::tuple<Ins...>> {
  using type = std::tuple<child<Ls, Ins>...>;
};

}  // namespace detail

template <class... Layers>
struct Seq {
  static_assert(sizeof...(Layers) > 0, "ctnn::Seq needs at least one layer");
  static constexpr std::size_t length = sizeof...(Layers);
  using specs = std::tuple<Layers...>;

  template <class X>
  using inputs = typename detail::chain<X, Layers...>::inputs;
  template <class X>
  using output = typename detail::chain<X, Layers...>::out;
  template <class X>
  static constexpr bool check = detail::chain<X, Layers...>::ok;
  // The layers with their input shapes, in order.
  template <class X>
  using children = typename detail::zip_children<specs, inputs<X>>::type;

  static std::string name() {
    std::string s = "Seq<";
    ((s += layer_name<Layers>() + ", "), ...);
    s.resize(s.size() - 2);
    return s + ">";
  }

  template <class X>
  static constexpr std::size_t parameter_count = [] {
    return []<std::size_t... I>(std::index_sequence<I...>) {
      return (std::size_t{0} + ... + parameter_count_v<Layers, std::tuple_element_t<I, inputs<X>>>);
    }(std::index_sequence_for<Layers...>{});
  }();

  template <class X>
  static constexpr std::size_t macs = [] {
    return []<std::size_t... I>(std::index_sequence<I...>) {
      return (std::size_t{0} + ... + macs_v<Layers, std::tuple_element_t<I, inputs<X>>>);
    }(std::index_sequence_for<Layers...>{});
  }();

  template <class X, class D>
  class layer {
    template <class Idx>
    struct instances;
    template <std::size_t... I>
    struct instances<std::index_sequence<I...>> {
      using type = std::tuple<typename detail::child_layer<Layers, std::tuple_element_t<I, inputs<X>>, D>::type...>;
    };
    using tuple_type = typename instances<std::index_sequence_for<Layers...>>::type;

  public:
    using input_type = Tensor<X, D>;
    using output_type = Tensor<output<X>, D>;

    // Braced initialisation runs the constructors left to right, so parameters are drawn in order.
    layer(std::size_t max_batch, Rng& rng) : layers_(build(max_batch, rng, std::type_identity<tuple_type>{})) {}

    const output_type& forward(const input_type& x, Mode mode) {
      if constexpr (check<X>)
        return forward_from<0>(x, mode);
      else
        std::abort();  // unreachable: a wiring error has already failed the compilation
    }
    const input_type& backward(const output_type& dy, bool need_dx = true) {
      if constexpr (check<X>)
        return backward_from<length - 1>(dy, need_dx);
      else
        std::abort();
    }

    void collect(Collector& c) {
      [&]<std::size_t... I>(std::index_sequence<I...>) {
        (collect_child<I>(c), ...);
      }(std::index_sequence_for<Layers...>{});
    }

    template <std::size_t I>
    auto& get() { return std::get<I>(layers_); }

  private:
    template <class... Ts>
    static std::tuple<Ts...> build(std::size_t max_batch, Rng& rng, std::type_identity<std::tuple<Ts...>>) {
      return std::tuple<Ts...>{Ts(max_batch, rng)...};
    }

    template <std::size_t I>
    void collect_child(Collector& c) {
      Collector::Scope scope(c, std::to_string(I));
      collect_state(std::get<I>(layers_), c);
    }

    template <std::size_t I, class T>
    const output_type& forward_from(const T& x, Mode mode) {
      const auto& y = std::get<I>(layers_).forward(x, mode);
      if constexpr (I + 1 < length)
        return forward_from<I + 1>(y, mode);
      else
        return y;
    }
    template <std::size_t I, class T>
    const input_type& backward_from(const T& dy, bool need_dx) {
      const auto& dx = std::get<I>(layers_).backward(dy, I > 0 || need_dx);
      if constexpr (I > 0)
        return backward_from<I - 1>(dx, need_dx);
      else
        return dx;
    }

    tuple_type layers_;
  };
};

}  // namespace ctnn
