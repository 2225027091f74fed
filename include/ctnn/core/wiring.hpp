#pragma once
// Compile-time wiring checks. Each check is a class template instantiated with the layer and the
// numbers involved, so a failing static_assert is reported together with a line such as
//   In instantiation of 'struct ctnn::wiring::channel_count<ctnn::BatchNorm<32>,
//                        ctnn::wiring::expects<32>, ctnn::wiring::input_has<64> >'
// which names the layer, what it expects and what its input has. Every check is a bool_constant
// so that std::conjunction stops at the first failing one.
//
// One mistake gives one error: a layer spec exposes its checks as `check<In>` (false after a
// failure), Seq stops inferring shapes after the first layer whose check fails (the layers after it
// see the input `unreached` and are neither checked nor instantiated), and Residual compares its
// branches only when both are wired correctly.

#include <cstddef>
#include <type_traits>

namespace ctnn::wiring {

template <std::size_t N> struct expects {};
template <std::size_t N> struct input_has {};
template <std::size_t N> struct kernel {};
template <std::size_t N> struct padded_input {};
template <class Shape> struct main_branch_output {};
template <class Shape> struct shortcut_output {};

template <class Layer, class Expected, class Actual>
struct channel_count;
template <class Layer, std::size_t E, std::size_t A>
struct channel_count<Layer, expects<E>, input_has<A>> : std::bool_constant<E == A> {
  static_assert(E == A,
                "ctnn wiring error: channel mismatch: Layer expects E input channels but its input has A "
                "(Layer, E and A are in the 'channel_count<Layer, expects<E>, input_has<A>>' "
                "instantiation reported with this error)");
};

template <class Layer, class Expected, class Actual>
struct feature_count;
template <class Layer, std::size_t E, std::size_t A>
struct feature_count<Layer, expects<E>, input_has<A>> : std::bool_constant<E == A> {
  static_assert(E == A,
                "ctnn wiring error: feature mismatch: Layer expects E input features but its input has A "
                "(Layer, E and A are in the 'feature_count<Layer, expects<E>, input_has<A>>' "
                "instantiation reported with this error; after Flatten, Linear<In, Out> needs In = "
                "channels x height x width)");
};

template <class Layer, class Expected, class Actual>
struct input_rank;
template <class Layer, std::size_t E, std::size_t A>
struct input_rank<Layer, expects<E>, input_has<A>> : std::bool_constant<E == A> {
  static_assert(E == A,
                "ctnn wiring error: rank mismatch: Layer expects an input of E dimensions but its input "
                "has A (Layer, E and A are in the 'input_rank<Layer, expects<E>, input_has<A>>' "
                "instantiation reported with this error; 3 is channels x height x width, 1 is a flat "
                "feature vector: put Flatten before Linear)");
};

template <class Layer, class Kernel, class Padded>
struct kernel_fits;
template <class Layer, std::size_t K, std::size_t P>
struct kernel_fits<Layer, kernel<K>, padded_input<P>> : std::bool_constant<K <= P> {
  static_assert(K <= P,
                "ctnn wiring error: kernel too large: Layer has a K x K kernel but its input is only P "
                "high or wide after padding (Layer, K and P are in the 'kernel_fits<Layer, kernel<K>, "
                "padded_input<P>>' instantiation reported with this error; the spatial size shrank too "
                "far: remove a stride or a pooling layer, or pad more)");
};

template <class Layer, class MainOut, class ShortcutOut>
struct residual_shapes;
template <class Layer, class M, class S>
struct residual_shapes<Layer, main_branch_output<M>, shortcut_output<S>> : std::bool_constant<std::is_same_v<M, S>> {
  static_assert(std::is_same_v<M, S>,
                "ctnn wiring error: residual shape mismatch: the main branch and the shortcut of the "
                "Residual produce different shapes, which cannot be added (both shapes are in the "
                "'residual_shapes<Residual, main_branch_output<Shape>, shortcut_output<Shape>>' "
                "instantiation reported with this error); when the main branch changes channels or "
                "stride, give the shortcut a projection such as Seq<Conv<In, Out, 1, Stride, 0>, "
                "BatchNorm<Out>>");
};

template <class Layer, class Actual>
struct flatten_input;
template <class Layer, std::size_t A>
struct flatten_input<Layer, input_has<A>> : std::bool_constant<(A >= 2)> {
  static_assert(A >= 2,
                "ctnn wiring error: nothing to flatten: this Flatten gets an input that is already flat "
                "(see 'flatten_input<Flatten, input_has<1>>' reported with this error); remove it");
};

template <class Layer, class Kernel, class Padding>
struct pool_padding;
template <class Layer, std::size_t K, std::size_t P>
struct pool_padding<Layer, kernel<K>, padded_input<P>> : std::bool_constant<(2 * P <= K)> {
  static_assert(2 * P <= K,
                "ctnn wiring error: pooling padding too large: Layer pads by P, more than half its kernel "
                "K (see the 'pool_padding<Layer, kernel<K>, padded_input<P>>' instantiation reported "
                "with this error)");
};

// Checks run in order and stop at the first failure, so one mistake gives one message.
template <class... Checks>
inline constexpr bool all_v = std::conjunction_v<Checks...>;

// wired<Spec, In>: whether Spec's own checks pass on the input shape In. A spec without a
// `check<In>` member has no checks and counts as wired.
template <class Spec, class In>
struct wired : std::true_type {};
template <class Spec, class In>
  requires requires { Spec::template check<In>; }
struct wired<Spec, In> : std::bool_constant<bool(Spec::template check<In>)> {};
template <class Spec, class In>
inline constexpr bool wired_v = wired<Spec, In>::value;

// The input of a layer that comes after a wiring error in a Seq: such a layer is not checked,
// counted or instantiated, so the first error stays the only one.
struct unreached {};

}  // namespace ctnn::wiring
