#pragma once
// Identity: passes its input through (no copy); the default shortcut of Residual.

#include <string>

#include "layer.hpp"

namespace ctnn {

struct Identity {
  static std::string name() { return "Identity"; }

  template <class X>
  using output = X;

  template <class X, class D>
  class layer {
  public:
    using input_type = Tensor<X, D>;
    using output_type = Tensor<X, D>;

    layer(std::size_t, Rng&) {}
    const output_type& forward(const input_type& x, Mode) { return x; }
    const input_type& backward(const output_type& dy, bool = true) { return dy; }
    MemorySlot plan(MemoryPlan<D>&, MemorySlot dy) { return dy; }
  };
};

}  // namespace ctnn
