#pragma once
// Whole-file reads and atomic file replacement (POSIX).
//
// AtomicFileWriter writes to "<path>.tmp.<pid>" in the target's directory; commit() flushes and
// fsyncs it, renames it over <path>, closes it and fsyncs the directory, so <path> always holds
// either the previous complete file or the new complete file, never a partial one, whenever the
// process dies (SIGKILL, a crash, power loss after the fsync). Any failure throws ctnn::Error
// naming the path and the OS error (strerror); destroying a writer that was not committed (an
// exception unwinding through it) closes and removes the temporary file.
//
// A process killed during a save cannot remove its temporary file, so the writer holds an
// exclusive flock(2) on it while it exists, and every successful commit removes the stale
// "<path>.tmp.<digits>" files of the same <path> whose lock it can take (their writers are dead:
// the kernel drops a lock when its process dies). A live writer's file is locked and left alone;
// on file systems without flock nothing is removed. At most one stale file per killed save
// therefore exists, and only until the next successful save of the same path.
//
// The library does not touch signal dispositions: a process that runs under RLIMIT_FSIZE and wants
// an error instead of death by SIGXFSZ ignores that signal itself.

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "../core/config.hpp"
#include "../core/error.hpp"

namespace ctnn::io {
namespace detail {

inline std::string os_error(int err) { return std::strerror(err); }

// The file name of `path` (everything after the last '/').
inline std::string base_name(const std::string& path) {
  const auto slash = path.find_last_of('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

// The directory holding `path` ("." for a bare file name, "/" for a file in the root).
inline std::string parent_directory(const std::string& path) {
  const auto slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

}  // namespace detail

// Reads a whole file into memory; throws ctnn::Error naming the path and the OS error.
std::vector<unsigned char> read_file(const std::string& path, const char* what = "file");

class AtomicFileWriter {
public:
  // Creates (or truncates) "<path>.tmp.<pid>". `what` names the kind of file in messages.
  explicit AtomicFileWriter(std::string path, const char* what = "file");

  AtomicFileWriter(const AtomicFileWriter&) = delete;
  AtomicFileWriter& operator=(const AtomicFileWriter&) = delete;

  ~AtomicFileWriter() { discard(); }

  const std::string& path() const noexcept { return path_; }
  const std::string& temp_path() const noexcept { return temp_; }
  std::size_t bytes_written() const noexcept { return written_ + buffer_.size(); }

  void write(const void* data, std::size_t n) {
    const auto* p = static_cast<const unsigned char*>(data);
    if (buffer_.size() + n > buffer_capacity) {
      flush_buffer();
      if (n >= buffer_capacity) {
        write_all(p, n);
        return;
      }
    }
    buffer_.insert(buffer_.end(), p, p + n);
  }

  // Makes the new contents durable and visible at path(); throws on any failure, after which the
  // temporary file is gone and path() is as it was.
  void commit();

private:
  static constexpr std::size_t buffer_capacity = std::size_t{1} << 20;

  // Removes "<path>.tmp.<digits>" files in the target's directory that no live writer holds (see
  // the notes at the top). Best effort: anything unexpected leaves the file where it is.
  void remove_stale_temporaries() const noexcept;

  [[noreturn]] void fail_os(const std::string& action, int err);

  void discard() noexcept;

  void flush_buffer() {
    if (buffer_.empty()) return;
    write_all(buffer_.data(), buffer_.size());
    buffer_.clear();
  }

  void write_all(const unsigned char* p, std::size_t n);

  std::string path_;
  std::string temp_;
  const char* what_;
  int fd_ = -1;
  bool committed_ = false;
  bool removed_ = false;
  std::size_t written_ = 0;
  std::vector<unsigned char> buffer_;
};

// Whether a file (or anything else) exists at `path`.
bool exists(const std::string& path);

// Throws ctnn::Error naming `path` unless a file can be written there atomically: its directory
// exists and takes new files. Creates and removes a temporary file next to `path`; `path` itself is
// not touched. For checking an output path before hours of work, not after.
void check_writable(const std::string& path, const char* what = "file");

}  // namespace ctnn::io

#if CTNN_HEADER_DEFINITIONS
#include "impl/file.ipp"
#endif
