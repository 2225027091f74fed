// The host-wait counter of the CUDA backend (backend/cuda/portable/host_waits.hpp), without a GPU:
// what the GPU test "no host wait per step" relies on to count.
#include <ctnn/backend/cuda/portable/host_waits.hpp>
#include <doctest/doctest.h>

#include <cstring>
#include <thread>
#include <vector>

using namespace ctnn;

TEST_CASE("host waits are counted, with the reason of the last one") {
  const auto before = cuda::host_waits();
  cuda::detail::count_host_wait("ctnn::Cuda::download");
  cuda::detail::count_host_wait("ctnn::cuda::StepMetrics::read");
  CHECK(cuda::host_waits() - before == 2);
  CHECK(std::strcmp(cuda::last_host_wait(), "ctnn::cuda::StepMetrics::read") == 0);
}

TEST_CASE("host waits from several threads are all counted") {
  const auto before = cuda::host_waits();
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([] {
      for (int i = 0; i < 1000; ++i) cuda::detail::count_host_wait("a loader thread");
    });
  for (auto& t : threads) t.join();
  CHECK(cuda::host_waits() - before == 4000);
}
