#pragma once
// How the vectorised batch-norm kernels (backend/cuda/batchnorm_vectorized.hpp) share a tensor among
// threads, one 16-byte load at a time; no CUDA header (tests/cuda_host/vector_layout.cpp checks the
// arithmetic on the CPU).
//
// 16-bit NHWC data (Precision::bf16/fp16): a load holds `nhwc_vector_width` = 8 neighbouring
// channels of one row (a position of one image). In a reduction over the rows, `lanes` = C / 8
// neighbouring threads of a block cover one row, so a block of `block` threads covers
// `rows_per_block` rows at once; block b's thread t starts at row b * rows_per_block + t / lanes
// and steps by grid * rows_per_block, always on the same 8 channels (8 * (t % lanes) onwards). The
// layout exists when C is a multiple of 8 and C / 8 divides the block.
//
// float NCHW data: a load holds `nchw_vector_width` = 4 neighbouring positions of one plane (one
// image's channel), so a plane of HW positions (HW a multiple of 4) is HW / 4 vectors. A channel's
// vectors over the batch are numbered q = n * (HW / 4) + j; a reduction gives each channel
// `splits` blocks, which take the vectors q in turn.
//
// Where neither layout exists the kernels fall back to one value per load.

#include <cstddef>

#include "../../../core/config.hpp"

namespace ctnn::cuda::detail {

inline constexpr unsigned nhwc_vector_width = 8;
inline constexpr unsigned nchw_vector_width = 4;

struct NhwcVectorLayout {
  unsigned lanes = 0;           // threads per row: C / 8 (0: no vectorised layout)
  unsigned rows_per_block = 0;  // rows a block covers at once

  CTNN_HD bool usable() const { return lanes != 0; }
  // The first of the 8 channels thread t takes.
  CTNN_HD unsigned first_channel(unsigned thread) const { return nhwc_vector_width * (thread % lanes); }
  CTNN_HD std::size_t first_row(unsigned block_index, unsigned thread) const {
    return std::size_t{block_index} * rows_per_block + thread / lanes;
  }
  CTNN_HD std::size_t row_step(unsigned grid) const { return std::size_t{grid} * rows_per_block; }
};

CTNN_HD inline NhwcVectorLayout nhwc_vector_layout(std::size_t channels, unsigned block) {
  NhwcVectorLayout l;
  if (channels == 0 || channels % nhwc_vector_width != 0) return l;
  const std::size_t lanes = channels / nhwc_vector_width;
  if (lanes > block || block % lanes != 0) return l;
  l.lanes = static_cast<unsigned>(lanes);
  l.rows_per_block = block / l.lanes;
  return l;
}

// Blocks for a reduction over `rows` rows: about `rows_per_thread` rows for each thread (fewer
// partial sums to add up), at most `max_blocks`, at least one.
CTNN_HD inline unsigned nhwc_reduction_blocks(std::size_t rows, const NhwcVectorLayout& l, std::size_t rows_per_thread,
                                              unsigned max_blocks) {
  const std::size_t per_block = std::size_t{l.rows_per_block} * rows_per_thread;
  const std::size_t wanted = (rows + per_block - 1) / per_block;
  return static_cast<unsigned>(wanted < 1 ? 1 : (wanted < max_blocks ? wanted : max_blocks));
}

CTNN_HD inline bool nchw_vector_layout(std::size_t plane) { return plane != 0 && plane % nchw_vector_width == 0; }

// Where channel c's vector q starts (an element index of the NCHW tensor).
CTNN_HD inline std::size_t nchw_vector_offset(std::size_t q, std::size_t c, std::size_t channels, std::size_t plane) {
  const std::size_t per_plane = plane / nchw_vector_width, n = q / per_plane;
  return (n * channels + c) * plane + nchw_vector_width * (q - n * per_plane);
}

// Blocks per channel for a reduction over a channel's `vectors`: about `per_thread` vectors for each
// thread, and all channels' blocks together about `max_blocks` (at least one per channel).
CTNN_HD inline unsigned nchw_reduction_splits(std::size_t vectors, std::size_t channels, unsigned block,
                                              std::size_t per_thread, unsigned max_blocks) {
  const std::size_t per_block = std::size_t{block} * per_thread;
  const std::size_t wanted = (vectors + per_block - 1) / per_block;
  const std::size_t cap = channels < max_blocks ? max_blocks / channels : 1;
  const std::size_t splits = wanted < cap ? wanted : cap;
  return static_cast<unsigned>(splits < 1 ? 1 : splits);
}

}  // namespace ctnn::cuda::detail
