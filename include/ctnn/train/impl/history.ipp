#pragma once
// history.hpp's definitions (core/config.hpp: separate compilation).

#include "../history.hpp"

namespace ctnn::train {

CTNN_INLINE void HistoryFile::open(const std::string& path, bool resume, std::size_t resumed_epoch, bool overwrite,
                                   bool ema) {
  path_ = path;
  ema_ = ema;
  lines_.clear();
  if (path_.empty()) return;
  const std::string head = std::string(header) + (ema ? ema_columns : "");
  const bool existing = io::exists(path_);
  if (existing && !resume && !overwrite)
    detail::fail("ctnn::train: the history file '", path_,
                 "' exists; a new run would replace it: resume the run, choose another file, or allow overwriting");
  if (existing && resume) {
    const std::vector<unsigned char> bytes = io::read_file(path_, "history file");
    std::string text(bytes.begin(), bytes.end()), line;
    std::size_t row = 0;
    for (std::size_t pos = 0; pos <= text.size(); ++pos) {
      if (pos < text.size() && text[pos] != '\n') {
        line += text[pos];
        continue;
      }
      if (!line.empty()) {
        if (row == 0) {
          if (line != head)
            detail::fail("ctnn::train: the history file '", path_, "' has the columns '", line, "' but this run writes '",
                         head, "'");
        } else {
          std::size_t epoch = 0;
          if (std::sscanf(line.c_str(), "%zu,", &epoch) != 1)
            detail::fail("ctnn::train: line ", row + 1, " of the history file '", path_, "' does not start with an epoch");
          if (epoch <= resumed_epoch) lines_.push_back(line);
        }
        ++row;
      }
      line.clear();
    }
  }
  write();  // the header (and the rows kept) now, so that a bad path shows before training
}

CTNN_INLINE void HistoryFile::append(const EpochRecord& r) {
  if (path_.empty()) return;
  char buf[512];
  int n = std::snprintf(buf, sizeof buf, "%zu,%.9g,%.9g,%.9g,%.9g,%.9g,%.9g", r.epoch, r.lr, r.train_loss, r.train_acc,
                        r.test_loss, r.test_acc, r.seconds);
  if (ema_) std::snprintf(buf + n, sizeof buf - std::size_t(n), ",%.9g,%.9g", r.ema_test_loss, r.ema_test_acc);
  lines_.push_back(buf);
  write();
}

CTNN_INLINE void HistoryFile::write() {
  std::string text = std::string(header) + (ema_ ? ema_columns : "") + "\n";
  for (const auto& l : lines_) text += l + "\n";
  io::AtomicFileWriter file(path_, "history file");
  file.write(text.data(), text.size());
  file.commit();
}

}  // namespace ctnn::train
