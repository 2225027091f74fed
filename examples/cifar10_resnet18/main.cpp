// ResNet-18 on CIFAR-10 with the standard recipe (pad-4 crop, flip, normalisation; SGD, momentum 0.9,
// weight decay 5e-4, lr 0.1, cosine, batch 128) through ctnn::train::fit, from --weights (ctnn, safetensors
// or ONNX) to --export-onnx/--export-safetensors (--epochs 0: convert only); for CUDA too (--device cuda).
// Exit codes: 0 done, 1 error, 2 usage or missing data, 3 stopped on a non-finite value (checkpoint kept).
#include <ctnn/ctnn.hpp>

#include <CLI/CLI.hpp>

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>

namespace {

using Model = ctnn::ResNet18<10>;
using Image = ctnn::Shape<3, 32, 32>;
// The program's options; those of the loop itself bind directly to ctnn::train::Options.
struct Options {
  ctnn::train::Options fit;  // epochs, checkpoint and history get the example's defaults in main()
  std::string data = "data/cifar-10-batches-bin", schedule = "cosine", device = "cpu", on_nan = "stop";
  std::string weights, name_map = "ctnn", export_onnx, export_safetensors;
  std::size_t synthetic = 0, batch = 128, threads = 0;
  float lr = 0.1f, momentum = 0.9f, wd = 5e-4f;
  std::uint64_t seed = 0;
  bool nesterov = false;
};

template <class D>
int train(Options o, ctnn::Network<Model, Image, D>& net) {
  ctnn::data::CifarDataset train_set, test_set;
  if (o.synthetic > 0) {
    std::printf("training on %zu SYNTHETIC images (not CIFAR-10): a quick way to watch the library learn\n", o.synthetic);
    train_set = ctnn::data::synthetic_cifar(o.synthetic, o.seed);
    test_set = ctnn::data::synthetic_cifar(std::max<std::size_t>(o.synthetic / 5, 1), o.seed + 1000003);
  } else {
    const std::filesystem::path dir = o.data;
    if (!exists(dir / "data_batch_1.bin") && !exists(dir / "cifar-10-batches-bin"))
      return std::fprintf(stderr, "cifar10_resnet18: no CIFAR-10 data in '%s': get it with scripts/download_cifar10.sh data"
                          " (then --data data/cifar-10-batches-bin), or train on generated images: --synthetic 5000\n",
                          o.data.c_str()), 2;
    train_set = ctnn::data::Cifar10::load(dir, ctnn::data::Split::train);
    test_set = ctnn::data::Cifar10::load(dir, ctnn::data::Split::test);
  }
  ctnn::SGD<D> opt(o.lr, o.momentum, o.wd, o.nesterov);
  ctnn::data::Loader train_loader(train_set, ctnn::data::LoaderOptions{.batch = o.batch, .seed = o.seed});
  ctnn::data::Loader test_loader(test_set, ctnn::data::LoaderOptions::evaluation(o.batch));
  ctnn::train::Options& f = o.fit;
  const std::size_t per_epoch = std::min(train_loader.batches_per_epoch(), f.limit_batches ? f.limit_batches : SIZE_MAX);
  f.lr = ctnn::schedule::by_name(o.schedule, o.lr, std::max<std::size_t>(per_epoch * f.epochs, 2));  // per step
  f.on_nan = o.on_nan == "skip" ? ctnn::train::NanPolicy::skip : ctnn::train::NanPolicy::stop;
  auto num = [](double v) { return ctnn::detail::cat(v); };  // what a resume must agree with (epochs may grow)
  f.settings = {{"data", o.synthetic ? "synthetic " + std::to_string(o.synthetic) : o.data}, {"batch", num(double(o.batch))},
                {"lr", num(o.lr)}, {"schedule", o.schedule}, {"momentum", num(o.momentum)}, {"nesterov", num(o.nesterov)},
                {"wd", num(o.wd)}, {"label_smoothing", num(f.label_smoothing)}, {"seed", std::to_string(o.seed)},
                {"ema", num(f.ema_decay)}, {"clip", num(f.clip_grad_norm)}};
  f.on_resume = [&](const ctnn::io::TrainingState& s) {
    std::printf("resumed from %s: %zu epochs done, step %zu\n", f.checkpoint.c_str(), std::size_t(s.epoch), std::size_t(s.step));
  };
  std::printf("ResNet-18 on %s (host: %d threads, %s): %zu parameters, %zu train / %zu test images, batch %zu, "
              "%zu steps per epoch, %s\n", D::name, ctnn::num_threads(),
              std::string(ctnn::backend::cpu::name(ctnn::backend::cpu::active_isa())).c_str(), net.parameter_count(),
              train_loader.size(), test_loader.size(), o.batch, per_epoch, o.schedule.c_str());
  const ctnn::train::FitResult r = ctnn::train::fit(net, opt, train_loader, &test_loader, f);
  if (!r.ok())  // the note says whether to --resume; a lower --lr or --on-nan skip gets past the step
    return std::fprintf(stderr, "cifar10_resnet18: %s. %s (--lr), or pass --on-nan skip\n", r.message.c_str(), r.checkpoint_note.c_str()), 3;
  if (r.status == ctnn::train::FitStatus::already_done)
    return std::printf("nothing to do: the checkpoint already has %zu of %zu epochs\n", r.epochs_done, f.epochs), 0;
  return std::printf("done: history in %s, checkpoint in %s (plot: scripts/plot_history.py)\n", f.history.c_str(), f.checkpoint.c_str()), 0;
}

// Initialise (--weights), train (unless --epochs 0), export (--export-*).
template <class D>
int run(const Options& o) {
  namespace io = ctnn::io;
  ctnn::Network<Model, Image, D> net(o.batch, o.seed);
  if (!o.weights.empty()) io::load_weights_file(o.weights, net, {.name_map = o.name_map}), std::printf("initialised from %s\n", o.weights.c_str());
  if (const int rc = o.fit.epochs > 0 ? train(o, net) : 0; rc != 0) return rc;
  if (!o.fit.epochs && o.export_onnx.empty() && o.export_safetensors.empty()) std::printf("--epochs 0 and nothing to export\n");
  for (const auto& [path, format] : {std::pair{o.export_onnx, io::WeightFormat::onnx}, {o.export_safetensors, io::WeightFormat::safetensors}})
    if (!path.empty())
      io::save_weights_file(path, net, {.name_map = format == io::WeightFormat::onnx ? "ctnn" : o.name_map, .format = format}),
          std::printf("wrote %s (%s)\n", path.c_str(), io::format_name(format));
  return 0;
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
  app.add_option("--epochs", o.fit.epochs, "epochs (0: only load --weights and write the --export-* files)")->check(count);
  app.add_option("--batch", o.batch, "batch size")->check(count & CLI::PositiveNumber);
  app.add_option("--lr", o.lr, "peak learning rate")->check(real);
  app.add_option("--schedule", o.schedule, "lr per step: cosine, multistep (/10 at 50%, 75%), onecycle, constant")
      ->check(CLI::IsMember(ctnn::schedule::names()));
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
  auto* resume = app.add_flag("--resume", o.fit.resume, "continue from --checkpoint");
  app.add_option("--weights", o.weights, "start from these weights: ctnn checkpoint, safetensors or ONNX")->excludes(resume);
  app.add_option("--name-map", o.name_map, "tensor names in safetensors files: ctnn, pytorch-cifar, torchvision")
      ->check(CLI::IsMember({"ctnn", "pytorch-cifar", "torchvision"}));
  app.add_option("--export-onnx", o.export_onnx, "write the network as ONNX (opset 17) at the end");
  app.add_option("--export-safetensors", o.export_safetensors, "write the weights as safetensors (names: --name-map)");
  app.add_flag("--force", o.fit.overwrite, "start a new run over an existing --checkpoint and --log");
  app.add_flag("--override", o.fit.override_settings, "resume although the settings differ from the checkpoint's");
  app.add_option("--log", o.fit.history, "per-epoch history CSV (scripts/plot_history.py draws it)");
  app.add_option("--device", o.device, "cpu | cuda (the cifar10_resnet18_cuda build)")->check(CLI::IsMember({"cpu", "cuda"}));
  try {
    app.parse(argc, argv);
    if (o.threads > 0) ctnn::set_num_threads(static_cast<int>(o.threads));
#if CTNN_HAS_CUDA
    if (o.device == "cuda") return run<ctnn::Cuda>(o);
#endif
    if (o.device == "cuda") return std::fprintf(stderr, "cifar10_resnet18: built without CUDA; use cifar10_resnet18_cuda\n"), 2;
    return run<ctnn::Cpu>(o);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  } catch (const ctnn::Error& e) {
    std::fprintf(stderr, "cifar10_resnet18: %s\n", e.what());
    return 1;
  }
}
