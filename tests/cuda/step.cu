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
  MESSAGE(std::string(name) << ": 50 steps, eager against graph replay: worst relative difference " << e);
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

// ---- a step with no host wait -------------------------------------------------------------------

namespace {

using Small = Seq<Conv<3, 8, 3, 2, 1>, BatchNorm<8>, ReLU, Conv<8, 16, 3, 2, 1>, BatchNorm<16>, ReLU, GlobalAvgPool, Flatten,
                  Linear<16, 10>>;
using Cifar = Shape<3, 32, 32>;

// Two epochs of three batches from both loaders: the GPU's (this process's share) are the CPU's,
// value for value, images and labels.
void check_same_batches(data::Loader<Cifar>& cpu, cuda::DeviceLoader<Cifar>& gpu) {
  const std::size_t n = gpu.local_batch();
  Tensor<Cifar, Cuda> x(n);
  cuda::DeviceBuffer<std::int32_t> labels(n, "labels");
  std::vector<std::int32_t> got(n);
  for (std::size_t epoch = 0; epoch < 2; ++epoch) {
    cpu.start_epoch(epoch);
    for (std::size_t b = 0; b < 3; ++b) {
      const auto* ref = cpu.next();
      REQUIRE(ref);
      gpu.next(x, labels.data());
      CHECK(gpu.epoch() == epoch);
      CHECK(gpu.batch_index() == b);
      REQUIRE(x.batch() == n);
      CHECK(to_host(x) == std::vector<float>(ref->images.data(), ref->images.data() + ref->images.size()));
      Cuda::download(got.data(), labels.data(), n * sizeof(std::int32_t));
      CHECK(got == std::vector<std::int32_t>(ref->labels.begin(), ref->labels.end()));
    }
  }
}

}  // namespace

TEST_CASE("DeviceLoader batches are the CPU loader's, value for value, across epochs") {
  const auto set = data::synthetic_cifar(96, 5);
  auto options = data::LoaderOptions::training(7, 32);
  options.cutout = 8;
  options.cutout_probability = 0.5f;
  options.background = false;
  data::Loader<Cifar> cpu(set, options);
  cuda::DeviceLoader<Cifar> gpu(set, options);
  check_same_batches(cpu, gpu);
}

TEST_CASE("a sharded DeviceLoader gives each process the CPU loader's slice of every batch") {
  const auto set = data::synthetic_cifar(96, 6);
  for (std::size_t rank = 0; rank < 2; ++rank) {
    CAPTURE(rank);
    auto options = data::LoaderOptions::training(3, 32);
    options.background = false;
    options.rank = rank;
    options.ranks = 2;
    data::Loader<Cifar> cpu(set, options);
    cuda::DeviceLoader<Cifar> gpu(set, options);
    CHECK(gpu.batch() == 32);
    REQUIRE(gpu.local_batch() == 16);
    check_same_batches(cpu, gpu);
    // A DeviceStep does not reduce gradients over processes: it refuses a sharded loader.
    Network<Small, Cifar, Cuda> net(16);
    SGD<Cuda> opt{0.1f, 0.9f};
    CHECK_THROWS_WITH_AS(cuda::DeviceStep(net, opt, gpu), doctest::Contains("sharded"), ctnn::Error);
  }
}

TEST_CASE("StepMetrics: loss and top-1 hits on the device as on the host") {
  constexpr std::size_t n = 300, classes = 10;
  Rng rng(8);
  const auto logits = parity::random_values(n * classes, rng, -5.f, 5.f);
  std::vector<std::int32_t> labels(n);
  for (auto& l : labels) l = static_cast<std::int32_t>(rng.below(classes));
  auto lc = parity::make_tensor<Shape<classes>, Cpu>(logits);
  auto lg = parity::make_tensor<Shape<classes>, Cuda>(logits);
  Tensor<Shape<classes>, Cpu> gc(n);
  Tensor<Shape<classes>, Cuda> gg(n);
  cuda::DeviceBuffer<std::int32_t> dl(n, "labels");
  Cuda::upload(dl.data(), labels.data(), n * sizeof(std::int32_t));
  cuda::StepMetrics metrics;
  const float loss = softmax_cross_entropy(lc, labels, gc, 0.1f);
  const std::size_t correct = count_correct(lc, labels);
  metrics.accumulate(lg.data(), dl.data(), n, classes, 0.1f, gg.data());
  metrics.accumulate(lg.data(), dl.data(), n, classes, 0.1f, gg.data());
  const auto t = metrics.read();
  CHECK(t.steps == 2);
  CHECK(t.samples == 2 * n);
  CHECK(t.correct == 2 * correct);
  CHECK(t.mean_loss() == doctest::Approx(loss).epsilon(1e-6));
  CHECK(parity::rel_error(parity::host_copy(gc), parity::host_copy(gg)) <= 1e-6);
  CHECK(metrics.read().samples == 0);  // read() zeroed them
}

TEST_CASE("a DeviceStep never waits for the host: at most one wait per log interval, eager and replayed") {
  const auto set = data::synthetic_cifar(320, 3);
  cuda::DeviceLoader<Cifar> loader(set, data::LoaderOptions::training(1, 64));  // 5 batches per epoch
  Network<Small, Cifar, Cuda> net(64, 2);
  SGD<Cuda> opt{0.05f, 0.9f, 5e-4f, true};
  cuda::DeviceStep step(net, opt, loader);
  const schedule::Cosine lr_at{0.05f, 100};
  std::size_t t = 0;
  step();  // the first step builds the optimizer's state and its table (uploads: host waits)
  step.read();
  ++t;
  constexpr std::size_t interval = 12, intervals = 3;  // crosses epoch boundaries (new plans)
  const auto before = cuda::host_waits();
  for (std::size_t i = 0; i < intervals; ++i) {
    for (std::size_t k = 0; k < interval; ++k, ++t) {
      opt.lr = lr_at(t);
      step();
    }
    const auto m = step.read();
    CHECK(m.steps == interval);
    CHECK(std::isfinite(m.mean_loss()));
  }
  const auto eager_waits = cuda::host_waits() - before;
  MESSAGE("eager: " << eager_waits << " host waits in " << intervals << " intervals of " << interval
                    << " steps (last: " << std::string(cuda::last_host_wait() ? cuda::last_host_wait() : "none") << ")");
  CHECK(eager_waits <= intervals);

  cuda::CapturedStep graph([&] { step(); }, 0);
  graph();  // captures, then replays once: one step
  ++t;
  step.read();
  const auto before_graph = cuda::host_waits();
  for (std::size_t i = 0; i < intervals; ++i) {
    for (std::size_t k = 0; k < interval; ++k, ++t) {
      opt.lr = lr_at(t);
      graph();
    }
    CHECK(step.read().steps == interval);
  }
  const auto graph_waits = cuda::host_waits() - before_graph;
  MESSAGE("graph replay: " << graph_waits << " host waits in " << intervals << " intervals");
  CHECK(graph_waits <= intervals);
  CHECK(opt.steps == t);
}

TEST_CASE("a DeviceStep learns: the loss falls within a few epochs of synthetic data") {
  const auto set = data::synthetic_cifar(1024, 4);
  cuda::DeviceLoader<Cifar> loader(set, data::LoaderOptions::training(2, 64));
  Network<Small, Cifar, Cuda> net(64, 3);
  SGD<Cuda> opt{0.1f, 0.9f, 5e-4f, true};
  cuda::DeviceStep step(net, opt, loader);
  cuda::CapturedStep graph([&] { step(); });
  std::vector<double> losses;
  for (std::size_t epoch = 0; epoch < 6; ++epoch) {
    for (std::size_t b = 0; b < loader.batches_per_epoch(); ++b) graph();
    losses.push_back(step.read().mean_loss());
  }
  MESSAGE("mean loss per epoch: " << losses[0] << " ... " << losses.back());
  CHECK(losses.back() < 0.8 * losses.front());
}

// ---- algorithm choice and math mode -------------------------------------------------------------

TEST_CASE("fp32 convolutions run FMA kernels only (what they were timed with); TF32 only on request") {
  const backend::Geometry2d g{64, 16, 16, 64, 16, 16, 3, 1, 1};
  for (const auto search : {cuda::ConvSearch::find, cuda::ConvSearch::heuristic}) {
    cuda::Settings s = cuda::settings();
    s.conv_search = search;
    s.allow_tf32 = false;
    s.verbose = true;  // the per-pass algorithm and math type on stderr
    backend::cuda::Conv2d conv(g, 32, s);
    CHECK(conv.algorithms().forward_math == CUDNN_FMA_MATH);
    CHECK(conv.algorithms().backward_data_math == CUDNN_FMA_MATH);
    CHECK(conv.algorithms().backward_filter_math == CUDNN_FMA_MATH);
    s.allow_tf32 = true;
    backend::cuda::Conv2d tf32(g, 32, s);  // any math type, each run as it was measured
    (void)tf32;
  }
}
