#pragma once
// Compile-time wiring checks, and where in a network a failed one sits.
//
// A check is a predicate type (a bool_constant) instantiated with the layer and the numbers
// involved: channel_count<BatchNorm<32>, expects<32>, input_has<64>> is false. Checks assert
// nothing themselves. A spec lists its checks for an input shape (`checks<In>`); a composite spec
// reports the first failure among its children, located by a path (`failure<In>`). Only the outer
// end of a network - output_shape_t, layer_t, Network, summary - reports, once, by instantiating
//   error<where<seq_position<3>, residual_main_branch, seq_position<1>>,
//         channel_count<Conv<16, 32, 3, 1, 1>, expects<16>, input_has<32>>>
// whose static_assert carries the message. The compiler's first line for the error is then
//   In instantiation of 'struct ctnn::wiring::error<ctnn::wiring::where<...>, ctnn::wiring::channel_count<...>>'
// which says where the layer sits (positions count from 0, as in parameter names: "3.main.1.weight"),
// what it expects and what its input has.
//
// One mistake gives one error: a spec with a failing check still has an output shape (a fallback),
// Seq stops inferring shapes after the first failing layer (the layers after it see the input
// `unreached` and are neither checked nor instantiated), and Residual compares its branches only
// when both are wired correctly.

#include <cstddef>
#include <type_traits>

#include "device.hpp"

namespace ctnn::wiring {

// ---- the numbers a check is about ----------------------------------------------------------------

template <std::size_t N> struct expects {};
template <std::size_t N> struct input_has {};
template <std::size_t N> struct kernel {};
template <std::size_t N> struct padded_input {};
template <class Shape> struct main_branch_output {};
template <class Shape> struct shortcut_output {};

// ---- where a layer sits ---------------------------------------------------------------------------

template <std::size_t I> struct seq_position {};   // child I of a Seq (from 0)
struct residual_main_branch {};                     // the main branch of a Residual
struct residual_shortcut {};                        // the shortcut of a Residual
template <class... Steps> struct where {};          // from the outermost spec inwards; where<> is the spec itself

// ---- checks -----------------------------------------------------------------------------------------

template <class Layer, class Expected, class Actual>
struct channel_count;
template <class Layer, std::size_t E, std::size_t A>
struct channel_count<Layer, expects<E>, input_has<A>> : std::bool_constant<E == A> {};

template <class Layer, class Expected, class Actual>
struct feature_count;
template <class Layer, std::size_t E, std::size_t A>
struct feature_count<Layer, expects<E>, input_has<A>> : std::bool_constant<E == A> {};

template <class Layer, class Expected, class Actual>
struct input_rank;
template <class Layer, std::size_t E, std::size_t A>
struct input_rank<Layer, expects<E>, input_has<A>> : std::bool_constant<E == A> {};

template <class Layer, class Kernel, class Padded>
struct kernel_fits;
template <class Layer, std::size_t K, std::size_t P>
struct kernel_fits<Layer, kernel<K>, padded_input<P>> : std::bool_constant<K <= P> {};

template <class Layer, class MainOut, class ShortcutOut>
struct residual_shapes;
template <class Layer, class M, class S>
struct residual_shapes<Layer, main_branch_output<M>, shortcut_output<S>> : std::bool_constant<std::is_same_v<M, S>> {};

template <class Layer, class Actual>
struct flatten_input;
template <class Layer, std::size_t A>
struct flatten_input<Layer, input_has<A>> : std::bool_constant<(A >= 2)> {};

template <class Layer, class Kernel, class Padding>
struct pool_padding;
template <class Layer, std::size_t K, std::size_t P>
struct pool_padding<Layer, kernel<K>, padded_input<P>> : std::bool_constant<(2 * P <= K)> {};

// The layer protocol (layers/layer.hpp): a spec must name its output shape and its layer.
template <class Spec, class In>
struct defines_output : std::bool_constant<requires { typename Spec::template output<In>; }> {};
template <class Spec, class In>
struct defines_layer : std::bool_constant<requires { typename Spec::template layer<In, Cpu>; }> {};

// ---- errors: one message per kind of check ------------------------------------------------------------

// Instantiating error<Where, Check> for a failing Check is the wiring error. A check of a user's
// own without a specialisation below gets the generic message.
template <class Where, class Check>
struct error {
  static_assert(Check::value,
                "ctnn wiring error: a layer's check failed (the check and where the layer sits are in the "
                "'error<where<...>, Check>' instantiation reported with this error)");
};

template <class Where, class Layer, std::size_t E, std::size_t A>
struct error<Where, channel_count<Layer, expects<E>, input_has<A>>> {
  static_assert(E == A,
                "ctnn wiring error: channel mismatch: Layer expects E input channels but its input has A "
                "(where the layer sits, Layer, E and A are in the 'error<where<...>, channel_count<Layer, "
                "expects<E>, input_has<A>>>' instantiation reported with this error)");
};

template <class Where, class Layer, std::size_t E, std::size_t A>
struct error<Where, feature_count<Layer, expects<E>, input_has<A>>> {
  static_assert(E == A,
                "ctnn wiring error: feature mismatch: Layer expects E input features but its input has A "
                "(where the layer sits, Layer, E and A are in the 'error<where<...>, feature_count<Layer, "
                "expects<E>, input_has<A>>>' instantiation reported with this error; after Flatten, "
                "Linear<In, Out> needs In = channels x height x width)");
};

template <class Where, class Layer, std::size_t E, std::size_t A>
struct error<Where, input_rank<Layer, expects<E>, input_has<A>>> {
  static_assert(E == A,
                "ctnn wiring error: rank mismatch: Layer expects an input of E dimensions but its input "
                "has A (where the layer sits, Layer, E and A are in the 'error<where<...>, input_rank<Layer, "
                "expects<E>, input_has<A>>>' instantiation reported with this error; 3 is channels x height "
                "x width, 1 is a flat feature vector: put Flatten before Linear)");
};

template <class Where, class Layer, std::size_t K, std::size_t P>
struct error<Where, kernel_fits<Layer, kernel<K>, padded_input<P>>> {
  static_assert(K <= P,
                "ctnn wiring error: kernel too large: Layer has a K x K kernel but its input is only P "
                "high or wide after padding (where the layer sits, Layer, K and P are in the "
                "'error<where<...>, kernel_fits<Layer, kernel<K>, padded_input<P>>>' instantiation "
                "reported with this error; the spatial size shrank too far: remove a stride or a pooling "
                "layer, or pad more)");
};

template <class Where, class Layer, class M, class S>
struct error<Where, residual_shapes<Layer, main_branch_output<M>, shortcut_output<S>>> {
  static_assert(std::is_same_v<M, S>,
                "ctnn wiring error: residual shape mismatch: the main branch and the shortcut of the "
                "Residual produce different shapes, which cannot be added (where the Residual sits and "
                "both shapes are in the 'error<where<...>, residual_shapes<Residual, "
                "main_branch_output<Shape>, shortcut_output<Shape>>>' instantiation reported with this "
                "error); when the main branch changes channels or stride, give the shortcut a projection "
                "such as Seq<Conv<In, Out, 1, Stride, 0>, BatchNorm<Out>>");
};

template <class Where, class Layer, std::size_t A>
struct error<Where, flatten_input<Layer, input_has<A>>> {
  static_assert(A >= 2,
                "ctnn wiring error: nothing to flatten: this Flatten gets an input that is already flat "
                "(see 'error<where<...>, flatten_input<Flatten, input_has<1>>>' reported with this error); "
                "remove it");
};

template <class Where, class Layer, std::size_t K, std::size_t P>
struct error<Where, pool_padding<Layer, kernel<K>, padded_input<P>>> {
  static_assert(2 * P <= K,
                "ctnn wiring error: pooling padding too large: Layer pads by P, more than half its kernel "
                "K (see the 'error<where<...>, pool_padding<Layer, kernel<K>, padded_input<P>>>' "
                "instantiation reported with this error)");
};

template <class Where, class Spec, class In>
struct error<Where, defines_output<Spec, In>> {
  static_assert(defines_output<Spec, In>::value,
                "ctnn layer error: this spec is not a layer: it has no member 'template <class In> using "
                "output = <output shape>' (the spec and where it sits are in the 'error<where<...>, "
                "defines_output<Spec, In>>' instantiation reported with this error; see "
                "include/ctnn/layers/layer.hpp for what a layer spec provides)");
};

template <class Where, class Spec, class In>
struct error<Where, defines_layer<Spec, In>> {
  static_assert(defines_layer<Spec, In>::value,
                "ctnn layer error: this spec is not a layer: it has no member 'template <class In, class D> "
                "class layer' (the spec and where it sits are in the 'error<where<...>, defines_layer<Spec, "
                "In>>' instantiation reported with this error; see include/ctnn/layers/layer.hpp for what "
                "a layer spec provides)");
};

// ---- failures: the first failing check of a spec, with where it sits ------------------------------------

struct ok {};                                  // every check passed
template <class Where, class Check> struct located {};  // Check failed at Where

template <class... Checks> struct checks {};  // a leaf spec's checks, in the order they are reported

// The first failing check of a list as located<where<>, Check>, or ok. Lazy: checks after the
// first failure are not instantiated.
template <class List>
struct first_failing;
template <>
struct first_failing<checks<>> {
  using type = ok;
};
template <class C, class... Rest>
struct first_failing<checks<C, Rest...>> {
  using type = typename std::conditional_t<C::value, first_failing<checks<Rest...>>,
                                           std::type_identity<located<where<>, C>>>::type;
};

// A failure seen from one level further out: Step goes in front of its path.
template <class Step, class Failure>
struct prepend {
  using type = ok;
};
template <class Step, class... Steps, class Check>
struct prepend<Step, located<where<Steps...>, Check>> {
  using type = located<where<Step, Steps...>, Check>;
};
template <class Step, class Failure>
using prepend_t = typename prepend<Step, Failure>::type;

// The input of a layer that comes after a wiring error in a Seq: such a layer is not checked,
// counted or instantiated, so the first error stays the only one.
struct unreached {};

// failure_t<Spec, In>: the first failure of Spec on input In, from the layer protocol, then the
// spec's own `failure<In>` (composites) or `checks<In>` (leaves); ok when there is none.
template <class Spec, class In>
struct failure_of {
  using protocol = typename first_failing<checks<defines_output<Spec, In>, defines_layer<Spec, In>>>::type;
  static auto pick() {
    if constexpr (!std::is_same_v<protocol, ok>)
      return std::type_identity<protocol>{};
    else if constexpr (requires { typename Spec::template failure<In>; })
      return std::type_identity<typename Spec::template failure<In>>{};
    else if constexpr (requires { typename Spec::template checks<In>; })
      return std::type_identity<typename first_failing<typename Spec::template checks<In>>::type>{};
    else
      return std::type_identity<ok>{};
  }
  using type = typename decltype(pick())::type;
};
template <class Spec>
struct failure_of<Spec, unreached> {
  using type = ok;
};
template <class Spec, class In>
using failure_t = typename failure_of<Spec, In>::type;

// wired_v<Spec, In>: whether Spec passes every check on input In (nothing is reported).
template <class Spec, class In>
inline constexpr bool wired_v = std::is_same_v<failure_t<Spec, In>, ok>;

// report<Failure>: instantiating it reports the failure (an ok one reports nothing).
template <class Failure>
struct report {};
template <class Where, class Check>
struct report<located<Where, Check>> : error<Where, Check> {};

// reported<Spec, In>: Spec on In after its failure (if any) was reported. The outer ends of a
// network go through it; composites use their children's members directly, so that an error is
// reported once, with its full path.
template <class Spec, class In>
struct reported : report<failure_t<Spec, In>> {
  static constexpr bool ok = wired_v<Spec, In>;
};

}  // namespace ctnn::wiring
