#pragma once
// ctnn::data::synthetic_cifar(n, seed): n CIFAR-format images (3x32x32 uint8, CHW) of 10 learnable
// classes, for running the CIFAR-10 pipeline without the real data (tests, smoke runs, --synthetic).
//
// Each class is a texture x a scale: five patterns that a horizontal flip or a shift maps onto the
// same class (horizontal stripes, vertical stripes, a checkerboard, a diagonal checkerboard,
// concentric rings around a random centre), each with a wide (period ~8 px) and a narrow (period
// ~4 px) version. Every image draws a random phase, period jitter, contrast, foreground colour (half
// its class colour, half random), background colour, uniform pixel noise (+-24 levels) and, half of
// the time, an occluding rectangle of random colour. Colour alone therefore only hints at the class;
// a small CNN separates the textures within an epoch or two, but not perfectly at once.
//
// Image i depends only on (seed, i): synthetic_cifar(m, s) is a prefix of synthetic_cifar(n, s) for
// m < n, and two calls with one seed give identical sets on one platform. Labels are drawn
// uniformly (about n/10 per class). Class names: synthetic_class_names().

#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "../core/config.hpp"
#include "../core/random.hpp"
#include "../core/threading.hpp"
#include "dataset.hpp"
#include "sampling.hpp"

namespace ctnn::data {

std::vector<std::string> synthetic_class_names();

namespace detail {

inline constexpr std::uint64_t synthetic_stream = 0x5359'4E54'4845'5449ull;  // "SYNTHETI"

// Writes image `i` of synthetic_cifar(., seed) to `out` (3,072 bytes) and returns its label.
std::int32_t synthetic_image(std::uint64_t seed, std::size_t i, std::uint8_t* out);

}  // namespace detail

// n synthetic CIFAR-format images of 10 learnable classes, deterministic for `seed` (see above).
CifarDataset synthetic_cifar(std::size_t n, std::uint64_t seed = 0);

}  // namespace ctnn::data

#if CTNN_HEADER_DEFINITIONS
#include "impl/synthetic.ipp"
#endif
