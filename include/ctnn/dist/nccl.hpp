#pragma once
// NCCL for ctnn::dist: a Communicator whose float operations sum and broadcast CUDA device memory
// GPU to GPU (dist::NcclCommunicator), for networks on ctnn::Cuda. MPI alone would copy every
// gradient bucket through host memory; NCCL reduces it where it is, over NVLink or the network.
//
//   int main(int argc, char** argv) {
//     ctnn::dist::Mpi mpi(argc, argv);
//     ctnn::dist::MpiCommunicator world;            // carries the host side (see below)
//     ctnn::dist::NcclCommunicator nccl(world);     // before any Cuda tensor: it picks the GPU
//     try { ... train with nccl ... } catch (const std::exception& e) {
//       std::fprintf(stderr, "%s\n", e.what());
//       nccl.abort(1);                             // stops the other processes too
//     }
//   }
//
// Compile with nvcc and link ctnn::nccl (ctnn::mpi, ctnn::cuda and libnccl). One GPU per process:
// the GPU is (rank among the processes on this machine) % (GPUs on it) unless the caller names one.
// The MPI communicator it is built over bootstraps it (rank 0's ncclUniqueId goes to all) and does
// everything on the host: sums of doubles (metrics, batch-norm statistics), broadcast_bytes,
// barrier.
//
// Sums and broadcasts are enqueued on the stream of ctnn's CUDA context, the one every ctnn kernel
// and copy runs on, so a bucket's sum runs after the backward kernels that wrote it and before the
// averaging that reads it, without the host waiting in between. wait() polls a CUDA event recorded
// after the operation together with NCCL's asynchronous error state. The NCCL communicator is
// non-blocking (ncclConfig_t::blocking = 0), so neither its creation nor an operation's connection
// setup holds the host while a peer is gone: past timeout(), or on an NCCL error, the NCCL
// communicator is aborted (which also ends its kernels, so the stream is not stuck) and ctnn::Error
// names the operation. After that the communicator only refuses; call abort().

#if !defined(__CUDACC__)
#error "ctnn/dist/nccl.hpp is for CUDA device memory: include it from a .cu file compiled by nvcc"
#endif

#include <nccl.h>

#include <chrono>
#include <cstddef>
#include <cstdlib>
#include <exception>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "../backend/cuda/check.hpp"
#include "../backend/cuda/context.hpp"
#include "../core/error.hpp"
#include "communicator.hpp"
#include "mpi.hpp"

namespace ctnn::dist {

// This process's place among the processes of `comm` that share its machine. Collective over comm
// (MPI_Comm_split_type).
struct LocalProcesses {
  int rank = 0;  // 0 .. size-1, in the order of the ranks of comm
  int size = 1;
};

inline LocalProcesses local_processes(const MpiCommunicator& comm) {
  auto check = [&](int rc, const char* call) {
    if (rc != MPI_SUCCESS)
      ctnn::detail::fail("ctnn::dist (MPI, rank ", comm.rank(), " of ", comm.size(), "): ", call,
                         " failed while finding the processes on this machine: ", detail::mpi_error_string(rc));
  };
  MPI_Comm node = MPI_COMM_NULL;
  check(MPI_Comm_split_type(comm.native(), MPI_COMM_TYPE_SHARED, comm.rank(), MPI_INFO_NULL, &node),
        "MPI_Comm_split_type");
  LocalProcesses out;
  const int r1 = MPI_Comm_rank(node, &out.rank);
  const int r2 = MPI_Comm_size(node, &out.size);
  MPI_Comm_free(&node);
  check(r1, "MPI_Comm_rank");
  check(r2, "MPI_Comm_size");
  return out;
}

class NcclCommunicator final : public Communicator {
public:
  // Collective over `bootstrap`, which must outlive this communicator. device < 0: the GPU is this
  // process's rank on its machine modulo the machine's GPUs; otherwise that GPU. Takes the
  // bootstrap's timeout. ctnn's CUDA context must not exist yet on another GPU (create this
  // communicator before any Cuda tensor or network).
  explicit NcclCommunicator(MpiCommunicator& bootstrap, int device = -1)
      : bootstrap_(bootstrap), rank_(bootstrap.rank()), size_(bootstrap.size()) {
    set_timeout(bootstrap.timeout());
    const LocalProcesses local = local_processes(bootstrap);
    ncclUniqueId id{};
    try {
      // Every process learns when one cannot start, instead of waiting for it in the broadcast.
      agree(bootstrap_, "choosing the GPUs for NCCL", [&] {
        const int gpus = cuda::device_count();
        if (gpus == 0) fail("no usable GPU (", cuda::no_device_reason(), ")");
        if (device < 0 && local.size > gpus)
          fail(local.size, " processes on this machine and ", gpus, gpus == 1 ? " GPU" : " GPUs",
               ": NCCL needs a GPU of its own for every process");
        device_ = device >= 0 ? device : local.rank % gpus;
        if (device_ >= gpus) fail("GPU ", device_, " was asked for; this machine has ", gpus);
        CTNN_CUDA_CHECK(cudaSetDevice(device_));
        cuda::Context& ctx = cuda::context();  // binds to the device set above when it is new
        if (ctx.device() != device_)
          fail("ctnn's CUDA context is on GPU ", ctx.device(), ", not on GPU ", device_,
               " which NCCL was to use: create the NcclCommunicator before any Cuda tensor or network, or pass ",
               ctx.device(), " as its device");
        stream_ = ctx.stream();
        slots_.resize(initial_slots);
        for (auto& s : slots_) create_event(s);
        if (rank_ == 0) check(ncclGetUniqueId(&id), "ncclGetUniqueId", "creating the communicator");
      });
      bootstrap_.broadcast_bytes(&id, sizeof id, 0, "the broadcast of the NCCL unique id");
      ncclConfig_t config = NCCL_CONFIG_INITIALIZER;
      config.blocking = 0;
      enqueued(ncclCommInitRankConfig(&comm_, size_, id, rank_, &config), "ncclCommInitRankConfig",
               "creating the communicator");
    } catch (...) {
      release(true);
      throw;
    }
  }
  NcclCommunicator(const NcclCommunicator&) = delete;
  NcclCommunicator& operator=(const NcclCommunicator&) = delete;
  // Flushes and frees the NCCL communicator (collective with the other processes' destructors);
  // during an exception, or when that does not finish within timeout(), it is aborted instead.
  ~NcclCommunicator() override { release(std::uncaught_exceptions() > 0); }

  int rank() const override { return rank_; }
  int size() const override { return size_; }
  std::string name() const override { return "NCCL"; }
  Memory memory() const override { return Memory::device; }
  ncclComm_t native() const { return comm_; }
  int device() const { return device_; }
  cudaStream_t stream() const { return stream_; }

  // Each call is one NCCL operation, so none is wrapped in ncclGroupStart/End (a group only
  // matters for several operations that must start together).
  Handle start_sum(float* data, std::size_t n, const char* what) override {
    usable(what);
    const Handle h = free_slot();
    enqueued(ncclAllReduce(data, data, n, ncclFloat, ncclSum, comm_, stream_), "ncclAllReduce", what);
    record(h, what);
    return h;
  }
  // NCCL progresses on its own; this only reports an asynchronous error early.
  void progress() override {
    if (!comm_) return;
    ncclResult_t state = ncclSuccess;
    check(ncclCommGetAsyncError(comm_, &state), "ncclCommGetAsyncError", "an operation in flight");
    if (state != ncclSuccess && state != ncclInProgress) failed(state, "an NCCL operation", "an operation in flight");
  }
  void wait(Handle h) override {
    Slot& s = slots_.at(h);
    if (!s.busy) return;
    finish(s);
  }

  void broadcast(float* data, std::size_t n, int root, const char* what) override {
    usable(what);
    const Handle h = free_slot();
    enqueued(ncclBroadcast(data, data, n, ncclFloat, root, comm_, stream_), "ncclBroadcast", what);
    record(h, what);
    finish(slots_[h]);
  }

  // Host memory: through the bootstrap communicator, with this communicator's timeout.
  void broadcast_bytes(void* data, std::size_t bytes, int root, const char* what) override {
    bootstrap_.set_timeout(timeout());
    bootstrap_.broadcast_bytes(data, bytes, root, what);
  }
  void sum(double* values, std::size_t n, const char* what) override {
    bootstrap_.set_timeout(timeout());
    bootstrap_.sum(values, n, what);
  }
  using Communicator::sum;
  void barrier(const char* what) override {
    bootstrap_.set_timeout(timeout());
    bootstrap_.barrier(what);
  }

  [[noreturn]] void abort(int code) override {
    abort_nccl();
    bootstrap_.abort(code);
  }

private:
  static constexpr std::size_t initial_slots = 8;  // more are created when that many are in flight

  struct Slot {
    cudaEvent_t event = nullptr;  // recorded on the stream after the operation
    bool busy = false;
    const char* what = "";
  };

  template <class... Args>
  [[noreturn]] void fail(Args&&... args) const {
    ctnn::detail::fail("ctnn::dist (NCCL, rank ", rank_, " of ", size_, "): ", std::forward<Args>(args)...);
  }
  // A failed call: the communicator cannot be trusted any more, so it is aborted (its kernels
  // stop and the stream moves on) before the error is thrown.
  [[noreturn]] void failed(ncclResult_t rc, const char* call, const char* what) {
    std::string reason = ncclGetErrorString(rc);
    const bool had = comm_ != nullptr;
    if (had) {
      const char* last = ncclGetLastError(comm_);
      if (last && *last) reason += ctnn::detail::cat(" (", last, ")");
    }
    abort_nccl();
    fail(call, " failed during ", what, ": ", reason, had ? "; the NCCL communicator has been aborted" : "");
  }
  void check(ncclResult_t rc, const char* call, const char* what) {
    if (rc != ncclSuccess) failed(rc, call, what);
  }
  void usable(const char* what) const {
    if (!comm_) fail(what, ": the NCCL communicator was aborted after an earlier error");
  }

  // A call on the non-blocking communicator returns ncclInProgress until its work is enqueued;
  // nothing else may be issued to NCCL or its stream before the state is ncclSuccess.
  void enqueued(ncclResult_t rc, const char* call, const char* what) {
    if (rc != ncclSuccess && rc != ncclInProgress) failed(rc, call, what);
    if (!comm_) fail(call, " during ", what, " returned no communicator");
    const auto start = std::chrono::steady_clock::now();
    for (;;) {
      ncclResult_t state = ncclSuccess;
      check(ncclCommGetAsyncError(comm_, &state), "ncclCommGetAsyncError", what);
      if (state == ncclSuccess) return;
      if (state != ncclInProgress) failed(state, call, what);
      if (past(start)) timed_out(what);
    }
  }

  void create_event(Slot& s) { CTNN_CUDA_CHECK(cudaEventCreateWithFlags(&s.event, cudaEventDisableTiming)); }

  Handle free_slot() {
    for (std::size_t h = 0; h < slots_.size(); ++h)
      if (!slots_[h].busy) return h;
    slots_.emplace_back();
    create_event(slots_.back());
    return slots_.size() - 1;
  }
  void record(Handle h, const char* what) {
    Slot& s = slots_[h];
    const cudaError_t e = cudaEventRecord(s.event, stream_);
    if (e != cudaSuccess) {
      (void)cudaGetLastError();
      abort_nccl();
      fail("cudaEventRecord after ", what, " failed: ", cudaGetErrorName(e), ": ", cudaGetErrorString(e),
           "; the NCCL communicator has been aborted");
    }
    s.busy = true;
    s.what = what;
  }

  // Polls until the slot's event has passed; past the deadline, or on an error, the NCCL
  // communicator is aborted and the run cannot go on.
  void finish(Slot& s) {
    const auto start = std::chrono::steady_clock::now();
    for (;;) {
      if (!comm_) {  // aborted meanwhile: the event may have passed, but not with a valid sum
        s.busy = false;
        fail(s.what, ": the NCCL communicator was aborted after an earlier error");
      }
      const cudaError_t e = cudaEventQuery(s.event);
      if (e == cudaSuccess) {
        s.busy = false;
        return;
      }
      if (e != cudaErrorNotReady) {
        (void)cudaGetLastError();
        s.busy = false;
        abort_nccl();
        fail(s.what, ": cudaEventQuery failed: ", cudaGetErrorName(e), ": ", cudaGetErrorString(e),
             "; the NCCL communicator has been aborted");
      }
      ncclResult_t state = ncclSuccess;
      const ncclResult_t rc = ncclCommGetAsyncError(comm_, &state);
      if (rc != ncclSuccess || (state != ncclSuccess && state != ncclInProgress)) {
        s.busy = false;
        if (rc != ncclSuccess) failed(rc, "ncclCommGetAsyncError", s.what);
        failed(state, "an NCCL operation", s.what);
      }
      if (past(start)) {
        s.busy = false;
        timed_out(s.what);
      }
    }
  }

  // Whether `start` is longer ago than timeout(); yields the processor after the first millisecond.
  bool past(std::chrono::steady_clock::time_point start) const {
    const auto waited = std::chrono::steady_clock::now() - start;
    if (waited > timeout()) return true;
    if (waited > std::chrono::milliseconds(1)) std::this_thread::yield();
    return false;
  }
  [[noreturn]] void timed_out(const char* what) {
    abort_nccl();
    fail(what, " did not complete within ", timeout().count() / 1000.0,
         " s: another process has died, hangs, or is at another step of the program; the NCCL communicator has "
         "been aborted");
  }

  void abort_nccl() noexcept {
    if (!comm_) return;
    (void)ncclCommAbort(comm_);
    comm_ = nullptr;
  }

  // Frees the NCCL communicator (aborted when `abort`, or when flushing it fails or times out) and
  // the events. Never throws.
  void release(bool abort) noexcept {
    if (comm_ && !abort) {
      const ncclResult_t rc = ncclCommFinalize(comm_);  // ncclInProgress while it flushes
      bool clean = rc == ncclSuccess || rc == ncclInProgress;
      const auto start = std::chrono::steady_clock::now();
      while (clean) {
        ncclResult_t state = ncclInProgress;
        if (ncclCommGetAsyncError(comm_, &state) != ncclSuccess) clean = false;
        else if (state == ncclSuccess) break;
        else if (state != ncclInProgress || past(start)) clean = false;
      }
      if (clean) {
        (void)ncclCommDestroy(comm_);
        comm_ = nullptr;
      }
    }
    abort_nccl();
    for (auto& s : slots_)
      if (s.event && cudaEventDestroy(s.event) != cudaSuccess) (void)cudaGetLastError();
    slots_.clear();
  }

  MpiCommunicator& bootstrap_;
  int rank_ = 0, size_ = 1;
  int device_ = -1;
  ncclComm_t comm_ = nullptr;   // nullptr before creation and after an abort
  cudaStream_t stream_ = nullptr;  // ctnn's CUDA stream (backend/cuda/context.hpp)
  std::vector<Slot> slots_;     // an event per started operation; busy until its wait
};

}  // namespace ctnn::dist
