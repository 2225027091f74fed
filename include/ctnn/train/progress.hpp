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

#include "options.hpp"

namespace ctnn::train {

// "mm:ss" or "h:mm:ss"; "--:--" when unknown.
inline std::string format_duration(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) return "--:--";
  const auto s = static_cast<long long>(seconds + 0.5);
  char buf[32];
  if (s >= 3600)
    std::snprintf(buf, sizeof buf, "%lld:%02lld:%02lld", s / 3600, (s / 60) % 60, s % 60);
  else
    std::snprintf(buf, sizeof buf, "%02lld:%02lld", s / 60, s % 60);
  return buf;
}

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
  void update(std::size_t done, std::size_t images, double loss, double accuracy_percent, double lr) {
    if (style_ == ProgressStyle::none) return;
    const auto now = clock::now();
    const double elapsed = std::chrono::duration<double>(now - start_).count();
    const double since = std::chrono::duration<double>(now - last_print_).count();
    const double rate = elapsed > 0 ? double(images) / elapsed : 0;
    const double eta = done > 0 ? elapsed / double(done) * double(batches_ - done) : -1;
    char line[256];
    if (style_ == ProgressStyle::bar) {
      if (since < 0.1 && done != batches_) return;
      constexpr int width = 24;
      char bar[width + 1];
      const int filled = batches_ ? static_cast<int>(width * done / batches_) : width;
      for (int i = 0; i < width; ++i) bar[i] = i < filled ? '=' : (i == filled ? '>' : ' ');
      bar[width] = '\0';
      std::snprintf(line, sizeof line, "\repoch %zu/%zu [%s] %zu/%zu loss %.4f acc %5.2f%% lr %g %6.1f img/s ETA %s ",
                    epoch_ + 1, epochs_, bar, done, batches_, loss, accuracy_percent, lr, rate,
                    format_duration(eta).c_str());
    } else {
      if (since < line_seconds_ && done != batches_ && done != 1) return;
      std::snprintf(line, sizeof line, "epoch %zu/%zu step %zu/%zu loss %.4f acc %.2f%% lr %g %.1f img/s ETA %s\n",
                    epoch_ + 1, epochs_, done, batches_, loss, accuracy_percent, lr, rate, format_duration(eta).c_str());
    }
    std::fputs(line, out_);
    std::fflush(out_);
    last_print_ = now;
  }

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
