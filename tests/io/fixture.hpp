#pragma once
// Shared by the tests in tests/io: a small network, a deterministic training step, SGD with
// momentum, snapshots of everything a checkpoint holds, temporary directories and file patching.

#include <doctest/doctest.h>
#include <unistd.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include <ctnn/ctnn.hpp>
#include <ctnn/io.hpp>

namespace io_test {

using Spec = ctnn::Seq<ctnn::Conv<3, 8, 3>, ctnn::BatchNorm<8>, ctnn::ReLU, ctnn::GlobalAvgPool, ctnn::Flatten,
                       ctnn::Linear<8, 10>>;
using In = ctnn::Shape<3, 8, 8>;
using Net = ctnn::Network<Spec, In>;
inline constexpr std::size_t batch = 4;
inline constexpr std::size_t classes = 10;

// The optimizer the tests train with: ctnn::SGD with momentum and weight decay.
using SGD = ctnn::SGD<>;
inline SGD make_sgd() { return SGD{0.05f, 0.9f, 5e-4f}; }

// A user-written optimizer: SGD with momentum and weight decay, PyTorch's update (v = mu v + g + wd w; w -= lr v), with the
// optimizer checkpoint contract: state(params) allocates the state if missing and returns named
// buffers into it; `steps` counts steps.
struct FakeSGD {
  float lr = 0.05f;
  float momentum = 0.9f;
  float weight_decay = 5e-4f;
  std::uint64_t steps = 0;
  std::vector<std::vector<float>> velocity;

  std::vector<ctnn::Buffer> state(std::span<ctnn::Parameter> params) {
    if (velocity.empty())
      for (const auto& p : params) velocity.emplace_back(p.size, 0.0f);
    REQUIRE(velocity.size() == params.size());
    std::vector<ctnn::Buffer> out;
    for (std::size_t i = 0; i < params.size(); ++i)
      out.push_back(ctnn::Buffer{"momentum_buffer." + params[i].name, velocity[i].data(), velocity[i].size()});
    return out;
  }

  void step(std::span<ctnn::Parameter> params) {
    state(params);
    for (std::size_t i = 0; i < params.size(); ++i) {
      float* w = params[i].value;
      const float* g = params[i].grad;
      float* v = velocity[i].data();
      for (std::size_t j = 0; j < params[i].size; ++j) {
        v[j] = momentum * v[j] + (g[j] + weight_decay * w[j]);
        w[j] -= lr * v[j];
      }
    }
    ++steps;
  }
};

// One training step on a batch drawn from `data`: inputs uniform in [-1, 1), random labels,
// softmax cross-entropy (written here so the test depends only on the network and the optimizer).
template <class N, class Opt>
class Trainer {
public:
  Trainer(N& net, Opt& opt, ctnn::Rng& data) : net_(net), opt_(opt), data_(data), x_(batch), dy_(batch), labels_(batch) {}

  void step() {
    for (std::size_t i = 0; i < x_.size(); ++i) x_.data()[i] = data_.uniform(-1.0f, 1.0f);
    for (auto& l : labels_) l = static_cast<std::size_t>(data_.below(classes));
    net_.zero_grad();
    const auto& y = net_.forward(x_, ctnn::Mode::train);
    for (std::size_t n = 0; n < batch; ++n) {
      const float* z = y.sample(n);
      float* g = dy_.sample(n);
      float mx = z[0];
      for (std::size_t k = 1; k < classes; ++k) mx = std::max(mx, z[k]);
      float sum = 0;
      for (std::size_t k = 0; k < classes; ++k) sum += (g[k] = std::exp(z[k] - mx));
      for (std::size_t k = 0; k < classes; ++k)
        g[k] = (g[k] / sum - (k == labels_[n] ? 1.0f : 0.0f)) / static_cast<float>(batch);
    }
    net_.backward(dy_);
    opt_.step(net_.parameters());
  }

private:
  N& net_;
  Opt& opt_;
  ctnn::Rng& data_;
  ctnn::Tensor<In> x_;
  ctnn::Tensor<ctnn::Shape<classes>> dy_;
  std::vector<std::size_t> labels_;
};

// Every value a checkpoint restores, by name, copied out of (host) memory.
struct Snapshot {
  std::vector<std::pair<std::string, std::vector<float>>> tensors;
  std::uint64_t steps = 0;

  template <class T>
  void add(const char* kind, std::span<T> list) {
    for (const auto& t : list) tensors.emplace_back(std::string(kind) + " " + t.name, std::vector<float>(t.value, t.value + t.size));
  }
};

template <class N>
Snapshot snapshot(N& net) {
  Snapshot s;
  s.add("parameter", net.parameters());
  s.add("buffer", net.buffers());
  return s;
}

template <class N, class Opt>
Snapshot snapshot(N& net, Opt& opt) {
  Snapshot s = snapshot(net);
  const std::vector<ctnn::Buffer> st = opt.state(net.parameters());
  s.add("optimizer", std::span<const ctnn::Buffer>(st));
  s.steps = opt.steps;
  return s;
}

// Bit-for-bit equality; on failure names the first tensor and index that differ.
inline void check_identical(const Snapshot& a, const Snapshot& b) {
  REQUIRE(a.tensors.size() == b.tensors.size());
  CHECK(a.steps == b.steps);
  for (std::size_t i = 0; i < a.tensors.size(); ++i) {
    const auto& [na, va] = a.tensors[i];
    const auto& [nb, vb] = b.tensors[i];
    REQUIRE(na == nb);
    REQUIRE(va.size() == vb.size());
    if (std::memcmp(va.data(), vb.data(), va.size() * sizeof(float)) != 0) {
      std::size_t j = 0;
      while (std::memcmp(&va[j], &vb[j], sizeof(float)) == 0) ++j;
      FAIL_CHECK(na << "[" << j << "] differs: " << va[j] << " vs " << vb[j]);
    }
  }
}

inline bool identical(const Snapshot& a, const Snapshot& b) {
  if (a.tensors.size() != b.tensors.size() || a.steps != b.steps) return false;
  for (std::size_t i = 0; i < a.tensors.size(); ++i)
    if (a.tensors[i].first != b.tensors[i].first || a.tensors[i].second.size() != b.tensors[i].second.size() ||
        std::memcmp(a.tensors[i].second.data(), b.tensors[i].second.data(), a.tensors[i].second.size() * sizeof(float)) != 0)
      return false;
  return true;
}

// A fresh directory under the system temporary directory, removed with its contents at the end.
struct TempDir {
  std::filesystem::path path;
  explicit TempDir(const std::string& name)
      : path(std::filesystem::temp_directory_path() / ("ctnn_io_" + name + "_" + std::to_string(::getpid()))) {
    std::filesystem::remove_all(path);
    std::filesystem::create_directories(path);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
  std::string file(const std::string& name) const { return (path / name).string(); }
  // Names of the entries in the directory (to check that no temporary file was left behind).
  std::vector<std::string> entries() const {
    std::vector<std::string> out;
    for (const auto& e : std::filesystem::directory_iterator(path)) out.push_back(e.path().filename().string());
    return out;
  }
};

inline std::vector<unsigned char> read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  REQUIRE(in.good());
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

inline void write_bytes(const std::string& path, const std::vector<unsigned char>& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  REQUIRE(out.good());
}

inline std::uint64_t get_u64(const std::vector<unsigned char>& b, std::size_t at) {
  std::uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | b[at + static_cast<std::size_t>(i)];
  return v;
}
inline void put_u64(std::vector<unsigned char>& b, std::size_t at, std::uint64_t v) {
  for (int i = 0; i < 8; ++i) b[at + static_cast<std::size_t>(i)] = static_cast<unsigned char>(v >> (8 * i));
}

// Recomputes the trailing checksum after a test has patched the file on purpose.
inline void fix_checksum(std::vector<unsigned char>& b) {
  put_u64(b, b.size() - 8, ctnn::io::fnv1a64(b.data(), b.size() - 8));
}

// Runs f, which must throw ctnn::Error, and returns the message.
template <class F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const ctnn::Error& e) {
    return e.what();
  }
  FAIL("expected a ctnn::Error");
  return {};
}

}  // namespace io_test
