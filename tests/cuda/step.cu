// CUDA backend tests, part 3: graph-safe training steps. A step captured as a CUDA graph and
// replayed must be the eager step: 50 steps of cosine-scheduled SGD with Nesterov and of AdamW,
// eager against replayed, give the same parameters; the schedule changes what a replay does; a
// graph refuses to replay once something it captured was reallocated, moved or freed.
#include "parity.hpp"

#include <ctnn/loss.hpp>
#include <ctnn/optim.hpp>

#include <cmath>
#include <string>
#include <vector>

using namespace ctnn;

namespace {

using Spec = Seq<Conv<3, 8, 3, 1, 1>, BatchNorm<8>, ReLU, Conv<8, 8, 3, 2, 1>, BatchNorm<8>, ReLU, GlobalAvgPool, Flatten,
                 Linear<8, 5>>;
using In = Shape<3, 8, 8>;
constexpr std::size_t batch = 6;

// Deterministic convolution algorithms for the lifetime of a test: eager and replayed steps then
// run the same kernels on the same data.
struct Deterministic {
  cuda::Settings saved = cuda::settings();
  Deterministic() {
    cuda::settings().deterministic = true;
    cuda::settings().conv_search = cuda::ConvSearch::heuristic;  // no timing: both networks get the same algorithms
  }
  ~Deterministic() { cuda::settings() = saved; }
};

// A network, a fixed batch in device memory and a step that never waits for the host.
template <class Opt>
struct Trainer {
  Network<Spec, In, Cuda> net;
  Tensor<In, Cuda> x;
  Tensor<Shape<5>, Cuda> grad;
  cuda::DeviceBuffer<std::int32_t> labels;
  cuda::DeviceBuffer<double> loss_sum;
  Opt opt;

  explicit Trainer(Opt o) : net(batch, 11), x(batch), grad(batch), labels(batch, "labels"), loss_sum(1, "loss"), opt(std::move(o)) {
    Rng rng(12);
    copy_from_host(x, std::span<const float>(parity::random_values(batch * In::size, rng)));
    std::vector<std::int32_t> l(batch);
    for (auto& v : l) v = static_cast<std::int32_t>(rng.below(5));
    Cuda::upload(labels.data(), l.data(), l.size() * sizeof(std::int32_t));
    loss_sum.zero();
  }
  void step() {
    train::step(net, opt, x, grad, [&](const Tensor<Shape<5>, Cuda>& logits, Tensor<Shape<5>, Cuda>& g) {
      g.set_batch(logits.batch());
      cuda::softmax_cross_entropy_async(logits.data(), labels.data(), batch, 5, 0.f, g.data(), loss_sum.data());
    });
  }
  std::vector<std::vector<float>> values() {
    std::vector<std::vector<float>> v;
    for (const auto& p : net.parameters()) v.push_back(parity::host_copy(p.value, p.size, Cuda{}));
    return v;
  }
};

double worst_relative(const std::vector<std::vector<float>>& a, const std::vector<std::vector<float>>& b) {
  double worst = 0;
  for (std::size_t i = 0; i < a.size(); ++i) worst = std::max(worst, parity::rel_error(a[i], b[i]));
  return worst;
}

template <class Opt, class Schedule>
void eager_against_graph(const char* name, Opt make(), Schedule lr_at) {
  Deterministic det;
  constexpr std::size_t steps = 50;
  Trainer<Opt> eager(make()), graphed(make());
  for (std::size_t t = 0; t < steps; ++t) {
    eager.opt.lr = lr_at(t);
    eager.step();
  }
  cuda::CapturedStep step([&] { graphed.step(); });  // one eager step, then one capture and replays
  for (std::size_t t = 0; t < steps; ++t) {
    graphed.opt.lr = lr_at(t);
    step();
  }
  CHECK(step.captures() == 1);
  CHECK(step.graph().record().step_value_nodes() == 1);
  CHECK(graphed.opt.steps == steps);  // the host half ran once per executed step
  CHECK(eager.opt.steps == steps);
  const double e = worst_relative(eager.values(), graphed.values());
  MESSAGE(name << ": 50 steps, eager against graph replay: worst relative difference " << e);
  CHECK(e <= 1e-6);
}

SGD<Cuda> make_sgd() { return SGD<Cuda>{0.1f, 0.9f, 5e-4f, true}; }
AdamW<Cuda> make_adamw() { return AdamW<Cuda>{1e-2f}; }

}  // namespace

TEST_CASE("50 cosine-scheduled SGD (Nesterov) steps: eager and graph replay agree") {
  eager_against_graph<SGD<Cuda>>("SGD", make_sgd, schedule::Cosine{0.1f, 50, 5});
}

TEST_CASE("50 cosine-scheduled AdamW steps: eager and graph replay agree (step count and bias corrections advance)") {
  eager_against_graph<AdamW<Cuda>>("AdamW", make_adamw, schedule::Cosine{1e-2f, 50, 5});
}

TEST_CASE("the learning rate set between replays changes what the replay does") {
  Deterministic det;
  Trainer<SGD<Cuda>> t(SGD<Cuda>{0.1f, 0.9f, 0.f, true});
  t.step();
  cuda::Graph graph;
  graph.capture([&] { t.step(); });
  const auto before = t.values();
  t.opt.lr = 0.f;  // with lr 0 (and no weight decay) the update leaves every parameter as it is
  graph.replay();
  const auto after_zero = t.values();
  CHECK(worst_relative(before, after_zero) == 0.0);
  t.opt.lr = 0.5f;
  graph.replay();
  CHECK(worst_relative(after_zero, t.values()) > 1e-3);
  CHECK(t.opt.steps == 3);
}

TEST_CASE("a graph refuses to replay after the convolution workspace was reallocated, and captures again on request") {
  Trainer<SGD<Cuda>> t(SGD<Cuda>{0.05f, 0.9f});
  cuda::CapturedStep step([&] { t.step(); });
  step();
  step();
  CHECK(step.captures() == 1);
  auto& ctx = cuda::context();
  ctx.workspace(ctx.workspace_size() + (std::size_t{1} << 20));  // as a larger plan elsewhere would
  CHECK_THROWS_WITH_AS(step(), doctest::Contains("the shared convolution workspace"), Error);
  CHECK_THROWS_WITH_AS(step(), doctest::Contains("capture the step again"), Error);
  step.recapture();
  step();
  CHECK(step.captures() == 2);
  step();

  cuda::CapturedStep automatic([&] { t.step(); }, 1, cuda::Recapture::when_stale);
  automatic();
  automatic();
  ctx.workspace(ctx.workspace_size() + (std::size_t{1} << 20));
  automatic();  // captures again by itself
  CHECK(automatic.captures() == 2);
}

TEST_CASE("a graph refuses to replay after the optimizer's state was reset or the optimizer moved") {
  Trainer<AdamW<Cuda>> t(AdamW<Cuda>{1e-3f});
  t.step();
  cuda::Graph graph;
  graph.capture([&] { t.step(); });
  graph.replay();
  t.opt.reset();
  CHECK_THROWS_WITH_AS(graph.replay(), doctest::Contains("was freed after the capture"), Error);

  t.step();
  graph.capture([&] { t.step(); });
  graph.replay();
  AdamW<Cuda> moved(std::move(t.opt));
  CHECK_THROWS_WITH_AS(graph.replay(), doctest::Contains("step scalars"), Error);
  cuda::synchronize();
}

TEST_CASE("a step captured without ctnn::cuda::Graph is refused instead of freezing its scalars") {
  Trainer<SGD<Cuda>> t(SGD<Cuda>{0.1f});
  t.step();
  const cudaStream_t stream = cuda::context().stream();
  CTNN_CUDA_CHECK(cudaStreamBeginCapture(stream, cudaStreamCaptureModeThreadLocal));
  bool refused = false;
  try {
    t.step();
  } catch (const Error& e) {
    refused = std::string(e.what()).find("outside ctnn::cuda::Graph::capture") != std::string::npos;
  }
  cudaGraph_t g = nullptr;
  (void)cudaStreamEndCapture(stream, &g);
  if (g) cudaGraphDestroy(g);
  (void)cudaGetLastError();
  CHECK(refused);
}
