#pragma once
// The layer concept.
//
// A layer spec L is an empty type that describes a layer. For an input shape In it provides
//   L::template output<In>                   the output shape (static_asserts explain a mismatch)
//   L::template layer<In, D>                 the instantiated layer on device D, constructible from
//                                            (std::size_t max_batch, ctnn::Rng& rng) and offering
//       const Tensor<Out, D>& forward(const Tensor<In, D>& x, Mode mode);
//       const Tensor<In, D>&  backward(const Tensor<Out, D>& dy, bool need_dx);
//       void collect(Collector&);            (optional: parameters and buffers)
//   L::template check<In>                    (optional) bool, false when In fails L's wiring checks
//                                            (lets Seq and Residual stop after the first error)
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

#include <cstddef>
#include <string>
#include <type_traits>

#include "../backend/cpu.hpp"  // the CPU is always available: kernels<Cpu> for every layer
#include "../core/device.hpp"
#include "../core/parameter.hpp"
#include "../core/random.hpp"
#include "../core/shape.hpp"
#include "../core/tensor.hpp"
#include "../core/wiring.hpp"

namespace ctnn {

template <class Spec, class In>
using output_shape_t = typename Spec::template output<In>;

// A sub-layer of a composite spec and the input shape it sees (for summaries and other tools).
template <class Spec, class In>
struct child {
  using spec = Spec;
  using input = In;
};

template <class Spec, class In, class D = Cpu>
using layer_t = typename Spec::template layer<In, D>;

namespace detail {
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
}  // namespace detail

template <class Spec, class In>
inline constexpr std::size_t parameter_count_v = detail::parameter_count_of<Spec, In>();

template <class Spec, class In>
inline constexpr std::size_t macs_v = detail::macs_of<Spec, In>();

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
}  // namespace detail

}  // namespace ctnn

namespace ctnn::detail {
// Dimension I of S, or 1 when S has no such dimension (keeps a failed rank check from cascading).
template <class S, std::size_t I>
inline constexpr std::size_t dim_or_one = [] {
  if constexpr (I < S::rank)
    return S::template dim<I>;
  else
    return std::size_t{1};
}();

// The instantiated child of a composite layer, or an empty placeholder when the child comes after
// a wiring error (its input is wiring::unreached): never run, since the program does not compile.
struct unreached_layer {
  unreached_layer(std::size_t, Rng&) {}
};
template <class L, class In, class D>
struct child_layer {
  using type = layer_t<L, In, D>;
};
template <class L, class D>
struct child_layer<L, wiring::unreached, D> {
  using type = unreached_layer;
};
template <class L, class In, class D>
using child_layer_t = typename child_layer<L, In, D>::type;

// Throws unless backward() follows a forward() of the same batch.
template <class X, class Y>
void check_backward(const char* layer, const X* saved_input, const Y& dy) {
  if (!saved_input) fail("ctnn::", layer, "::backward called before forward");
  if (saved_input->batch() != dy.batch())
    fail("ctnn::", layer, "::backward: gradient batch ", dy.batch(), " differs from the forward batch ",
         saved_input->batch());
}
}  // namespace ctnn::detail
