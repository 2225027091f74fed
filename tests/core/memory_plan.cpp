// The memory plan: slots are reused only when dead, a planned network computes exactly what the
// same layers compute with buffers of their own, and the report accounts for every byte held.

#include <doctest/doctest.h>

#include <cstddef>
#include <vector>

#include <ctnn/ctnn.hpp>

using namespace ctnn;

namespace {

template <class T>
void fill_uniform(T& t, std::uint64_t seed) {
  Rng rng(seed);
  for (auto& v : t.span()) v = rng.uniform(-1.f, 1.f);
}

std::vector<float> gradients_of(std::span<const Parameter> params) {
  std::vector<float> out;
  for (const auto& p : params) out.insert(out.end(), p.grad, p.grad + p.size);
  return out;
}

// Networks with every planned layer kind: chains, residual blocks with and without a projection,
// a residual block inside another (whose gradient both branches of the outer one read), pass-through
// layers (Identity, Flatten, Dropout in eval), pooling.
using Mixed = Seq<Conv<3, 8, 3, 1, 1, with_bias>, BatchNorm<8>, ReLU, BasicBlock<8, 8>, BasicBlock<8, 16, stride2>,
                  Residual<Seq<Conv<16, 16>, GELU>>, Residual<BasicBlock<16, 16>, Seq<Conv<16, 16, 1>, BatchNorm<16>>, ReLU>,
                  MaxPool<2>, Dropout<0.25>, AvgPool<1>, GlobalAvgPool, Flatten,
                  Linear<16, 12>, Tanh, Dropout<0.5>, Linear<12, 5>>;
using MixedIn = Shape<3, 12, 10>;

// ResNet-50's structure at a width that runs quickly under the sanitizers: bottleneck blocks with
// a projection, at stride 1 and 2, followed by one without.
using SmallBottleneckNet = Seq<Conv<3, 8>, BatchNorm<8>, ReLU, Bottleneck<8, 4>, Bottleneck<16, 8, stride2>,
                               Bottleneck<32, 8>, GlobalAvgPool, Flatten, Linear<32, 10>>;

}  // namespace

TEST_CASE("MemoryPlan: buffers alive at the same time never overlap; the others share storage") {
  MemoryPlan<Cpu> p;
  const auto a = p.acquire(1000), b = p.acquire(100);  // both alive
  CHECK(a != b);
  CHECK(p.live(a));
  p.release(a);
  CHECK_FALSE(p.live(a));
  const auto c = p.acquire(640);  // alive with b, after a
  p.release(b);
  const auto d = p.acquire(64);   // alive with c only
  p.pin(d);
  p.release(d);
  CHECK(p.live(d));  // pinned buffers stay alive
  p.release(c);
  CHECK(p.slot_count() == 4);
  Tensor<Shape<250>> ta(1, deferred), tc(1, deferred);
  Tensor<Shape<25>> tb(1, deferred);
  Tensor<Shape<16>> td2(1, deferred);
  p.bind(ta, a);
  p.bind(tb, b);
  p.bind(tc, c);  // c grows to 1000 bytes, a's size
  p.bind(td2, d);
  p.finish();
  // Largest first: a at 0, c at 0 too (not alive with a), b (alive with a and c) after them, d
  // (alive with c only) beside c, where b is not.
  CHECK(tc.data() == ta.data());
  CHECK(tb.data() == ta.data() + 1024 / 4);
  CHECK(td2.data() == tb.data());
  CHECK(p.report().activation_gradients == 1024 + 128);  // buffers rounded up to cache lines
  CHECK_THROWS_WITH_AS(p.acquire(4), doctest::Contains("already laid out"), Error);
}

namespace {
// A layer of a plan test: a kernel workspace of 1 KiB and an input gradient of 256 bytes.
struct WorkspaceLayer {
  detail::Workspace ws;
  detail::Workspace::Part<float> part = ws.add<float>(256);
  Tensor<Shape<64>> dx{1, deferred};
  MemorySlot plan(MemoryPlan<Cpu>& p, MemorySlot) {
    p.workspace(ws);
    return p.gradient(dx);
  }
  const std::byte* begin() { return reinterpret_cast<const std::byte*>(ws[part]); }
};
bool overlap(const void* a, std::size_t na, const void* b, std::size_t nb) {
  const auto* x = static_cast<const std::byte*>(a);
  const auto* y = static_cast<const std::byte*>(b);
  return x < y + nb && y < x + na;
}
}  // namespace

TEST_CASE("MemoryPlan: a kernel's workspace lives beside its layer's gradients; forward-only outputs share the arena") {
  MemoryPlan<Cpu> p;
  WorkspaceLayer a, b;
  Tensor<Shape<64>> dy(1, deferred);
  const auto s = p.gradient(dy);
  const auto da = detail::plan_layer(a, p, s);  // a's workspace: alive with dy and a.dx
  const auto db = detail::plan_layer(b, p, da);  // b's: with a.dx and b.dx; dy is dead by then
  p.release(db);
  Tensor<Shape<32>> shortcut(1);  // counted as an activation by its layer, then moved
  p.activation(shortcut);
  p.forward_only(shortcut);
  p.finish();
  CHECK_FALSE(overlap(a.begin(), 1024, dy.data(), 256));
  CHECK_FALSE(overlap(a.begin(), 1024, a.dx.data(), 256));
  CHECK_FALSE(overlap(b.begin(), 1024, a.dx.data(), 256));
  CHECK_FALSE(overlap(b.begin(), 1024, b.dx.data(), 256));
  CHECK(overlap(b.begin(), 1024, a.begin(), 1024));  // layers run one at a time: one place for both
  CHECK(p.report().activations == 0);
  CHECK(reinterpret_cast<const std::byte*>(shortcut.data()) <= a.begin());  // at the arena's start
  // gradients alone: dy and a.dx, then a.dx and b.dx (256 bytes each, two at a time)
  CHECK(p.report().activation_gradients == 2 * 256);
  CHECK(p.report().workspace == 1024);  // what the workspaces add to the arena
}

TEST_CASE("A planned network computes bit for bit what the same layers compute with buffers of their own") {
  // The root layer on its own has no plan: every buffer is its own (allocated at first use).
  auto check = [](auto type_tag, auto in_tag, std::size_t batch) {
    using Spec = typename decltype(type_tag)::type;
    using In = typename decltype(in_tag)::type;
    Network<Spec, In> net(batch, 7);
    Rng rng(7);
    layer_t<Spec, In> alone(batch, rng);
    Collector c;
    collect_state(alone, c);
    REQUIRE(c.parameters().size() == net.parameters().size());
    Tensor<In> x(batch);
    fill_uniform(x, 1);
    Tensor<output_shape_t<Spec, In>> dy(batch);
    fill_uniform(dy, 2);
    for (Mode mode : {Mode::train, Mode::eval}) {
      for (int step = 0; step < 2; ++step) {
        net.zero_grad();
        for (auto& p : c.parameters()) std::fill(p.grad, p.grad + p.size, 0.f);
        const auto& y1 = net.forward(x, mode);
        const auto& y2 = alone.forward(x, mode);
        REQUIRE(std::equal(y1.span().begin(), y1.span().end(), y2.span().begin()));
        const auto& dx1 = net.backward(dy, true);
        const auto& dx2 = alone.backward(dy, true);
        CHECK(std::equal(dx1.span().begin(), dx1.span().end(), dx2.span().begin()));
        CHECK(gradients_of(net.parameters()) == gradients_of(c.parameters()));
        // A second backward of the same forward adds the same gradients: whatever the planned
        // network recomputes is recomputed from what backward left intact (once per mode).
        if (step == 0) {
          net.backward(dy, false);
          alone.backward(dy, false);
          CHECK(gradients_of(net.parameters()) == gradients_of(c.parameters()));
        }
      }
    }
  };
  check(std::type_identity<Mixed>{}, std::type_identity<MixedIn>{}, 4);
  check(std::type_identity<ResNet18<10>>{}, std::type_identity<Shape<3, 16, 16>>{}, 2);
  check(std::type_identity<SmallBottleneckNet>{}, std::type_identity<Shape<3, 8, 8>>{}, 2);
}

TEST_CASE("Network::memory accounts for every byte the network holds, and ctnn::memory adds the optimizer's") {
  using Net = Network<ResNet18<10>, Shape<3, 16, 16>>;
  Tensor<Shape<3, 16, 16>> x(4);
  Tensor<Shape<10>> dy(4);
  fill_uniform(x, 3);
  fill_uniform(dy, 4);
  auto step = [&](Net& net, SGD<>& opt) {
    net.zero_grad();
    net.forward(x, Mode::train);
    net.backward(dy);
    opt.step(net.parameters());
  };
  {
    // Per-thread GEMM packing buffers are allocated at their first use and kept: warm them up.
    Net warm(4, 1);
    SGD<> opt(0.1f, 0.9f);
    step(warm, opt);
  }
  const std::size_t before = host_memory_in_use();
  {
    Net net(4, 1);
    CHECK(host_memory_in_use() - before == net.memory().total());  // everything is allocated by the constructor
    SGD<> opt(0.1f, 0.9f);
    step(net, opt);
    step(net, opt);
    const MemoryReport r = memory(net, opt);
    CAPTURE(r.table());
    CHECK(host_memory_in_use() - before == r.total());
    CHECK(r.parameters == net.parameter_count() * sizeof(float));
    // One gradient buffer, each parameter's gradient at a 64-byte boundary.
    CHECK(r.gradients >= r.parameters);
    CHECK(r.gradients < r.parameters + 64 * net.parameters().size());
    CHECK(net.gradient_buffer().size() * sizeof(float) == r.gradients);
    CHECK(r.optimizer_state == r.parameters);  // one momentum buffer per parameter
    // running mean and variance of 17 batch norms: the stem's, four per stage, one per projection
    CHECK(r.buffers == 2 * sizeof(float) * (64 + 4 * 64 + 5 * 128 + 5 * 256 + 5 * 512));
    // The largest activation gradient is one 64 x 16 x 16 map per sample; the plan needs a few.
    const std::size_t largest = 4 * 64 * 16 * 16 * sizeof(float);
    CHECK(r.activation_gradients >= 2 * largest);
    CHECK(r.activation_gradients <= 6 * largest);
    CHECK(r.workspace > 0);
  }
  CHECK(host_memory_in_use() == before);  // and gives it all back
}

TEST_CASE("A batch norm's output that a ReLU overwrites and a leaf layer reads is recomputed, not kept") {
  using In = Shape<3, 6, 6>;
  constexpr std::size_t map = 2 * 8 * 6 * 6 * sizeof(float);  // one 8-channel output at batch 2
  // Conv, BatchNorm (recomputed), ReLU (in place on it), Conv (reads it), BatchNorm: three maps kept.
  Network<Seq<Conv<3, 8>, BatchNorm<8>, ReLU, Conv<8, 8>, BatchNorm<8>>, In> chain(2, 1);
  CHECK(chain.memory().activations == 3 * map);
  // Backward: the batch norm's takes the ReLU's with it (the mask from its own input), so the second
  // convolution may write its input gradient over the recomputed output it has read: two maps of
  // gradients live at once (the second batch norm's with it, then the first's with it), not three.
  CHECK(chain.memory().activation_gradients == 2 * map);
  // Nothing reads the ReLU's output inside the chain: kept (Conv, BatchNorm).
  Network<Seq<Conv<3, 8>, BatchNorm<8>, ReLU>, In> last(2, 1);
  CHECK(last.memory().activations == 2 * map);
  // A residual block (not a leaf) reads the stem's: kept. Inside the block its first batch norm's
  // output is recomputed: conv, conv and the second batch norm (the sum overwrites it) are kept.
  Network<Seq<Conv<3, 8>, BatchNorm<8>, ReLU, BasicBlock<8, 8>>, In> block(2, 1);
  CHECK(block.memory().activations == 5 * map);
  CHECK(block.memory().activation_gradients == 3 * map);  // the block's incoming gradient as well
  // The recomputed output is bit for bit the one forward wrote (the planned networks above compare
  // every output and gradient with unplanned layers); here backward runs after an eval forward too,
  // which recomputes with the running statistics.
  Tensor<In> x(2);
  fill_uniform(x, 8);
  Tensor<Shape<8, 6, 6>> dy(2);
  fill_uniform(dy, 9);
  Rng rng(1);
  layer_t<Seq<Conv<3, 8>, BatchNorm<8>, ReLU, Conv<8, 8>, BatchNorm<8>>, In> alone(2, rng);
  for (Mode mode : {Mode::train, Mode::eval}) {
    chain.zero_grad();
    Collector c;
    collect_state(alone, c);
    for (auto& p : c.parameters()) std::fill(p.grad, p.grad + p.size, 0.f);
    chain.forward(x, mode);
    alone.forward(x, mode);
    const auto& dx1 = chain.backward(dy, true);
    const auto& dx2 = alone.backward(dy, true);
    CHECK(std::equal(dx1.span().begin(), dx1.span().end(), dx2.span().begin()));
    CHECK(gradients_of(chain.parameters()) == gradients_of(c.parameters()));
  }
}

TEST_CASE("summary(net) ends with the memory report") {
  Network<Mixed, MixedIn> net(2);
  const std::string s = summary(net);
  CHECK(s.find("ctnn::summary: Seq<") == 0);
  CHECK(s.find("activation gradients") != std::string::npos);
  CHECK(s.find("total") != std::string::npos);
  CHECK(s.find(std::to_string(net.memory().total()) + " bytes") != std::string::npos);
}

TEST_CASE("Every layer kind reports what it allocates, at construction, and keeps it through a step") {
  Tensor<MixedIn> x(3);
  Tensor<Shape<5>> dy(3);
  fill_uniform(x, 5);
  fill_uniform(dy, 6);
  {
    Network<Mixed, MixedIn> warm(3, 2);  // per-thread GEMM buffers
    warm.forward(x, Mode::train);
    warm.backward(dy, true);
  }
  const std::size_t before = host_memory_in_use();
  Network<Mixed, MixedIn> net(3, 2);
  const MemoryReport r = net.memory();
  CAPTURE(r.table());
  CHECK(host_memory_in_use() - before == r.total());
  net.forward(x, Mode::train);
  net.backward(dy, true);
  net.forward(x, Mode::eval);
  net.backward(dy, true);
  CHECK(host_memory_in_use() - before == r.total());
  CHECK(r.layer_state > 0);  // batch-norm statistics, max-pooling indices, the conv bias sums
}
