#pragma once
// StepValues: the scalars of one training step that change from step to step (learning rate,
// momentum factors, AdamW's bias corrections, a data position), as one small block of floats.
// On the CPU an optimizer uses them as plain values; on a GPU they are written into a device block
// that the step's kernels read through a pointer, so that a captured CUDA graph replays each step
// with that step's values (backend/cuda/step_scalars.hpp). Slot meanings belong to whoever fills
// the block (backend/update_rule.hpp for the optimizers).

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "config.hpp"

namespace ctnn {

struct StepValues {
  static constexpr std::size_t size = 16;
  float v[size] = {};

  CTNN_HD float& operator[](std::size_t i) { return v[i]; }
  CTNN_HD float operator[](std::size_t i) const { return v[i]; }
};

// An unsigned integer carried in a float slot bit for bit (counts beyond 2^24 are not exact as floats).
CTNN_HD inline float bits_as_float(std::uint32_t u) {
  float f;
  std::memcpy(&f, &u, sizeof f);
  return f;
}
CTNN_HD inline std::uint32_t float_as_bits(float f) {
  std::uint32_t u;
  std::memcpy(&u, &f, sizeof u);
  return u;
}

}  // namespace ctnn
