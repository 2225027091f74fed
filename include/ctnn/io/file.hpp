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
inline std::vector<unsigned char> read_file(const std::string& path, const char* what = "file") {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    const int err = errno;
    ctnn::detail::fail("ctnn::io: cannot open ", what, " '", path, "': ", detail::os_error(err));
  }
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};

  std::vector<unsigned char> data;
  struct stat st {};
  if (::fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0)
    data.reserve(static_cast<std::size_t>(st.st_size));
  std::size_t used = 0;
  for (;;) {
    if (data.size() - used < 65536) data.resize(std::max<std::size_t>(used + 65536, data.capacity()));
    const ssize_t n = ::read(fd, data.data() + used, data.size() - used);
    if (n < 0) {
      if (errno == EINTR) continue;
      const int err = errno;
      ctnn::detail::fail("ctnn::io: cannot read ", what, " '", path, "' at byte offset ", used, ": ",
                         detail::os_error(err));
    }
    if (n == 0) break;
    used += static_cast<std::size_t>(n);
  }
  data.resize(used);
  return data;
}

class AtomicFileWriter {
public:
  // Creates (or truncates) "<path>.tmp.<pid>". `what` names the kind of file in messages.
  explicit AtomicFileWriter(std::string path, const char* what = "file")
      : path_(std::move(path)), temp_(path_ + ".tmp." + std::to_string(::getpid())), what_(what) {
    for (int attempt = 0;; ++attempt) {
      fd_ = ::open(temp_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
      if (fd_ < 0) {
        const int err = errno;
        removed_ = true;  // nothing was created
        fail_os("cannot create the temporary file '" + temp_ + "'", err);
      }
      // Lock it, so that another process's commit() does not take it for a dead writer's file,
      // then check that it was not removed as such between the open and the lock.
      while (::flock(fd_, LOCK_EX) != 0 && errno == EINTR) {
      }
      struct stat mine {}, named {};
      if (::fstat(fd_, &mine) != 0 || ::stat(temp_.c_str(), &named) != 0 || mine.st_ino != named.st_ino ||
          mine.st_dev != named.st_dev) {
        ::close(std::exchange(fd_, -1));
        if (attempt < 8) continue;
        removed_ = true;
        fail_os("the temporary file '" + temp_ + "' keeps disappearing", EAGAIN);
      }
      break;
    }
    buffer_.reserve(buffer_capacity);
  }

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
  void commit() {
    flush_buffer();
    if (::fsync(fd_) != 0) {
      const int err = errno;
      fail_os("cannot sync '" + temp_ + "' to disk", err);
    }
    // Renamed while still open (and locked), so that no other writer's clean-up can remove it first.
    if (::rename(temp_.c_str(), path_.c_str()) != 0) {
      const int err = errno;
      fail_os("cannot rename '" + temp_ + "' to '" + path_ + "'", err);
    }
    committed_ = true;
    if (::close(std::exchange(fd_, -1)) != 0) {
      const int err = errno;
      if (err != EINTR) fail_os("wrote it, but cannot close it", err);
    }
    remove_stale_temporaries();
    // The rename is only durable once the directory entry is: sync the directory too. File systems
    // that cannot sync a directory (EINVAL) give no stronger guarantee, so that is not an error.
    const std::string dir = detail::parent_directory(path_);
    const int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0) {
      const int err = errno;
      fail_os("wrote it, but cannot open its directory '" + dir + "' to sync it", err);
    }
    const int rc = ::fsync(dfd);
    const int err = errno;
    ::close(dfd);
    if (rc != 0 && err != EINVAL && err != EROFS)
      fail_os("wrote it, but cannot sync its directory '" + dir + "'", err);
  }

private:
  static constexpr std::size_t buffer_capacity = std::size_t{1} << 20;

  // Removes "<path>.tmp.<digits>" files in the target's directory that no live writer holds (see
  // the notes at the top). Best effort: anything unexpected leaves the file where it is.
  void remove_stale_temporaries() const noexcept {
    const std::string dir = detail::parent_directory(path_);
    const std::string prefix = detail::base_name(path_) + ".tmp.";
    DIR* d = ::opendir(dir.c_str());
    if (!d) return;
    while (const dirent* e = ::readdir(d)) {
      const std::string name = e->d_name;
      if (name.size() <= prefix.size() || name.compare(0, prefix.size(), prefix) != 0) continue;
      if (name.find_first_not_of("0123456789", prefix.size()) != std::string::npos) continue;
      const std::string stale = dir + "/" + name;
      const int fd = ::open(stale.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
      if (fd < 0) continue;
      struct stat held {}, named {};
      if (::fstat(fd, &held) == 0 && S_ISREG(held.st_mode) && ::flock(fd, LOCK_EX | LOCK_NB) == 0 &&
          ::lstat(stale.c_str(), &named) == 0 && held.st_ino == named.st_ino && held.st_dev == named.st_dev)
        ::unlink(stale.c_str());
      ::close(fd);
    }
    ::closedir(d);
  }

  [[noreturn]] void fail_os(const std::string& action, int err) {
    discard();
    ctnn::detail::fail("ctnn::io: cannot write ", what_, " '", path_, "': ", action, ": ", detail::os_error(err));
  }

  void discard() noexcept {
    if (fd_ >= 0) ::close(std::exchange(fd_, -1));
    if (!committed_ && !removed_) {
      ::unlink(temp_.c_str());
      removed_ = true;
    }
  }

  void flush_buffer() {
    if (buffer_.empty()) return;
    write_all(buffer_.data(), buffer_.size());
    buffer_.clear();
  }

  void write_all(const unsigned char* p, std::size_t n) {
    if (fd_ < 0) ctnn::detail::fail("ctnn::io: writing '", temp_, "' after it was closed");
    while (n > 0) {
      const ssize_t k = ::write(fd_, p, n);
      if (k < 0) {
        const int err = errno;
        if (err == EINTR) continue;
        fail_os("writing '" + temp_ + "' failed at byte offset " + std::to_string(written_), err);
      }
      if (k == 0) fail_os("writing '" + temp_ + "' made no progress at byte offset " + std::to_string(written_), EIO);
      p += k;
      n -= static_cast<std::size_t>(k);
      written_ += static_cast<std::size_t>(k);
    }
  }

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
inline bool exists(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0;
}

// Throws ctnn::Error naming `path` unless a file can be written there atomically: its directory
// exists and takes new files. Creates and removes a temporary file next to `path`; `path` itself is
// not touched. For checking an output path before hours of work, not after.
inline void check_writable(const std::string& path, const char* what = "file") {
  AtomicFileWriter probe(path, what);  // removed again, uncommitted, when it goes out of scope
}

}  // namespace ctnn::io
