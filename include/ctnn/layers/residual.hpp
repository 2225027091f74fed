#pragma once
// Residual<Main, Shortcut = Identity, Activation = Identity>:
//   y = Activation(Main(x) + Shortcut(x))
// The add and the activation (Identity or ReLU) are one fused pass forward and one backward.

#include <array>
#include <cstddef>
#include <cstdlib>
#include <string>
#include <tuple>
#include <type_traits>

#include "../expr.hpp"
#include "activation.hpp"
#include "identity.hpp"
#include "layer.hpp"

namespace ctnn {

template <class Main, class Shortcut = Identity, class Activation = Identity>
struct Residual {
  static_assert(std::is_same_v<Activation, Identity> || std::is_same_v<Activation, ReLU>,
                "ctnn::Residual: the activation after the add must be Identity or ReLU");

  static std::string name() {
    std::string s = "Residual<" + layer_name<Main>() + ", " + layer_name<Shortcut>();
    if constexpr (std::is_same_v<Activation, ReLU>) s += ", ReLU";
    return s + ">";
  }

  // A wiring error inside the main branch is reported once: the shortcut then sees the input
  // wiring::unreached (it is neither checked nor instantiated) and the branch shapes are not
  // compared. The comparison is a separate class so that its shapes are inferred only when needed.
  template <class X>
  using shortcut_input = std::conditional_t<wiring::wired_v<Main, X>, X, wiring::unreached>;

  template <class X>
  struct compare_branches
      : wiring::residual_shapes<Residual, wiring::main_branch_output<output_shape_t<Main, X>>,
                                wiring::shortcut_output<output_shape_t<Shortcut, X>>> {};

  template <class X>
  static constexpr bool check =
      wiring::all_v<wiring::wired<Main, X>, wiring::wired<Shortcut, X>, compare_branches<X>>;
  template <class X>
  using output = std::conditional_t<check<X>, output_shape_t<Main, X>, output_shape_t<Main, X>>;

  // The two branches; the add (and activation) after them is the Residual's own work.
  template <class X>
  using children = std::tuple<child<Main, X>, child<Shortcut, shortcut_input<X>>>;
  static constexpr std::array<const char*, 2> child_roles{"main", "shortcut"};
  static std::string combine_name() { return std::is_same_v<Activation, ReLU> ? "add + ReLU" : "add"; }

  template <class X>
  static constexpr std::size_t parameter_count =
      parameter_count_v<Main, X> + parameter_count_v<Shortcut, shortcut_input<X>>;
  template <class X>
  static constexpr std::size_t macs = macs_v<Main, X> + macs_v<Shortcut, shortcut_input<X>> + output<X>::size;

  template <class X, class D>
  class layer {
  public:
    using input_type = Tensor<X, D>;
    using output_type = Tensor<output<X>, D>;
    static constexpr bool relu = std::is_same_v<Activation, ReLU>;

    layer(std::size_t max_batch, Rng& rng)
        : main_(max_batch, rng), shortcut_(max_batch, rng), y_(max_batch), dz_(relu ? max_batch : 0),
          dx_(max_batch) {}

    const output_type& forward(const input_type& x, Mode mode) {
      if constexpr (check<X>)
        return forward_wired(x, mode);
      else
        std::abort();  // unreachable: a wiring error has already failed the compilation
    }
    const input_type& backward(const output_type& dy, bool need_dx = true) {
      if constexpr (check<X>)
        return backward_wired(dy, need_dx);
      else
        std::abort();
    }

    void collect(Collector& c) {
      {
        Collector::Scope scope(c, "main");
        collect_state(main_, c);
      }
      Collector::Scope scope(c, "shortcut");
      collect_state(shortcut_, c);
    }

    auto& main() { return main_; }
    auto& shortcut() { return shortcut_; }

  private:
    const output_type& forward_wired(const input_type& x, Mode mode) {
      const auto& a = main_.forward(x, mode);
      const auto& b = shortcut_.forward(x, mode);
      y_.set_batch(x.batch());
      if constexpr (relu)
        expr::assign(y_, expr::relu(a + b));
      else
        expr::assign(y_, a + b);
      forwarded_ = true;
      return y_;
    }

    const input_type& backward_wired(const output_type& dy, bool need_dx) {
      detail::check_backward("Residual", forwarded_ ? &y_ : nullptr, dy);
      const output_type* dz = &dy;
      if constexpr (relu) {
        dz_.set_batch(dy.batch());
        expr::assign(dz_, dy * expr::greater(y_, 0.f));
        dz = &dz_;
      }
      const auto& da = main_.backward(*dz, need_dx);
      const auto& db = shortcut_.backward(*dz, need_dx);
      dx_.set_batch(dy.batch());
      if (need_dx) expr::assign(dx_, da + db);
      return dx_;
    }

    layer_t<Main, X, D> main_;
    detail::child_layer_t<Shortcut, shortcut_input<X>, D> shortcut_;
    output_type y_, dz_;
    input_type dx_;
    bool forwarded_ = false;
  };
};

}  // namespace ctnn
