// The arithmetic of the vectorised batch-norm kernels (portable/vector_layout.hpp) without a GPU.
// NHWC: which channel counts get the layout, and that the threads of a grid, walking their rows as
// the kernels do, take every (row, 8 channels) exactly once; a block's partial sums, added up per
// item as bn_sums_nhwc_kernel does, give every channel's sum. NCHW: every position of a channel
// exactly once, by the blocks of that channel.
#include <ctnn/backend/cuda/portable/vector_layout.hpp>
#include <doctest/doctest.h>

#include <cstddef>
#include <vector>

using namespace ctnn::cuda::detail;

TEST_CASE("nhwc_vector_layout: a multiple of 8 channels whose groups of 8 divide the block") {
  constexpr unsigned block = 256;
  for (std::size_t c : {8u, 16u, 64u, 128u, 512u, 2048u}) {
    CAPTURE(c);
    const auto l = nhwc_vector_layout(c, block);
    REQUIRE(l.usable());
    CHECK(l.lanes == c / 8);
    CHECK(l.rows_per_block * l.lanes == block);
  }
  for (std::size_t c : {0u, 3u, 6u, 12u, 20u, 24u, 4096u}) {  // not a multiple of 8, 3 or 5 groups, or too wide
    CAPTURE(c);
    CHECK_FALSE(nhwc_vector_layout(c, block).usable());
  }
}

TEST_CASE("nhwc_vector_layout: every row and channel once, and the block sums add up to the channel sums") {
  constexpr unsigned block = 256;
  for (std::size_t channels : {8u, 64u, 512u}) {
    for (std::size_t rows : {1u, 5u, 288u, 2048u, 20000u}) {
      CAPTURE(channels);
      CAPTURE(rows);
      const auto l = nhwc_vector_layout(channels, block);
      const unsigned grid = nhwc_reduction_blocks(rows, l, 8, 528);
      CHECK(grid >= 1);
      CHECK(grid <= 528);
      // A value per element: value(row, c) = row * channels + c + 1.
      std::vector<int> seen(rows * channels, 0);
      std::vector<double> out(channels, 0.0);
      for (unsigned b = 0; b < grid; ++b) {
        std::vector<double> partial(std::size_t{8} * block, 0.0);  // partial[k][t]: channel offset k
        for (unsigned t = 0; t < block; ++t) {
          const unsigned c0 = l.first_channel(t);
          REQUIRE(c0 + 8 <= channels);
          for (std::size_t r = l.first_row(b, t); r < rows; r += l.row_step(grid))
            for (unsigned k = 0; k < 8; ++k) {
              ++seen[r * channels + c0 + k];
              partial[std::size_t{k} * block + t] += double(r * channels + c0 + k + 1);
            }
        }
        for (unsigned item = 0; item < 8 * l.lanes; ++item) {  // the kernel's items for one sum
          const unsigned k = item / l.lanes, g = item % l.lanes;
          double acc = 0;
          for (unsigned rr = 0; rr < l.rows_per_block; ++rr) acc += partial[std::size_t{k} * block + rr * l.lanes + g];
          out[8 * g + k] += acc;
        }
      }
      bool once = true;
      for (int s : seen) once = once && s == 1;
      CHECK(once);
      for (std::size_t c = 0; c < channels; ++c) {
        double expected = 0;
        for (std::size_t r = 0; r < rows; ++r) expected += double(r * channels + c + 1);
        REQUIRE(out[c] == expected);
      }
    }
  }
}

TEST_CASE("nchw vectors: planes of a multiple of 4 positions; every position of a channel once, in its own plane") {
  CHECK(nchw_vector_layout(4));
  CHECK(nchw_vector_layout(1024));
  CHECK_FALSE(nchw_vector_layout(0));
  CHECK_FALSE(nchw_vector_layout(25));
  CHECK_FALSE(nchw_vector_layout(1));  // a flat BatchNorm: one value per plane
  constexpr unsigned block = 256;
  for (std::size_t channels : {1u, 6u, 64u, 512u}) {
    for (std::size_t plane : {4u, 16u, 64u}) {
      for (std::size_t batch : {1u, 3u, 40u}) {
        CAPTURE(channels);
        CAPTURE(plane);
        CAPTURE(batch);
        const std::size_t vectors = batch * plane / nchw_vector_width;
        const unsigned splits = nchw_reduction_splits(vectors, channels, block, 8, 528);
        CHECK(splits >= 1);
        CHECK((splits == 1 || splits * channels <= 528));
        std::vector<int> seen(batch * channels * plane, 0);
        for (std::size_t c = 0; c < channels; ++c)
          for (unsigned s = 0; s < splits; ++s)  // block s of channel c, its threads' vectors
            for (unsigned t = 0; t < block; ++t)
              for (std::size_t q = std::size_t{s} * block + t; q < vectors; q += std::size_t{splits} * block) {
                const std::size_t e = nchw_vector_offset(q, c, channels, plane);
                REQUIRE(e + nchw_vector_width <= seen.size());
                for (unsigned k = 0; k < nchw_vector_width; ++k) {
                  REQUIRE((e + k) / plane % channels == c);  // the channel the element lies in
                  ++seen[e + k];
                }
              }
        bool once = true;
        for (int v : seen) once = once && v == 1;
        CHECK(once);
      }
    }
  }
  // Many vectors for few channels: several blocks each, never more than the work needs.
  CHECK(nchw_reduction_splits(131072, 64, block, 8, 528) == 8);
  CHECK(nchw_reduction_splits(100, 64, block, 8, 528) == 1);
}
