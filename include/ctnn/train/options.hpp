#pragma once
// The settings and records of ctnn::train::fit (fit.hpp) and train::step (step.hpp), on their own:
// a program's command line can fill train::Options in a translation unit that compiles neither a
// network nor the training loop.

#include <cstddef>
#include <functional>
#include <map>
#include <string>
#include <vector>

namespace ctnn::io {
struct TrainingState;  // io/checkpoint.hpp
}  // namespace ctnn::io

namespace ctnn::dist {
class Communicator;  // dist/communicator.hpp
}  // namespace ctnn::dist

namespace ctnn::train {

enum class NanPolicy { stop, skip };
enum class ScheduleUnit { step, epoch };
enum class ProgressStyle { automatic, bar, lines, none };

// What one training step did.
struct StepResult {
  float loss = 0;            // mean loss of the batch
  std::size_t correct = 0;   // samples whose top-1 class is their label
  std::size_t size = 0;      // samples in the batch
  bool finite = true;        // false: the loss was NaN or infinite and nothing was updated
};

// What a step callback sees.
struct StepInfo {
  std::size_t epoch = 0;       // from 0
  std::size_t batch = 0;       // within the epoch, from 0
  std::size_t step = 0;        // optimizer steps before this one, over the run
  float lr = 0;
  StepResult result;
  double grad_norm = 0;        // before clipping (0 without clipping)
};

// One row of the history.
struct EpochRecord {
  std::size_t epoch = 0;  // completed epochs, from 1
  double lr = 0, train_loss = 0, train_acc = 0, test_loss = 0, test_acc = 0, seconds = 0;
  double ema_test_loss = 0, ema_test_acc = 0;  // with an EMA only
};

// How fit() runs.
struct Options {
  std::size_t epochs = 1;
  std::size_t limit_batches = 0;      // at most this many batches per epoch; 0: whole epochs
  float label_smoothing = 0;
  // The learning rate of step t (or epoch t, with ScheduleUnit::epoch); empty: the optimizer's own.
  std::function<float(std::size_t)> lr;
  ScheduleUnit schedule_unit = ScheduleUnit::step;
  NanPolicy on_nan = NanPolicy::stop;
  float clip_grad_norm = 0;           // clip gradients to this global norm; 0: off
  float ema_decay = 0;                // keep an EMA of the weights with this decay; 0: off
  std::vector<std::string> freeze;    // parameters whose names start so are not updated (ctnn::freeze)
  bool flip_tta = false;              // evaluate with flip test-time augmentation
  std::string checkpoint;             // saved after every epoch; "": none
  std::string history;                // CSV, a row per epoch; "": none
  bool resume = false;                // continue from `checkpoint`
  bool overwrite = false;             // a new run may replace an existing checkpoint and history
  std::map<std::string, std::string> settings;  // the run's hyper-parameters, kept in the checkpoint
  bool override_settings = false;     // resume although the settings differ from the checkpoint's
  ProgressStyle progress = ProgressStyle::automatic;
  std::function<void(const StepInfo&)> on_step;
  std::function<void(const EpochRecord&)> on_epoch;
  std::function<void(const io::TrainingState&)> on_resume;  // after a resume has loaded the checkpoint
  // Data-parallel training over the communicator's processes (dist::DataParallel): the loaders
  // must be sharded for it (dist::shard); rank 0 alone writes the checkpoint, the history and the
  // progress; the epoch's metrics are over all processes. nullptr: this process alone.
  dist::Communicator* communicator = nullptr;
  bool sync_batch_norm = false;                   // batch statistics over all processes' batches
  std::size_t bucket_bytes = std::size_t{25} << 20;  // gradient buckets (dist::DataParallelOptions)
};

}  // namespace ctnn::train
