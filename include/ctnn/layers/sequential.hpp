#pragma once
// Seq<Layers...>: sequential composition. Shapes flow through the list at compile time; each
// layer reads its predecessor's output buffer. Children are named by position ("0", "1", ...), in
// parameter names and in the path of a wiring error (wiring::seq_position<I>).
//
// Mode::inference folds: a convolution followed by a batch norm (and a ReLU) runs as one pass of
// the convolution, which applies the batch norm's evaluation coefficients (and max(., 0)) as it
// writes its output (forward_folded), on devices whose convolution kernel takes a ChannelAffine.

#include <array>
#include <concepts>
#include <cstddef>
#include <cstdlib>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>

#include "layer.hpp"
#include "layer_pack.hpp"

namespace ctnn {

namespace detail {

// The input shapes of each layer of a chain, the final output shape, and the first failure among
// its layers (located: seq_position<I> in front of the layer's own path). Inference stops at the
// first layer whose checks fail: that layer's (fallback) output becomes the chain's output and the
// layers after it get the input wiring::unreached, so one wiring mistake gives one compile error
// instead of a cascade.
template <std::size_t I, class In, class... Ls>
struct chain {
  using inputs = std::tuple<>;
  using out = In;
  using failure = wiring::ok;
};
template <class Out, class... Rest>
struct chain_stopped {
  using inputs = std::tuple<std::conditional_t<true, wiring::unreached, Rest>...>;
  using out = Out;
  using failure = wiring::ok;  // the failure is the stopping layer's
};
template <std::size_t I, class In, class L, class... Rest>
struct chain<I, In, L, Rest...> {
  using here = output_t<L, In>;
  using own = wiring::failure_t<L, In>;
  static constexpr bool wired = std::is_same_v<own, wiring::ok>;
  using next = std::conditional_t<wired, chain<I + 1, here, Rest...>, chain_stopped<here, Rest...>>;
  using inputs = decltype(std::tuple_cat(std::declval<std::tuple<In>>(), std::declval<typename next::inputs>()));
  using out = typename next::out;
  using failure = std::conditional_t<wired, typename next::failure, wiring::prepend_t<wiring::seq_position<I>, own>>;
};

// Whether a layer's output may be overwritten by the next layer (its backward does not read it).
template <class L>
concept offers_output = requires(L& layer) { layer.overwritable_output(); };

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
  using inputs = typename detail::chain<0, X, Layers...>::inputs;
  template <class X>
  using output = typename detail::chain<0, X, Layers...>::out;
  template <class X>
  using failure = typename detail::chain<0, X, Layers...>::failure;
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
      return (std::size_t{0} + ... + detail::parameter_count_of<Layers, std::tuple_element_t<I, inputs<X>>>());
    }(std::index_sequence_for<Layers...>{});
  }();

  template <class X>
  static constexpr std::size_t macs = [] {
    return []<std::size_t... I>(std::index_sequence<I...>) {
      return (std::size_t{0} + ... + detail::macs_of<Layers, std::tuple_element_t<I, inputs<X>>>());
    }(std::index_sequence_for<Layers...>{});
  }();

  template <class X, class D>
  class layer {
    template <class Idx>
    struct instances;
    template <std::size_t... I>
    struct instances<std::index_sequence<I...>> {
      using type = detail::layer_pack<detail::layer_of_t<Layers, std::tuple_element_t<I, inputs<X>>, D>...>;
      static constexpr bool runnable = (detail::runnable_v<Layers, std::tuple_element_t<I, inputs<X>>, D> && ...);
    };
    using pack_type = typename instances<std::index_sequence_for<Layers...>>::type;
    using last_type = detail::pack_element_t<sizeof...(Layers) - 1, pack_type>;
    // Whether every layer is wired and real; otherwise an error has been reported and this never runs.
    static constexpr bool runnable =
        std::is_same_v<failure<X>, wiring::ok> && instances<std::index_sequence_for<Layers...>>::runnable;

  public:
    using input_type = Tensor<X, D>;
    using output_type = Tensor<output<X>, D>;

    // The layers are built in order (layer_pack), so parameters are drawn in order.
    layer(std::size_t max_batch, Rng& rng) : layers_(max_batch, rng) {}

    const output_type& forward(const input_type& x, Mode mode) {
      if constexpr (runnable)
        return forward_from<0>(x, mode);
      else
        std::abort();  // unreachable: a wiring error has already failed the compilation
    }

    // Mode::inference inside a Residual whose chain ends with a convolution and a batch norm that
    // fold: the chain's output plus `residual`, then max(., 0) when relu, with the add (and ReLU)
    // in the convolution's pass too.
    static constexpr bool folds_residual() {
      if constexpr (length >= 2)
        return foldable<length - 2>();
      else
        return false;
    }
    const output_type& forward_plus(const input_type& x, const output_type& residual, bool relu) {
      static_assert(folds_residual(), "ctnn::Seq::forward_plus: the chain does not end with a convolution and a "
                                      "batch norm that fold");
      const Tail tail{residual.data(), relu};
      return forward_from<0>(x, Mode::inference, &tail);
    }
    const input_type& backward(const output_type& dy, bool need_dx = true) {
      if constexpr (runnable)
        return backward_from<length - 1>(dy, need_dx);
      else
        std::abort();
    }

    void collect(Collector& c) {
      hook_ = c.gradient_hook();
      timer_ = c.layer_timer();
      [&]<std::size_t... I>(std::index_sequence<I...>) {
        (collect_child<I>(c), ...);
      }(std::index_sequence_for<Layers...>{});
    }

    // Layers that can run in place do so on the output of the layer before them when that layer
    // offers it (only the next layer reads a layer's output in a chain). Then, in backward order,
    // each layer's gradient is released once the layer before it has read it (plan_layer). A batch
    // norm followed by an activation in place on its output, then by a leaf layer, needs that
    // output only while the leaf reads it: Seq recomputes it before the leaf's backward
    // (recomputed<I>), so it is a slot from the leaf's backward to the batch norm's. When the batch
    // norm's backward takes the ReLU's (relu_into_norm), the leaf may write its input gradient
    // into that slot.
    MemorySlot plan(MemoryPlan<D>& p, MemorySlot dy) {
      if constexpr (runnable) {
        [&]<std::size_t... I>(std::index_sequence<I...>) {
          (share_output<I + 1>(), ...);
        }(std::make_index_sequence<length - 1>{});
        return plan_from<length - 1>(p, dy);
      } else {
        std::abort();
      }
    }

    // A chain's output is its last layer's: overwritable when that layer's is.
    auto& overwritable_output()
      requires detail::offers_output<last_type>
    {
      return detail::pack_get<length - 1>(layers_).overwritable_output();
    }

    template <std::size_t I>
    auto& get() { return detail::pack_get<I>(layers_); }

  private:
    // Records which of the collector's parameters child I owns: backward tells the gradient hook
    // that they are final once the child's backward has returned.
    template <std::size_t I>
    void collect_child(Collector& c) {
      using spec = std::tuple_element_t<I, specs>;
      if constexpr (!detail::CompositeSpec<spec, std::tuple_element_t<I, inputs<X>>>)
        timed_[I] = c.timed_layer(std::to_string(I), layer_name<spec>());
      Collector::Scope scope(c, std::to_string(I));
      params_[I].first = c.parameters().size();
      collect_state(detail::pack_get<I>(layers_), c);
      params_[I].second = c.parameters().size();
    }

    // Times child I's pass when it is a leaf and the network has a timer (composites time their own).
    template <std::size_t I>
    detail::LayerClock<D> clock(Pass pass) const {
      return {timed_[I] == untimed ? nullptr : timer_, timed_[I], pass};
    }

    // What the last fold of a chain adds (forward_plus).
    struct Tail {
      const float* residual;
      bool relu;
    };

    template <std::size_t I, class T>
    const output_type& forward_from(const T& x, Mode mode, const Tail* tail = nullptr) {
      if constexpr (foldable<I>()) {
        if (mode == Mode::inference) return forward_folded<I>(x, mode, tail);
      }
      auto timing = clock<I>(Pass::forward);
      const auto& y = detail::pack_get<I>(layers_).forward(x, mode);
      timing.stop();
      if constexpr (I + 1 < length)
        return forward_from<I + 1>(y, mode, tail);
      else
        return y;
    }
    // Whether layer I (a convolution) can apply the batch norm after it as it writes its output,
    // and whether layer I, a ReLU, can then be left out (Mode::inference).
    template <std::size_t I>
    static constexpr bool foldable() {
      if constexpr (I + 1 >= length)
        return false;
      else
        return requires(detail::pack_element_t<I, pack_type>& conv, detail::pack_element_t<I + 1, pack_type>& norm,
                        const typename detail::pack_element_t<I, pack_type>::input_type& x) {
          conv.forward_folded(x, norm.fold());
        };
    }
    template <std::size_t I>
    static constexpr bool relu_foldable() {
      if constexpr (I >= length)
        return false;
      else
        return requires(detail::pack_element_t<I, pack_type>& act) { act.fold(); };
    }

    // Mode::inference: layer I (a convolution) writes the batch norm's result, and a ReLU's after
    // it, in one pass; the chain goes on from the layer after them. The convolution's own output
    // holds the result (never the batch norm's, which the memory plan may share with x). The
    // profile counts the pass as the convolution's.
    template <std::size_t I, class T>
    const output_type& forward_folded(const T& x, Mode mode, const Tail* tail) {
      constexpr bool relu = relu_foldable<I + 2>();
      auto timing = clock<I>(Pass::forward);
      backend::ChannelAffine affine = detail::pack_get<I + 1>(layers_).fold();
      affine.relu = relu;
      if constexpr (relu) detail::pack_get<I + 2>(layers_).fold();
      if constexpr (I + 2 == length) {
        if (tail) {
          affine.residual = tail->residual;
          affine.relu = tail->relu;
        }
      }
      const auto& y = detail::pack_get<I>(layers_).forward_folded(x, affine);
      timing.stop();
      return forward_after<relu ? I + 3 : I + 2>(y, mode, tail);
    }
    template <std::size_t J, class T>
    const output_type& forward_after(const T& y, Mode mode, const Tail* tail) {
      if constexpr (J < length)
        return forward_from<J>(y, mode, tail);
      else
        return y;
    }

    template <std::size_t I, class T>
    const input_type& backward_from(const T& dy, bool need_dx) {
      if constexpr (I >= 2 && recomputable<I - 1>()) {
        if (recomputed_[I - 1] != MemoryPlan<D>::external) {
          detail::pack_get<I - 2>(layers_).recompute_output();
          detail::pack_get<I - 1>(layers_).recompute_output();
        }
      }
      auto timing = clock<I>(Pass::backward);
      const auto& dx = detail::pack_get<I>(layers_).backward(dy, I > 0 || need_dx);
      timing.stop();
      if (hook_ && *hook_ && params_[I].first != params_[I].second)
        (*hook_)->gradients_ready(params_[I].first, params_[I].second);
      if constexpr (I > 0)
        return backward_from<I - 1>(dx, need_dx);
      else
        return dx;
    }

    template <std::size_t I>
    void share_output() {
      auto& before = detail::pack_get<I - 1>(layers_);
      auto& layer = detail::pack_get<I>(layers_);
      if constexpr (requires { layer.compute_in_place(before.overwritable_output()); })
        layer.compute_in_place(before.overwritable_output());
      if constexpr (relu_into_norm<I>()) {
        before.mask_with_relu();
        layer.leave_backward_to_norm();
      }
    }

    // Whether layer I, a ReLU, leaves its backward to the batch norm I - 1 before it, which then
    // masks its gradient (from its own input): one pass instead of two, no gradient buffer for the
    // ReLU, and no backward reads the batch norm's output.
    template <std::size_t I>
    static constexpr bool relu_into_norm() {
      if constexpr (I < 1 || I >= length)
        return false;
      else
        return requires(detail::pack_element_t<I - 1, pack_type>& norm, detail::pack_element_t<I, pack_type>& act) {
          norm.mask_with_relu();
          act.leave_backward_to_norm();
        };
    }

    // Whether the output of layers I - 1 (a batch norm) and I (an activation in place on it) can be
    // recomputed before the backward of layer I + 1, a leaf (a composite could read it late in
    // its forward, while other layers use the arena).
    template <std::size_t I>
    static constexpr bool recomputable() {
      if constexpr (I < 1 || I >= length - 1) {  // (I - 1 of layer 0 wraps around: also false)
        return false;
      } else {
        using reader = std::tuple_element_t<I + 1, specs>;
        return !detail::CompositeSpec<reader, std::tuple_element_t<I + 1, inputs<X>>> &&
               requires(detail::pack_element_t<I - 1, pack_type>& norm, detail::pack_element_t<I, pack_type>& act) {
                 norm.recompute_output();
                 norm.overwritable_output();
                 act.recompute_output();
                 act.output();
                 { act.in_place() } -> std::same_as<bool>;
               };
      }
    }

    template <std::size_t I>
    MemorySlot plan_from(MemoryPlan<D>& p, MemorySlot dy) {
      if constexpr (recomputable<I - 1>()) {  // layer I reads the recomputed output of I - 2 and I - 1
        if (detail::pack_get<I - 1>(layers_).in_place()) {
          auto& out = detail::pack_get<I - 2>(layers_).overwritable_output();
          recomputed_[I - 1] = p.acquire(out.capacity_bytes());
          p.bind_transient(out, recomputed_[I - 1]);
          p.bind_transient(detail::pack_get<I - 1>(layers_).output(), recomputed_[I - 1]);
        }
      }
      // A leaf reading a recomputed output that no backward reads after it (the ReLU's backward in
      // the batch norm's) writes its input gradient over it, where it can.
      MemorySlot over = MemoryPlan<D>::external;
      if constexpr (recomputable<I - 1>() && relu_into_norm<I - 1>()) over = recomputed_[I - 1];
      const MemorySlot dx = detail::plan_layer(detail::pack_get<I>(layers_), p, dy, false, over);
      if constexpr (recomputable<I + 1>()) {  // layer I recomputes its output first: it is dead after I's backward
        p.release(recomputed_[I + 1]);
      }
      if constexpr (I > 0)
        return plan_from<I - 1>(p, dx);
      else
        return dx;
    }

    pack_type layers_;
    std::array<std::pair<std::size_t, std::size_t>, length> params_{};  // [first, last) per child
    GradientHook* const* hook_ = nullptr;
    static constexpr std::size_t untimed = ~std::size_t{0};
    std::array<std::size_t, length> timed_ = [] {
      std::array<std::size_t, length> a{};
      a.fill(untimed);
      return a;
    }();  // per child: its index among the network's timed layers
    LayerTimer* const* timer_ = nullptr;
    std::array<MemorySlot, length> recomputed_ = [] {
      std::array<MemorySlot, length> a{};
      a.fill(MemoryPlan<D>::external);
      return a;
    }();  // per activation whose output (with its batch norm's) is recomputed: its slot
  };
};

}  // namespace ctnn
