#pragma once
// Compile-time wiring checks. Each check is a class template instantiated with the layer and the
// numbers involved, so a failing static_assert is reported together with a line such as
//   In instantiation of 'struct ctnn::wiring::channel_count<ctnn::BatchNorm<32>,
//                        ctnn::wiring::expects<32>, ctnn::wiring::input_has<64> >'
// which names the layer, what it expects and what its input has. Every check is a bool_constant
// so that std::conjunction stops at the first failing one.

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
                "ctnn wiring error: channel mismatch: the layer named above expects<E> input channels "
                "but its input_has<A> channels");
};

template <class Layer, class Expected, class Actual>
struct feature_count;
template <class Layer, std::size_t E, std::size_t A>
struct feature_count<Layer, expects<E>, input_has<A>> : std::bool_constant<E == A> {
  static_assert(E == A,
                "ctnn wiring error: feature mismatch: the layer named above expects<E> input features "
                "but its input_has<A> features");
};

template <class Layer, class Expected, class Actual>
struct input_rank;
template <class Layer, std::size_t E, std::size_t A>
struct input_rank<Layer, expects<E>, input_has<A>> : std::bool_constant<E == A> {
  static_assert(E == A,
                "ctnn wiring error: rank mismatch: the layer named above expects<E> input dimensions "
                "(3 for channels x height x width, 1 for a flat feature vector; insert Flatten before "
                "Linear) but its input_has<A>");
};

template <class Layer, class Kernel, class Padded>
struct kernel_fits;
template <class Layer, std::size_t K, std::size_t P>
struct kernel_fits<Layer, kernel<K>, padded_input<P>> : std::bool_constant<K <= P> {
  static_assert(K <= P,
                "ctnn wiring error: the kernel<K> of the layer named above is larger than its "
                "padded_input<P> extent");
};

template <class Layer, class MainOut, class ShortcutOut>
struct residual_shapes;
template <class Layer, class M, class S>
struct residual_shapes<Layer, main_branch_output<M>, shortcut_output<S>> : std::bool_constant<std::is_same_v<M, S>> {
  static_assert(std::is_same_v<M, S>,
                "ctnn wiring error: the two branches of the Residual named above produce different "
                "shapes (main_branch_output vs shortcut_output); give the shortcut a projection such as "
                "Seq<Conv<In, Out, 1, Stride, 0>, BatchNorm<Out>>");
};

template <class Layer, class Actual>
struct flatten_input;
template <class Layer, std::size_t A>
struct flatten_input<Layer, input_has<A>> : std::bool_constant<(A >= 2)> {
  static_assert(A >= 2,
                "ctnn wiring error: the Flatten named above gets an input that is already flat "
                "(input_has<1> dimension); remove it");
};

template <class Layer, class Kernel, class Padding>
struct pool_padding;
template <class Layer, std::size_t K, std::size_t P>
struct pool_padding<Layer, kernel<K>, padded_input<P>> : std::bool_constant<(2 * P <= K)> {
  static_assert(2 * P <= K, "ctnn wiring error: a pooling layer's padding must be at most half its kernel");
};

// Checks run in order and stop at the first failure, so one mistake gives one message.
template <class... Checks>
inline constexpr bool all_v = std::conjunction_v<Checks...>;

}  // namespace ctnn::wiring
