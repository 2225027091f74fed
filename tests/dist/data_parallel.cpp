// Data-parallel training in one process: the gradient hook's order, DataParallel's buckets, that a
// bucket starts while backward is still running, the averaging, the broadcast and agree(), with
// communicators that stand in for other processes; and synchronised batch norm of two half batches
// on two threads against the whole batch on one layer. The MPI tests (tests/dist/mpi.cmake) run the
// same with real processes.
#include <ctnn/ctnn.hpp>
#include <doctest/doctest.h>

#include <algorithm>
#include <barrier>
#include <cmath>
#include <thread>
#include <vector>

using namespace ctnn;

namespace {

using Spec = Seq<Conv<3, 8>, BatchNorm<8>, ReLU, BasicBlock<8, 16, 2>, GlobalAvgPool, Flatten, Linear<16, 10>>;
using In = Shape<3, 16, 16>;
using Net = Network<Spec, In>;

void fill(float* p, std::size_t n, std::uint64_t seed) {
  Rng rng(seed);
  for (std::size_t i = 0; i < n; ++i) p[i] = rng.uniform(-1.f, 1.f);
}

// Forward and backward of a fixed batch, gradients zeroed first.
void run_backward(Net& net, std::uint64_t seed = 1) {
  Tensor<In> x(4);
  fill(x.data(), x.size(), seed);
  const auto& y = net.forward(x, Mode::train);
  Tensor<Shape<10>> dy(y.batch());
  fill(dy.data(), dy.size(), seed + 1);
  net.zero_grad();
  net.backward(dy);
}

std::vector<std::vector<float>> gradients(Net& net) {
  std::vector<std::vector<float>> g;
  for (const auto& p : net.parameters()) g.emplace_back(p.grad, p.grad + p.size);
  return g;
}

struct Recorder : GradientHook {
  std::vector<std::pair<std::size_t, std::size_t>> calls;
  void gradients_ready(std::size_t first, std::size_t last) override { calls.emplace_back(first, last); }
};

// A stand-in for the other processes: `other` says what they add to a sum (the same gradient as
// this process: factor 1; nothing: 0). Records whether the first parameter's gradient was still
// zero, that is, whether backward had not reached the network's first layer yet.
struct Stand_in final : dist::Communicator {
  Net* net = nullptr;
  float other = 1.f;
  double other_failures = 0;
  std::vector<bool> started_before_first_layer;
  std::vector<const float*> summed;  // where each sum ran
  int rank() const override { return 0; }
  int size() const override { return 2; }
  std::string name() const override { return "stand-in"; }
  dist::Memory memory() const override { return dist::Memory::host; }
  Handle start_sum(float* data, std::size_t n, const char*) override {
    const auto& p0 = net->parameters()[0];
    bool zero = true;
    for (std::size_t i = 0; i < p0.size; ++i) zero = zero && p0.grad[i] == 0.f;
    started_before_first_layer.push_back(zero);
    summed.push_back(data);
    for (std::size_t i = 0; i < n; ++i) data[i] += other * data[i];
    return 0;
  }
  void wait(Handle) override {}
  void broadcast(float* data, std::size_t n, int, const char*) override {
    for (std::size_t i = 0; i < n; ++i) data[i] = 7.f;  // rank 0's values
  }
  void broadcast_bytes(void*, std::size_t, int, const char*) override {}
  void sum(double* v, std::size_t, const char*) override { v[0] += other_failures; }
  void barrier(const char*) override {}
  [[noreturn]] void abort(int) override { std::abort(); }
};

}  // namespace

TEST_CASE("the gradient hook hears of every parameter, the last layers first") {
  Net net(4, 3);
  Recorder r;
  net.set_gradient_hook(&r);
  run_backward(net);
  const std::size_t n = net.parameters().size();
  REQUIRE(r.calls.size() > 3);
  CHECK(r.calls.front().second == n);  // the Linear layer's weight and bias come first
  CHECK(r.calls.front().first > 0);
  CHECK(r.calls.back() == std::pair<std::size_t, std::size_t>{0, n});  // the network: all of them
  // Every parameter is reported by its own layer before the network's final call (a residual
  // block's shortcut, backpropagated after its main branch, reports after it: DataParallel counts
  // parameters, it does not assume an order).
  std::vector<int> heard(n, 0);
  for (std::size_t k = 0; k + 1 < r.calls.size(); ++k) {
    CHECK(r.calls[k].first < r.calls[k].second);
    CHECK(r.calls[k].second <= n);
    for (std::size_t i = r.calls[k].first; i < r.calls[k].second; ++i) heard[i] = 1;
  }
  CHECK(std::count(heard.begin(), heard.end(), 1) == int(n));
  net.set_gradient_hook(nullptr);
  r.calls.clear();
  run_backward(net);
  CHECK(r.calls.empty());
}

TEST_CASE("DataParallel: buckets in reverse order, started during backward, gradients averaged") {
  Net net(4, 3);
  run_backward(net);
  const auto alone = gradients(net);

  Stand_in comm;
  comm.net = &net;
  dist::DataParallel dp(net, comm, {.bucket_bytes = 4096, .overlap = true, .broadcast = false});
  const auto buckets = dp.buckets();
  REQUIRE(buckets.size() > 2);
  const auto params = net.parameters();
  std::size_t expect_last = params.size();
  for (std::size_t b = 0; b < buckets.size(); ++b) {
    CHECK(buckets[b].last == expect_last);  // contiguous, from the last parameter down
    std::size_t bytes = 0;
    for (std::size_t i = buckets[b].first; i < buckets[b].last; ++i) bytes += params[i].size * sizeof(float);
    CHECK(bytes == buckets[b].floats * sizeof(float));
    if (b + 1 < buckets.size()) CHECK(bytes >= 4096);  // a bucket closes once it holds bucket_bytes
    expect_last = buckets[b].first;
  }
  CHECK(expect_last == 0);

  // The other process computed the same gradients: the average is this process's, exactly.
  run_backward(net);
  dp.finish();
  REQUIRE(comm.started_before_first_layer.size() == buckets.size());
  CHECK(comm.started_before_first_layer.front());  // overlapped with the rest of backward
  CHECK_FALSE(comm.started_before_first_layer.back());
  CHECK(gradients(net) == alone);
  // Summed where the gradients are: in the network's one gradient buffer, no copy.
  const std::span<float> all = net.gradient_buffer();
  for (const float* p : comm.summed) CHECK((p >= all.data() && p < all.data() + all.size()));

  // The other process's gradients are zero: half of this one's.
  comm.other = 0.f;
  run_backward(net);
  dp.finish();
  const auto halved = gradients(net);
  for (std::size_t i = 0; i < alone.size(); ++i)
    for (std::size_t j = 0; j < alone[i].size(); ++j) REQUIRE(halved[i][j] == alone[i][j] * 0.5f);
}

TEST_CASE("DataParallel without overlap starts every bucket in finish()") {
  Net net(4, 3);
  Stand_in comm;
  comm.net = &net;
  dist::DataParallel dp(net, comm, {.bucket_bytes = 4096, .overlap = false, .broadcast = false});
  run_backward(net);
  CHECK(comm.started_before_first_layer.empty());
  dp.finish();
  CHECK(comm.started_before_first_layer.size() == dp.buckets().size());
}

TEST_CASE("DataParallel: finish() before backward has finished is an error; construction broadcasts") {
  Net net(4, 3);
  Stand_in comm;
  comm.net = &net;
  dist::DataParallel dp(net, comm, {.bucket_bytes = 4096});  // broadcast: every value becomes rank 0's 7
  for (const auto& p : net.parameters())
    for (std::size_t i = 0; i < p.size; ++i) REQUIRE(p.value[i] == 7.f);
  for (const auto& b : net.buffers())
    for (std::size_t i = 0; i < b.size; ++i) REQUIRE(b.value[i] == 7.f);
  dp.gradients_ready(net.parameters().size() - 1, net.parameters().size());
  CHECK_THROWS_WITH_AS(dp.finish(), doctest::Contains("backward has not finished the gradients of parameter"), Error);
  dp.reset();
  CHECK_THROWS_WITH_AS(dist::DataParallel(net, comm, {.bucket_bytes = 0}), doctest::Contains("bucket_bytes is 0"), Error);
}

TEST_CASE("agree(): a failure on any process is a failure on all") {
  Stand_in comm;
  int runs = 0;
  dist::agree(comm, "a check", [&] { ++runs; });
  CHECK(runs == 1);
  comm.other_failures = 1;
  CHECK_THROWS_WITH_AS(dist::agree(comm, "a check", [] {}), doctest::Contains("a check failed on 1 other process"), Error);
  comm.other_failures = 0;
  CHECK_THROWS_WITH_AS(dist::agree(comm, "a check", [] { detail::fail("own reason"); }), "own reason", Error);
  dist::Local alone;
  CHECK(dist::identical_everywhere<Cpu>(alone, Net(1).parameters()));
}

TEST_CASE("a sharded loader: the ranks' slices make up the global batch, with its augmentation") {
  const data::CifarDataset set = data::synthetic_cifar(50, 3);
  data::Loader whole(set, data::LoaderOptions::training(5, 16));
  data::LoaderOptions o0 = data::LoaderOptions::training(5, 16), o1 = o0;
  o0.ranks = o1.ranks = 2;
  o1.rank = 1;
  data::Loader r0(set, o0), r1(set, o1);
  CHECK(r0.local_batch() == 8);
  CHECK(r0.batches_per_epoch() == whole.batches_per_epoch());
  whole.start_epoch(2);
  r0.start_epoch(2);
  r1.start_epoch(2);
  while (const auto* w = whole.next()) {
    const auto* a = r0.next();
    const auto* b = r1.next();
    REQUIRE(a);
    REQUIRE(b);
    REQUIRE(a->size() + b->size() == w->size());
    CHECK(b->first_position == w->first_position + a->size());
    for (std::size_t k = 0; k < w->size(); ++k) {
      const auto* part = k < a->size() ? a : b;
      const std::size_t j = k < a->size() ? k : k - a->size();
      REQUIRE(part->indices[j] == w->indices[k]);
      constexpr std::size_t image = 3 * 32 * 32;
      for (std::size_t v = 0; v < image; ++v) REQUIRE(part->images.data()[j * image + v] == w->images.data()[k * image + v]);
    }
  }
  o1.batch = 15;
  CHECK_THROWS_WITH_AS(data::Loader(set, o1), doctest::Contains("does not divide evenly among 2 processes"), Error);
  // Evaluation: a short final batch is split as evenly as it goes.
  data::LoaderOptions e = data::LoaderOptions::evaluation(16);
  e.ranks = 3;
  e.rank = 2;
  data::Loader ev(set, e);
  std::size_t seen = 0;
  while (const auto* b = ev.next()) seen += b->size();
  CHECK(seen == 6 + 6 + 6 + 1);  // batches of 16, 16, 16, 2: rank 2 of 3 takes [10, 16) of each and [1, 2) of the last
}

namespace {

// Two threads, one per half batch, meet in sum(): each adds the other's values to its own.
struct Meeting {
  std::barrier<> meet{2};
  std::vector<double> slot[2];
};
struct PairSum final : CrossReplicaSum {
  Meeting& m;
  int me;
  PairSum(Meeting& meeting, int who) : m(meeting), me(who) {}
  void sum(double* v, std::size_t n) override {
    m.slot[me].assign(v, v + n);
    m.meet.arrive_and_wait();
    for (std::size_t i = 0; i < n; ++i) v[i] = m.slot[0][i] + m.slot[1][i];
    m.meet.arrive_and_wait();
  }
};

using BnIn = Shape<3, 4, 4>;
using BnNet = Network<BatchNorm<3>, BnIn>;

struct Halves {
  std::vector<float> y, dx, mean, var, dgamma, dbeta;
};

// Forward and backward of samples [first, first + n) of x and dy on `net`.
void half_step(BnNet& net, const Tensor<BnIn>& x, const Tensor<BnIn>& dy, std::size_t first, std::size_t n, Halves& out,
               std::size_t at) {
  Tensor<BnIn> xs(n), dys(n);
  std::copy_n(x.data() + first * BnIn::size, n * BnIn::size, xs.data());
  std::copy_n(dy.data() + first * BnIn::size, n * BnIn::size, dys.data());
  const auto& y = net.forward(xs, Mode::train);
  std::copy_n(y.data(), y.size(), out.y.data() + at);
  net.zero_grad();
  const auto& dx = net.backward(dys, true);
  std::copy_n(dx.data(), dx.size(), out.dx.data() + at);
}

}  // namespace

TEST_CASE("synchronised batch norm: two half batches on two threads = the whole batch on one layer") {
  Tensor<BnIn> x(8), dy(8);
  fill(x.data(), x.size(), 5);
  for (std::size_t i = 0; i < x.size(); ++i) x.data()[i] = 3.f + 2.f * x.data()[i];  // mean far from 0
  fill(dy.data(), dy.size(), 6);
  BnNet full(8);
  const auto& y = full.forward(x, Mode::train);
  const std::vector<float> y_full(y.data(), y.data() + y.size());
  full.zero_grad();
  const auto& dx = full.backward(dy, true);
  const std::vector<float> dx_full(dx.data(), dx.data() + dx.size());

  for (const bool synchronised : {true, false}) {
    CAPTURE(synchronised);
    BnNet a(4), b(4);
    Meeting m;
    PairSum sa(m, 0), sb(m, 1);
    CHECK(a.synchronize_batch_norm(synchronised ? &sa : nullptr) == 1);
    b.synchronize_batch_norm(synchronised ? &sb : nullptr);
    Halves h;
    h.y.resize(y_full.size());
    h.dx.resize(dx_full.size());
    std::thread second([&] { half_step(b, x, dy, 4, 4, h, 4 * BnIn::size); });
    half_step(a, x, dy, 0, 4, h, 0);
    second.join();
    double worst_y = 0, worst_dx = 0, worst_stat = 0;
    for (std::size_t i = 0; i < y_full.size(); ++i) {
      worst_y = std::max(worst_y, double(std::fabs(h.y[i] - y_full[i])));
      worst_dx = std::max(worst_dx, double(std::fabs(h.dx[i] - dx_full[i])));
    }
    for (std::size_t c = 0; c < 3; ++c) {
      for (auto* net : {&a, &b}) {
        worst_stat = std::max(worst_stat, double(std::fabs(net->buffers()[0].value[c] - full.buffers()[0].value[c])));
        worst_stat = std::max(worst_stat, double(std::fabs(net->buffers()[1].value[c] - full.buffers()[1].value[c])));
      }
    }
    MESSAGE("largest difference to the whole batch: y " << worst_y << ", dx " << worst_dx << ", running statistics " << worst_stat);
    if (synchronised) {
      CHECK(worst_y < 1e-5);
      CHECK(worst_dx < 1e-5);
      CHECK(worst_stat < 1e-6);
      // Each half's parameter gradients are its own share: together, the whole batch's.
      for (std::size_t k = 0; k < 2; ++k)
        for (std::size_t c = 0; c < 3; ++c)
          CHECK(a.parameters()[k].grad[c] + b.parameters()[k].grad[c] ==
                doctest::Approx(full.parameters()[k].grad[c]).epsilon(1e-5));
    } else {
      CHECK(worst_y > 1e-3);  // each half normalised by its own statistics
    }
  }
}

TEST_CASE("fit refuses a loader that is not sharded for its communicator") {
  const data::CifarDataset set = data::synthetic_cifar(32, 3);
  data::LoaderOptions o = data::LoaderOptions::training(1, 8);
  o.ranks = 2;
  data::Loader loader(set, o);
  Network<Seq<Flatten, Linear<3 * 32 * 32, 10>>, Shape<3, 32, 32>> net(8);
  SGD opt{0.1f};
  dist::Local alone;
  train::Options fo;
  fo.communicator = &alone;
  fo.progress = train::ProgressStyle::none;
  CHECK_THROWS_WITH_AS(train::fit(net, opt, loader, nullptr, fo),
                       doctest::Contains("the training loader takes share 0 of 2 but this is process 0 of 1"), Error);
}
