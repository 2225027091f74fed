// Exact resume on the CPU: 2k training steps equal k steps, a checkpoint, a load into a fresh
// network and optimizer (different initialisation, different generator state), and k more steps,
// bit for bit: parameters, batch-norm buffers, optimizer state and step count. Once in the same
// process, once with the second half in a fresh process (this binary re-executed through
// /proc/self/exe with CTNN_IO_RESUME_CHILD naming the directory to work in).

#include "fixture.hpp"

#include <spawn.h>
#include <sys/wait.h>

#include <cstdlib>
#include <cstring>

extern char** environ;

using namespace io_test;
namespace io = ctnn::io;

namespace {

constexpr int k = 20;
constexpr std::uint64_t init_seed = 1;
constexpr std::uint64_t data_seed = 100;
constexpr const char* child_variable = "CTNN_IO_RESUME_CHILD";
constexpr const char* fresh_process_test = "io: exact resume in a fresh process";

template <class Opt>
void train(Net& net, Opt& opt, ctnn::Rng& data, int steps) {
  Trainer<Net, Opt> t(net, opt, data);
  for (int i = 0; i < steps; ++i) t.step();
}

// The uninterrupted run: 2k steps.
struct Reference {
  Net net{batch, init_seed};
  SGD opt = make_sgd();
  ctnn::Rng data{data_seed};
  Reference() { train(net, opt, data, 2 * k); }
};

// The first k steps, saved to `path`.
void first_half(const std::string& path) {
  Net net(batch, init_seed);
  SGD opt = make_sgd();
  ctnn::Rng data(data_seed);
  train(net, opt, data, k);
  io::TrainingState state;
  state.epoch = 1;
  state.step = k;
  state.rng = data.state();
  state.metrics["best_accuracy"] = 0.25;
  io::save_checkpoint(path, net, opt, state);
}

// The last k steps in a fresh network and optimizer, from the checkpoint at `from`, saved to `to`.
void second_half(const std::string& from, const std::string& to) {
  Net net(batch, init_seed + 1);
  SGD opt = make_sgd();
  ctnn::Rng data(data_seed + 1);
  io::TrainingState state = io::load_checkpoint(from, net, opt);
  REQUIRE(state.step == k);
  data.set_state(state.rng);
  train(net, opt, data, k);
  state.step += k;
  state.rng = data.state();
  io::save_checkpoint(to, net, opt, state);
}

}  // namespace

TEST_CASE("io: exact resume in the same process") {
  TempDir dir("resume");
  Reference ref;
  first_half(dir.file("half.ckpt"));

  Net net(batch, init_seed + 1);
  SGD opt = make_sgd();
  ctnn::Rng data(data_seed + 1);
  CHECK_FALSE(identical(snapshot(ref.net, ref.opt), snapshot(net, opt)));
  const io::TrainingState state = io::load_checkpoint(dir.file("half.ckpt"), net, opt);
  CHECK(state.epoch == 1);
  CHECK(state.metrics.at("best_accuracy") == 0.25);
  data.set_state(state.rng);
  train(net, opt, data, k);

  check_identical(snapshot(ref.net, ref.opt), snapshot(net, opt));
  CHECK(opt.steps == 2 * k);
  CHECK(data.state().s == ref.data.state().s);

  // The comparison can fail: a run that skips restoring the generator ends elsewhere.
  Net other(batch, init_seed + 1);
  SGD other_opt = make_sgd();
  ctnn::Rng other_data(data_seed + 1);
  io::load_checkpoint(dir.file("half.ckpt"), other, other_opt);
  train(other, other_opt, other_data, k);
  CHECK_FALSE(identical(snapshot(ref.net, ref.opt), snapshot(other, other_opt)));
}

TEST_CASE(fresh_process_test) {
  if (const char* child_dir = std::getenv(child_variable)) {
    const std::filesystem::path d(child_dir);
    second_half((d / "half.ckpt").string(), (d / "final.ckpt").string());
    return;
  }

  TempDir dir("resume_process");
  first_half(dir.file("half.ckpt"));

  // Re-execute this binary, running only this test case, in child mode.
  std::vector<std::string> env_strings;
  for (char** e = environ; *e; ++e)
    if (std::strncmp(*e, child_variable, std::strlen(child_variable)) != 0 ||
        (*e)[std::strlen(child_variable)] != '=')
      env_strings.emplace_back(*e);
  env_strings.push_back(std::string(child_variable) + "=" + dir.path.string());
  std::vector<char*> envp;
  for (auto& s : env_strings) envp.push_back(s.data());
  envp.push_back(nullptr);
  std::string exe = "/proc/self/exe";
  std::string filter = std::string("--test-case=") + fresh_process_test;
  std::string quiet = "--minimal=true";
  std::vector<char*> argv{exe.data(), filter.data(), quiet.data(), nullptr};
  pid_t pid = 0;
  REQUIRE(::posix_spawn(&pid, exe.c_str(), nullptr, nullptr, argv.data(), envp.data()) == 0);

  // Meanwhile, the uninterrupted run.
  Reference ref;

  int status = 0;
  REQUIRE(::waitpid(pid, &status, 0) == pid);
  REQUIRE(WIFEXITED(status));
  REQUIRE(WEXITSTATUS(status) == 0);

  Net net(batch, init_seed + 2);
  SGD opt = make_sgd();
  const io::TrainingState state = io::load_checkpoint(dir.file("final.ckpt"), net, opt);
  check_identical(snapshot(ref.net, ref.opt), snapshot(net, opt));
  CHECK(opt.steps == 2 * k);
  CHECK(state.step == 2 * k);
  CHECK(state.epoch == 1);
  CHECK(state.rng.s == ref.data.state().s);
}
