#pragma once
// file.hpp's definitions (core/config.hpp: separate compilation).

#include "../file.hpp"

namespace ctnn::io {

CTNN_INLINE std::vector<unsigned char> read_file(const std::string& path, const char* what) {
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

CTNN_INLINE bool exists(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0;
}

CTNN_INLINE void check_writable(const std::string& path, const char* what) {
  AtomicFileWriter probe(path, what);  // removed again, uncommitted, when it goes out of scope
}

CTNN_INLINE AtomicFileWriter::AtomicFileWriter(std::string path, const char* what)
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

CTNN_INLINE void AtomicFileWriter::commit() {
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

CTNN_INLINE void AtomicFileWriter::remove_stale_temporaries() const noexcept {
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

CTNN_INLINE void AtomicFileWriter::fail_os(const std::string& action, int err) {
  discard();
  ctnn::detail::fail("ctnn::io: cannot write ", what_, " '", path_, "': ", action, ": ", detail::os_error(err));
}

CTNN_INLINE void AtomicFileWriter::discard() noexcept {
  if (fd_ >= 0) ::close(std::exchange(fd_, -1));
  if (!committed_ && !removed_) {
    ::unlink(temp_.c_str());
    removed_ = true;
  }
}

CTNN_INLINE void AtomicFileWriter::write_all(const unsigned char* p, std::size_t n) {
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

}  // namespace ctnn::io
