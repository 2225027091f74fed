// The training of the example (main.cpp parses the command line, interop.cpp reads and writes weights).
// The module headers it needs rather than the umbrella <ctnn/ctnn.hpp>: about 1-1.5 s (of 17) less
// to compile (bench/compile_time.sh), since ONNX, safetensors, prediction and reports stay out.
#include <ctnn/core/config.hpp>
#include <ctnn/backend/cpu.hpp>
#if CTNN_HAS_CUDA
#include <ctnn/backend/cuda.hpp>
#endif
#include <ctnn/data.hpp>
#include <ctnn/dist.hpp>
#include <ctnn/io/checkpoint.hpp>
#include <ctnn/optim.hpp>
#include <ctnn/train.hpp>

#include <cstdio>
#include <filesystem>
#include <string>

#include "model.hpp"

namespace {

// Whether this process prints and writes files (one process alone, or rank 0 of a distributed run).
bool is_root(const Options& o) { return !o.fit.communicator || o.fit.communicator->is_root(); }
std::size_t processes(const Options& o) { return o.fit.communicator ? std::size_t(o.fit.communicator->size()) : 1; }

template <class D>
int train(Options o, Net<D>& net) {
  const bool root = is_root(o);
  ctnn::data::CifarDataset train_set, test_set;
  if (o.synthetic > 0) {
    if (root) std::printf("training on %zu SYNTHETIC images (not CIFAR-10): a quick way to watch the library learn\n", o.synthetic);
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
  ctnn::data::LoaderOptions train_options{.batch = o.batch, .seed = o.seed}, test_options = ctnn::data::LoaderOptions::evaluation(o.batch);
  if (o.fit.communicator) {  // each process its share of every batch
    train_options = ctnn::dist::shard(train_options, *o.fit.communicator);
    test_options = ctnn::dist::shard(test_options, *o.fit.communicator);
  }
  ctnn::data::Loader train_loader(train_set, train_options);
  ctnn::data::Loader test_loader(test_set, test_options);
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
    if (root) std::printf("resumed from %s: %zu epochs done, step %zu\n", f.checkpoint.c_str(), std::size_t(s.epoch), std::size_t(s.step));
  };
  if (root)
    std::printf("ResNet-18 on %s (host: %d threads, %s): %zu parameters, %zu train / %zu test images, batch %zu, "
                "%zu steps per epoch, %s%s\n", D::name, ctnn::num_threads(),
                std::string(ctnn::backend::cpu::name(ctnn::backend::cpu::active_isa())).c_str(), net.parameter_count(),
                train_loader.size(), test_loader.size(), o.batch, per_epoch, o.schedule.c_str(),
                processes(o) > 1 ? ctnn::detail::cat(", data-parallel on ", processes(o), " processes (", o.fit.communicator->name(),
                                                     o.fit.sync_batch_norm ? ", synchronised batch norm)" : ")").c_str() : "");
  const ctnn::train::FitResult r = ctnn::train::fit(net, opt, train_loader, &test_loader, f);
  if (!r.ok())  // the note says whether to --resume; a lower --lr or --on-nan skip gets past the step
    return std::fprintf(stderr, "cifar10_resnet18: %s. %s (--lr), or pass --on-nan skip\n", r.message.c_str(), r.checkpoint_note.c_str()), 3;
  if (!root) return 0;
  if (r.status == ctnn::train::FitStatus::already_done)
    return std::printf("nothing to do: the checkpoint already has %zu of %zu epochs\n", r.epochs_done, f.epochs), 0;
  return std::printf("done: history in %s, checkpoint in %s (plot: scripts/plot_history.py)\n", f.history.c_str(), f.checkpoint.c_str()), 0;
}

template <class D>
int run_on(const Options& o) {
  if (o.batch % processes(o) != 0)
    ctnn::detail::fail("--batch ", o.batch, " is the global batch and does not divide evenly among ", processes(o),
                       " processes: use a multiple of ", processes(o));
  Net<D> net(o.batch / processes(o), o.seed);
  if (!o.weights.empty()) load_weights(net, o);
  if (const int rc = o.fit.epochs > 0 ? train(o, net) : 0; rc != 0) return rc;
  if (!is_root(o)) return 0;  // rank 0 writes the files
  if (!o.fit.epochs && o.export_onnx.empty() && o.export_safetensors.empty()) std::printf("--epochs 0 and nothing to export\n");
  export_weights(net, o);
  return 0;
}
}  // namespace

int run(const Options& o) {
#if CTNN_HAS_CUDA
  if (o.device == "cuda") return run_on<ctnn::Cuda>(o);
#endif
  if (o.device == "cuda") return std::fprintf(stderr, "cifar10_resnet18: built without CUDA; use cifar10_resnet18_cuda\n"), 2;
  return run_on<ctnn::Cpu>(o);
}
