// Train ResNet-18 on CIFAR-10 with the standard recipe: pad-4 random crop, horizontal flip,
// normalisation; SGD with momentum 0.9, weight decay 5e-4, lr 0.1, cosine decay over 200 epochs
// (or multistep / one-cycle), batch 128. One source for the CPU build (cifar10_resnet18) and, where
// nvcc is found, the CUDA build (cifar10_resnet18_cuda, --device cuda).
//
//   cifar10_resnet18 --data data/cifar-10-batches-bin --epochs 200
//   cifar10_resnet18 --synthetic 5000 --epochs 3          # no download needed
//   scripts/plot_history.py history.csv                   # loss and error curves as a PNG

#include <ctnn/ctnn.hpp>

#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

namespace {

using Model = ctnn::ResNet18<10>;
using Image = ctnn::Shape<3, 32, 32>;

struct Options {
  std::string data;  // empty: look in the default places
  std::size_t synthetic = 0;
  std::size_t epochs = 200;
  std::size_t batch = 128;
  float lr = 0.1f;
  std::string schedule = "cosine";
  float momentum = 0.9f;
  bool nesterov = false;
  float wd = 5e-4f;
  float label_smoothing = 0.f;
  std::uint64_t seed = 0;
  int threads = 0;
  std::string checkpoint = "cifar10_resnet18.ckpt";
  bool resume = false;
  std::string log = "history.csv";
  std::string device = "cpu";
  std::size_t limit_batches = 0;  // 0: whole epochs
  std::string on_nan = "stop";
};

const char* usage = R"(usage: cifar10_resnet18 [options]

Trains ResNet-18 on CIFAR-10 (binary version) and evaluates the test split after every epoch.

data
  --data DIR             folder with data_batch_1.bin ... data_batch_5.bin and test_batch.bin
                         (default: data/cifar-10-batches-bin, or $CIFAR10_DIR)
  --synthetic N          train on N generated CIFAR-format images of 10 learnable classes instead
                         (N/5 more for the test split); no download needed
training (defaults follow the standard recipe)
  --epochs N             number of epochs (200)
  --batch N              batch size (128)
  --lr X                 peak learning rate (0.1)
  --schedule S           cosine | multistep | onecycle (cosine). multistep divides the lr by 10
                         at 50% and 75% of the epochs; schedules advance every step
  --momentum X           SGD momentum (0.9)
  --nesterov             Nesterov momentum
  --wd X                 weight decay (5e-4)
  --label-smoothing X    label smoothing (0)
  --seed N               seed for initialisation, shuffling and augmentation (0)
  --threads N            CPU threads (default: all cores / OMP_NUM_THREADS)
  --limit-batches N      train on at most N batches per epoch (quick runs)
  --on-nan stop|skip     a non-finite loss stops training (default; exit code 3) or skips the
                         batch (its batch-norm statistics undone). Either way a checkpoint is
                         never written while a weight, statistic or momentum is not finite
                         (exit code 3, the previous checkpoint kept)
output
  --checkpoint PATH      checkpoint written atomically after every epoch (cifar10_resnet18.ckpt)
  --resume               continue from --checkpoint
  --log CSV              per-epoch history: epoch,lr,train_loss,train_acc,test_loss,test_acc,seconds
                         (history.csv); plot it with scripts/plot_history.py
  --device cpu|cuda      where to train (cpu); cuda needs the cifar10_resnet18_cuda build
  --help                 this text
)";

[[noreturn]] void usage_error(const std::string& msg) {
  std::cerr << "cifar10_resnet18: " << msg << "\n(see --help)\n";
  std::exit(2);
}

Options parse(int argc, char** argv) {
  Options o;
  auto value = [&](int& i) -> std::string {
    if (i + 1 >= argc) usage_error(std::string(argv[i]) + " needs a value");
    return argv[++i];
  };
  auto number = [&](int& i) -> double {
    const std::string flag = argv[i], v = value(i);
    try {
      std::size_t used = 0;
      const double d = std::stod(v, &used);
      if (used != v.size() || !std::isfinite(d)) throw std::invalid_argument(v);
      return d;
    } catch (const std::exception&) {
      usage_error(flag + " expects a number, got '" + v + "'");
    }
  };
  auto count = [&](int& i) -> std::size_t {
    const std::string flag = argv[i];
    const double d = number(i);
    if (d < 0 || d != std::floor(d)) usage_error(flag + " expects a whole number >= 0");
    return static_cast<std::size_t>(d);
  };
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--help" || a == "-h") {
      std::cout << usage;
      std::exit(0);
    } else if (a == "--data") o.data = value(i);
    else if (a == "--synthetic") o.synthetic = count(i);
    else if (a == "--epochs") o.epochs = count(i);
    else if (a == "--batch") o.batch = count(i);
    else if (a == "--lr") o.lr = static_cast<float>(number(i));
    else if (a == "--schedule") o.schedule = value(i);
    else if (a == "--momentum") o.momentum = static_cast<float>(number(i));
    else if (a == "--nesterov") o.nesterov = true;
    else if (a == "--wd") o.wd = static_cast<float>(number(i));
    else if (a == "--label-smoothing") o.label_smoothing = static_cast<float>(number(i));
    else if (a == "--seed") o.seed = count(i);
    else if (a == "--threads") o.threads = static_cast<int>(count(i));
    else if (a == "--checkpoint") o.checkpoint = value(i);
    else if (a == "--resume") o.resume = true;
    else if (a == "--log") o.log = value(i);
    else if (a == "--device") o.device = value(i);
    else if (a == "--limit-batches") o.limit_batches = count(i);
    else if (a == "--on-nan") o.on_nan = value(i);
    else usage_error("unknown option '" + a + "'");
  }
  if (o.epochs == 0) usage_error("--epochs must be at least 1");
  if (o.batch == 0) usage_error("--batch must be at least 1");
  if (o.schedule != "cosine" && o.schedule != "multistep" && o.schedule != "onecycle")
    usage_error("--schedule must be cosine, multistep or onecycle, got '" + o.schedule + "'");
  if (o.device != "cpu" && o.device != "cuda") usage_error("--device must be cpu or cuda, got '" + o.device + "'");
  if (o.on_nan != "stop" && o.on_nan != "skip") usage_error("--on-nan must be stop or skip");
  if (o.label_smoothing < 0 || o.label_smoothing >= 1) usage_error("--label-smoothing must be in [0, 1)");
  return o;
}

std::string format_duration(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) return "--:--";
  const auto s = static_cast<long long>(seconds + 0.5);
  char buf[32];
  if (s >= 3600)
    std::snprintf(buf, sizeof buf, "%lld:%02lld:%02lld", s / 3600, (s / 60) % 60, s % 60);
  else
    std::snprintf(buf, sizeof buf, "%02lld:%02lld", s / 60, s % 60);
  return buf;
}

// A live one-line progress bar on a terminal; plain periodic lines otherwise (logs, CI).
class Progress {
public:
  Progress() : tty_(isatty(STDOUT_FILENO) != 0) {}

  void begin_epoch(std::size_t epoch, std::size_t epochs, std::size_t batches) {
    epoch_ = epoch;
    epochs_ = epochs;
    batches_ = batches;
    start_ = last_print_ = clock::now();
  }

  void update(std::size_t done, std::size_t images, double loss, double acc, double lr) {
    const auto now = clock::now();
    const double elapsed = std::chrono::duration<double>(now - start_).count();
    const double rate = elapsed > 0 ? double(images) / elapsed : 0;
    const double eta = done > 0 ? elapsed / double(done) * double(batches_ - done) : -1;
    char line[256];
    if (tty_) {
      if (std::chrono::duration<double>(now - last_print_).count() < 0.1 && done != batches_) return;
      constexpr int width = 24;
      const int filled = batches_ ? static_cast<int>(width * done / batches_) : width;
      std::string bar(static_cast<std::size_t>(filled), '=');
      if (filled < width) bar += '>' + std::string(static_cast<std::size_t>(width - filled - 1), ' ');
      std::snprintf(line, sizeof line, "\repoch %zu/%zu [%s] %zu/%zu loss %.4f acc %5.2f%% lr %.4f %6.1f img/s ETA %s ",
                    epoch_ + 1, epochs_, bar.c_str(), done, batches_, loss, acc, lr, rate, format_duration(eta).c_str());
      std::fputs(line, stdout);
      std::fflush(stdout);
    } else {
      if (std::chrono::duration<double>(now - last_print_).count() < 30 && done != batches_ && done != 1) return;
      std::snprintf(line, sizeof line, "epoch %zu/%zu step %zu/%zu loss %.4f acc %.2f%% lr %.5f %.1f img/s ETA %s\n",
                    epoch_ + 1, epochs_, done, batches_, loss, acc, lr, rate, format_duration(eta).c_str());
      std::fputs(line, stdout);
      std::fflush(stdout);
    }
    last_print_ = now;
  }

  void end_line() {
    if (tty_) std::fputs("\n", stdout);
  }

private:
  using clock = std::chrono::steady_clock;
  bool tty_;
  std::size_t epoch_ = 0, epochs_ = 0, batches_ = 0;
  clock::time_point start_, last_print_;
};

std::filesystem::path find_data(const Options& o) {
  if (!o.data.empty()) return o.data;
  if (const char* env = std::getenv("CIFAR10_DIR")) return env;
  return "data/cifar-10-batches-bin";
}

struct EvalResult {
  double loss = 0, acc = 0;
};

template <class D>
class Trainer {
public:
  using Net = ctnn::Network<Model, Image, D>;

  Trainer(const Options& o, const ctnn::data::CifarDataset& train, const ctnn::data::CifarDataset& test)
      : o_(o),
        net_(o.batch, o.seed),
        opt_(o.lr, o.momentum, o.wd, o.nesterov),
        train_loader_(train, ctnn::data::LoaderOptions{.batch = o.batch, .seed = o.seed}),
        test_loader_(test, ctnn::data::LoaderOptions::evaluation(o.batch)),
        x_(o.batch),
        grad_(o.batch) {
    steps_per_epoch_ = train_loader_.batches_per_epoch();
    if (o.limit_batches) steps_per_epoch_ = std::min(steps_per_epoch_, o.limit_batches);
    total_steps_ = steps_per_epoch_ * o.epochs;
  }

  float lr_at(std::size_t step) const {
    namespace sch = ctnn::schedule;
    if (o_.schedule == "multistep")
      return sch::MultiStep{o_.lr, {total_steps_ / 2, total_steps_ * 3 / 4}, 0.1f}(step);
    if (o_.schedule == "onecycle") return sch::OneCycle{o_.lr, total_steps_}(step);
    return sch::Cosine{o_.lr, total_steps_}(step);
  }

  int run() {
    std::size_t first_epoch = 0;
    std::size_t step = 0;
    std::optional<std::size_t> saved_epoch;  // the epoch the checkpoint at o_.checkpoint holds, if this run knows
    if (o_.resume) {
      const auto state = ctnn::io::load_checkpoint(o_.checkpoint, net_, opt_);
      first_epoch = static_cast<std::size_t>(state.epoch);
      step = static_cast<std::size_t>(state.step);
      saved_epoch = first_epoch;
      std::printf("resumed from %s: %zu epochs done, step %zu\n", o_.checkpoint.c_str(), first_epoch, step);
      if (first_epoch >= o_.epochs) {
        std::printf("nothing to do: the checkpoint already has %zu of %zu epochs\n", first_epoch, o_.epochs);
        return 0;
      }
    }
    open_log(first_epoch > 0);
    std::printf("ResNet-18 on %s (host: %d threads, %s): %zu parameters, %zu train / %zu test images, batch %zu, "
                "%zu steps per epoch, %s\n",
                D::name, ctnn::num_threads(), std::string(ctnn::backend::cpu::name(ctnn::backend::cpu::active_isa())).c_str(),
                net_.parameter_count(), train_loader_.size(), test_loader_.size(), o_.batch,
                steps_per_epoch_, o_.schedule.c_str());

    Progress progress;
    for (std::size_t epoch = first_epoch; epoch < o_.epochs; ++epoch) {
      const auto t0 = std::chrono::steady_clock::now();
      train_loader_.start_epoch(epoch);
      progress.begin_epoch(epoch, o_.epochs, steps_per_epoch_);
      double loss_sum = 0;
      std::size_t correct = 0, seen = 0, done = 0;
      float lr = 0;
      while (done < steps_per_epoch_) {
        const auto* batch = train_loader_.next();
        if (!batch) break;
        lr = lr_at(step);
        opt_.lr = lr;
        if (o_.on_nan == "skip") backup_buffers();  // a skipped batch must not update the running statistics
        const ctnn::train::StepResult r =
            ctnn::train::step(net_, opt_, ctnn::on_device(batch->images, x_), batch->labels, grad_, o_.label_smoothing);
        const float loss = r.loss;
        ++done;
        if (!r.finite) {
          progress.end_line();
          if (o_.on_nan == "skip") {
            restore_buffers();
            std::printf("step %zu (epoch %zu, batch %zu): loss is %f; skipping this batch\n", step, epoch + 1, done,
                        double(loss));
            ++step;
            continue;
          }
          std::fprintf(stderr, "cifar10_resnet18: step %zu (epoch %zu, batch %zu): loss is %f; stopping. %s, or pass "
                       "--on-nan skip\n", step, epoch + 1, done, double(loss), checkpoint_kept(saved_epoch).c_str());
          return 3;
        }
        ++step;
        loss_sum += double(loss) * double(r.size);
        correct += r.correct;
        seen += r.size;
        progress.update(done, seen, loss_sum / double(seen), 100.0 * double(correct) / double(seen), lr);
      }
      progress.end_line();
      // A weight can overflow without the loss showing it (the last step's update): never save one.
      if (const std::string bad = first_non_finite(); !bad.empty()) {
        std::fprintf(stderr, "cifar10_resnet18: end of epoch %zu (step %zu): %s is not finite; stopping. %s\n",
                     epoch + 1, step, bad.c_str(), checkpoint_kept(saved_epoch).c_str());
        return 3;
      }
      const double train_loss = seen ? loss_sum / double(seen) : 0, train_acc = seen ? 100.0 * double(correct) / double(seen) : 0;
      const EvalResult test = evaluate();
      const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      std::printf("epoch %zu/%zu  lr %.5f  train loss %.4f acc %.2f%%  test loss %.4f acc %.2f%%  %.1f s\n", epoch + 1,
                  o_.epochs, double(lr), train_loss, train_acc, test.loss, test.acc, seconds);
      std::fflush(stdout);
      log_ << epoch + 1 << ',' << lr << ',' << train_loss << ',' << train_acc << ',' << test.loss << ',' << test.acc
           << ',' << seconds << '\n';
      log_.flush();
      ctnn::io::TrainingState state;
      state.epoch = epoch + 1;
      state.step = step;
      ctnn::io::save_checkpoint(o_.checkpoint, net_, opt_, state);
      saved_epoch = epoch + 1;
    }
    std::printf("done: history in %s, checkpoint in %s (plot: scripts/plot_history.py %s)\n", o_.log.c_str(),
                o_.checkpoint.c_str(), o_.log.c_str());
    return 0;
  }

private:
  // What stopping leaves behind, for the messages above.
  std::string checkpoint_kept(const std::optional<std::size_t>& saved_epoch) const {
    if (saved_epoch)
      return "The last checkpoint (" + o_.checkpoint + ", end of epoch " + std::to_string(*saved_epoch) +
             ") was not overwritten; resume from it (--resume) with a lower --lr";
    return "No checkpoint was written by this run (" + o_.checkpoint +
           " is untouched); start again with a lower --lr";
  }

  // The first parameter, batch-norm statistic or momentum buffer holding a NaN or an infinity, as
  // "parameter '0.weight' (value nan at index 17)"; empty when every value is finite.
  std::string first_non_finite() {
    std::vector<float> host;
    auto scan = [&](const char* kind, const auto& list) -> std::string {
      for (const auto& t : list) {
        host.resize(t.size);
        D::download(host.data(), t.value, t.size * sizeof(float));
        for (std::size_t i = 0; i < t.size; ++i)
          if (!std::isfinite(host[i]))
            return std::string(kind) + " '" + t.name + "' (value " + std::to_string(host[i]) + " at index " +
                   std::to_string(i) + ")";
      }
      return {};
    };
    std::string bad = scan("parameter", net_.parameters());
    if (bad.empty()) bad = scan("batch-norm statistic", net_.buffers());
    if (bad.empty()) bad = scan("optimizer state", opt_.state(net_.parameters()));
    return bad;
  }

  // Host copies of the batch-norm running statistics, to undo the forward pass of a skipped batch.
  void backup_buffers() {
    const auto buffers = net_.buffers();
    buffer_backup_.resize(buffers.size());
    for (std::size_t i = 0; i < buffers.size(); ++i) {
      buffer_backup_[i].resize(buffers[i].size);
      D::download(buffer_backup_[i].data(), buffers[i].value, buffers[i].size * sizeof(float));
    }
  }
  void restore_buffers() {
    const auto buffers = net_.buffers();
    for (std::size_t i = 0; i < buffers.size() && i < buffer_backup_.size(); ++i)
      D::upload(buffers[i].value, buffer_backup_[i].data(), buffers[i].size * sizeof(float));
  }

  EvalResult evaluate() {
    test_loader_.start_epoch(0);
    double loss_sum = 0;
    std::size_t correct = 0, seen = 0;
    while (const auto* batch = test_loader_.next()) {
      const auto& logits = net_.forward(ctnn::on_device(batch->images, x_), ctnn::Mode::eval);
      const float loss = ctnn::softmax_cross_entropy(logits, batch->labels, grad_, 0.f);
      loss_sum += double(loss) * double(batch->size());
      correct += ctnn::count_correct(logits, batch->labels);
      seen += batch->size();
    }
    return {seen ? loss_sum / double(seen) : 0, seen ? 100.0 * double(correct) / double(seen) : 0};
  }

  void open_log(bool append) {
    const bool existing = append && std::filesystem::exists(o_.log);
    log_.open(o_.log, existing ? std::ios::app : std::ios::trunc);
    if (!log_) throw ctnn::Error("cifar10_resnet18: cannot open the history file '" + o_.log + "' for writing");
    if (!existing) log_ << "epoch,lr,train_loss,train_acc,test_loss,test_acc,seconds\n";
    log_.flush();
  }

  Options o_;
  Net net_;
  ctnn::SGD<D> opt_;
  ctnn::data::Loader<Image> train_loader_, test_loader_;
  ctnn::Tensor<Image, D> x_;
  ctnn::Tensor<ctnn::Shape<10>, D> grad_;
  std::size_t steps_per_epoch_ = 0, total_steps_ = 0;
  std::ofstream log_;
  std::vector<std::vector<float>> buffer_backup_;
};

int run(const Options& o) {
  if (o.threads > 0) ctnn::set_num_threads(o.threads);
  ctnn::data::CifarDataset train, test;
  if (o.synthetic > 0) {
    std::printf("training on %zu SYNTHETIC images (not CIFAR-10): a quick way to watch the library learn\n",
                o.synthetic);
    train = ctnn::data::synthetic_cifar(o.synthetic, o.seed);
    test = ctnn::data::synthetic_cifar(std::max<std::size_t>(o.synthetic / 5, 1), o.seed + 1000003);
  } else {
    const auto dir = find_data(o);
    if (!std::filesystem::exists(dir / "data_batch_1.bin") && !std::filesystem::exists(dir / "cifar-10-batches-bin")) {
      std::fprintf(stderr,
                   "cifar10_resnet18: no CIFAR-10 data in '%s'.\n"
                   "  Get the binary version (about 163 MB) with\n"
                   "      scripts/download_cifar10.sh data\n"
                   "  and pass --data data/cifar-10-batches-bin, or train on generated images with\n"
                   "      --synthetic 5000\n",
                   dir.string().c_str());
      return 2;
    }
    train = ctnn::data::Cifar10::load(dir, ctnn::data::Split::train);
    test = ctnn::data::Cifar10::load(dir, ctnn::data::Split::test);
  }

  if (o.device == "cuda") {
#if CTNN_HAS_CUDA
    Trainer<ctnn::Cuda> trainer(o, train, test);
    return trainer.run();
#else
    std::fprintf(stderr,
                 "cifar10_resnet18: this binary was built without CUDA; use cifar10_resnet18_cuda (built when "
                 "CMake finds nvcc and cuDNN)\n");
    return 2;
#endif
  }
  Trainer<ctnn::Cpu> trainer(o, train, test);
  return trainer.run();
}

}  // namespace

int main(int argc, char** argv) {
  const Options o = parse(argc, argv);
  try {
    return run(o);
  } catch (const ctnn::Error& e) {
    std::fprintf(stderr, "cifar10_resnet18: %s\n", e.what());
    return 1;
  }
}
