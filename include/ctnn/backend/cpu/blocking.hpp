#pragma once
// How the CPU convolutions cut a batch into GEMMs. Layers with few output pixels per image (8x8,
// 4x4) process images in groups that share one GEMM, so that its matrices are wide enough to run
// near the machine's GEMM rate; im2col (conv.hpp) and Winograd (winograd.hpp) size their groups
// and per-thread workspaces with the same rule.

#include <algorithm>
#include <cstddef>

namespace ctnn::backend::cpu {

// GEMMs narrower than this many columns run well below the machine's GEMM rate.
inline constexpr std::size_t min_gemm_columns = 256;

// Images per group: enough for min_gemm_columns columns of `columns_per_image` each, but no more
// than keeps `threads` threads busy on `batch` images (each group runs on one thread). Called with
// max_batch and the workers a kernel is built for, it sizes the per-thread workspaces; called with
// a step's batch and its threads, it cuts that step (never into larger groups than were sized).
constexpr std::size_t images_per_group(std::size_t columns_per_image, std::size_t batch, std::size_t threads) {
  const std::size_t wanted = (min_gemm_columns + columns_per_image - 1) / std::max<std::size_t>(columns_per_image, 1);
  const std::size_t busy = (batch + std::max<std::size_t>(threads, 1) - 1) / std::max<std::size_t>(threads, 1);
  return std::max<std::size_t>(1, std::min(wanted, busy));
}

}  // namespace ctnn::backend::cpu
