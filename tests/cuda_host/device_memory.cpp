// The count of device memory ctnn holds (backend/cuda/portable/device_memory.hpp), without a GPU:
// sizes are remembered per pointer, the peak follows the largest total, a reset brings it down
// to what is held, and freeing an unknown pointer changes nothing.
#include <ctnn/backend/cuda/portable/device_memory.hpp>
#include <doctest/doctest.h>

using namespace ctnn::cuda;

TEST_CASE("device memory: in use, peak, reset") {
  const auto start = device_memory();
  int a = 0, b = 0;
  detail::count_allocation(&a, 1000);
  detail::count_allocation(&b, 500);
  CHECK(device_memory().in_use - start.in_use == 1500);
  CHECK(device_memory().peak >= start.in_use + 1500);
  detail::count_free(&a);
  CHECK(device_memory().in_use - start.in_use == 500);
  reset_peak_device_memory();
  CHECK(device_memory().peak == device_memory().in_use);
  int unknown = 0;
  detail::count_free(&unknown);
  CHECK(device_memory().in_use - start.in_use == 500);
  detail::count_free(&b);
  CHECK(device_memory().in_use == start.in_use);
}
