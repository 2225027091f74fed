#pragma once
// detail::layer_pack<L...>: the layers of a chain (Seq), each built in place from (max_batch, rng),
// in order, and reached by position. A flat aggregate of one base per layer rather than a
// std::tuple, which builds its elements from objects passed to it: each layer was built as a
// temporary and moved in. So no layer needs a move constructor, and neither the recursive tuple
// implementation nor its noexcept checks are instantiated for every chain (compile time).

#include <cstddef>
#include <type_traits>
#include <utility>

#include "../core/random.hpp"

namespace ctnn::detail {

template <std::size_t I, class L>
struct pack_slot {
  L layer;
};

template <class Idx, class... Ls>
struct layer_pack_of;
template <std::size_t... I, class... Ls>
struct layer_pack_of<std::index_sequence<I...>, Ls...> : pack_slot<I, Ls>... {
  // Bases are initialised in the order they are listed: layer 0's parameters are drawn first. Each
  // slot's layer is initialised from a prvalue, so it is constructed where it lives.
  layer_pack_of(std::size_t max_batch, Rng& rng) : pack_slot<I, Ls>{Ls(max_batch, rng)}... {}
  layer_pack_of(const layer_pack_of&) = delete;
  layer_pack_of& operator=(const layer_pack_of&) = delete;
};

template <class... Ls>
using layer_pack = layer_pack_of<std::index_sequence_for<Ls...>, Ls...>;

// Layer I of a pack (the base with index I is found by deduction, not by recursion).
template <std::size_t I, class L>
L& pack_get(pack_slot<I, L>& slot) {
  return slot.layer;
}

// The type of layer I of the pack P.
template <std::size_t I, class P>
using pack_element_t = std::remove_reference_t<decltype(pack_get<I>(std::declval<P&>()))>;

}  // namespace ctnn::detail
