#pragma once
// How the vectorised kernels over 16-bit NHWC data (backend/cuda/batchnorm_nhwc.hpp) share a
// tensor among threads; no CUDA header (tests/cuda_host/nhwc_vector_layout.cpp checks the
// arithmetic on the CPU).
//
// One 16-byte load holds `nhwc_vector_width` = 8 neighbouring channels of one row (a position of
// one image). In a reduction over the rows, `lanes` = C / 8 neighbouring threads of a block cover
// one row, so a block of `block` threads covers `rows_per_block` rows at once; block b's thread t
// starts at row b * rows_per_block + t / lanes and steps by grid * rows_per_block, always on the
// same 8 channels (8 * (t % lanes) onwards). The layout exists when C is a multiple of 8 and C / 8
// divides the block; otherwise the kernels fall back to one value per load.

#include <cstddef>

#include "../../../core/config.hpp"

namespace ctnn::cuda::detail {

inline constexpr unsigned nhwc_vector_width = 8;

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

}  // namespace ctnn::cuda::detail
