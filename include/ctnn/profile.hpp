#pragma once
// ctnn::Profiler: where a network's time goes, layer by layer.
//
//   ctnn::Profiler profiler(net);        // starts timing every forward and backward of net
//   for (...) train::step(...);
//   std::cout << profiler.table();       // per layer: ms per call forward and backward, share
//   std::cout << profiler.by_kind();     // the same summed by kind of layer (Conv, BatchNorm, ...)
//
// Rows are the network's timed layers (Network::timed_layers(): every leaf layer and each
// residual block's add), in forward order, named by their path as in parameter names. Times are
// sums over the calls since construction or reset(); the tables show them per call. The clock is
// the host's (core/profile.hpp), so a layer's time includes its threading and any waiting; with a
// timer set, a step costs two clock reads per layer more. The profiler must not outlive the
// network; destroying it stops the timing.

#include <algorithm>
#include <cstddef>
#include <cstdio>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include "core/profile.hpp"

namespace ctnn {

class Profiler final : public LayerTimer {
public:
  struct Row {
    std::string path, name;
    double forward = 0, backward = 0;  // seconds, summed over the calls
    std::size_t forward_calls = 0, backward_calls = 0;
  };

  template <class Net>
    requires requires(Net& n, LayerTimer* t) {
      n.set_layer_timer(t);
      n.timed_layers();
    }
  explicit Profiler(Net& net) : detach_([&net] { net.set_layer_timer(nullptr); }) {
    for (const TimedLayer& l : net.timed_layers()) rows_.push_back(Row{l.path, l.name});
    net.set_layer_timer(this);
  }
  ~Profiler() { detach_(); }
  Profiler(const Profiler&) = delete;
  Profiler& operator=(const Profiler&) = delete;

  void layer_time(std::size_t layer, Pass pass, double seconds) override {
    Row& r = rows_.at(layer);
    if (pass == Pass::forward) {
      r.forward += seconds;
      ++r.forward_calls;
    } else {
      r.backward += seconds;
      ++r.backward_calls;
    }
  }

  // Forgets the times so far (e.g. after warm-up steps).
  void reset() {
    for (Row& r : rows_) r = Row{r.path, r.name};
  }

  std::span<const Row> rows() const { return rows_; }

  // Seconds per call of every layer's forward and backward together (a training step's layers).
  double per_call() const {
    double s = 0;
    for (const Row& r : rows_) s += mean(r.forward, r.forward_calls) + mean(r.backward, r.backward_calls);
    return s;
  }

  // One line per layer: path, name, ms per forward, ms per backward, share of per_call().
  std::string table() const { return format(rows_, "layer"); }

  // The rows summed by kind: the name up to its first '<' ("Conv", "BatchNorm", "add + ReLU").
  std::string by_kind() const {
    std::vector<Row> kinds;
    for (const Row& r : rows_) {
      const std::string kind = r.name.substr(0, r.name.find('<'));
      auto it = std::find_if(kinds.begin(), kinds.end(), [&](const Row& k) { return k.name == kind; });
      if (it == kinds.end()) it = kinds.insert(kinds.end(), Row{"", kind});
      it->forward += mean(r.forward, r.forward_calls);
      it->backward += mean(r.backward, r.backward_calls);
      it->forward_calls = it->backward_calls = 1;  // already per call
    }
    std::sort(kinds.begin(), kinds.end(),
              [](const Row& a, const Row& b) { return a.forward + a.backward > b.forward + b.backward; });
    return format(kinds, "kind");
  }

private:
  static double mean(double total, std::size_t calls) { return calls ? total / double(calls) : 0.0; }

  std::string format(const std::vector<Row>& rows, const char* what) const {
    const double all = per_call();
    std::size_t width = 5;
    for (const Row& r : rows) width = std::max(width, r.path.size() + (r.path.empty() ? 0 : 2) + r.name.size());
    std::string s;
    char line[64];
    s += what;
    s.append(width + 2 - std::string(what).size(), ' ');
    s += "  forward ms  backward ms    share\n";
    for (const Row& r : rows) {
      const double f = mean(r.forward, r.forward_calls), b = mean(r.backward, r.backward_calls);
      std::string label = r.path.empty() ? r.name : r.path + "  " + r.name;
      label.resize(width + 2, ' ');
      s += label;
      std::snprintf(line, sizeof line, "%12.3f %12.3f %7.1f%%\n", f * 1e3, b * 1e3, all > 0 ? 100 * (f + b) / all : 0.0);
      s += line;
    }
    std::string total = "total";
    total.resize(width + 2, ' ');
    s += total;
    double f = 0, b = 0;
    for (const Row& r : rows) {
      f += mean(r.forward, r.forward_calls);
      b += mean(r.backward, r.backward_calls);
    }
    std::snprintf(line, sizeof line, "%12.3f %12.3f\n", f * 1e3, b * 1e3);
    s += line;
    return s;
  }

  std::vector<Row> rows_;
  std::function<void()> detach_;
};

}  // namespace ctnn
