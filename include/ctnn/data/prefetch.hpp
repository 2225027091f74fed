#pragma once
// Prefetcher<Producer>: prepares the batches of an epoch, in order, into two slots, on a worker
// thread while the caller works on the previous batch (or in the caller's thread, background =
// false). The producer fills a slot: producer.fill(slot, epoch, batch), which may throw; an
// exception is rethrown by the next() that asks for that batch (and the worker waits until the
// following next() or restart() before it tries that batch again).
//
//   restart(epoch, first, count, reset)  stops, runs reset() while no batch is being prepared (the
//                                        producer may change what fill reads), then prepares
//                                        batches first .. count - 1 of `epoch`
//   next()                               the next batch's slot, nullptr after the last one; the
//                                        slot stays valid until the next call to next() or restart()
//
// Nothing is allocated after construction; a mutex and a condition variable hand the slots over.

#include <array>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <mutex>
#include <thread>

namespace ctnn::data::detail {

template <class Producer>
class Prefetcher {
public:
  using slot_type = typename Producer::slot_type;

  Prefetcher(const Producer& producer, std::array<slot_type, 2>& slots, bool background)
      : producer_(producer), slots_(slots), background_(background) {
    if (background_) worker_ = std::thread([this] { work(); });
  }
  Prefetcher(const Prefetcher&) = delete;
  Prefetcher& operator=(const Prefetcher&) = delete;

  ~Prefetcher() {
    if (worker_.joinable()) {
      {
        std::lock_guard lk(m_);
        stop_ = true;
      }
      cv_.notify_all();
      worker_.join();
    }
  }

  template <class Reset>
  void restart(std::size_t epoch, std::size_t first, std::size_t count, Reset&& reset) {
    std::unique_lock lk(m_);
    ++generation_;
    cv_.wait(lk, [&] { return !busy_; });
    reset();
    epoch_ = epoch;
    count_ = count;
    ready_ = {false, false};
    held_ = none;
    next_to_fill_ = next_to_take_ = first;
    error_ = nullptr;
    started_ = true;
    lk.unlock();
    cv_.notify_all();
  }

  slot_type* next() {
    std::unique_lock lk(m_);
    if (held_ != none) {
      ready_[held_] = false;
      held_ = none;
      cv_.notify_all();
    }
    if (next_to_take_ >= count_) return nullptr;
    const std::size_t b = next_to_take_;
    const std::size_t s = b % slots_.size();
    if (!background_) {
      producer_.fill(slots_[s], epoch_, b);  // on an exception nothing has changed; a retry retries
      ready_[s] = true;
    } else {
      if (error_) {  // the previous call failed on this batch: let the worker try it again
        error_ = nullptr;
        cv_.notify_all();
      }
      cv_.wait(lk, [&] { return error_ != nullptr || ready_[s]; });
      // The worker stays idle until the next call to next() or restart().
      if (!ready_[s]) std::rethrow_exception(error_);
    }
    held_ = s;
    ++next_to_take_;
    return &slots_[s];
  }

  bool started() const noexcept { return started_; }
  std::size_t epoch() const noexcept { return epoch_; }

private:
  static constexpr std::size_t none = static_cast<std::size_t>(-1);

  void work() {
    std::unique_lock lk(m_);
    for (;;) {
      cv_.wait(lk, [&] {
        if (stop_) return true;
        if (!started_ || error_ || next_to_fill_ >= count_) return false;
        const std::size_t s = next_to_fill_ % slots_.size();
        return !ready_[s] && held_ != s;
      });
      if (stop_) return;
      const std::size_t b = next_to_fill_;
      const std::size_t s = b % slots_.size();
      const std::size_t epoch = epoch_;
      const std::uint64_t gen = generation_;
      busy_ = true;
      lk.unlock();
      std::exception_ptr err;
      try {
        producer_.fill(slots_[s], epoch, b);
      } catch (...) {
        err = std::current_exception();
      }
      lk.lock();
      busy_ = false;
      if (gen == generation_) {
        if (err) {
          error_ = err;
        } else {
          ready_[s] = true;
          ++next_to_fill_;
        }
      }
      cv_.notify_all();
    }
  }

  const Producer& producer_;
  std::array<slot_type, 2>& slots_;
  const bool background_;

  // Shared with the worker, guarded by m_.
  std::mutex m_;
  std::condition_variable cv_;
  std::array<bool, 2> ready_{false, false};
  std::size_t epoch_ = 0, count_ = 0;
  std::size_t next_to_fill_ = 0, next_to_take_ = 0;
  std::size_t held_ = none;
  std::uint64_t generation_ = 0;
  bool started_ = false, busy_ = false, stop_ = false;
  std::exception_ptr error_;
  std::thread worker_;
};

}  // namespace ctnn::data::detail
