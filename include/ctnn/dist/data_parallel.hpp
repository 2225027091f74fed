#pragma once
// ctnn::dist::DataParallel: data-parallel training over a Communicator, with the semantics of
// PyTorch's DistributedDataParallel. Every process holds the whole network and trains on its own
// share of each global batch; after backward every process holds the gradient averaged over all
// of them, so the same update keeps the parameters identical everywhere.
//
//   dist::DataParallel dp(net, comm);   // also: broadcasts parameters and buffers from rank 0
//   ... net.forward, loss, net.zero_grad(), net.backward(grad) ...
//   dp.finish();                        // the averaged gradients are in place
//   optimizer.step(net.parameters());
//
// The parameters are grouped into buckets of about `bucket_bytes`, in reverse order (the order in
// which backward finishes them). The network's gradient hook tells DataParallel when a layer's
// gradients are final; once all of a bucket's are, its sum is started, while backward goes on with
// the layers below. A Network keeps every gradient in one buffer, the last parameter first, so a
// bucket is summed and averaged where it is (a network without one gets a copy per bucket).
// Buckets start in the same order on every process (MPI and NCCL need collectives in one order).
// finish() waits for them and writes the averages back. Nothing is allocated per step.
//
// Batch-norm statistics are each process's own unless the network's batch norm is synchronised
// (Network::synchronize_batch_norm(&comm)), as with PyTorch's SyncBatchNorm.

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "../core/device.hpp"
#include "../core/error.hpp"
#include "../core/parameter.hpp"
#include "../core/transfer.hpp"
#include "../expr/evaluator.hpp"
#include "../expr/nodes.hpp"
#include "communicator.hpp"

namespace ctnn::dist {

struct DataParallelOptions {
  std::size_t bucket_bytes = std::size_t{25} << 20;  // a bucket closes once it holds this much
  bool overlap = true;        // false: every bucket is reduced after backward (to measure the overlap)
  bool broadcast = true;      // broadcast parameters and buffers from rank 0 on construction
};

// Sends rank 0's values of these tensors to every process.
template <class D, class List>
void broadcast_from_root(Communicator& comm, const List& tensors, const char* what) {
  std::vector<float> staging;
  for (const auto& t : tensors) {
    if (t.size == 0) continue;
    if (comm.memory() == Memory::device || D::host_accessible) {
      comm.broadcast(t.value, t.size, 0, what);
    } else {  // a host communicator and device tensors: through the host
      staging.resize(t.size);
      D::download(staging.data(), t.value, t.size * sizeof(float));
      comm.broadcast(staging.data(), t.size, 0, what);
      D::upload(t.value, staging.data(), t.size * sizeof(float));
    }
  }
}

// Whether these tensors hold the same bytes on every process (a 64-bit hash of each process's
// values, compared with rank 0's). Collective.
template <class D, class List>
bool identical_everywhere(Communicator& comm, const List& tensors) {
  std::uint64_t h = 1469598103934665603ull;  // FNV-1a over the bytes
  std::vector<float> staging;
  for (const auto& t : tensors) {
    const float* v = host_view<D>(t.value, t.size, staging);
    const auto* bytes = reinterpret_cast<const unsigned char*>(v);
    for (std::size_t i = 0; i < t.size * sizeof(float); ++i) h = (h ^ bytes[i]) * 1099511628211ull;
  }
  std::uint64_t root = h;
  comm.broadcast_bytes(&root, sizeof root, 0, "comparing parameters");
  double differ = root == h ? 0.0 : 1.0;
  comm.sum(&differ, 1, "comparing parameters");
  return differ == 0.0;
}

template <class Net>
class DataParallel final : public GradientHook {
public:
  using device = typename Net::device;

  struct BucketInfo {
    std::size_t first = 0, last = 0;  // parameters [first, last) of net.parameters()
    std::size_t floats = 0;
  };

  DataParallel(Net& net, Communicator& comm, DataParallelOptions options = {})
      : net_(net), comm_(comm), opt_(options), previous_(net.gradient_hook()) {
    if (comm.memory() == Memory::host && !device::host_accessible)
      ctnn::detail::fail("ctnn::dist::DataParallel: the ", comm.name(), " communicator reduces host memory but the network is on ",
                         device::name, ": use a communicator for device memory (dist/nccl.hpp)");
    if (opt_.bucket_bytes == 0) ctnn::detail::fail("ctnn::dist::DataParallel: bucket_bytes is 0; expected at least one byte");
    const auto params = net.parameters();
    ready_.assign(params.size(), 0);
    bucket_of_.assign(params.size(), 0);
    // Reverse order: the last parameters' gradients are final first.
    std::size_t last = params.size();
    while (last > 0) {
      Bucket b;
      b.last = last;
      std::size_t bytes = 0;
      std::size_t first = last;
      while (first > 0 && (bytes == 0 || bytes < opt_.bucket_bytes)) {
        --first;
        bytes += params[first].size * sizeof(float);
      }
      b.first = first;
      for (std::size_t i = first; i < last; ++i) {
        bucket_of_[i] = buckets_.size();
        b.floats += params[i].size;
      }
      b.pending = last - first;
      if (!in_place(b, net))
        b.data = b.own = static_cast<float*>(device::allocate(b.floats * sizeof(float), "ctnn::dist::DataParallel bucket"));
      buckets_.push_back(b);
      last = first;
    }
    if (opt_.broadcast) broadcast_state();
    net.set_gradient_hook(this);
  }
  DataParallel(const DataParallel&) = delete;
  DataParallel& operator=(const DataParallel&) = delete;
  ~DataParallel() {
    net_.set_gradient_hook(previous_);
    for (auto& b : buckets_)
      if (b.own) device::deallocate(b.own);
  }

  // Parameters and buffers (batch-norm statistics) from rank 0 to every process.
  void broadcast_state() {
    broadcast_from_root<device>(comm_, net_.parameters(), "the broadcast of the parameters");
    broadcast_from_root<device>(comm_, net_.buffers(), "the broadcast of the buffers");
  }

  // Called by the network during backward.
  void gradients_ready(std::size_t first, std::size_t last) override {
    if (previous_) previous_->gradients_ready(first, last);  // a hook set before this one still hears
    for (std::size_t i = first; i < last; ++i)
      if (!ready_[i]) {
        ready_[i] = 1;
        --buckets_[bucket_of_[i]].pending;
      }
    if (!opt_.overlap) return;
    while (next_ < buckets_.size() && buckets_[next_].pending == 0) start(next_++);
    comm_.progress();
  }

  // Waits for every bucket and writes the averaged gradients into the parameters' gradients.
  // Call once after each backward, before the optimizer's step.
  void finish() {
    const auto t0 = std::chrono::steady_clock::now();
    const auto params = net_.parameters();
    for (std::size_t b = next_; b < buckets_.size(); ++b) {
      if (buckets_[b].pending != 0)
        ctnn::detail::fail("ctnn::dist::DataParallel::finish: backward has not finished the gradients of parameter '",
                           params[first_pending(b)].name, "' (call finish() after net.backward())");
    }
    while (next_ < buckets_.size()) start(next_++);
    const float scale = 1.f / float(comm_.size());
    std::chrono::steady_clock::duration averaging{};
    for (auto& b : buckets_) {
      comm_.wait(b.handle);
      const auto a0 = std::chrono::steady_clock::now();
      struct Timed {  // the averaging's share of finish(), for last_average_seconds()
        std::chrono::steady_clock::duration& total;
        std::chrono::steady_clock::time_point start;
        ~Timed() { total += std::chrono::steady_clock::now() - start; }
      } timed{averaging, a0};
      if (!b.own) {  // the sum is in the gradients themselves
        const expr::TensorLeaf<float> sum{{}, b.data};
        expr::assign_flat<device>(b.data, b.span, expr::scalar(scale) * sum);
        continue;
      }
      std::size_t offset = 0;
      for (std::size_t i = b.first; i < b.last; ++i) {
        const expr::TensorLeaf<float> sum{{}, b.data + offset};
        expr::assign_flat<device>(params[i].grad, params[i].size, expr::scalar(scale) * sum);
        offset += params[i].size;
      }
    }
    reset();
    last_wait_ = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    last_average_ = std::chrono::duration<double>(averaging).count();
  }

  // Forgets a backward that did not reach finish() (it threw, or the step was skipped).
  void reset() {
    std::fill(ready_.begin(), ready_.end(), char{0});
    for (auto& b : buckets_) b.pending = b.last - b.first;
    next_ = 0;
  }

  std::vector<BucketInfo> buckets() const {
    std::vector<BucketInfo> out;
    for (const auto& b : buckets_) out.push_back({b.first, b.last, b.floats});
    return out;
  }
  // Seconds the last finish() took: the communication backward did not hide, and the averaging.
  double last_wait_seconds() const { return last_wait_; }
  // ... of which the averaging pass (host time: on a GPU, the time to enqueue it).
  double last_average_seconds() const { return last_average_; }
  // When bucket b's sum was last started (a benchmark's timeline of backward).
  std::chrono::steady_clock::time_point started_at(std::size_t b) const { return buckets_.at(b).started_at; }
  Communicator& communicator() { return comm_; }

private:
  struct Bucket : BucketInfo {
    std::size_t pending = 0;  // parameters whose gradients are not final yet
    float* data = nullptr;    // what is summed: the gradients themselves, or `own`
    float* own = nullptr;     // a buffer of the bucket's own, when its gradients are not contiguous
    std::size_t span = 0;     // floats summed in place (the gradients and the padding between them)
    Communicator::Handle handle = 0;
    std::chrono::steady_clock::time_point started_at{};
  };

  // A network that keeps its gradients in one buffer (Network::gradient_buffer, the last parameter
  // first) lets a bucket be summed where it is: one range of that buffer that no other parameter's
  // gradient overlaps.
  static bool in_place(Bucket& b, Net& net) {
    if constexpr (requires { net.gradient_buffer(); }) {
      const std::span<float> all = net.gradient_buffer();
      const auto params = net.parameters();
      float* lo = params[b.last - 1].grad;
      float* hi = params[b.first].grad + params[b.first].size;
      auto inside = [&](const float* p, std::size_t n) { return p >= all.data() && p + n <= all.data() + all.size(); };
      if (all.empty() || lo >= hi || !inside(lo, std::size_t(hi - lo))) return false;
      for (std::size_t i = 0; i < params.size(); ++i) {
        const bool overlaps = params[i].grad < hi && params[i].grad + params[i].size > lo;
        const bool mine = i >= b.first && i < b.last;
        if (overlaps != mine) return false;
      }
      b.data = lo;
      b.span = std::size_t(hi - lo);
      return true;
    } else {
      return false;
    }
  }

  void start(std::size_t b) {
    Bucket& k = buckets_[b];
    std::size_t n = k.span;
    if (k.own) {
      const auto params = net_.parameters();
      std::size_t offset = 0;
      for (std::size_t i = k.first; i < k.last; ++i) {
        device::copy(k.data + offset, params[i].grad, params[i].size * sizeof(float));
        offset += params[i].size;
      }
      n = k.floats;
    }
    k.started_at = std::chrono::steady_clock::now();
    k.handle = comm_.start_sum(k.data, n, "the sum of a gradient bucket");
  }

  std::size_t first_pending(std::size_t b) const {
    for (std::size_t i = buckets_[b].first; i < buckets_[b].last; ++i)
      if (!ready_[i]) return i;
    return buckets_[b].first;
  }

  Net& net_;
  Communicator& comm_;
  DataParallelOptions opt_;
  GradientHook* previous_;
  std::vector<Bucket> buckets_;
  std::vector<char> ready_;
  std::vector<std::size_t> bucket_of_;
  std::size_t next_ = 0;  // the next bucket to start
  double last_wait_ = 0, last_average_ = 0;
};

}  // namespace ctnn::dist
