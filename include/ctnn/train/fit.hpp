#pragma once
// ctnn::train::fit: the training loop as a library part, for any network, device, optimizer and
// image shape.
//
//   ctnn::train::Options o;
//   o.epochs = 200;
//   o.lr = ctnn::schedule::Cosine{0.1f, o.epochs * train_loader.batches_per_epoch()};   // per step
//   o.checkpoint = "run.ckpt";  o.history = "history.csv";  o.resume = resuming;
//   ctnn::train::FitResult r = ctnn::train::fit(net, optimizer, train_loader, &test_loader, o);
//
// Per epoch: the loader's epoch (its order and augmentation are functions of the seed and the
// epoch, so a resumed run sees the same batches), one train::step per batch (softmax cross-entropy
// with label smoothing; an optional gradient clipping by norm; an optional exponential moving
// average of the weights after each update), the learning rate set from the schedule every step or
// every epoch, progress on the console, then evaluation (with the EMA weights too, and flip
// test-time augmentation if asked), the checkpoint (atomic; with the optimizer state, the EMA, the
// epoch and step, and the run's settings), a weights-only file of the EMA next to it, and last the
// history row.
//
// Nothing an earlier run saved is lost, and nothing is found out late:
//   - the checkpoint and history paths are checked before the first step (writable; a new run
//     refuses existing files unless overwrite is set);
//   - a resume refuses a checkpoint whose settings differ from the run's (naming the first that
//     differs) unless override_settings is set, and keeps only the history rows up to its epoch;
//   - a batch larger than the dataset (an epoch of no steps) is an error;
//   - a non-finite loss stops the run (on_nan = stop; nothing of that epoch is saved) or skips the
//     batch (on_nan = skip: no update, its batch-norm statistics restored); a parameter, statistic
//     or optimizer value that is not finite at the end of an epoch stops the run before the save.
//
// Data parallel (Options::communicator): each process trains on its shard of every batch
// (dist::shard on the loaders' options), its gradients averaged over all processes by
// dist::DataParallel before each update; parameters, buffers and optimizer state start from rank
// 0's. Every decision is taken together: a check that fails on one process before training, a
// non-finite loss or value on one, a failed save, makes all of them stop or skip alike (one small
// sum per step agrees on the loss). Rank 0 writes the checkpoint, the .ema file, the history and
// the progress; the others only train. A resume reads the checkpoint on every process (a shared
// file system, or a copy on each machine), and works on any number of processes: the batches are
// the global ones.
// Training uses Mode::train and evaluation Mode::inference (no backward follows it), always explicitly.

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <limits>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "../core/config.hpp"
#include "../core/device.hpp"
#include "../core/error.hpp"
#include "../core/init.hpp"
#include "../core/parameter.hpp"
#include "../core/tensor.hpp"
#include "../core/transfer.hpp"
#include "../data/loader.hpp"
#include "../dist/communicator.hpp"
#include "../dist/data_parallel.hpp"
#include "../io/checkpoint.hpp"
#include "../io/file.hpp"
#include "clip.hpp"
#include "ema.hpp"
#include "evaluate.hpp"
#include "history.hpp"
#include "options.hpp"
#include "progress.hpp"
#include "step.hpp"

namespace ctnn::train {


enum class FitStatus { completed, already_done, stopped_non_finite };

struct FitResult {
  FitStatus status = FitStatus::completed;
  std::size_t first_epoch = 0;         // where this run started (after a resume: the checkpoint's epochs)
  std::size_t epochs_done = 0;         // completed epochs, over the run and the runs it resumed
  std::size_t steps = 0;               // optimizer steps likewise
  std::size_t last_saved_epoch = 0;    // the epochs the checkpoint on disk holds (0: none written or loaded)
  std::vector<EpochRecord> epochs;     // this run's epochs
  std::string message;                 // why it stopped (stopped_non_finite)
  std::string checkpoint_note;         // then: what became of the checkpoint, and how to go on
  bool ok() const { return status != FitStatus::stopped_non_finite; }
};

namespace detail {

inline constexpr const char* setting_prefix = "setting.";

// The optimizer's state with the EMA's averages after it: what a checkpoint stores as the
// optimizer section (ctnn::OptimizerState).
template <class Opt, class D>
struct CheckpointState {
  Opt& opt;
  Ema<D>* ema;
  decltype(opt.steps)& steps;
  CheckpointState(Opt& o, Ema<D>* e) : opt(o), ema(e), steps(o.steps) {}
  std::vector<Buffer> state(std::span<const Parameter> params) {
    std::vector<Buffer> out;
    if constexpr (requires { opt.state(params); })
      out = opt.state(params);
    else
      out = opt.state(std::span<Parameter>(const_cast<Parameter*>(params.data()), params.size()));
    if (ema) {
      auto more = ema->state(params);
      out.insert(out.end(), more.begin(), more.end());
    }
    return out;
  }
};

// The first value of a tensor list that is not finite, as "kind 'name' (value v at index i)".
template <class D, class List>
std::string first_non_finite(const char* kind, const List& list, std::vector<float>& staging) {
  for (const auto& t : list) {
    const float* v = host_view<D>(t.value, t.size, staging);
    for (std::size_t i = 0; i < t.size; ++i)
      if (!std::isfinite(v[i]))
        return ctnn::detail::cat(kind, " '", t.name, "' (value ", v[i], " at index ", i, ")");
  }
  return {};
}

void check_settings(const std::string& path, const std::map<std::string, std::string>& now,
                    const std::map<std::string, std::string>& notes);

}  // namespace detail

// `loss` trains with another loss than softmax cross-entropy (label_smoothing is then the loss's
// business): loss(logits, labels, grad) writes dL/dlogits and returns the mean loss (train::LossFor).
// Evaluation reports the softmax cross-entropy and the accuracy either way.
template <class Net, class Opt, class Loss>
FitResult fit(Net& net, Opt& optimizer, data::Loader<typename Net::input_shape>& train,
              data::Loader<typename Net::input_shape>* eval, const Options& o, Loss loss) {
  static_assert(LossFor<Loss, Net>, "ctnn::train::fit: the loss must be callable as loss(logits, labels, grad)");
  static_assert(Net::precision == Precision::fp32,
                "ctnn::train::fit trains Precision::fp32 networks; a bf16 or fp16 network trains through "
                "cuda::DeviceStep with cuda::DeviceLoader (train/device_step.hpp)");
  using D = typename Net::device;
  using In = typename Net::input_shape;
  using Out = typename Net::output_shape;
  constexpr const char* who = "ctnn::train::fit";
  dist::Local alone;
  dist::Communicator& comm = o.communicator ? *o.communicator : alone;
  const bool distributed = comm.size() > 1;
  const bool root = comm.is_root();

  std::optional<Ema<D>> ema;
  if (o.ema_decay > 0.f) ema.emplace(o.ema_decay);
  detail::CheckpointState<Opt, D> saved_state(optimizer, ema ? &*ema : nullptr);
  FitResult result;
  std::size_t step = 0;

  // ---- everything that can be wrong is found before the first step --------------------------------
  dist::agree(comm, "the checks before training", [&] {
    const auto& shard = train.options();
    if (shard.ranks != std::size_t(comm.size()) || shard.rank != std::size_t(comm.rank()))
      ctnn::detail::fail(who, ": the training loader takes share ", shard.rank, " of ", shard.ranks,
                         " but this is process ", comm.rank(), " of ", comm.size(),
                         ": shard its options with dist::shard(options, communicator)");
    if (eval && eval->options().ranks != 1 &&
        (eval->options().ranks != std::size_t(comm.size()) || eval->options().rank != std::size_t(comm.rank())))
      ctnn::detail::fail(who, ": the evaluation loader takes share ", eval->options().rank, " of ",
                         eval->options().ranks, " but this is process ", comm.rank(), " of ", comm.size());
    if (train.batches_per_epoch() == 0)
      ctnn::detail::fail(who, ": the batch (", train.options().batch, ") is larger than the training set (",
                         train.size(), " images) and drop_last leaves no batch: use a smaller batch");
    if (train.local_batch() > net.max_batch())
      ctnn::detail::fail(who, ": the loader's batch ", train.local_batch(),
                         distributed ? " (this process's share)" : "", " exceeds the network's max_batch ", net.max_batch());
    if (eval && eval->local_batch() > net.max_batch())
      ctnn::detail::fail(who, ": the evaluation batch ", eval->local_batch(), " exceeds the network's max_batch ",
                         net.max_batch());
    if (o.resume && o.checkpoint.empty()) ctnn::detail::fail(who, ": resume needs a checkpoint path");
    if (!o.checkpoint.empty()) {
      if (o.resume && !io::exists(o.checkpoint))
        ctnn::detail::fail(who, ": cannot resume: the checkpoint '", o.checkpoint, "' does not exist");
      if (root && !o.resume && !o.overwrite && io::exists(o.checkpoint))
        ctnn::detail::fail(who, ": the checkpoint '", o.checkpoint,
                           "' exists; a new run would replace it after its first epoch: resume it, choose another "
                           "path, or allow overwriting");
      if (root) io::check_writable(o.checkpoint, "checkpoint");
    }

    if (o.resume) {
      const io::TrainingState state = io::load_checkpoint(o.checkpoint, net, saved_state);
      if (!o.override_settings) detail::check_settings(o.checkpoint, o.settings, state.notes);
      result.first_epoch = static_cast<std::size_t>(state.epoch);
      result.last_saved_epoch = result.first_epoch;
      step = static_cast<std::size_t>(state.step);
      if (o.on_resume) o.on_resume(state);
    } else if (ema) {
      ema->attach(net.parameters());
    }
  });
  result.epochs_done = result.first_epoch;
  result.steps = step;

  HistoryFile history;
  dist::agree(comm, "opening the history", [&] {
    if (root) history.open(o.history, o.resume, result.first_epoch, o.overwrite, ema.has_value());
  });
  if (result.first_epoch >= o.epochs) {
    result.status = FitStatus::already_done;
    return result;
  }

  // Every process starts from rank 0's weights, statistics and optimizer state.
  std::optional<dist::DataParallel<Net>> parallel;
  struct SyncOff {  // batch norm is this process's own again after the run
    Net& net;
    bool on;
    ~SyncOff() {
      if (on) net.synchronize_batch_norm(nullptr);
    }
  } sync_off{net, distributed && o.sync_batch_norm};
  if (distributed) {
    parallel.emplace(net, comm, dist::DataParallelOptions{.bucket_bytes = o.bucket_bytes});
    dist::broadcast_from_root<D>(comm, saved_state.state(net.parameters()), "the broadcast of the optimizer state");
    if (o.sync_batch_norm) net.synchronize_batch_norm(&comm);
  }
  // The processes agree on whether the loss is finite before any of them starts backward.
  bool elsewhere = false;  // the last non-finite loss was another process's
  auto agreed_loss = [&](const typename Net::output_type& logits, std::span<const std::int32_t> labels,
                         typename Net::output_type& g) -> float {
    float l = static_cast<float>(loss(logits, labels, g));
    if (distributed) {
      double bad = std::isfinite(l) ? 0.0 : 1.0;
      comm.sum(&bad, 1, "the check of the loss");
      elsewhere = bad > 0 && std::isfinite(l);
      if (elsewhere) l = std::numeric_limits<float>::quiet_NaN();
    }
    return l;
  };
  // The sums of all processes, when `sharded`.
  auto reduced = [&](EvalResult r, bool sharded) {
    if (!sharded || !distributed) return r;
    double v[3] = {r.loss * double(r.samples), double(r.correct), double(r.samples)};
    comm.sum(v, 3, "the evaluation metrics");
    r.samples = static_cast<std::size_t>(v[2]);
    r.correct = static_cast<std::size_t>(v[1]);
    r.loss = r.samples ? v[0] / v[2] : 0;
    r.accuracy = r.samples ? 100.0 * v[1] / v[2] : 0;
    return r;
  };

  const std::size_t batch = train.local_batch();
  std::size_t steps_per_epoch = train.batches_per_epoch();
  if (o.limit_batches) steps_per_epoch = std::min(steps_per_epoch, o.limit_batches);
  Tensor<In, D> x(batch);
  Tensor<Out, D> grad(batch);
  Evaluator<Net> evaluator(eval ? eval->options().batch : 1);
  GradClipper<D> clipper;
  const std::vector<Parameter> update = o.freeze.empty() ? std::vector<Parameter>{} : ctnn::freeze(net.parameters(), o.freeze);
  std::vector<std::vector<float>> saved_buffers;  // on_nan = skip: the statistics before a batch
  std::vector<float> staging;
  Progress progress(root ? o.progress : ProgressStyle::none);

  auto set_lr = [&](std::size_t t) {
    if constexpr (requires { optimizer.lr = 1.f; }) {
      if (o.lr) optimizer.lr = o.lr(t);
    }
  };
  auto current_lr = [&]() -> float {
    if constexpr (requires { float(optimizer.lr); })
      return float(optimizer.lr);
    else
      return 0.f;
  };
  auto stop = [&](std::string why) {
    progress.end_line();
    result.status = FitStatus::stopped_non_finite;
    result.message = std::move(why);
    if (o.checkpoint.empty())
      result.checkpoint_note = "No checkpoint is kept (Options::checkpoint is empty); start again with a lower learning rate";
    else if (result.last_saved_epoch)
      result.checkpoint_note = ctnn::detail::cat("The last checkpoint (", o.checkpoint, ", end of epoch ", result.last_saved_epoch,
                                                 ") was not overwritten; resume from it with a lower learning rate");
    else
      result.checkpoint_note = ctnn::detail::cat("No checkpoint was written by this run (", o.checkpoint,
                                                 " is untouched); start again with a lower learning rate");
    return result;
  };

  for (std::size_t epoch = result.first_epoch; epoch < o.epochs; ++epoch) {
    const auto t0 = std::chrono::steady_clock::now();
    if (o.schedule_unit == ScheduleUnit::epoch) set_lr(epoch);
    train.start_epoch(epoch);
    progress.begin_epoch(epoch, o.epochs, steps_per_epoch);
    double loss_sum = 0;
    std::size_t correct = 0, seen = 0, done = 0;
    while (done < steps_per_epoch) {
      const auto* b = train.next();
      if (!b) break;
      if (o.schedule_unit == ScheduleUnit::step) set_lr(step);
      if (o.on_nan == NanPolicy::skip) {  // a skipped batch must not move the running statistics
        const auto buffers = net.buffers();
        saved_buffers.resize(buffers.size());
        for (std::size_t i = 0; i < buffers.size(); ++i) {
          saved_buffers[i].resize(buffers[i].size);
          D::download(saved_buffers[i].data(), buffers[i].value, buffers[i].size * sizeof(float));
        }
      }
      StepInfo info;
      info.epoch = epoch;
      info.batch = done;
      info.step = step;
      info.lr = current_lr();
      info.result = train::step(net, optimizer, on_device(b->images, x), b->labels, grad, agreed_loss, [&] {
        if (parallel) parallel->finish();
        if (o.clip_grad_norm > 0.f) info.grad_norm = clipper.clip(net.parameters(), o.clip_grad_norm);
      }, update);
      ++done;
      ++step;
      if (!info.result.finite) {
        const std::string what = ctnn::detail::cat("step ", step - 1, " (epoch ", epoch + 1, ", batch ", done, "): loss is ",
                                                   info.result.loss, elsewhere ? " on another process" : "");
        if (o.on_nan == NanPolicy::stop) return stop(what + "; stopping");
        const auto buffers = net.buffers();
        for (std::size_t i = 0; i < buffers.size(); ++i)
          D::upload(buffers[i].value, saved_buffers[i].data(), buffers[i].size * sizeof(float));
        progress.end_line();
        progress.message(what + "; skipping this batch");
        if (o.on_step) o.on_step(info);
        continue;
      }
      if (ema) ema->update(net.parameters());
      loss_sum += double(info.result.loss) * double(info.result.size);
      correct += info.result.correct;
      seen += info.result.size;
      progress.update(done, seen, loss_sum / double(seen), 100.0 * double(correct) / double(seen), info.lr);
      if (o.on_step) o.on_step(info);
    }
    progress.end_line();
    result.steps = step;
    if (distributed) {  // the epoch's figures over all processes
      double m[3] = {loss_sum, double(correct), double(seen)};
      comm.sum(m, 3, "the epoch's metrics");
      loss_sum = m[0];
      correct = static_cast<std::size_t>(m[1]);
      seen = static_cast<std::size_t>(m[2]);
    }

    // A weight can overflow without the loss showing it (the last update): never save one.
    std::string bad = detail::first_non_finite<D>("parameter", net.parameters(), staging);
    if (bad.empty()) bad = detail::first_non_finite<D>("batch-norm statistic", net.buffers(), staging);
    if (bad.empty()) bad = detail::first_non_finite<D>("optimizer state", saved_state.state(net.parameters()), staging);
    if (distributed) {
      double any = bad.empty() ? 0.0 : 1.0;
      comm.sum(&any, 1, "the check of the values");
      if (any > 0 && bad.empty()) bad = "a value on another process";
    }
    if (!bad.empty())
      return stop(ctnn::detail::cat("end of epoch ", epoch + 1, " (step ", step, "): ", bad, " is not finite; stopping"));

    EpochRecord r;
    r.epoch = epoch + 1;
    r.lr = current_lr();
    r.train_loss = seen ? loss_sum / double(seen) : 0;
    r.train_acc = seen ? 100.0 * double(correct) / double(seen) : 0;
    if (eval) {
      const bool sharded = eval->options().ranks > 1;
      const EvalResult test = reduced(evaluator.run(net, *eval, o.flip_tta), sharded);
      r.test_loss = test.loss;
      r.test_acc = test.accuracy;
      if (ema) {
        ema->apply(net.parameters());
        const EvalResult averaged = reduced(evaluator.run(net, *eval, o.flip_tta), sharded);
        ema->restore(net.parameters());
        r.ema_test_loss = averaged.loss;
        r.ema_test_acc = averaged.accuracy;
      }
    }
    r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    char line[256];
    std::snprintf(line, sizeof line, "epoch %zu/%zu  lr %g  train loss %.4f acc %.2f%%  test loss %.4f acc %.2f%%  %.1f s",
                  r.epoch, o.epochs, r.lr, r.train_loss, r.train_acc, r.test_loss, r.test_acc, r.seconds);
    std::string summary = line;
    if (ema) {
      std::snprintf(line, sizeof line, "  EMA test loss %.4f acc %.2f%%", r.ema_test_loss, r.ema_test_acc);
      summary += line;
    }
    progress.message(summary);

    if (!o.checkpoint.empty()) {
      dist::agree(comm, "saving the checkpoint", [&] {
        if (!root) return;
        io::TrainingState state;
        state.epoch = r.epoch;
        state.step = step;
        for (const auto& [k, v] : o.settings) state.notes[std::string(detail::setting_prefix) + k] = v;
        state.metrics["test_acc"] = r.test_acc;
        io::save_checkpoint(o.checkpoint, net, saved_state, state);
        if (ema) {  // the averaged weights, loadable with net.load()
          ema->apply(net.parameters());
          try {
            io::save_weights(o.checkpoint + ".ema", net);
          } catch (...) {
            ema->restore(net.parameters());
            throw;
          }
          ema->restore(net.parameters());
        }
      });
      result.last_saved_epoch = r.epoch;
    }
    dist::agree(comm, "writing the history", [&] {
      if (root) history.append(r);  // after the checkpoint: a failed save leaves no row for an epoch it lost
    });
    result.epochs.push_back(r);
    result.epochs_done = r.epoch;
    if (o.on_epoch) o.on_epoch(r);
  }
  result.status = FitStatus::completed;
  return result;
}

// Softmax cross-entropy with the options' label smoothing.
template <class Net, class Opt>
FitResult fit(Net& net, Opt& optimizer, data::Loader<typename Net::input_shape>& train,
              data::Loader<typename Net::input_shape>* eval, const Options& o) {
  return fit(net, optimizer, train, eval, o, CrossEntropy{o.label_smoothing});
}

}  // namespace ctnn::train

#if CTNN_HEADER_DEFINITIONS
#include "impl/fit.ipp"
#endif
