#include <ctnn/core/shape.hpp>
#include <ctnn/core/tensor.hpp>
#include <doctest/doctest.h>

#include <cstdint>
#include <vector>

using namespace ctnn;

TEST_CASE("Shape exposes rank, size and dimensions at compile time") {
  using S = Shape<3, 32, 31>;
  static_assert(S::rank == 3);
  static_assert(S::size == 3 * 32 * 31);
  static_assert(S::dim<1> == 32);
  static_assert(channels_v<S> == 3 && spatial_size_v<S> == 32 * 31);
  CHECK(S::str() == "3x32x31");
}

TEST_CASE("Tensor: capacity, runtime batch, element access, 64-byte alignment") {
  Tensor<Shape<2, 3, 4>> t(5, 2);
  CHECK(t.capacity() == 5);
  CHECK(t.batch() == 2);
  CHECK(t.size() == 48);
  CHECK(reinterpret_cast<std::uintptr_t>(t.data()) % 64 == 0);
  t.fill(0.f);
  t(1, 1, 2, 3) = 7.f;
  CHECK(t.data()[24 + 12 + 8 + 3] == 7.f);
  t.set_batch(5);
  CHECK_THROWS_AS(t.set_batch(6), Error);
  CHECK_THROWS_WITH(t.set_batch(6), doctest::Contains("exceeds the capacity 5"));
  std::vector<float> wrong(7);
  CHECK_THROWS_WITH(t.copy_from(std::span<const float>(wrong)), doctest::Contains("not a whole number of samples"));
}
