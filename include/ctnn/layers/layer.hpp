#pragma once
// The layer concept.
//
// A layer spec L is an empty type that describes a layer. For an input shape In it provides
//   L::template output<In>                   the output shape (a fallback shape when a check fails)
//   L::template layer<In, D>                 the instantiated layer on device D: ctnn::Layer below,
//       layer(std::size_t max_batch, ctnn::Rng& rng);   (composites build their children in
//                                            place: a layer need not be copyable or movable)
//       const Tensor<Out, D>& forward(const Tensor<In, D>& x, Mode mode);
//       const Tensor<In, D>&  backward(const Tensor<Out, D>& dy, bool need_dx);
//       void collect(Collector&);            (optional: parameters and buffers)
//       MemorySlot plan(MemoryPlan<D>&, MemorySlot dy);
//                                            (optional, core/memory_plan.hpp) run once, in backward
//                                            order, after the network is built: binds the buffer
//                                            backward returns (built `deferred`) to a slot acquired
//                                            while dy is live, counts the layer's own buffers, and
//                                            returns the slot of its result (dy itself for a layer
//                                            that passes the gradient through)
//   L::template checks<In>                   (optional) wiring::checks<...>: its wiring checks, in
//                                            the order they are reported (core/wiring.hpp)
//   L::template failure<In>                  (optional, composite specs) the first failure among
//                                            its children, located (wiring::prepend_t)
//   L::name()                                (optional) a readable name for summaries
//   L::template children<In>                 (optional, composite specs) std::tuple<child<Spec, In>...>:
//                                            the sub-layers in order, each with its input shape
//   L::child_roles                           (optional) std::array of names for the children
//   L::combine_name()                        (optional) names the composite's own work after its
//                                            children (Residual's "add"), shown as its own row
//   L::template parameter_count<In>          (optional) parameters, a compile-time constant
//   L::template macs<In>                     (optional) multiply-adds per sample
// forward() may keep a pointer to x: the caller keeps x alive and unchanged until backward().
// backward() accumulates parameter gradients and returns dL/dx (unspecified when !need_dx).
//
// ctnn::LayerSpec<L, In, D> says whether L is a layer spec for In on D; a spec that is not gets one
// error naming what it lacks, from Seq, Residual or Network. Layers take their kernels from
// backend::kernels<D> and run element-wise work through ctnn::expr, so they are written once for
// every device.

#include <concepts>
#include <cstddef>
#include <cstdlib>
#include <string>
#include <type_traits>

#include "../backend/contract.hpp"
#include "../core/device.hpp"
#include "../core/memory_plan.hpp"
#include "../core/parameter.hpp"
#include "../core/random.hpp"
#include "../core/shape.hpp"
#include "../core/tensor.hpp"
#include "../core/wiring.hpp"

namespace ctnn {

// An instantiated layer from In to Out on device D.
template <class L, class In, class Out, class D>
concept Layer = ShapeType<In> && ShapeType<Out> && std::constructible_from<L, std::size_t, Rng&> &&
                requires(L& layer, const Tensor<In, D>& x, const Tensor<Out, D>& dy, Mode mode, bool need_dx) {
                  { layer.forward(x, mode) } -> std::same_as<const Tensor<Out, D>&>;
                  { layer.backward(dy, need_dx) } -> std::same_as<const Tensor<In, D>&>;
                };

namespace detail {

// Spec's output shape on In, reporting nothing: Shape<1> for a spec that names none (that is
// reported as its failure), unreached after an earlier failure.
template <class Spec, class In>
struct output_of {
  using type = Shape<1>;
};
template <class Spec, class In>
  requires(!std::is_same_v<In, wiring::unreached> && wiring::defines_output<Spec, In>::value)
struct output_of<Spec, In> {
  using type = typename Spec::template output<In>;
};
template <class Spec>
struct output_of<Spec, wiring::unreached> {
  using type = wiring::unreached;
};
template <class Spec, class In>
using output_t = typename output_of<Spec, In>::type;

}  // namespace detail

// A layer spec for input In on device D (Cpu by default).
template <class Spec, class In, class D = Cpu>
concept LayerSpec = ShapeType<In> && wiring::defines_output<Spec, In>::value && wiring::defines_layer<Spec, In>::value &&
                    ShapeType<detail::output_t<Spec, In>> &&
                    Layer<typename Spec::template layer<In, D>, In, detail::output_t<Spec, In>, D>;

// A sub-layer of a composite spec and the input shape it sees (for summaries and other tools).
template <class Spec, class In>
struct child {
  using spec = Spec;
  using input = In;
};

namespace detail {

// Whether Spec is made of sub-layers (Seq, Residual, the ResNet blocks): it lists its children.
template <class Spec, class In>
concept CompositeSpec = requires { typename Spec::template children<In>; };

// The stand-in for a layer that cannot be built (after a wiring error, or a spec that is not a
// layer): it compiles, so the error already reported stays the only one, and never runs.
struct unreached_layer {
  unreached_layer(std::size_t, Rng&) {}
};

// Reports that Spec::layer<In, D> is not a ctnn::Layer (the compiler's notes say which member).
template <class Spec, class In, class D>
struct layer_interface_error {
  static_assert(Layer<typename Spec::template layer<In, D>, In, output_t<Spec, In>, D>,
                "ctnn layer error: Spec::layer<In, D> (Spec, In and D are in the 'layer_interface_error<Spec, "
                "In, D>' instantiation reported with this error) is not a ctnn::Layer: it needs a constructor "
                "(std::size_t max_batch, ctnn::Rng&), 'const Tensor<Out, D>& forward(const Tensor<In, D>&, "
                "Mode)' and 'const Tensor<In, D>& backward(const Tensor<Out, D>&, bool need_dx)'");
};

// The layer of Spec on In and D, or unreached_layer where there is none: after a wiring error (In
// is unreached), for a spec without a layer template (reported as a wiring failure) and for a
// layer that does not meet ctnn::Layer (reported here).
template <class Spec, class In, class D>
struct layer_of {
  using type = unreached_layer;
};
template <class Spec, class In, class D>
  requires(!std::is_same_v<In, wiring::unreached> && wiring::defines_output<Spec, In>::value &&
           wiring::defines_layer<Spec, In>::value)
struct layer_of<Spec, In, D> {
  static auto pick() {
    if constexpr (LayerSpec<Spec, In, D>) {
      return std::type_identity<typename Spec::template layer<In, D>>{};
    } else {
      (void)sizeof(layer_interface_error<Spec, In, D>);
      return std::type_identity<unreached_layer>{};
    }
  }
  using type = typename decltype(pick())::type;
};
template <class Spec, class In, class D>
using layer_of_t = typename layer_of<Spec, In, D>::type;

// Whether the layer of Spec on In and D is a real one (composites run only when all are).
template <class Spec, class In, class D>
inline constexpr bool runnable_v = !std::is_same_v<layer_of_t<Spec, In, D>, unreached_layer>;

template <class Spec, class In>
constexpr std::size_t parameter_count_of() {
  if constexpr (std::is_same_v<In, wiring::unreached>)
    return 0;
  else if constexpr (requires { Spec::template parameter_count<In>; })
    return Spec::template parameter_count<In>;
  else
    return 0;
}
template <class Spec, class In>
constexpr std::size_t macs_of() {
  if constexpr (std::is_same_v<In, wiring::unreached>)
    return 0;
  else if constexpr (requires { Spec::template macs<In>; })
    return Spec::template macs<In>;
  else
    return 0;
}

// The outer end of a network: Spec on In after its first failure, if any, was reported.
template <class Spec, class In>
struct checked : wiring::reported<Spec, In> {
  using output = output_t<Spec, In>;
  template <class D>
  using layer = layer_of_t<Spec, In, D>;
};

}  // namespace detail

// The public entry points report a wiring error once, with its path; composite specs use the
// detail:: forms for their children, so that the error is not reported again from inside.
template <class Spec, class In>
using output_shape_t = typename detail::checked<Spec, In>::output;

template <class Spec, class In, class D = Cpu>
using layer_t = typename detail::checked<Spec, In>::template layer<D>;

template <class Spec, class In>
inline constexpr std::size_t parameter_count_v =
    (void(sizeof(detail::checked<Spec, In>)), detail::parameter_count_of<Spec, In>());

template <class Spec, class In>
inline constexpr std::size_t macs_v = (void(sizeof(detail::checked<Spec, In>)), detail::macs_of<Spec, In>());

template <class Spec>
std::string layer_name() {
  if constexpr (requires { Spec::name(); })
    return Spec::name();
  else
    return "Layer";
}

template <class L>
void collect_state(L& layer, Collector& c) {
  if constexpr (requires { layer.collect(c); }) layer.collect(c);
}

namespace detail {

// Turns a positive size_t list into "a,b,c".
template <class... N>
std::string join_numbers(N... n) {
  std::string s;
  ((s += (s.empty() ? "" : ","), s += std::to_string(n)), ...);
  return s;
}

// Dimension I of S, or 1 when S has no such dimension (keeps a failed rank check from cascading).
template <class S, std::size_t I>
inline constexpr std::size_t dim_or_one = [] {
  if constexpr (I < S::rank)
    return S::template dim<I>;
  else
    return std::size_t{1};
}();

// Throws unless backward() follows a forward() of the same batch.
template <class X, class Y>
void check_backward(const char* layer, const X* saved_input, const Y& dy) {
  if (!saved_input) fail("ctnn::", layer, "::backward called before forward");
  if (saved_input->batch() != dy.batch())
    fail("ctnn::", layer, "::backward: gradient batch ", dy.batch(), " differs from the forward batch ",
         saved_input->batch());
}

}  // namespace detail
}  // namespace ctnn
