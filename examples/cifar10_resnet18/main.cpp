// ResNet-18 on CIFAR-10 with the standard recipe (pad-4 crop, flip, normalisation; SGD, momentum 0.9,
// weight decay 5e-4, lr 0.1, cosine, batch 128) through ctnn::train::fit; the same source builds for
// CUDA (cifar10_resnet18_cuda, --device cuda). Exit codes: 0 done, 1 error, 2 usage or missing data,
// 3 stopped on a non-finite value (the last checkpoint kept). --help lists the options.
#include <ctnn/ctnn.hpp>

#include <CLI/CLI.hpp>

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <string>

namespace {

using Model = ctnn::ResNet18<10>;
using Image = ctnn::Shape<3, 32, 32>;
// The program's options; those of the loop itself bind directly to ctnn::train::Options.
struct Options {
  ctnn::train::Options fit;  // epochs, checkpoint and history get the example's defaults in main()
  std::string data = "data/cifar-10-batches-bin", schedule = "cosine", device = "cpu", on_nan = "stop";
  std::size_t synthetic = 0, batch = 128, threads = 0;
  float lr = 0.1f, momentum = 0.9f, wd = 5e-4f;
  std::uint64_t seed = 0;
  bool nesterov = false;
};

// What a resume must agree with (the number of epochs may grow: the schedule then spans them all).
std::map<std::string, std::string> settings(const Options& o) {
  auto num = [](double v) { return ctnn::detail::cat(v); };
  return {{"data", o.synthetic ? "synthetic " + std::to_string(o.synthetic) : o.data}, {"batch", num(double(o.batch))},
          {"lr", num(o.lr)}, {"schedule", o.schedule}, {"momentum", num(o.momentum)}, {"nesterov", num(o.nesterov)},
          {"wd", num(o.wd)}, {"label_smoothing", num(o.fit.label_smoothing)}, {"seed", std::to_string(o.seed)},
          {"ema", num(o.fit.ema_decay)}, {"clip", num(o.fit.clip_grad_norm)}};
}

template <class D>
int train(Options o, const ctnn::data::CifarDataset& train_set, const ctnn::data::CifarDataset& test_set) {
  ctnn::Network<Model, Image, D> net(o.batch, o.seed);
  ctnn::SGD<D> opt(o.lr, o.momentum, o.wd, o.nesterov);
  ctnn::data::Loader train_loader(train_set, ctnn::data::LoaderOptions{.batch = o.batch, .seed = o.seed});
  ctnn::data::Loader test_loader(test_set, ctnn::data::LoaderOptions::evaluation(o.batch));
  ctnn::train::Options& f = o.fit;
  std::size_t per_epoch = train_loader.batches_per_epoch();
  if (f.limit_batches) per_epoch = std::min(per_epoch, f.limit_batches);
  const std::size_t total = std::max<std::size_t>(per_epoch * f.epochs, 1);  // fit reports an empty epoch
  if (o.schedule == "multistep") f.lr = ctnn::schedule::MultiStep{o.lr, {total / 2, total * 3 / 4}, 0.1f};
  else if (o.schedule == "onecycle") f.lr = ctnn::schedule::OneCycle{o.lr, total};
  else f.lr = ctnn::schedule::Cosine{o.lr, total};
  f.on_nan = o.on_nan == "skip" ? ctnn::train::NanPolicy::skip : ctnn::train::NanPolicy::stop;
  f.settings = settings(o);
  f.on_resume = [&](const ctnn::io::TrainingState& s) {
    std::printf("resumed from %s: %zu epochs done, step %zu\n", f.checkpoint.c_str(), std::size_t(s.epoch), std::size_t(s.step));
  };
  std::printf("ResNet-18 on %s (host: %d threads, %s): %zu parameters, %zu train / %zu test images, batch %zu, "
              "%zu steps per epoch, %s\n", D::name, ctnn::num_threads(),
              std::string(ctnn::backend::cpu::name(ctnn::backend::cpu::active_isa())).c_str(), net.parameter_count(),
              train_loader.size(), test_loader.size(), o.batch, per_epoch, o.schedule.c_str());
  const ctnn::train::FitResult r = ctnn::train::fit(net, opt, train_loader, &test_loader, f);
  if (!r.ok()) {
    const std::string kept = r.last_saved_epoch ? "The last checkpoint (" + f.checkpoint + ", end of epoch " +
        std::to_string(r.last_saved_epoch) + ") was not overwritten; resume from it (--resume) with a lower --lr"
        : "No checkpoint was written by this run (" + f.checkpoint + " is untouched); start again with a lower --lr";
    return std::fprintf(stderr, "cifar10_resnet18: %s. %s, or pass --on-nan skip\n", r.message.c_str(), kept.c_str()), 3;
  }
  if (r.status == ctnn::train::FitStatus::already_done)
    std::printf("nothing to do: the checkpoint already has %zu of %zu epochs\n", r.epochs_done, f.epochs);
  else
    std::printf("done: history in %s, checkpoint in %s (plot: scripts/plot_history.py)\n", f.history.c_str(), f.checkpoint.c_str());
  return 0;
}

int run(const Options& o) {
  if (o.threads > 0) ctnn::set_num_threads(static_cast<int>(o.threads));
  ctnn::data::CifarDataset train_set, test_set;
  if (o.synthetic > 0) {
    std::printf("training on %zu SYNTHETIC images (not CIFAR-10): a quick way to watch the library learn\n", o.synthetic);
    train_set = ctnn::data::synthetic_cifar(o.synthetic, o.seed);
    test_set = ctnn::data::synthetic_cifar(std::max<std::size_t>(o.synthetic / 5, 1), o.seed + 1000003);
  } else {
    const std::filesystem::path dir = o.data;
    if (!std::filesystem::exists(dir / "data_batch_1.bin") && !std::filesystem::exists(dir / "cifar-10-batches-bin"))
      return std::fprintf(stderr, "cifar10_resnet18: no CIFAR-10 data in '%s': get it with scripts/download_cifar10.sh data"
                          " (then --data data/cifar-10-batches-bin), or train on generated images: --synthetic 5000\n",
                          o.data.c_str()), 2;
    train_set = ctnn::data::Cifar10::load(dir, ctnn::data::Split::train);
    test_set = ctnn::data::Cifar10::load(dir, ctnn::data::Split::test);
  }
#if CTNN_HAS_CUDA
  if (o.device == "cuda") return train<ctnn::Cuda>(o, train_set, test_set);
#endif
  if (o.device == "cuda")
    return std::fprintf(stderr, "cifar10_resnet18: built without CUDA; use cifar10_resnet18_cuda (where nvcc is)\n"), 2;
  return train<ctnn::Cpu>(o, train_set, test_set);
}
}  // namespace

int main(int argc, char** argv) {
  Options o;
  o.fit.epochs = 200, o.fit.checkpoint = "cifar10_resnet18.ckpt", o.fit.history = "history.csv";
  if (const char* env = std::getenv("CIFAR10_DIR")) o.data = env;
  CLI::App app{"Trains ResNet-18 on CIFAR-10 (binary version) and evaluates the test split after every epoch."};
  app.option_defaults()->multi_option_policy(CLI::MultiOptionPolicy::TakeLast)->always_capture_default();
  auto check = [](auto ok, const char* want) {  // a validator that says what it expected
    return CLI::Validator([=](std::string& v) -> std::string {
      char* end = nullptr;
      return errno = 0, !v.empty() && v[0] != '-' && ok(v.c_str(), &end) && *end == '\0' && errno == 0
                 ? "" : std::string("expected ") + want + ", got '" + v + "'";
    }, want);
  };
  const auto count = check([](const char* s, char** e) { return std::strtoull(s, e, 10), true; }, "a whole number 0..2^64-1");
  const auto real = check([](const char* s, char** e) { return std::isfinite(std::strtod(s, e)); }, "a number >= 0");
  const auto probability = real & CLI::Range(0.0, 0.999999);
  app.add_option("--data", o.data, "folder with data_batch_1.bin ... and test_batch.bin ($CIFAR10_DIR)");
  app.add_option("--synthetic", o.synthetic, "train on N generated CIFAR-format images instead (N/5 more to test)")->check(count);
  app.add_option("--epochs", o.fit.epochs, "epochs")->check(count & CLI::PositiveNumber);
  app.add_option("--batch", o.batch, "batch size")->check(count & CLI::PositiveNumber);
  app.add_option("--lr", o.lr, "peak learning rate")->check(real);
  app.add_option("--schedule", o.schedule, "lr per step: cosine, multistep (/10 at 50%, 75%), onecycle")
      ->check(CLI::IsMember({"cosine", "multistep", "onecycle"}));
  app.add_option("--momentum", o.momentum, "SGD momentum")->check(real);
  app.add_flag("--nesterov", o.nesterov, "Nesterov momentum");
  app.add_option("--wd", o.wd, "weight decay")->check(real);
  app.add_option("--label-smoothing", o.fit.label_smoothing, "label smoothing")->check(probability);
  app.add_option("--ema", o.fit.ema_decay, "an EMA of the weights with this decay (e.g. 0.999), evaluated and saved")->check(probability);
  app.add_option("--clip-grad-norm", o.fit.clip_grad_norm, "clip gradients to this global norm (0: off)")->check(real);
  app.add_flag("--flip-tta", o.fit.flip_tta, "evaluate with flip test-time augmentation");
  app.add_option("--seed", o.seed, "seed of initialisation, shuffling and augmentation")->check(count);
  app.add_option("--threads", o.threads, "CPU threads (0: all cores, or OMP_NUM_THREADS)")->check(count);
  app.add_option("--limit-batches", o.fit.limit_batches, "train on at most N batches per epoch (0: all)")->check(count);
  app.add_option("--on-nan", o.on_nan, "a non-finite loss stops (exit 3) or skips the batch")->check(CLI::IsMember({"stop", "skip"}));
  app.add_option("--checkpoint", o.fit.checkpoint, "written atomically after every epoch");
  app.add_flag("--resume", o.fit.resume, "continue from --checkpoint");
  app.add_flag("--force", o.fit.overwrite, "start a new run over an existing --checkpoint and --log");
  app.add_flag("--override", o.fit.override_settings, "resume although the settings differ from the checkpoint's");
  app.add_option("--log", o.fit.history, "per-epoch history CSV (scripts/plot_history.py draws it)");
  app.add_option("--device", o.device, "cpu | cuda (the cifar10_resnet18_cuda build)")->check(CLI::IsMember({"cpu", "cuda"}));
  try {
    app.parse(argc, argv);
    return run(o);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  } catch (const ctnn::Error& e) {
    std::fprintf(stderr, "cifar10_resnet18: %s\n", e.what());
    return 1;
  }
}
