#pragma once
// ctnn::train: training as a library.
//   train/step.hpp      one training step (forward, loss, backward, optimizer update)
//   train/fit.hpp       the fit loop: schedules, progress, evaluation, checkpoints, resume, history
//   train/evaluate.hpp  evaluation (loss, accuracy, flip test-time augmentation)
//   train/ema.hpp       an exponential moving average of the weights
//   train/clip.hpp      gradient clipping by the global norm
//   train/history.hpp   the per-epoch CSV
//   train/progress.hpp  the console progress bar or lines
//   train/device_step.hpp  (nvcc only) cuda::DeviceStep, a GPU step during which the host never waits

#include "core/config.hpp"
#include "train/clip.hpp"
#include "train/ema.hpp"
#include "train/evaluate.hpp"
#include "train/fit.hpp"
#include "train/history.hpp"
#include "train/progress.hpp"
#include "train/step.hpp"
#if CTNN_HAS_CUDA
#include "train/device_step.hpp"
#endif
