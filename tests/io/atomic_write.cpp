// Checkpoint writes are atomic: a failed save throws an error naming the path and the OS error,
// leaves the previous checkpoint intact and loadable, and leaves no temporary file behind.

#include "fixture.hpp"

#include <fcntl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstring>

using namespace io_test;
namespace io = ctnn::io;

namespace {

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

// A network and optimizer with distinct values per seed (weights differ, optimizer state non-zero).
struct Model {
  Net net;
  SGD opt = make_sgd();
  io::TrainingState state;
  explicit Model(std::uint64_t seed) : net(batch, seed) {
    for (const auto& b : opt.state(net.parameters())) std::fill(b.value, b.value + b.size, static_cast<float>(seed));
    opt.steps = seed;
    state.epoch = seed;
  }
};

// Loads `path` into a fresh model and checks it holds exactly what `expected` held.
void check_holds(const std::string& path, Model& expected) {
  Net net(batch, 12345);
  SGD opt = make_sgd();
  const io::TrainingState s = io::load_checkpoint(path, net, opt);
  check_identical(snapshot(expected.net, expected.opt), snapshot(net, opt));
  CHECK(s.epoch == expected.state.epoch);
}

}  // namespace

TEST_CASE("io: saving replaces the previous checkpoint and leaves no temporary file") {
  TempDir dir("atomic_replace");
  const std::string path = dir.file("x.ckpt");
  Model a(1), b(2);
  io::save_checkpoint(path, a.net, a.opt, a.state);
  check_holds(path, a);
  io::save_checkpoint(path, b.net, b.opt, b.state);
  check_holds(path, b);
  CHECK(dir.entries() == std::vector<std::string>{"x.ckpt"});

  // A bare file name (no directory part) is written in the working directory.
  const auto cwd = std::filesystem::current_path();
  std::filesystem::current_path(dir.path);
  b.net.save("bare.ckpt");
  std::filesystem::current_path(cwd);
  Net n(batch, 3);
  n.load(dir.file("bare.ckpt"));
  check_identical(snapshot(b.net), snapshot(n));
}

TEST_CASE("io: a save into a missing directory names the path and the OS error") {
  TempDir dir("atomic_missing");
  const std::string path = dir.file("no/such/dir/x.ckpt");
  Model a(1);
  const std::string msg = error_of([&] { io::save_checkpoint(path, a.net, a.opt, a.state); });
  CHECK(contains(msg, "cannot write checkpoint '" + path + "'"));
  CHECK(contains(msg, std::strerror(ENOENT)));
  CHECK(dir.entries().empty());
  const std::string msg2 = error_of([&] { a.net.save(path); });
  CHECK(contains(msg2, "cannot write checkpoint '" + path + "'"));
}

TEST_CASE("io: a save over a directory fails at the rename and removes its temporary file") {
  TempDir dir("atomic_rename");
  const std::string path = dir.file("x.ckpt");
  std::filesystem::create_directory(path);
  Model a(1);
  const std::string msg = error_of([&] { io::save_checkpoint(path, a.net, a.opt, a.state); });
  CHECK(contains(msg, "cannot write checkpoint '" + path + "': cannot rename '" + path + ".tmp."));
  CHECK(contains(msg, std::strerror(EISDIR)));
  CHECK(dir.entries() == std::vector<std::string>{"x.ckpt"});
  CHECK(std::filesystem::is_directory(path));
}

TEST_CASE("io: a save that hits the file-size limit keeps the previous checkpoint") {
  TempDir dir("atomic_fsize");
  const std::string path = dir.file("x.ckpt");
  Model a(1), b(2);
  io::save_checkpoint(path, a.net, a.opt, a.state);
  const auto size = std::filesystem::file_size(path);
  REQUIRE(size > 3000);

  // In a child: ignore SIGXFSZ so the write fails with EFBIG, cap file sizes below a checkpoint,
  // try to overwrite the checkpoint and report the error through a pipe.
  int fds[2];
  REQUIRE(::pipe(fds) == 0);
  const pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    ::close(fds[0]);
    std::signal(SIGXFSZ, SIG_IGN);
    const rlimit lim{1000, 1000};
    if (::setrlimit(RLIMIT_FSIZE, &lim) != 0) ::_exit(10);
    std::string msg = "no error";
    int rc = 11;
    try {
      io::save_checkpoint(path, b.net, b.opt, b.state);
    } catch (const ctnn::Error& e) {
      msg = e.what();
      rc = 0;
    } catch (...) {
      msg = "another exception";
    }
    [[maybe_unused]] const auto n = ::write(fds[1], msg.data(), msg.size());
    ::_exit(rc);
  }
  ::close(fds[1]);
  std::string msg;
  char buf[512];
  for (ssize_t n; (n = ::read(fds[0], buf, sizeof buf)) > 0;) msg.append(buf, static_cast<std::size_t>(n));
  ::close(fds[0]);
  int status = 0;
  REQUIRE(::waitpid(pid, &status, 0) == pid);
  CAPTURE(msg);
  REQUIRE(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
  CHECK(contains(msg, "cannot write checkpoint '" + path + "'"));
  CHECK(contains(msg, std::strerror(EFBIG)));
  CHECK(contains(msg, path + ".tmp." + std::to_string(pid)));

  // The previous checkpoint is intact and there is nothing else in the directory.
  CHECK(std::filesystem::file_size(path) == size);
  check_holds(path, a);
  CHECK(dir.entries() == std::vector<std::string>{"x.ckpt"});
}

TEST_CASE("io: a save into a read-only directory keeps the previous checkpoint") {
  if (::geteuid() == 0) {
    MESSAGE("skipped: running as root, which may write into read-only directories");
    return;
  }
  TempDir dir("atomic_readonly");
  const std::string path = dir.file("x.ckpt");
  Model a(1), b(2);
  io::save_checkpoint(path, a.net, a.opt, a.state);
  std::filesystem::permissions(dir.path, std::filesystem::perms::owner_read | std::filesystem::perms::owner_exec);
  const std::string msg = error_of([&] { io::save_checkpoint(path, b.net, b.opt, b.state); });
  std::filesystem::permissions(dir.path, std::filesystem::perms::owner_all);
  CHECK(contains(msg, "cannot write checkpoint '" + path + "'"));
  CHECK(contains(msg, std::strerror(EACCES)));
  check_holds(path, a);
  CHECK(dir.entries() == std::vector<std::string>{"x.ckpt"});
}
