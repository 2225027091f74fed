// NCCL tests (ctnn_nccl_tests): dist::NcclCommunicator with real processes, run by CTest as
// cuda/nccl under the MPI launcher with 2 processes, one GPU each. Sums and broadcasts of device
// floats, the host operations through the MPI bootstrap, DataParallel over NCCL (identical
// parameters on every process, gradients equal to one network's on the whole batch), and a sum
// only some processes take part in ending in ctnn::Error after the timeout rather than a hang.
// Without a GPU, or with fewer GPUs than processes on the machine, every process prints why and
// exits 0, and CTest reports the test as skipped.
#define DOCTEST_CONFIG_IMPLEMENT
#include <ctnn/ctnn.hpp>
#include <ctnn/dist/mpi.hpp>
#include <ctnn/dist/nccl.hpp>
#include <doctest/doctest.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <string>
#include <vector>

using namespace ctnn;

namespace {

dist::MpiCommunicator* world = nullptr;
dist::NcclCommunicator* nccl = nullptr;

// n device floats (a tensor of n samples of one value).
using Floats = Tensor<Shape<1>, Cuda>;

std::vector<float> download(const float* p, std::size_t n) {
  std::vector<float> v(n);
  Cuda::download(v.data(), p, n * sizeof(float));
  return v;
}

Floats filled(std::size_t n, float value) {
  Floats t(n);
  const std::vector<float> host(n, value);
  Cuda::upload(t.data(), host.data(), n * sizeof(float));
  return t;
}

bool all_equal(const std::vector<float>& v, float value) {
  return std::all_of(v.begin(), v.end(), [&](float x) { return x == value; });
}

// max |got - ref| / max |ref|
double rel_error(const std::vector<float>& ref, const std::vector<float>& got) {
  double diff = 0, scale = 0;
  for (std::size_t i = 0; i < ref.size(); ++i) {
    diff = std::max(diff, std::fabs(double(got[i]) - double(ref[i])));
    scale = std::max(scale, std::fabs(double(ref[i])));
  }
  return scale == 0 ? diff : diff / scale;
}

}  // namespace

TEST_CASE("NcclCommunicator: device memory, the ranks of its bootstrap") {
  CHECK(nccl->name() == "NCCL");
  CHECK(nccl->memory() == dist::Memory::device);
  CHECK(nccl->rank() == world->rank());
  CHECK(nccl->size() == world->size());
  CHECK(nccl->native() != nullptr);
  CHECK(nccl->stream() == cuda::context().stream());
  CHECK(nccl->device() == cuda::context().device());
}

TEST_CASE("NcclCommunicator: start_sum and wait sum device floats in place, ordered by the stream") {
  const int r = nccl->rank(), n = nccl->size();
  const float total = float(n * (n + 1) / 2);  // rank r contributes r + 1: 3 on two processes

  Floats a = filled(1000, float(r + 1));
  nccl->wait(nccl->start_sum(a.data(), a.size(), "a sum of 1000 floats"));
  CHECK(all_equal(download(a.data(), a.size()), total));

  // Written by a ctnn kernel just before: the sum waits for it on the stream, not on the host.
  constexpr std::size_t big = (std::size_t{1} << 20) + 3;
  Floats src = filled(big, float(r + 1)), b(big);
  expr::assign_flat<Cuda>(b.data(), big, expr::scalar(2.f) * expr::TensorLeaf<float>{{}, src.data()});
  const auto hb = nccl->start_sum(b.data(), big, "a sum after a kernel");
  // Two in flight, waited for in the other order.
  Floats c = filled(17, float(10 * (r + 1)));
  const auto hc = nccl->start_sum(c.data(), c.size(), "a second sum in flight");
  CHECK(hb != hc);
  nccl->wait(hc);
  nccl->wait(hb);
  nccl->wait(hb);  // a second wait returns at once
  CHECK(all_equal(download(b.data(), big), 2 * total));
  CHECK(all_equal(download(c.data(), c.size()), 10 * total));
  nccl->progress();
}

TEST_CASE("NcclCommunicator: broadcast from a root") {
  const int r = nccl->rank(), n = nccl->size();
  Floats a = filled(333, float(r + 1));
  nccl->broadcast(a.data(), a.size(), 0, "a broadcast from rank 0");
  CHECK(all_equal(download(a.data(), a.size()), 1.f));
  Floats b = filled(5, float(r + 1));
  nccl->broadcast(b.data(), b.size(), n - 1, "a broadcast from the last rank");
  CHECK(all_equal(download(b.data(), b.size()), float(n)));
}

TEST_CASE("NcclCommunicator: host sums, bytes and barriers go through the MPI bootstrap") {
  const int r = nccl->rank(), n = nccl->size();
  double v[2] = {double(r + 1), 1.0};
  nccl->sum(v, 2, "a sum of host doubles");
  CHECK(v[0] == double(n * (n + 1) / 2));
  CHECK(v[1] == double(n));
  std::int64_t x = r == 0 ? 0x1234567890 : -1;
  nccl->broadcast_bytes(&x, sizeof x, 0, "a broadcast of host bytes");
  CHECK(x == 0x1234567890);
  nccl->barrier("a barrier");
  CHECK_NOTHROW(dist::agree(*nccl, "a step that works everywhere", [] {}));
}

TEST_CASE("DataParallel over NCCL: identical parameters, gradients of the whole batch") {
  using Spec = Seq<Conv<3, 8, 3, 1, 1>, ReLU, GlobalAvgPool, Flatten, Linear<8, 5>>;
  using In = Shape<3, 8, 8>;
  using Net = Network<Spec, In, Cuda>;
  const int r = nccl->rank(), n = nccl->size();
  constexpr std::size_t local = 4;
  const std::size_t global = local * std::size_t(n);

  Net net(local, 100 + std::uint64_t(r));  // other weights on every process until the broadcast
  dist::DataParallelOptions options;
  options.bucket_bytes = 512;  // several buckets even for this network
  dist::DataParallel dp(net, *nccl, options);
  CHECK(dp.buckets().size() > 1);
  CHECK(dist::identical_everywhere<Cuda>(*nccl, net.parameters()));

  // One process with the whole batch, from the same weights, as the reference.
  Net whole(global, 1);
  for (std::size_t i = 0; i < net.parameters().size(); ++i)
    Cuda::copy(whole.parameters()[i].value, net.parameters()[i].value, net.parameters()[i].size * sizeof(float));
  SGD<Cuda> sgd{0.1f, 0.9f, 1e-4f}, sgd_whole{0.1f, 0.9f, 1e-4f};

  Rng rng(7);  // the same global batches everywhere; each process takes its share
  Tensor<In, Cuda> x(local), x_whole(global);
  Tensor<Shape<5>, Cuda> g(local), g_whole(global);
  for (int step = 0; step < 4; ++step) {
    std::vector<float> xs(global * In::size);
    for (auto& v : xs) v = rng.uniform(-1.f, 1.f);
    std::vector<std::int32_t> labels(global);
    for (auto& l : labels) l = static_cast<std::int32_t>(rng.below(5));
    const std::size_t first = local * std::size_t(r);
    copy_from_host(x, std::span<const float>(xs.data() + first * In::size, local * In::size));
    copy_from_host(x_whole, std::span<const float>(xs));
    const std::vector<std::int32_t> mine(labels.begin() + first, labels.begin() + first + local);

    net.zero_grad();
    softmax_cross_entropy(net.forward(x, Mode::train), mine, g);
    net.backward(g);
    dp.finish();
    whole.zero_grad();
    softmax_cross_entropy(whole.forward(x_whole, Mode::train), labels, g_whole);
    whole.backward(g_whole);

    double worst = 0;
    for (std::size_t i = 0; i < net.parameters().size(); ++i) {
      const auto& p = net.parameters()[i];
      worst = std::max(worst, rel_error(download(whole.parameters()[i].grad, p.size), download(p.grad, p.size)));
    }
    CHECK_MESSAGE(worst <= 1e-4, "step " << step << ": averaged gradients differ from the whole batch's by " << worst);

    sgd.step(net.parameters());
    sgd_whole.step(whole.parameters());
    CHECK_MESSAGE(dist::identical_everywhere<Cuda>(*nccl, net.parameters()), "step " << step);
  }
  double worst = 0;
  for (std::size_t i = 0; i < net.parameters().size(); ++i) {
    const auto& p = net.parameters()[i];
    worst = std::max(worst, rel_error(download(whole.parameters()[i].value, p.size), download(p.value, p.size)));
  }
  CHECK(worst <= 1e-4);
  if (nccl->is_root()) MESSAGE("DataParallel over NCCL: " << dp.buckets().size() << " buckets, largest difference " << worst);
}

TEST_CASE("DataParallel over NCCL: batch-norm statistics broadcast from rank 0") {
  using Spec = Seq<Conv<3, 4, 3, 1, 1>, BatchNorm<4>, ReLU, GlobalAvgPool, Flatten, Linear<4, 3>>;
  using Net = Network<Spec, Shape<3, 6, 6>, Cuda>;
  Net net(2, 50 + std::uint64_t(nccl->rank()));
  // Other statistics on every process before DataParallel.
  Tensor<Shape<3, 6, 6>, Cuda> x(2);
  std::vector<float> xs(2 * 3 * 6 * 6, float(nccl->rank() + 1));
  copy_from_host(x, std::span<const float>(xs));
  net.forward(x, Mode::train);
  dist::DataParallel dp(net, *nccl);
  CHECK(dist::identical_everywhere<Cuda>(*nccl, net.parameters()));
  CHECK(dist::identical_everywhere<Cuda>(*nccl, net.buffers()));
}

// Last: the NCCL kernels it leaves behind are aborted, on communicators of its own.
TEST_CASE("NcclCommunicator: a sum not every process takes part in is an error after the timeout") {
  if (world->size() < 2) {
    MESSAGE("one process: nothing to wait for, skipped");
    return;
  }
  Floats a = filled(64, 1.f);
  // Rank 0 sums over `first`, every other rank over `second`: each waits for the others in vain.
  // The communicators are aborted while the error leaves their scope.
  auto run = [&] {
    dist::NcclCommunicator first(*world), second(*world);
    dist::NcclCommunicator& mine = world->rank() == 0 ? first : second;
    mine.set_timeout(std::chrono::milliseconds(2000));
    mine.wait(mine.start_sum(a.data(), a.size(), "a sum only some processes take part in"));
  };
  CHECK_THROWS_WITH_AS(run(), doctest::Contains("a sum only some processes take part in did not complete within 2 s"),
                       Error);
  world->barrier("the end of the timeout test");
}

int main(int argc, char** argv) {
  dist::Mpi mpi(argc, argv);
  dist::MpiCommunicator bootstrap;
  bootstrap.set_timeout(std::chrono::seconds(120));
  world = &bootstrap;
  // Skipped when any process lacks a GPU of its own (NCCL refuses two processes on one GPU).
  const int gpus = cuda::device_count();
  const dist::LocalProcesses local = dist::local_processes(bootstrap);
  std::string why;
  if (gpus == 0)
    why = "no GPU (" + cuda::no_device_reason() + "), skipping";
  else if (gpus < local.size)
    why = "too few GPUs (" + std::to_string(gpus) + " for " + std::to_string(local.size) +
          " processes on this machine; NCCL needs one per process), skipping";
  double lacking = why.empty() ? 0 : 1;
  bootstrap.sum(&lacking, 1, "checking for GPUs");
  if (lacking > 0) {
    if (why.empty()) why = "another process has no GPU of its own, skipping";
    std::printf("ctnn NCCL tests (rank %d of %d): %s\n", bootstrap.rank(), bootstrap.size(), why.c_str());
    return 0;
  }
  int failures = 0;
  try {
    dist::NcclCommunicator communicator(bootstrap);
    communicator.set_timeout(std::chrono::seconds(120));
    nccl = &communicator;
    int version = 0;
    ncclGetVersion(&version);
    std::printf("ctnn NCCL tests (rank %d of %d) on GPU %d (%s), NCCL %d\n", bootstrap.rank(), bootstrap.size(),
                communicator.device(), cuda::context().properties().name, version);
    std::fflush(stdout);
    doctest::Context context(argc, argv);
    failures = context.run() != 0 ? 1 : 0;
    nccl = nullptr;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "ctnn NCCL tests (rank %d): %s\n", bootstrap.rank(), e.what());
    std::fflush(stderr);
    bootstrap.abort(2);
  }
  double failed = failures;
  bootstrap.sum(&failed, 1, "collecting the results");
  return failed > 0 ? 1 : 0;
}
