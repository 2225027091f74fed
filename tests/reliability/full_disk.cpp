// A save onto a full file system: a clear ctnn::Error naming the path and "No space left on
// device", the previous checkpoint intact and loadable, no temporary file left behind.
//
// A forked child mounts a 64 KiB tmpfs in a private mount namespace (as root, or as any user where
// unprivileged user namespaces are enabled) and fills it with a checkpoint too large for it. Where
// no namespace can be made the test says so and passes; tests/io/atomic_write.cpp covers the
// file-size limit (EFBIG) everywhere.

#include <doctest/doctest.h>

#include <fcntl.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>

#include <ctnn/ctnn.hpp>
#include <ctnn/io.hpp>

namespace {

namespace fs = std::filesystem;

using Small = ctnn::Network<ctnn::Seq<ctnn::Linear<16, 4>>, ctnn::Shape<16>>;       // 68 values: fits
using Large = ctnn::Network<ctnn::Seq<ctnn::Linear<256, 256>>, ctnn::Shape<256>>;   // 256 KiB: does not

constexpr int skipped = 77;

bool write_text(const char* path, const std::string& text) {
  const int fd = ::open(path, O_WRONLY | O_CLOEXEC);
  if (fd < 0) return false;
  const bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  ::close(fd);
  return ok;
}

// In the child: a private mount namespace with a small tmpfs at `dir`; false if not allowed here.
bool mount_small_tmpfs(const std::string& dir, std::string& why) {
  if (::geteuid() == 0) {
    if (::unshare(CLONE_NEWNS) != 0) return why = std::string("unshare(CLONE_NEWNS): ") + std::strerror(errno), false;
  } else {
    const uid_t uid = ::geteuid();
    const gid_t gid = ::getegid();
    if (::unshare(CLONE_NEWUSER | CLONE_NEWNS) != 0)
      return why = std::string("unshare(CLONE_NEWUSER | CLONE_NEWNS): ") + std::strerror(errno), false;
    write_text("/proc/self/setgroups", "deny");
    if (!write_text("/proc/self/uid_map", std::to_string(uid) + " " + std::to_string(uid) + " 1\n") ||
        !write_text("/proc/self/gid_map", std::to_string(gid) + " " + std::to_string(gid) + " 1\n"))
      return why = "cannot write the user namespace's id maps", false;
  }
  // Keep the new mount out of the parent's namespace even where / is a shared mount.
  if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0)
    return why = std::string("making / private: ") + std::strerror(errno), false;
  if (::mount("ctnn_full_disk", dir.c_str(), "tmpfs", 0, "size=64k") != 0)
    return why = std::string("mounting a tmpfs: ") + std::strerror(errno), false;
  return true;
}

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

}  // namespace

TEST_CASE("reliability: a save onto a full disk keeps the previous checkpoint") {
  const fs::path dir = fs::temp_directory_path() / ("ctnn_reliability_full_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  const std::string path = (dir / "run.ckpt").string();

  int report[2];
  REQUIRE(::pipe(report) == 0);
  const pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    ::close(report[0]);
    std::string msg;
    int rc = 1;
    try {
      if (!mount_small_tmpfs(dir.string(), msg)) {
        rc = skipped;
      } else {
        Small small(1, 1);
        small.save(path);  // fits
        Large large(1, 2);
        try {
          large.save(path);
          msg = "the large save did not fail";
        } catch (const ctnn::Error& e) {
          msg = e.what();
          Small back(1, 3);
          back.load(path);  // the previous checkpoint still loads
          std::size_t entries = 0;
          for (const auto& e2 : fs::directory_iterator(dir)) entries += e2.path().filename() == "run.ckpt" ? 1 : 100;
          rc = entries == 1 ? 0 : 2;
          if (rc) msg += " [and the directory holds more than run.ckpt]";
        }
      }
    } catch (const std::exception& e) {
      msg = std::string("unexpected: ") + e.what();
    }
    [[maybe_unused]] const auto n = ::write(report[1], msg.data(), msg.size());
    ::_exit(rc);
  }
  ::close(report[1]);
  std::string msg;
  char buf[512];
  for (ssize_t n; (n = ::read(report[0], buf, sizeof buf)) > 0;) msg.append(buf, static_cast<std::size_t>(n));
  ::close(report[0]);
  int status = 0;
  REQUIRE(::waitpid(pid, &status, 0) == pid);
  std::error_code ec;
  fs::remove_all(dir, ec);
  CAPTURE(msg);
  REQUIRE(WIFEXITED(status));
  if (WEXITSTATUS(status) == skipped) {
    MESSAGE("skipped: cannot mount a small tmpfs here (", msg, ")");
    return;
  }
  CHECK(WEXITSTATUS(status) == 0);
  CHECK(contains(msg, "cannot write checkpoint '" + path + "'"));
  CHECK(contains(msg, std::strerror(ENOSPC)));
}
