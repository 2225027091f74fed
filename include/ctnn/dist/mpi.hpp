#pragma once
// MPI for ctnn::dist: the library's lifetime in a program (dist::Mpi) and a Communicator over an
// MPI communicator (dist::MpiCommunicator), for processes whose tensors are in host memory.
//
//   int main(int argc, char** argv) {
//     ctnn::dist::Mpi mpi(argc, argv);            // MPI_Init_thread ... MPI_Finalize
//     ctnn::dist::MpiCommunicator world;          // a duplicate of MPI_COMM_WORLD
//     try { ... train with world ... } catch (const std::exception& e) {
//       std::fprintf(stderr, "%s\n", e.what());
//       world.abort(1);                          // stops the other processes too
//     }
//   }
//
// Link with MPI (CMake: the ctnn::mpi target). Every collective is started non-blocking and then
// polled, so a wait that exceeds the communicator's timeout() becomes a ctnn::Error instead of a
// hang. Only the thread that created the communicator calls MPI (MPI_THREAD_FUNNELED).

#include <mpi.h>

#include <algorithm>
#include <chrono>
#include <climits>
#include <cstddef>
#include <cstdlib>
#include <exception>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "../core/error.hpp"
#include "communicator.hpp"

namespace ctnn::dist {

namespace detail {

inline std::string mpi_error_string(int code) {
  char text[MPI_MAX_ERROR_STRING];
  int length = 0;
  if (MPI_Error_string(code, text, &length) != MPI_SUCCESS) return "MPI error " + std::to_string(code);
  return std::string(text, static_cast<std::size_t>(length));
}

}  // namespace detail

// MPI's lifetime: initialises MPI (unless something else has) and finalises it at the end. When the
// scope is left by an exception, MPI_Finalize would wait for processes that are still training:
// the destructor aborts the whole run instead.
class Mpi {
public:
  Mpi(int& argc, char**& argv) {
    int initialised = 0;
    MPI_Initialized(&initialised);
    if (initialised) return;
    int provided = 0;
    const int rc = MPI_Init_thread(&argc, &argv, MPI_THREAD_FUNNELED, &provided);
    if (rc != MPI_SUCCESS) ctnn::detail::fail("ctnn::dist::Mpi: MPI_Init_thread failed: ", detail::mpi_error_string(rc));
    owner_ = true;
  }
  Mpi(const Mpi&) = delete;
  Mpi& operator=(const Mpi&) = delete;
  ~Mpi() {
    if (!owner_) return;
    int finalised = 0;
    MPI_Finalized(&finalised);
    if (finalised) return;
    if (std::uncaught_exceptions() > 0) MPI_Abort(MPI_COMM_WORLD, 1);
    MPI_Finalize();
  }

  // Whether this process was started by an MPI launcher (mpirun, mpiexec, srun), read from the
  // environment before MPI is initialised.
  static bool launched() {
    for (const char* v : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_RANK", "MPI_LOCALNRANKS"})
      if (std::getenv(v)) return true;
    return false;
  }
  // Processes of the run on this machine, as the launcher says (1 when it does not).
  static int local_size() {
    for (const char* v : {"OMPI_COMM_WORLD_LOCAL_SIZE", "MPI_LOCALNRANKS", "MV2_COMM_WORLD_LOCAL_SIZE"})
      if (const char* s = std::getenv(v)) return std::max(1, std::atoi(s));
    return 1;
  }

private:
  bool owner_ = false;
};

class MpiCommunicator final : public Communicator {
public:
  // A duplicate of `base`, with errors returned (and turned into ctnn::Error) rather than fatal.
  explicit MpiCommunicator(MPI_Comm base = MPI_COMM_WORLD) {
    int initialised = 0;
    MPI_Initialized(&initialised);
    if (!initialised) ctnn::detail::fail("ctnn::dist::MpiCommunicator: MPI is not initialised (create a ctnn::dist::Mpi first)");
    check(MPI_Comm_dup(base, &comm_), "MPI_Comm_dup", "creating the communicator");
    check(MPI_Comm_set_errhandler(comm_, MPI_ERRORS_RETURN), "MPI_Comm_set_errhandler", "creating the communicator");
    check(MPI_Comm_rank(comm_, &rank_), "MPI_Comm_rank", "creating the communicator");
    check(MPI_Comm_size(comm_, &size_), "MPI_Comm_size", "creating the communicator");
  }
  MpiCommunicator(const MpiCommunicator&) = delete;
  MpiCommunicator& operator=(const MpiCommunicator&) = delete;
  ~MpiCommunicator() override {
    int finalised = 0;
    MPI_Finalized(&finalised);
    if (!finalised && comm_ != MPI_COMM_NULL) MPI_Comm_free(&comm_);
  }

  int rank() const override { return rank_; }
  int size() const override { return size_; }
  std::string name() const override { return "MPI"; }
  Memory memory() const override { return Memory::host; }
  MPI_Comm native() const { return comm_; }

  Handle start_sum(float* data, std::size_t n, const char* what) override {
    const Handle h = free_slot(what);
    check(MPI_Iallreduce(MPI_IN_PLACE, data, count(n, what), MPI_FLOAT, MPI_SUM, comm_, &requests_[h]), "MPI_Iallreduce",
          what);
    return h;
  }
  void progress() override {
    for (std::size_t h = 0; h < requests_.size(); ++h)
      if (requests_[h] != MPI_REQUEST_NULL) {
        int done = 0;
        check(MPI_Test(&requests_[h], &done, MPI_STATUS_IGNORE), "MPI_Test", whats_[h]);
      }
  }
  void wait(Handle h) override { finish(requests_.at(h), whats_.at(h)); }

  void broadcast(float* data, std::size_t n, int root, const char* what) override {
    MPI_Request r = MPI_REQUEST_NULL;
    check(MPI_Ibcast(data, count(n, what), MPI_FLOAT, root, comm_, &r), "MPI_Ibcast", what);
    finish(r, what);
  }
  void broadcast_bytes(void* data, std::size_t bytes, int root, const char* what) override {
    MPI_Request r = MPI_REQUEST_NULL;
    check(MPI_Ibcast(data, count(bytes, what), MPI_BYTE, root, comm_, &r), "MPI_Ibcast", what);
    finish(r, what);
  }
  void sum(double* values, std::size_t n, const char* what) override {
    MPI_Request r = MPI_REQUEST_NULL;
    check(MPI_Iallreduce(MPI_IN_PLACE, values, count(n, what), MPI_DOUBLE, MPI_SUM, comm_, &r), "MPI_Iallreduce", what);
    finish(r, what);
  }
  using Communicator::sum;
  void barrier(const char* what) override {
    MPI_Request r = MPI_REQUEST_NULL;
    check(MPI_Ibarrier(comm_, &r), "MPI_Ibarrier", what);
    finish(r, what);
  }

  [[noreturn]] void abort(int code) override {
    MPI_Abort(comm_ != MPI_COMM_NULL ? comm_ : MPI_COMM_WORLD, code);
    std::_Exit(code);  // MPI_Abort does not return; this is for an MPI that does
  }

private:
  template <class... Args>
  [[noreturn]] void fail(Args&&... args) const {
    ctnn::detail::fail("ctnn::dist (MPI, rank ", rank_, " of ", size_, "): ", std::forward<Args>(args)...);
  }
  void check(int rc, const char* call, const char* what) const {
    if (rc != MPI_SUCCESS) fail(call, " failed during ", what, ": ", detail::mpi_error_string(rc));
  }
  int count(std::size_t n, const char* what) const {
    if (n > std::size_t(INT_MAX)) fail(what, ": ", n, " elements exceed MPI's count limit of ", INT_MAX);
    return static_cast<int>(n);
  }
  Handle free_slot(const char* what) {
    for (std::size_t h = 0; h < requests_.size(); ++h)
      if (requests_[h] == MPI_REQUEST_NULL) {
        whats_[h] = what;
        return h;
      }
    requests_.push_back(MPI_REQUEST_NULL);
    whats_.push_back(what);
    return requests_.size() - 1;
  }
  // Polls until done; past the deadline the run cannot go on (the other side is gone or elsewhere).
  void finish(MPI_Request& r, const char* what) {
    const auto start = std::chrono::steady_clock::now();
    for (;;) {
      int done = 0;
      check(MPI_Test(&r, &done, MPI_STATUS_IGNORE), "MPI_Test", what);
      if (done) return;
      const auto waited = std::chrono::steady_clock::now() - start;
      if (waited > timeout())
        fail(what, " did not complete within ",
             std::chrono::duration_cast<std::chrono::milliseconds>(timeout()).count() / 1000.0,
             " s: another process has died, hangs, or is at another step of the program");
      if (waited > std::chrono::milliseconds(1)) std::this_thread::yield();
    }
  }

  MPI_Comm comm_ = MPI_COMM_NULL;
  int rank_ = 0, size_ = 1;
  std::vector<MPI_Request> requests_;  // slot per started sum; MPI_REQUEST_NULL: free
  std::vector<const char*> whats_;
};

}  // namespace ctnn::dist
