#pragma once
// Launch helpers shared by ctnn's own kernels: block size, grid size for grid-stride loops and a
// block-wide sum.

#include "check.hpp"
#include "context.hpp"

#include <algorithm>
#include <cstddef>
#include <cstdint>

namespace ctnn::cuda::detail {

inline constexpr int block_size = 256;

// Blocks for a grid-stride loop over n elements: enough to fill every SM several times over, no
// more than the work needs.
inline unsigned grid_for(std::size_t n, int block = block_size) {
  const std::size_t wanted = (n + static_cast<std::size_t>(block) - 1) / static_cast<std::size_t>(block);
  const std::size_t cap = static_cast<std::size_t>(context().sm_count()) * 2048 / static_cast<std::size_t>(block) * 4;
  return static_cast<unsigned>(std::max<std::size_t>(1, std::min(wanted, cap)));
}

// True when a grid-stride loop over n elements with this grid can use 32-bit indices.
inline bool fits_u32(std::size_t n, unsigned grid, int block = block_size) {
  return n + std::size_t{grid} * static_cast<std::size_t>(block) < (std::size_t{1} << 32);
}

// Sum of v over the block (blockDim.x a multiple of 32, at most 1024); the result is valid in
// thread 0. Uses 32 values of shared memory.
template <class T>
__device__ T block_sum(T v) {
  __shared__ T partial[32];
  for (int offset = 16; offset > 0; offset >>= 1) v += __shfl_down_sync(0xffffffffu, v, offset);
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  if (lane == 0) partial[warp] = v;
  __syncthreads();
  if (warp == 0) {
    v = lane < static_cast<int>(blockDim.x >> 5) ? partial[lane] : T(0);
    for (int offset = 16; offset > 0; offset >>= 1) v += __shfl_down_sync(0xffffffffu, v, offset);
  }
  __syncthreads();  // partial may be reused by a following call
  return v;
}

}  // namespace ctnn::cuda::detail
