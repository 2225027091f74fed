#pragma once
// The per-epoch history of a run as CSV, one row per completed epoch:
//   epoch,lr,train_loss,train_acc,test_loss,test_acc,seconds[,ema_test_loss,ema_test_acc]
// (accuracies in percent; the EMA columns when an exponential moving average is kept).
//
// Nothing an earlier run wrote is lost: a new run refuses an existing file unless told to
// overwrite it, a resumed run keeps the rows up to the epoch it resumes from (and drops later ones,
// which a run that stopped between the row and its checkpoint may have left), and every row is
// written by replacing the whole file atomically (io::AtomicFileWriter), after the epoch's
// checkpoint has been saved.

#include <cstddef>
#include <cstdio>
#include <string>
#include <vector>

#include "../core/config.hpp"
#include "../core/error.hpp"
#include "../io/file.hpp"
#include "options.hpp"

namespace ctnn::train {

class HistoryFile {
public:
  static constexpr const char* header = "epoch,lr,train_loss,train_acc,test_loss,test_acc,seconds";
  static constexpr const char* ema_columns = ",ema_test_loss,ema_test_acc";

  HistoryFile() = default;

  // path "": no file. `resumed_epoch`: the epochs the resumed checkpoint holds (resume only).
  void open(const std::string& path, bool resume, std::size_t resumed_epoch, bool overwrite, bool ema);

  void append(const EpochRecord& r);

  const std::string& path() const { return path_; }
  std::size_t rows() const { return lines_.size(); }

private:
  void write();

  std::string path_;
  bool ema_ = false;
  std::vector<std::string> lines_;
};

}  // namespace ctnn::train

#if CTNN_HEADER_DEFINITIONS
#include "impl/history.ipp"
#endif
