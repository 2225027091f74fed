#pragma once
// progress.hpp's definitions (core/config.hpp: separate compilation).

#include "../progress.hpp"

namespace ctnn::train {

CTNN_INLINE std::string format_duration(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) return "--:--";
  const auto s = static_cast<long long>(seconds + 0.5);
  char buf[32];
  if (s >= 3600)
    std::snprintf(buf, sizeof buf, "%lld:%02lld:%02lld", s / 3600, (s / 60) % 60, s % 60);
  else
    std::snprintf(buf, sizeof buf, "%02lld:%02lld", s / 60, s % 60);
  return buf;
}

CTNN_INLINE void Progress::update(std::size_t done, std::size_t images, double loss, double accuracy_percent,
                                  double lr) {
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

}  // namespace ctnn::train
