// ctnn::Profiler and the layer-timing mechanism under it (core/profile.hpp): which layers are
// timed, under which paths, in which order each pass reports them, and that the profiler's figures
// are those the timer was told.
#include <ctnn/ctnn.hpp>
#include <doctest/doctest.h>

#include <chrono>
#include <string>
#include <utility>
#include <vector>

using namespace ctnn;

namespace {

using Spec = Seq<Conv<3, 8>, BatchNorm<8>, ReLU, BasicBlock<8, 16, stride2>, BasicBlock<16, 16>, GlobalAvgPool, Flatten,
                 Linear<16, 4>>;
using Net = Network<Spec, Shape<3, 8, 8>>;

struct Recorder final : LayerTimer {
  std::vector<std::pair<std::size_t, Pass>> calls;
  void layer_time(std::size_t layer, Pass pass, double seconds) override {
    CHECK(seconds >= 0.0);
    calls.emplace_back(layer, pass);
  }
};

void fill(Tensor<Shape<3, 8, 8>>& x) {
  Rng rng(3);
  for (auto& v : x.span()) v = rng.uniform(-1, 1);
}

}  // namespace

TEST_CASE("every leaf layer and each residual add is timed, in forward order, under its parameter path") {
  Net net(2, 1);
  std::vector<std::string> got;
  for (const auto& l : net.timed_layers()) got.push_back(l.path + " " + l.name);
  const std::vector<std::string> want = {
      "0 Conv<3,8,3,1,1>",
      "1 BatchNorm<8>",
      "2 ReLU",
      "3.main.0 Conv<8,16,3,2,1>",
      "3.main.1 BatchNorm<16>",
      "3.main.2 ReLU",
      "3.main.3 Conv<16,16,3,1,1>",
      "3.main.4 BatchNorm<16>",
      "3.shortcut.0 Conv<8,16,1,2,0>",
      "3.shortcut.1 BatchNorm<16>",
      "3 add + ReLU",
      "4.main.0 Conv<16,16,3,1,1>",
      "4.main.1 BatchNorm<16>",
      "4.main.2 ReLU",
      "4.main.3 Conv<16,16,3,1,1>",
      "4.main.4 BatchNorm<16>",
      "4.shortcut Identity",
      "4 add + ReLU",
      "5 GlobalAvgPool",
      "6 Flatten",
      "7 Linear<16,4>",
  };
  CHECK(got == want);
  // The paths are those of the parameters ("3.main.0.weight" is the first block's first convolution).
  bool found = false;
  for (const auto& p : net.parameters()) found = found || p.name == "3.main.0.weight";
  CHECK(found);
}

TEST_CASE("a timer hears each layer once per pass: forward in order, backward in reverse") {
  Net net(2, 1);
  Tensor<Shape<3, 8, 8>> x(2);
  fill(x);
  Tensor<Shape<4>> dy(2);
  dy.fill(0.25f);
  Recorder rec;
  net.forward(x, Mode::train);  // no timer: nothing heard
  net.set_layer_timer(&rec);
  net.forward(x, Mode::train);
  net.backward(dy);
  const std::size_t n = net.timed_layers().size();
  REQUIRE(rec.calls.size() == 2 * n + 2);  // each residual add reports twice in backward (mask, then sum)
  for (std::size_t i = 0; i < n; ++i) {
    CHECK(rec.calls[i].first == i);
    CHECK(rec.calls[i].second == Pass::forward);
  }
  // Backward: the reverse order, but a block's add reports before its branches (the ReLU mask) and
  // again after them (the sum of the branches' gradients).
  std::vector<std::size_t> backward;
  for (std::size_t i = n; i < rec.calls.size(); ++i) {
    CHECK(rec.calls[i].second == Pass::backward);
    backward.push_back(rec.calls[i].first);
  }
  const std::vector<std::size_t> expect = {20, 19, 18,                  // Linear, Flatten, GlobalAvgPool
                                           17, 15, 14, 13, 12, 11, 16, 17,  // block 4: add, main, shortcut, add
                                           10, 7, 6, 5, 4, 3, 9, 8, 10,     // block 3
                                           2, 1, 0};                        // the stem
  CHECK(backward == expect);
  net.set_layer_timer(nullptr);
  const std::size_t heard = rec.calls.size();
  net.forward(x, Mode::train);
  CHECK(rec.calls.size() == heard);
}

TEST_CASE("Profiler: per-call times, tables, reset, and it stops timing when destroyed") {
  Net net(4, 1);
  Tensor<Shape<3, 8, 8>> x(4);
  fill(x);
  Tensor<Shape<4>> dy(4);
  dy.fill(0.1f);
  {
    Profiler prof(net);
    const auto start = std::chrono::steady_clock::now();
    for (int i = 0; i < 3; ++i) {
      net.forward(x, Mode::train);
      net.backward(dy);
    }
    const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    REQUIRE(prof.rows().size() == net.timed_layers().size());
    for (const auto& r : prof.rows()) {
      CHECK(r.forward_calls == 3);
      CHECK(r.backward_calls == (r.name.rfind("add", 0) == 0 ? 6u : 3u));
    }
    CHECK(prof.rows()[0].forward > 0.0);
    CHECK(prof.per_call() > 0.0);
    CHECK(prof.per_call() * 3 <= wall);  // the layers' times lie inside the steps
    const std::string t = prof.table();
    CHECK(t.find("3.main.0  Conv<8,16,3,2,1>") != std::string::npos);
    CHECK(t.find("total") != std::string::npos);
    const std::string k = prof.by_kind();
    CHECK(k.find("Conv") != std::string::npos);
    CHECK(k.find("add + ReLU") != std::string::npos);
    CHECK(k.find("3.main") == std::string::npos);  // kinds, not layers
    prof.reset();
    CHECK(prof.per_call() == 0.0);
    CHECK(prof.rows()[0].forward_calls == 0);
  }
  // The profiler is gone: the network runs untimed (a dangling timer would crash here under ASan).
  net.forward(x, Mode::train);
  net.backward(dy);
}

TEST_CASE("a network of one leaf layer times that layer") {
  Network<Conv<3, 4>, Shape<3, 8, 8>> net(2, 1);
  REQUIRE(net.timed_layers().size() == 1);
  CHECK(net.timed_layers()[0].name == "Conv<3,4,3,1,1>");
  Tensor<Shape<3, 8, 8>> x(2);
  fill(x);
  Recorder rec;
  net.set_layer_timer(&rec);
  const auto& y = net.forward(x, Mode::train);
  Tensor<Shape<4, 8, 8>> dy(2);
  dy.fill(1.f);
  (void)y;
  net.backward(dy);
  REQUIRE(rec.calls.size() == 2);
  CHECK(rec.calls[0] == std::make_pair(std::size_t{0}, Pass::forward));
  CHECK(rec.calls[1] == std::make_pair(std::size_t{0}, Pass::backward));
}
