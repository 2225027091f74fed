// Header-only ctnn in a program of two translation units (tests/support/two_units.hpp): it links,
// so every library function both units compile is inline, and both copies compute the same run.
#include <doctest/doctest.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <string>

#include "support/two_units.hpp"

TEST_CASE("header-only: the same run from two translation units links and agrees bit for bit") {
  static_assert(!CTNN_SEPARATE_COMPILATION, "this test is about header-only builds");
  const auto root = std::filesystem::temp_directory_path() / ("ctnn_two_units_" + std::to_string(::getpid()));
  const double here = two_units::train_and_reload(root / "here");
  const double there = two_units::train_and_reload_in_other_unit(root / "there");
  std::filesystem::remove_all(root);
  CHECK(std::isfinite(here));
  CHECK(here != -1.0);
  CHECK(here == there);
}
