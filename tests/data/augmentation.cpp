// The per-element body of the GPU augmentation (data::augmented_value, CTNN_HD) against the CPU
// loader's write_sample + apply_cutout, value for value: every crop offset, both flips, Cutout on
// and off and near the borders, square and non-square images.
#include <ctnn/data/augmentation.hpp>
#include <doctest/doctest.h>

#include <cstdint>
#include <vector>

using namespace ctnn;
using namespace ctnn::data;

namespace {

template <std::size_t C, std::size_t H, std::size_t W>
void check_every_choice(std::size_t pad, std::size_t cutout) {
  Rng rng(17);
  std::vector<std::uint8_t> image(C * H * W);
  for (auto& b : image) b = static_cast<std::uint8_t>(rng.below(256));
  std::vector<float> mean, stddev;
  for (std::size_t c = 0; c < C; ++c) {
    mean.push_back(0.3f + 0.1f * float(c));
    stddev.push_back(0.2f + 0.05f * float(c));
  }
  const Normalizer<C> norm(mean, stddev, "test");
  std::vector<float> cpu(C * H * W);
  std::size_t checked = 0;
  for (std::size_t cy = 0; cy <= 2 * pad; ++cy)
    for (std::size_t cx = 0; cx <= 2 * pad; ++cx)
      for (const bool flip : {false, true})
        for (const bool cut : {false, true}) {
          Augmentation a;
          a.crop_x = cx;
          a.crop_y = cy;
          a.flip = flip;
          a.cutout = cut && cutout > 0;
          a.cutout_x = (cx * 7 + cy) % W;  // corners, borders and the middle
          a.cutout_y = (cy * 5 + cx) % H;
          write_sample<C, H, W>(image.data(), a, pad, norm, cpu.data());
          apply_cutout<C, H, W>(a, cutout, cpu.data());
          for (std::size_t c = 0; c < C; ++c)
            for (std::size_t y = 0; y < H; ++y)
              for (std::size_t x = 0; x < W; ++x) {
                const float gpu_body = augmented_value(image.data(), H, W, c, y, x, a, pad, norm.table(c), cutout);
                const float ref = cpu[(c * H + y) * W + x];
                if (gpu_body != ref) {
                  CAPTURE(cx);
                  CAPTURE(cy);
                  CAPTURE(flip);
                  CAPTURE(cut);
                  CAPTURE(c);
                  CAPTURE(y);
                  CAPTURE(x);
                  REQUIRE(gpu_body == ref);
                }
                ++checked;
              }
        }
  CHECK(checked == (2 * pad + 1) * (2 * pad + 1) * 4 * C * H * W);
}

}  // namespace

TEST_CASE("augmented_value is write_sample + apply_cutout, element for element") {
  check_every_choice<3, 32, 32>(4, 8);
  check_every_choice<3, 32, 32>(4, 0);
  check_every_choice<2, 5, 7>(2, 3);  // non-square, a cutout larger than half the image
  check_every_choice<1, 6, 4>(0, 0);  // no crop at all
}

TEST_CASE("augmented_value with drawn augmentations (the loader's (seed, epoch, position) choices)") {
  const CropFlip crop{4, 0.5f, 8, 0.5f};
  Rng rng(3);
  std::vector<std::uint8_t> image(3 * 32 * 32);
  for (auto& b : image) b = static_cast<std::uint8_t>(rng.below(256));
  const Normalizer<3> norm({0.4914f, 0.4822f, 0.4465f}, {0.2470f, 0.2435f, 0.2616f}, "test");
  std::vector<float> cpu(image.size());
  for (std::size_t position = 0; position < 200; ++position) {
    const Augmentation a = crop.draw(42, 3, position);
    write_sample<3, 32, 32>(image.data(), a, 4, norm, cpu.data());
    apply_cutout<3, 32, 32>(a, 8, cpu.data());
    for (std::size_t i = 0; i < cpu.size(); ++i) {
      const std::size_t c = i / 1024, y = i / 32 % 32, x = i % 32;
      if (augmented_value(image.data(), 32, 32, c, y, x, a, 4, norm.table(c), 8) != cpu[i]) {
        CAPTURE(position);
        CAPTURE(i);
        FAIL("mismatch");
      }
    }
  }
}
