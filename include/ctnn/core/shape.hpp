#pragma once
// Shape<Dims...>: the static per-sample shape of a tensor (the batch is a runtime extent).

#include <array>
#include <cstddef>
#include <string>
#include <type_traits>

namespace ctnn {

template <std::size_t... Dims>
struct Shape {
  static_assert(sizeof...(Dims) > 0, "ctnn::Shape needs at least one dimension");
  static_assert(((Dims > 0) && ...), "every dimension of a ctnn::Shape must be positive");

  static constexpr std::size_t rank = sizeof...(Dims);
  static constexpr std::size_t size = (Dims * ...);
  static constexpr std::array<std::size_t, rank> dims{Dims...};
  template <std::size_t I>
  static constexpr std::size_t dim = dims[I];

  // "3x32x32"
  static std::string str() {
    std::string s;
    for (std::size_t i = 0; i < rank; ++i) {
      if (i) s += 'x';
      s += std::to_string(dims[i]);
    }
    return s;
  }
};

template <class T>
struct is_shape : std::false_type {};
template <std::size_t... Dims>
struct is_shape<Shape<Dims...>> : std::true_type {};
template <class T>
inline constexpr bool is_shape_v = is_shape<T>::value;

template <class T>
concept ShapeType = is_shape_v<T>;

// Channels and spatial size of an NCHW-style sample: dim 0 is the channel; a rank-1 shape is
// C channels of one element each.
template <ShapeType S>
inline constexpr std::size_t channels_v = S::template dim<0>;
template <ShapeType S>
inline constexpr std::size_t spatial_size_v = S::size / S::template dim<0>;

}  // namespace ctnn
