// ResNet-18 on CIFAR-10 with the standard recipe (pad-4 crop, flip, normalisation; SGD, momentum 0.9,
// weight decay 5e-4, lr 0.1, cosine, batch 128) through ctnn::train::fit, from --weights (ctnn, safetensors
// or ONNX) to --export-onnx/--export-safetensors (--epochs 0: convert only); for CUDA too (--device cuda).
// Under MPI (mpirun -np N ... --distributed) it trains data-parallel on N processes.
// Exit codes: 0 done, 1 error, 2 usage or missing data, 3 stopped on a non-finite value (checkpoint kept).
#include <ctnn/core/error.hpp>
#include <ctnn/core/threading.hpp>
#include <ctnn/optim/schedule.hpp>

#if CTNN_HAS_MPI
#include <ctnn/dist/mpi.hpp>
#endif

#include <CLI/CLI.hpp>

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <thread>

#include "options.hpp"

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
  auto* distributed = app.add_flag("--distributed", o.distributed,
                                   "data-parallel over the processes of mpirun -np N; --batch is the global batch");
  app.add_flag("--sync-bn", o.fit.sync_batch_norm, "batch-norm statistics over all processes' batches")->needs(distributed);
#if CTNN_HAS_MPI
  std::unique_ptr<ctnn::dist::Mpi> mpi;
  std::unique_ptr<ctnn::dist::MpiCommunicator> world;
#endif
  try {
    app.parse(argc, argv);
    if (o.distributed) {
#if CTNN_HAS_MPI
      mpi = std::make_unique<ctnn::dist::Mpi>(argc, argv);
      world = std::make_unique<ctnn::dist::MpiCommunicator>();
      o.fit.communicator = world.get();
      if (o.threads == 0 && !std::getenv("OMP_NUM_THREADS"))  // the cores shared among this machine's processes
        o.threads = std::max(1u, std::thread::hardware_concurrency() / unsigned(ctnn::dist::Mpi::local_size()));
#else
      throw ctnn::Error("--distributed: this build has no MPI (configure with Open MPI installed, CTNN_MPI=ON)");
#endif
    }
    if (o.threads > 0) ctnn::set_num_threads(static_cast<int>(o.threads));
    return run(o);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  } catch (const ctnn::Error& e) {
#if CTNN_HAS_MPI
    if (world && world->size() > 1) {  // the other processes must not wait for this one
      std::fprintf(stderr, "cifar10_resnet18 (rank %d of %d): %s\n", world->rank(), world->size(), e.what());
      std::fflush(stderr);
      world->abort(1);
    }
#endif
    std::fprintf(stderr, "cifar10_resnet18: %s\n", e.what());
    return 1;
  }
}
