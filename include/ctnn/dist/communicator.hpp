#pragma once
// ctnn::dist::Communicator: the collective operations data-parallel training needs, over an
// existing engine (dist/mpi.hpp: MPI for processes on CPUs; dist/nccl.hpp: NCCL for GPUs). This
// header has no engine in it: the training loop and DataParallel are written against it alone.
//
// Every operation is collective: all processes of the communicator call it, in the same order,
// with the same sizes. Nothing waits forever: an operation that has not completed within
// timeout() (a process died, hangs, or took another path) throws ctnn::Error naming the operation,
// and a program that catches it calls abort() so that every process stops.

#include <chrono>
#include <cstddef>
#include <cstdlib>
#include <exception>
#include <string>

#include "../core/error.hpp"

#include "../core/parameter.hpp"

namespace ctnn::dist {

// Where the float buffers of gradient reductions and broadcasts live.
enum class Memory { host, device };

class Communicator : public CrossReplicaSum {
public:
  using Handle = std::size_t;

  virtual ~Communicator() = default;

  virtual int rank() const = 0;
  virtual int size() const = 0;
  virtual std::string name() const = 0;  // "MPI", "NCCL", "local"
  virtual Memory memory() const = 0;     // of the float operations below

  // Starts summing n floats in place over all processes; returns a handle for wait(). The buffer
  // must stay untouched until wait() returns.
  virtual Handle start_sum(float* data, std::size_t n, const char* what) = 0;
  // Lets started operations advance (engines that progress only inside their calls need it).
  virtual void progress() {}
  // Waits for a started operation; throws ctnn::Error after timeout().
  virtual void wait(Handle h) = 0;

  // n floats (in memory()) from `root` to every process.
  virtual void broadcast(float* data, std::size_t n, int root, const char* what) = 0;
  // Host bytes from `root` to every process.
  virtual void broadcast_bytes(void* data, std::size_t bytes, int root, const char* what) = 0;
  // Sums host doubles in place over all processes (metrics, batch-norm statistics).
  virtual void sum(double* values, std::size_t n, const char* what) = 0;
  void sum(double* values, std::size_t n) override { sum(values, n, "batch-norm statistics"); }
  virtual void barrier(const char* what) = 0;

  // Stops every process of the run (after an error on this one); does not return.
  [[noreturn]] virtual void abort(int code) = 0;

  std::chrono::milliseconds timeout() const { return timeout_; }
  void set_timeout(std::chrono::milliseconds t) { timeout_ = t; }

  bool is_root() const { return rank() == 0; }

private:
  std::chrono::milliseconds timeout_{std::chrono::minutes(5)};
};

// One process alone: every collective is the identity. What fit() uses without a communicator,
// and a reference for tests.
class Local final : public Communicator {
public:
  int rank() const override { return 0; }
  int size() const override { return 1; }
  std::string name() const override { return "local"; }
  Memory memory() const override { return Memory::host; }
  Handle start_sum(float*, std::size_t, const char*) override { return 0; }
  void wait(Handle) override {}
  void broadcast(float*, std::size_t, int, const char*) override {}
  void broadcast_bytes(void*, std::size_t, int, const char*) override {}
  void sum(double*, std::size_t, const char*) override {}
  using Communicator::sum;
  void barrier(const char*) override {}
  [[noreturn]] void abort(int code) override { std::exit(code); }
};

// Runs fn on every process. When it throws on any of them, it throws on all: this process's own
// error where it failed, elsewhere one that says how many others failed. No process is then left
// waiting in a collective for one that has gone another way.
template <class F>
void agree(Communicator& comm, const char* what, F&& fn) {
  if (comm.size() == 1) {
    fn();
    return;
  }
  std::exception_ptr error;
  try {
    fn();
  } catch (...) {
    error = std::current_exception();
  }
  double failed = error ? 1.0 : 0.0;
  comm.sum(&failed, 1, what);
  if (error) std::rethrow_exception(error);
  if (failed > 0)
    ctnn::detail::fail("ctnn::dist (rank ", comm.rank(), " of ", comm.size(), "): ", what, " failed on ", failed,
                       failed == 1 ? " other process" : " other processes", " (its error is in its output); stopping");
}

// Loader options (data::LoaderOptions) for this process's share of every batch.
template <class Options>
Options shard(Options options, const Communicator& comm) {
  options.rank = static_cast<std::size_t>(comm.rank());
  options.ranks = static_cast<std::size_t>(comm.size());
  return options;
}

}  // namespace ctnn::dist

