#pragma once
// Evaluating expressions: assign(dst, e) writes e element by element in one pass; sum_per_channel
// reduces e per channel. How a pass runs is a device's business: every call goes through the
// customisation point expr::evaluator<D>, which each backend specialises in its own folder
// (backend/cpu/evaluator.hpp, backend/cuda/evaluator.hpp) with
//
//   template <class T, class E>
//   static void assign(T* dst, std::size_t planes, std::size_t channels, std::size_t plane, const E& e);
//       dst[i] = e(i, (i / plane) % channels) for every i < planes * plane
//   template <class E>
//   static void sum(double* out, std::size_t batch, std::size_t channels, std::size_t plane, const E& e);
//       out[c] = the sum over n < batch and j < plane of e((n * channels + c) * plane + j, c),
//       out in D's memory (on a GPU, asynchronous: download it to read it)
//
// A class template specialisation is looked up when the call is instantiated, so it does not matter
// whether a backend's header comes before or after the code that calls these functions.

#include <cstddef>

#include "../core/device.hpp"
#include "../core/shape.hpp"
#include "../core/tensor.hpp"
#include "nodes.hpp"

namespace ctnn::expr {

template <class D>
inline constexpr bool no_evaluator_v = false;

template <class D>
struct evaluator {
  static_assert(no_evaluator_v<D>,
                "ctnn: no expression evaluator is registered for this device: include its backend "
                "(<ctnn/backend/cpu.hpp>, <ctnn/backend/cuda.hpp>) or the umbrella <ctnn/ctnn.hpp>");
};

// dst = e, element by element, over dst's current batch. Operands may alias dst.
template <ShapeType S, class D, class T, Operand E>
void assign(Tensor<S, D, T>& dst, const E& e) {
  evaluator<D>::assign(dst.data(), dst.batch() * channels_v<S>, channels_v<S>, spatial_size_v<S>, lift(e));
}

// dst = e for a buffer of `batch` samples of shape S in D's memory.
template <ShapeType S, class D = Cpu, class T, Operand E>
void assign(T* dst, std::size_t batch, const E& e) {
  evaluator<D>::assign(dst, batch * channels_v<S>, channels_v<S>, spatial_size_v<S>, lift(e));
}

// dst[i] = e(i, 0) for a flat buffer of n values in D's memory (parameter-sized work such as an
// optimizer update): assign_flat(w, n, w - lr * g) on the CPU, assign_flat<Cuda>(...) on a GPU.
template <class D = Cpu, Operand E>
void assign_flat(float* dst, std::size_t n, const E& e) {
  evaluator<D>::assign(dst, std::size_t{1}, std::size_t{1}, n, lift(e));
}

// Per-channel sums of an expression over every sample and spatial position of a batch of shape S:
//   out[c] = sum over n, j of e(n, c, j)      (C doubles in D's memory)
template <ShapeType S, class D = Cpu, Operand E>
void sum_per_channel(double* out, std::size_t batch, const E& e) {
  evaluator<D>::sum(out, batch, channels_v<S>, spatial_size_v<S>, lift(e));
}

}  // namespace ctnn::expr
