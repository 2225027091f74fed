#pragma once
// Per-layer timing, the mechanism (ctnn/profile.hpp has the Profiler that uses it).
//
// When a network is built, composite layers register each leaf layer they run (a Conv, a
// BatchNorm, ... but not a Seq, whose children register themselves) and each piece of work of
// their own (a Residual's add) with the Collector: a path ("3.0.main.0") and a name. While a
// LayerTimer is set on the network, they time each registered layer's forward and backward and
// tell the timer; without one, the cost is one null test per layer.
//
// The time is the host's wall clock around the call. On a device whose work runs asynchronously
// (a tag with a static synchronize()), the device is synchronised before each of the two clock
// reads, so that each layer's time is its own work.

#include <chrono>
#include <cstddef>
#include <string>

namespace ctnn {

enum class Pass { forward, backward };

// A leaf layer (or a composite's own work) as registered when the network was built.
struct TimedLayer {
  std::string path;  // position in the network, as in parameter names: "3.0.main.0"
  std::string name;  // the layer: "Conv<64, 64, 3, 1, 1>", or the work: "add + ReLU"
};

// Told how long each registered layer took; layer is an index into the network's timed_layers().
class LayerTimer {
public:
  virtual void layer_time(std::size_t layer, Pass pass, double seconds) = 0;

protected:
  ~LayerTimer() = default;
};

namespace detail {

// Times one registered layer's pass when the network has a timer: built before the call, stopped
// after it. Without a timer it reads no clock.
template <class D>
class LayerClock {
public:
  LayerClock(LayerTimer* const* timer, std::size_t layer, Pass pass)
      : timer_(timer && *timer ? *timer : nullptr), layer_(layer), pass_(pass) {
    if (!timer_) return;
    // Work enqueued before this layer (the loss, the last step's optimizer) is not its own.
    if constexpr (requires { D::synchronize(); }) D::synchronize();
    start_ = std::chrono::steady_clock::now();
  }
  void stop() {
    if (!timer_) return;
    if constexpr (requires { D::synchronize(); }) D::synchronize();
    const std::chrono::duration<double> took = std::chrono::steady_clock::now() - start_;
    timer_->layer_time(layer_, pass_, took.count());
  }

private:
  LayerTimer* timer_;
  std::size_t layer_;
  Pass pass_;
  std::chrono::steady_clock::time_point start_{};
};

}  // namespace detail
}  // namespace ctnn
