// Checkpoint saves survive SIGKILL: a child process saves checkpoints in a loop, with different
// weights each time, and is killed at random moments; after every kill the checkpoint loads and
// holds one complete save (never a mix or a partial file), never an older one than before, and the
// temporary files of killed saves are removed by the next successful save (io/file.hpp).

#include <doctest/doctest.h>

#include <signal.h>
#include <sys/file.h>
#include <sys/wait.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <ctnn/ctnn.hpp>
#include <ctnn/io.hpp>

namespace {

namespace fs = std::filesystem;

// About 0.5 M parameters: a save writes about 4 MB (weights and momentum), long enough for kills
// to land inside the write as well as inside the fsync and the rename.
using Spec = ctnn::Seq<ctnn::Linear<1024, 512>>;
using In = ctnn::Shape<1024>;
using Net = ctnn::Network<Spec, In>;
using Opt = ctnn::SGD<>;

struct TempDir {
  fs::path path;
  explicit TempDir(const std::string& name)
      : path(fs::temp_directory_path() / ("ctnn_reliability_" + name + "_" + std::to_string(::getpid()))) {
    fs::remove_all(path);
    fs::create_directories(path);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  std::vector<std::string> entries() const {
    std::vector<std::string> out;
    for (const auto& e : fs::directory_iterator(path)) out.push_back(e.path().filename().string());
    std::sort(out.begin(), out.end());
    return out;
  }
};

// Every parameter, momentum value and the epoch are set from `version`, so that a checkpoint that
// mixed two saves would show.
void set_version(Net& net, Opt& opt, ctnn::io::TrainingState& state, std::uint64_t version) {
  const float v = static_cast<float>(version);
  for (const auto& p : net.parameters()) std::fill(p.value, p.value + p.size, v);
  for (const auto& b : opt.state(net.parameters())) std::fill(b.value, b.value + b.size, -v);
  opt.steps = version;
  state.epoch = version;
  state.step = version * 10;
}

// Loads `path` and returns the version it holds; fails the test unless it is one complete save.
std::uint64_t loaded_version(const std::string& path) {
  Net net(1, 99);
  Opt opt(0.1f, 0.9f);
  ctnn::io::TrainingState state;
  try {
    state = ctnn::io::load_checkpoint(path, net, opt);
  } catch (const ctnn::Error& e) {
    FAIL("the checkpoint does not load after a kill: " << e.what());
  }
  const float v = static_cast<float>(state.epoch);
  CHECK(state.step == state.epoch * 10);
  CHECK(opt.steps == state.epoch);
  for (const auto& p : net.parameters())
    REQUIRE_MESSAGE(std::all_of(p.value, p.value + p.size, [&](float x) { return x == v; }),
                    "parameter " << p.name << " is not all " << v);
  for (const auto& b : opt.state(net.parameters()))
    REQUIRE_MESSAGE(std::all_of(b.value, b.value + b.size, [&](float x) { return x == -v; }),
                    "optimizer state " << b.name << " is not all " << -v);
  return state.epoch;
}

std::size_t count_temporaries(const TempDir& dir) {
  const auto e = dir.entries();
  return static_cast<std::size_t>(
      std::count_if(e.begin(), e.end(), [](const std::string& n) { return n.find(".tmp.") != std::string::npos; }));
}

}  // namespace

TEST_CASE("reliability: SIGKILL at random moments during checkpoint saves never leaves a bad checkpoint") {
  TempDir dir("kill");
  const std::string path = (dir.path / "run.ckpt").string();
  Net net(1, 1);
  Opt opt(0.1f, 0.9f);
  ctnn::io::TrainingState state;
  set_version(net, opt, state, 1);
  ctnn::io::save_checkpoint(path, net, opt, state);

  std::mt19937_64 rng(20240607);
  std::uint64_t version = 1;
  int mid_save = 0;
  constexpr int kills = 50;
  for (int k = 0; k < kills; ++k) {
    int ready[2];
    REQUIRE(::pipe(ready) == 0);
    const std::uint64_t first = version + 1;
    const pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
      // The child: save versions first, first + 1, ... until killed; report after the first save.
      ::close(ready[0]);
      try {
        for (std::uint64_t v = first;; ++v) {
          set_version(net, opt, state, v);
          ctnn::io::save_checkpoint(path, net, opt, state);
          if (v == first) {
            const char c = 1;
            if (::write(ready[1], &c, 1) != 1) ::_exit(4);
            ::close(ready[1]);
          }
        }
      } catch (...) {
        ::_exit(5);
      }
    }
    ::close(ready[1]);
    char c = 0;
    const bool started = ::read(ready[0], &c, 1) == 1;
    ::close(ready[0]);
    // Kill it 1 us to 20 ms later (log-uniform), somewhere in a later save.
    const double delay_us = std::pow(10.0, std::uniform_real_distribution<double>(0.0, 4.3)(rng));
    std::this_thread::sleep_for(std::chrono::microseconds(static_cast<long long>(delay_us)));
    ::kill(pid, SIGKILL);
    int status = 0;
    REQUIRE(::waitpid(pid, &status, 0) == pid);
    CAPTURE(k);
    CAPTURE(delay_us);
    REQUIRE_MESSAGE(started, "the child failed before its first save (status " << status << ")");
    REQUIRE_MESSAGE((WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL),
                    "the child ended by itself (status " << status << ") instead of being killed");

    const std::uint64_t loaded = loaded_version(path);
    CHECK(loaded >= first);  // its first save completed, so the checkpoint is at least that new
    version = std::max(version, loaded);
    // At most the killed child's own temporary file: the stale ones of earlier kills were removed
    // by this child's first save.
    const std::size_t temporaries = count_temporaries(dir);
    CHECK(temporaries <= 1);
    if (temporaries == 1) {
      ++mid_save;
      CHECK(fs::exists(path + ".tmp." + std::to_string(pid)));
    }
  }
  MESSAGE(kills, " kills, ", mid_save, " inside a save (before its rename); the checkpoint reached version ", version);
  CHECK(mid_save > 0);  // otherwise the kills all fell between saves and the test proved little

  // The next successful save removes what the last kill left behind.
  set_version(net, opt, state, version + 1);
  ctnn::io::save_checkpoint(path, net, opt, state);
  CHECK(dir.entries() == std::vector<std::string>{"run.ckpt"});
  CHECK(loaded_version(path) == version + 1);
}

TEST_CASE("reliability: a save removes stale temporary files of dead writers only") {
  TempDir dir("stale");
  const std::string path = (dir.path / "run.ckpt").string();
  auto touch = [&](const std::string& name) { std::ofstream((dir.path / name).string()) << "partial"; };
  touch("run.ckpt.tmp.999999999");  // a dead writer's: removed
  touch("run.ckpt.tmp.12");         // idem
  touch("run.ckpt.tmp.keep");       // not a writer's name: kept
  touch("other.ckpt.tmp.4242");     // another checkpoint's: kept
  touch("run.ckpt.tmp.");           // no pid: kept
  // A live writer's file: locked by an open file description of this process (another save in
  // progress), so it must stay.
  const std::string live = (dir.path / "run.ckpt.tmp.77").string();
  const int fd = ::open(live.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  REQUIRE(fd >= 0);
  REQUIRE(::flock(fd, LOCK_EX) == 0);

  Net net(1, 1);
  net.save(path);
  CHECK(dir.entries() ==
        std::vector<std::string>{"other.ckpt.tmp.4242", "run.ckpt", "run.ckpt.tmp.", "run.ckpt.tmp.77", "run.ckpt.tmp.keep"});

  // Once the writer is gone (its lock released), the next save removes its file too.
  ::close(fd);
  net.save(path);
  CHECK(dir.entries() == std::vector<std::string>{"other.ckpt.tmp.4242", "run.ckpt", "run.ckpt.tmp.", "run.ckpt.tmp.keep"});
  Net back(1, 2);
  back.load(path);
}
