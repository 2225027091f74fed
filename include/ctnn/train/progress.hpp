#pragma once
// Progress of a training run on the console: a live one-line bar on a terminal (step, running loss
// and accuracy, learning rate, img/s, ETA), plain lines every 30 s otherwise (logs, CI), or nothing.
// Prints with snprintf into a fixed buffer: a step prints without allocating.

#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstddef>
#include <cstdio>
#include <string>

#include "../core/config.hpp"
#include "options.hpp"

namespace ctnn::train {

// "mm:ss" or "h:mm:ss"; "--:--" when unknown.
std::string format_duration(double seconds);

class Progress {
public:
  explicit Progress(ProgressStyle style = ProgressStyle::automatic, std::FILE* out = stdout, double line_seconds = 30)
      : out_(out), line_seconds_(line_seconds) {
    if (style == ProgressStyle::automatic) style = isatty(fileno(out)) ? ProgressStyle::bar : ProgressStyle::lines;
    style_ = style;
  }

  void begin_epoch(std::size_t epoch, std::size_t epochs, std::size_t batches) {
    epoch_ = epoch;
    epochs_ = epochs;
    batches_ = batches;
    start_ = last_print_ = clock::now();
  }

  // After step `done` of the epoch's batches, with `images` seen so far in it.
  void update(std::size_t done, std::size_t images, double loss, double accuracy_percent, double lr);

  // Ends the bar's line (nothing in the other styles).
  void end_line() {
    if (style_ == ProgressStyle::bar) std::fputs("\n", out_);
  }

  // A line of its own (an epoch's summary, a note), after ending the bar.
  void message(const std::string& text) {
    if (style_ == ProgressStyle::none) return;
    std::fputs(text.c_str(), out_);
    std::fputs("\n", out_);
    std::fflush(out_);
  }

  ProgressStyle style() const { return style_; }

private:
  using clock = std::chrono::steady_clock;
  std::FILE* out_;
  double line_seconds_;
  ProgressStyle style_ = ProgressStyle::lines;
  std::size_t epoch_ = 0, epochs_ = 0, batches_ = 0;
  clock::time_point start_, last_print_;
};

}  // namespace ctnn::train

#if CTNN_HEADER_DEFINITIONS
#include "impl/progress.ipp"
#endif
