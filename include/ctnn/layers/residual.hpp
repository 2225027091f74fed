#pragma once
// Residual<Main, Shortcut = Identity, Activation = Identity>:
//   y = Activation(Main(x) + Shortcut(x))
// The add and the activation (Identity or ReLU) are one fused pass forward and one backward; in
// Mode::inference, when the main branch ends with a convolution and a batch norm that fold, they
// run in that convolution's pass (Seq::forward_plus).

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
  // compared. Errors inside a branch are located under residual_main_branch or residual_shortcut.
  template <class X>
  using shortcut_input = std::conditional_t<wiring::wired_v<Main, X>, X, wiring::unreached>;

  template <class X>
  static auto first_failure() {
    using M = wiring::failure_t<Main, X>;
    using S = wiring::failure_t<Shortcut, X>;
    if constexpr (!std::is_same_v<M, wiring::ok>) {
      return std::type_identity<wiring::prepend_t<wiring::residual_main_branch, M>>{};
    } else if constexpr (!std::is_same_v<S, wiring::ok>) {
      return std::type_identity<wiring::prepend_t<wiring::residual_shortcut, S>>{};
    } else {
      using shapes = wiring::residual_shapes<Residual, wiring::main_branch_output<detail::output_t<Main, X>>,
                                             wiring::shortcut_output<detail::output_t<Shortcut, X>>>;
      return std::type_identity<typename wiring::first_failing<wiring::checks<shapes>>::type>{};
    }
  }
  template <class X>
  using failure = typename decltype(first_failure<X>())::type;
  template <class X>
  using output = detail::output_t<Main, X>;

  // The two branches; the add (and activation) after them is the Residual's own work.
  template <class X>
  using children = std::tuple<child<Main, X>, child<Shortcut, shortcut_input<X>>>;
  static constexpr std::array<const char*, 2> child_roles{"main", "shortcut"};
  static std::string combine_name() { return std::is_same_v<Activation, ReLU> ? "add + ReLU" : "add"; }

  template <class X>
  static constexpr std::size_t parameter_count =
      detail::parameter_count_of<Main, X>() + detail::parameter_count_of<Shortcut, shortcut_input<X>>();
  template <class X>
  static constexpr std::size_t macs =
      detail::macs_of<Main, X>() + detail::macs_of<Shortcut, shortcut_input<X>>() + output<X>::size;

  template <class X, class D>
  class layer {
  public:
    using input_type = Tensor<X, D>;
    using output_type = Tensor<output<X>, D>;
    static constexpr bool relu = std::is_same_v<Activation, ReLU>;
    using main_type = detail::layer_of_t<Main, X, D>;
    using shortcut_type = detail::layer_of_t<Shortcut, shortcut_input<X>, D>;
    // Whether both branches are wired and real; otherwise an error has been reported and this never runs.
    static constexpr bool runnable = std::is_same_v<failure<X>, wiring::ok> && detail::runnable_v<Main, X, D> &&
                                     detail::runnable_v<Shortcut, shortcut_input<X>, D>;

    layer(std::size_t max_batch, Rng& rng)
        : main_(max_batch, rng), shortcut_(max_batch, rng), y_(max_batch, deferred), dz_(relu ? max_batch : 0, deferred),
          dx_(max_batch, deferred) {}

    const output_type& forward(const input_type& x, Mode mode) {
      if constexpr (runnable)
        return forward_wired(x, mode);
      else
        std::abort();  // unreachable: a wiring error has already failed the compilation
    }
    const input_type& backward(const output_type& dy, bool need_dx = true) {
      if constexpr (runnable)
        return backward_wired(dy, need_dx);
      else
        std::abort();
    }

    void collect(Collector& c) {
      timer_ = c.layer_timer();
      if constexpr (!detail::CompositeSpec<Main, X>) main_id_ = c.timed_layer("main", layer_name<Main>());
      {
        Collector::Scope scope(c, "main");
        collect_state(main_, c);
      }
      if constexpr (!detail::CompositeSpec<Shortcut, shortcut_input<X>>)
        shortcut_id_ = c.timed_layer("shortcut", layer_name<Shortcut>());
      {
        Collector::Scope scope(c, "shortcut");
        collect_state(shortcut_, c);
      }
      own_ = c.timed_layer("", combine_name());
    }

    // Forward: the sum overwrites the main branch's output when that layer's backward does not read
    // it (the BatchNorm that ends a ResNet block); such a shortcut output lives in the gradient arena
    // (MemoryPlan::forward_only). Backward: dz (after the ReLU's mask) is live
    // while both branches run; the sum goes in place into the main branch's result when that is a
    // slot of its own.
    MemorySlot plan(MemoryPlan<D>& p, MemorySlot dy) {
      if constexpr (runnable) {
        using Plan = MemoryPlan<D>;
        if constexpr (requires { main_.overwritable_output(); }) {
          y_.bind(main_.overwritable_output().data());
        } else {
          y_.set_batch(y_.capacity());  // allocates it now, with the rest of the network
          p.activation(y_);
        }
        MemorySlot dz = dy;
        if constexpr (relu) {
          dz = p.gradient(dz_);
          p.release(dy);  // read once, by the mask
        }
        const MemorySlot da = detail::plan_layer(main_, p, dz, /*keep_dy=*/true);
        const MemorySlot db = detail::plan_layer(shortcut_, p, dz, /*keep_dy=*/true);
        // The shortcut's output (a projection's BatchNorm) is read only by the sum, right after it
        // is written: it needs no storage of its own.
        if constexpr (requires { shortcut_.overwritable_output(); }) p.forward_only(shortcut_.overwritable_output());
        MemorySlot dx = da;
        if (da != Plan::external && da != dz && da != db)
          p.bind(dx_, da);
        else
          dx = p.gradient(dx_);
        for (const MemorySlot s : {da, db, dz})
          if (s != dx) p.release(s);
        return dx;
      } else {
        std::abort();
      }
    }

    auto& main() { return main_; }
    auto& shortcut() { return shortcut_; }

  private:
    // Times a leaf branch or the block's own work (id) when the network has a timer.
    detail::LayerClock<D> clock(std::size_t id, Pass pass) const { return {id == untimed ? nullptr : timer_, id, pass}; }

    // Whether the main branch can add the shortcut in its last convolution's pass (Seq::forward_plus).
    static constexpr bool main_folds_residual() {
      if constexpr (requires { main_type::folds_residual(); })
        return main_type::folds_residual();
      else
        return false;
    }

    const output_type& forward_wired(const input_type& x, Mode mode) {
      if constexpr (main_folds_residual()) {
        // Mode::inference: the shortcut first, then the main branch with the add (and ReLU) in
        // its last convolution's pass; its output is the block's. Nothing is kept for backward.
        if (mode == Mode::inference) {
          auto timing = clock(shortcut_id_, Pass::forward);
          const output_type& b = shortcut_.forward(x, mode);
          timing.stop();
          timing = clock(main_id_, Pass::forward);
          const output_type& y = main_.forward_plus(x, b, relu);
          timing.stop();
          forwarded_ = false;
          return y;
        }
      }
      auto timing = clock(main_id_, Pass::forward);
      const auto& a = main_.forward(x, mode);
      timing.stop();
      timing = clock(shortcut_id_, Pass::forward);
      const auto& b = shortcut_.forward(x, mode);
      timing.stop();
      timing = clock(own_, Pass::forward);
      y_.set_batch(x.batch());
      if constexpr (relu)
        expr::assign(y_, expr::relu(a + b));
      else
        expr::assign(y_, a + b);
      timing.stop();
      forwarded_ = true;
      return y_;
    }

    const input_type& backward_wired(const output_type& dy, bool need_dx) {
      detail::check_backward("Residual", forwarded_ ? &y_ : nullptr, dy);
      const output_type* dz = &dy;
      auto timing = clock(own_, Pass::backward);
      if constexpr (relu) {
        dz_.set_batch(dy.batch());
        expr::assign(dz_, dy * expr::greater(y_, 0.f));
        dz = &dz_;
      }
      timing.stop();
      timing = clock(main_id_, Pass::backward);
      const auto& da = main_.backward(*dz, need_dx);
      timing.stop();
      timing = clock(shortcut_id_, Pass::backward);
      const auto& db = shortcut_.backward(*dz, need_dx);
      timing.stop();
      timing = clock(own_, Pass::backward);
      dx_.set_batch(dy.batch());
      if (need_dx) expr::assign(dx_, da + db);
      timing.stop();
      return dx_;
    }

    main_type main_;
    shortcut_type shortcut_;
    output_type y_, dz_;
    input_type dx_;
    bool forwarded_ = false;
    static constexpr std::size_t untimed = ~std::size_t{0};
    std::size_t own_ = untimed, main_id_ = untimed, shortcut_id_ = untimed;  // indices among the timed layers
    LayerTimer* const* timer_ = nullptr;
  };
};

}  // namespace ctnn
