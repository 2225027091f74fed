// ctnn::train::fit and its parts: learning, the history CSV, exact resume, refusing to lose files,
// settings checked on resume, paths checked before training, non-finite losses (stop and skip),
// schedules per step and per epoch, label smoothing, the EMA of the weights, gradient clipping and
// flip test-time augmentation.
#include <ctnn/ctnn.hpp>
#include <doctest/doctest.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <limits>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "io/fixture.hpp"

using namespace ctnn;
using io_test::TempDir;

namespace {

using Image = Shape<3, 32, 32>;
using Tiny = Seq<Conv<3, 8, 3, 2>, BatchNorm<8>, ReLU, Conv<8, 8, 3, 2>, BatchNorm<8>, ReLU, GlobalAvgPool, Flatten,
                 Linear<8, 10>>;
using Net = Network<Tiny, Image>;

struct Setup {
  data::CifarDataset train_set = data::synthetic_cifar(96, 3);
  data::CifarDataset test_set = data::synthetic_cifar(40, 4);
  data::Loader<Image> train{train_set, data::LoaderOptions::training(5, 16)};
  data::Loader<Image> test{test_set, data::LoaderOptions::evaluation(20)};
};

train::Options quiet(std::size_t epochs) {
  train::Options o;
  o.epochs = epochs;
  o.progress = train::ProgressStyle::none;
  return o;
}

std::vector<float> values(const Net& net) {
  std::vector<float> v;
  for (const auto& p : net.parameters()) v.insert(v.end(), p.value, p.value + p.size);
  for (const auto& b : net.buffers()) v.insert(v.end(), b.value, b.value + b.size);
  return v;
}

std::vector<std::string> lines(const std::string& path) {
  std::ifstream in(path);
  std::vector<std::string> out;
  for (std::string l; std::getline(in, l);) out.push_back(l);
  return out;
}

// A history row without its last column (seconds differ between runs).
std::string without_seconds(const std::string& row) { return row.substr(0, row.rfind(',')); }

}  // namespace

TEST_CASE("fit trains, evaluates, calls back, writes the history and the checkpoint") {
  Setup s;
  TempDir dir("fit_basic");
  Net net(20, 1);
  SGD opt{0.05f, 0.9f, 5e-4f};
  auto o = quiet(4);
  o.checkpoint = dir.file("run.ckpt");
  o.history = dir.file("history.csv");
  std::size_t steps = 0, epochs = 0;
  o.on_step = [&](const train::StepInfo& info) {
    CHECK(info.step == steps);
    CHECK(info.result.size == 16);
    ++steps;
  };
  o.on_epoch = [&](const train::EpochRecord& r) { CHECK(r.epoch == ++epochs); };
  const train::FitResult r = train::fit(net, opt, s.train, &s.test, o);
  CHECK(r.status == train::FitStatus::completed);
  CHECK(steps == 4 * 6);
  CHECK(epochs == 4);
  CHECK(r.steps == 24);
  CHECK(r.last_saved_epoch == 4);
  REQUIRE(r.epochs.size() == 4);
  CHECK(r.epochs.back().train_loss < r.epochs.front().train_loss);
  const auto rows = lines(o.history);
  REQUIRE(rows.size() == 5);
  CHECK(rows[0] == "epoch,lr,train_loss,train_acc,test_loss,test_acc,seconds");
  CHECK(rows[4].rfind("4,", 0) == 0);
  // The checkpoint resumes into a fresh network and optimizer: same weights, same steps.
  Net other(20, 99);
  SGD other_opt{0.05f, 0.9f, 5e-4f};
  const auto state = io::load_checkpoint(o.checkpoint, other, other_opt);
  CHECK(state.epoch == 4);
  CHECK(state.step == 24);
  CHECK(values(other) == values(net));
}

TEST_CASE("fit resumes exactly: 2 epochs then 2 more equal 4 in one go, history included") {
  Setup s;
  TempDir dir("fit_resume");
  auto run = [&](const std::string& ckpt, const std::string& csv, std::size_t epochs, bool resume) {
    Net net(20, 1);
    SGD opt{0.05f, 0.9f, 5e-4f, true};
    auto o = quiet(epochs);
    o.checkpoint = ckpt;
    o.history = csv;
    o.resume = resume;
    o.lr = schedule::Cosine{0.05f, 4 * s.train.batches_per_epoch()};
    o.settings = {{"lr", "0.05"}, {"schedule", "cosine"}};
    const auto r = train::fit(net, opt, s.train, &s.test, o);
    CHECK(r.ok());
    return values(net);
  };
  const auto whole = run(dir.file("a.ckpt"), dir.file("a.csv"), 4, false);
  run(dir.file("b.ckpt"), dir.file("b.csv"), 2, false);
  const auto resumed = run(dir.file("b.ckpt"), dir.file("b.csv"), 4, true);
  CHECK(resumed == whole);
  const auto a = lines(dir.file("a.csv")), b = lines(dir.file("b.csv"));
  REQUIRE(a.size() == 5);
  REQUIRE(b.size() == 5);
  for (std::size_t i = 1; i < 5; ++i) CHECK(without_seconds(a[i]) == without_seconds(b[i]));
}

TEST_CASE("fit refuses to replace an earlier run's files unless told, and checks paths before training") {
  Setup s;
  TempDir dir("fit_refuse");
  Net net(20, 1);
  SGD opt{0.05f};
  auto o = quiet(1);
  o.checkpoint = dir.file("run.ckpt");
  o.history = dir.file("history.csv");
  REQUIRE(train::fit(net, opt, s.train, &s.test, o).ok());
  const auto saved = io_test::read_bytes(o.checkpoint);
  std::size_t steps = 0;
  o.on_step = [&](const train::StepInfo&) { ++steps; };
  CHECK(io_test::error_of([&] { train::fit(net, opt, s.train, &s.test, o); }).find("run.ckpt' exists") != std::string::npos);
  std::filesystem::remove(o.checkpoint);
  CHECK(io_test::error_of([&] { train::fit(net, opt, s.train, &s.test, o); }).find("history.csv' exists") !=
        std::string::npos);
  CHECK(steps == 0);
  io_test::write_bytes(o.checkpoint, saved);
  o.overwrite = true;
  CHECK(train::fit(net, opt, s.train, &s.test, o).ok());
  CHECK(steps == 6);

  // A checkpoint folder that does not exist, and resuming from nothing: before the first step.
  steps = 0;
  auto bad = o;
  bad.checkpoint = dir.file("missing/run.ckpt");
  CHECK(io_test::error_of([&] { train::fit(net, opt, s.train, &s.test, bad); }).find("missing/run.ckpt") !=
        std::string::npos);
  bad.resume = true;
  CHECK(io_test::error_of([&] { train::fit(net, opt, s.train, &s.test, bad); }).find("does not exist") !=
        std::string::npos);
  CHECK(steps == 0);

  // A batch larger than the data set is an error, not an epoch of no steps.
  data::LoaderOptions big = data::LoaderOptions::training(1, 200);
  data::Loader<Image> too_big(s.train_set, big);
  Net wide(200, 1);
  CHECK(io_test::error_of([&] { train::fit(wide, opt, too_big, nullptr, quiet(1)); }).find("larger than the training set") !=
        std::string::npos);
}

TEST_CASE("a resume with other settings is refused, naming the setting; override allows it") {
  Setup s;
  TempDir dir("fit_settings");
  Net net(20, 1);
  SGD opt{0.05f};
  auto o = quiet(1);
  o.checkpoint = dir.file("run.ckpt");
  o.settings = {{"lr", "0.05"}, {"batch", "16"}};
  REQUIRE(train::fit(net, opt, s.train, nullptr, o).ok());
  o.epochs = 2;
  o.resume = true;
  o.settings["lr"] = "0.1";
  const std::string msg = io_test::error_of([&] { train::fit(net, opt, s.train, nullptr, o); });
  CHECK(msg.find("the setting 'lr' is '0.05' there but '0.1' in this run") != std::string::npos);
  o.override_settings = true;
  CHECK(train::fit(net, opt, s.train, nullptr, o).epochs_done == 2);
}

TEST_CASE("a resume keeps the history rows up to the checkpoint's epoch only") {
  Setup s;
  TempDir dir("fit_history");
  Net net(20, 1);
  SGD opt{0.05f};
  auto o = quiet(2);
  o.checkpoint = dir.file("run.ckpt");
  o.history = dir.file("history.csv");
  REQUIRE(train::fit(net, opt, s.train, nullptr, o).ok());
  // A row for an epoch the checkpoint does not hold (a save that failed after its row).
  {
    std::ofstream out(o.history, std::ios::app);
    out << "3,0.05,1,1,1,1,1\n";
  }
  o.epochs = 3;
  o.resume = true;
  REQUIRE(train::fit(net, opt, s.train, nullptr, o).ok());
  const auto rows = lines(o.history);
  REQUIRE(rows.size() == 4);
  CHECK(rows[3].rfind("3,", 0) == 0);
  CHECK(rows[3] != "3,0.05,1,1,1,1,1");
}

TEST_CASE("a non-finite loss stops the run without touching the checkpoint, or skips the batch") {
  Setup s;
  TempDir dir("fit_nan");
  Net net(20, 1);
  SGD opt{0.05f};
  auto o = quiet(1);
  o.checkpoint = dir.file("run.ckpt");
  REQUIRE(train::fit(net, opt, s.train, nullptr, o).ok());
  const auto saved = io_test::read_bytes(o.checkpoint);
  o.epochs = 2;
  o.resume = true;
  o.lr = [](std::size_t) { return 1e30f; };
  const train::FitResult r = train::fit(net, opt, s.train, nullptr, o);
  CHECK(r.status == train::FitStatus::stopped_non_finite);
  CHECK((r.message.find("loss is") != std::string::npos || r.message.find("not finite") != std::string::npos));
  CHECK(r.last_saved_epoch == 1);
  CHECK(r.checkpoint_note == "The last checkpoint (" + o.checkpoint +
                                 ", end of epoch 1) was not overwritten; resume from it with a lower learning rate");
  CHECK(io_test::read_bytes(o.checkpoint) == saved);

  // skip: a NaN bias makes every loss NaN; the batch's update and its batch-norm statistics are undone.
  Net fresh(20, 1);
  SGD plain{0.05f};
  auto skip = quiet(1);
  skip.on_nan = train::NanPolicy::skip;
  skip.limit_batches = 1;
  for (auto& p : fresh.parameters())
    if (p.name == "8.bias") p.value[0] = std::numeric_limits<float>::quiet_NaN();
  const auto poisoned = values(fresh);
  std::size_t skipped = 0;
  skip.on_step = [&](const train::StepInfo& info) { skipped += !info.result.finite; };
  const train::FitResult k = train::fit(fresh, plain, s.train, nullptr, skip);
  CHECK(skipped == 1);
  const auto after = values(fresh);
  REQUIRE(after.size() == poisoned.size());
  for (std::size_t i = 0; i < after.size(); ++i)
    if (std::isfinite(poisoned[i])) CHECK(after[i] == poisoned[i]);
  // ... and the end-of-epoch check refuses to save a non-finite weight.
  CHECK(k.status == train::FitStatus::stopped_non_finite);
  CHECK(k.message.find("parameter '8.bias'") != std::string::npos);
  CHECK(k.checkpoint_note == "No checkpoint is kept (Options::checkpoint is empty); start again with a lower learning rate");
}

TEST_CASE("schedules set the learning rate per step or per epoch; label smoothing reaches the loss") {
  Setup s;
  for (const auto unit : {train::ScheduleUnit::step, train::ScheduleUnit::epoch}) {
    Net net(20, 1);
    SGD opt{1.f};
    auto o = quiet(2);
    o.schedule_unit = unit;
    o.lr = [](std::size_t t) { return 0.01f * float(t + 1); };
    std::vector<float> seen;
    o.on_step = [&](const train::StepInfo& info) { seen.push_back(info.lr); };
    REQUIRE(train::fit(net, opt, s.train, nullptr, o).ok());
    REQUIRE(seen.size() == 12);
    for (std::size_t i = 0; i < seen.size(); ++i) {
      const std::size_t t = unit == train::ScheduleUnit::step ? i : i / 6;
      CHECK(seen[i] == doctest::Approx(0.01 * double(t + 1)));
    }
  }
  // The first step's loss with label smoothing, against the loss of the same forward pass.
  Net a(20, 1), b(20, 1);
  SGD opt{0.05f};
  auto o = quiet(1);
  o.label_smoothing = 0.2f;
  o.limit_batches = 1;
  float first = 0;
  o.on_step = [&](const train::StepInfo& info) { first = info.result.loss; };
  REQUIRE(train::fit(a, opt, s.train, nullptr, o).ok());
  s.train.start_epoch(0);
  const auto* batch = s.train.next();
  Tensor<Shape<10>> grad(20);
  CHECK(first == softmax_cross_entropy(b.forward(batch->images, Mode::train), batch->labels, grad, 0.2f));
}

TEST_CASE("the EMA of the weights follows ema = d * ema + (1 - d) * w, is evaluated and saved alongside") {
  Setup s;
  TempDir dir("fit_ema");
  Net net(20, 1);
  SGD opt{0.05f, 0.9f};
  auto o = quiet(2);
  o.ema_decay = 0.8f;
  o.checkpoint = dir.file("run.ckpt");
  o.history = dir.file("history.csv");
  std::vector<double> expected;
  for (const auto& p : net.parameters()) expected.insert(expected.end(), p.value, p.value + p.size);
  o.on_step = [&](const train::StepInfo&) {
    std::size_t k = 0;
    for (const auto& p : net.parameters())
      for (std::size_t i = 0; i < p.size; ++i, ++k) expected[k] = 0.8 * expected[k] + 0.2 * double(p.value[i]);
  };
  const auto r = train::fit(net, opt, s.train, &s.test, o);
  REQUIRE(r.ok());
  CHECK(lines(o.history)[0] == "epoch,lr,train_loss,train_acc,test_loss,test_acc,seconds,ema_test_loss,ema_test_acc");
  CHECK(r.epochs.back().ema_test_acc >= 0);
  CHECK(r.epochs.back().ema_test_loss > 0);
  // The weights-only file next to the checkpoint holds the averages.
  Net averaged(20, 7);
  averaged.load(o.checkpoint + ".ema");
  std::size_t k = 0;
  double worst = 0;
  for (const auto& p : averaged.parameters())
    for (std::size_t i = 0; i < p.size; ++i, ++k) worst = std::max(worst, std::abs(double(p.value[i]) - expected[k]));
  CHECK(worst < 1e-5);
  // The averages are part of the checkpoint: a run without the EMA cannot resume it.
  o.resume = true;
  o.epochs = 3;
  o.ema_decay = 0;
  o.on_step = nullptr;
  CHECK(io_test::error_of([&] { train::fit(net, opt, s.train, &s.test, o); }).find("optimizer state") !=
        std::string::npos);
}

TEST_CASE("gradient clipping by the global norm, as clip_grad_norm_") {
  Setup s;
  Net net(20, 1);
  SGD opt{0.01f};
  auto o = quiet(1);
  o.clip_grad_norm = 0.05f;
  std::size_t clipped = 0;
  o.on_step = [&](const train::StepInfo& info) {
    double sq = 0;
    for (const auto& p : net.parameters())
      for (std::size_t i = 0; i < p.size; ++i) sq += double(p.grad[i]) * double(p.grad[i]);
    const double after = std::sqrt(sq);
    if (info.grad_norm > 0.05) {
      ++clipped;
      CHECK(after == doctest::Approx(0.05).epsilon(1e-3));
    } else {
      CHECK(after == doctest::Approx(info.grad_norm).epsilon(1e-3));
    }
  };
  REQUIRE(train::fit(net, opt, s.train, nullptr, o).ok());
  CHECK(clipped > 0);
}

TEST_CASE("flip test-time augmentation averages the logits of the image and of its mirror image") {
  Setup s;
  Net net(20, 1);
  train::Evaluator<Net> plain(20), tta(20);
  const train::EvalResult without = plain.run(net, s.test, false);
  const train::EvalResult with = tta.run(net, s.test, true);
  CHECK(without.samples == 40);
  CHECK(with.samples == 40);
  // The reference: both forward passes by hand.
  s.test.start_epoch(0);
  double loss = 0;
  Tensor<Image> flipped(20);
  Tensor<Shape<10>> avg(20), grad(20);
  while (const auto* b = s.test.next()) {
    avg.copy_from(net.forward(b->images, Mode::eval));
    train::flip_horizontally(b->images, flipped);
    CHECK(flipped(0, 1, 2, 0) == b->images(0, 1, 2, 31));
    const auto& m = net.forward(flipped, Mode::eval);
    for (std::size_t i = 0; i < avg.size(); ++i) avg.data()[i] = 0.5f * (avg.data()[i] + m.data()[i]);
    loss += double(softmax_cross_entropy(avg, b->labels, grad)) * double(b->size());
  }
  CHECK(with.loss == doctest::Approx(loss / 40).epsilon(1e-6));
  CHECK(with.loss != doctest::Approx(without.loss).epsilon(1e-9));
}

TEST_CASE("progress: plain lines off a terminal (first and last step, the epoch's summary), a bar on one, or nothing") {
  auto capture = [](train::ProgressStyle style) {
    std::FILE* f = std::tmpfile();
    REQUIRE(f != nullptr);
    {
      train::Progress p(style, f, 30);
      p.begin_epoch(0, 2, 3);
      p.update(1, 16, 2.5, 10.0, 0.05);
      p.update(2, 32, 2.0, 20.0, 0.05);  // within 30 s of the last line: not printed as a line
      p.update(3, 48, 1.5, 30.0, 0.025);
      p.end_line();
      p.message("epoch 1/2 done");
    }
    std::rewind(f);
    std::string text;
    for (int c; (c = std::fgetc(f)) != EOF;) text += static_cast<char>(c);
    std::fclose(f);
    return text;
  };
  const std::string lines_out = capture(train::ProgressStyle::lines);
  CHECK(lines_out.find("epoch 1/2 step 1/3 loss 2.5000 acc 10.00% lr 0.05") != std::string::npos);
  CHECK(lines_out.find("step 2/3") == std::string::npos);
  CHECK(lines_out.find("epoch 1/2 step 3/3 loss 1.5000 acc 30.00% lr 0.025") != std::string::npos);
  CHECK(lines_out.find("\r") == std::string::npos);
  CHECK(lines_out.find("epoch 1/2 done\n") != std::string::npos);
  const std::string bar = capture(train::ProgressStyle::bar);
  CHECK(bar.find("\repoch 1/2 [========================] 3/3") != std::string::npos);
  CHECK(capture(train::ProgressStyle::none).empty());
  CHECK(train::format_duration(3725) == "1:02:05");
  CHECK(train::format_duration(-1) == "--:--");
}

TEST_CASE("fit with a loss of the caller's (a squared error on the logits against one-hot targets)") {
  Setup s;
  Net net(20, 1);
  SGD opt{0.02f};
  struct SquaredError {
    std::size_t* calls;
    float operator()(const Tensor<Shape<10>>& logits, std::span<const std::int32_t> labels, Tensor<Shape<10>>& grad) {
      ++*calls;
      grad.set_batch(logits.batch());
      double sum = 0;
      for (std::size_t n = 0; n < logits.batch(); ++n)
        for (std::size_t j = 0; j < 10; ++j) {
          const float d = logits(n, j) - (std::int32_t(j) == labels[n] ? 1.f : 0.f);
          sum += double(d) * d;
          grad(n, j) = 2.f * d / float(logits.batch());
        }
      return static_cast<float>(sum / double(logits.batch()));
    }
  };
  std::size_t calls = 0;
  auto o = quiet(3);
  const auto r = train::fit(net, opt, s.train, nullptr, o, SquaredError{&calls});
  REQUIRE(r.ok());
  CHECK(calls == 18);
  CHECK(r.epochs.back().train_loss < r.epochs.front().train_loss);
}
