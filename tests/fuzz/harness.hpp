#pragma once
// What one fuzz input does, shared by the libFuzzer targets (tests/fuzz/*_fuzz.cc, built by
// scripts/fuzz.sh with clang) and by the doctest that replays the kept inputs in every CI build
// (tests/fuzz/replay.cpp), so the targets' logic runs without clang too.
//
// The contract under test: a loader either succeeds or throws ctnn::Error; anything else (another
// exception, a crash, a sanitizer report, a hang) is a bug. Each target also checks properties the
// loaders promise:
//   checkpoint  a load that throws leaves the network and the optimizer unchanged; a load that
//               succeeds gives a network that saves and loads back bit for bit.
//   cifar10     Cifar10::parse (memory) and Cifar10::load_file (the same bytes in a file) agree:
//               both fail, or both give the same labels and pixels; every label is 0..9.
//   safetensors a strict load that throws leaves the network unchanged; a non-strict load loads
//               exactly the tensors it reports; a loaded file saves and loads back bit for bit.
//
// Checkpoint inputs: byte 0 holds flags, the rest is the file. Flag bit 0 overwrites the recorded
// file size (bytes 12..19 of the file) with the real size and bit 1 then recomputes the trailing
// FNV-1a checksum, so that mutations reach the structure behind those two checks instead of
// stopping at them.

#include <unistd.h>

#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include <ctnn/ctnn.hpp>
#include <ctnn/io.hpp>

namespace ctnn_fuzz {

// A small network: every layer kind that has parameters or buffers, 150 values in all.
using Spec = ctnn::Seq<ctnn::Conv<3, 4, 3>, ctnn::BatchNorm<4>, ctnn::ReLU, ctnn::GlobalAvgPool, ctnn::Flatten,
                       ctnn::Linear<4, 3>>;
using In = ctnn::Shape<3, 4, 4>;
using Net = ctnn::Network<Spec, In>;
using Opt = ctnn::SGD<>;

inline constexpr unsigned char fix_size = 1;
inline constexpr unsigned char fix_checksum = 2;

// Stops the process the way a sanitizer would, so that libFuzzer keeps the input (and a doctest
// run fails loudly) when a property does not hold.
[[noreturn]] inline void violated(const char* what, const std::string& detail = {}) {
  std::fprintf(stderr, "ctnn fuzz: property violated: %s%s%s\n", what, detail.empty() ? "" : ": ", detail.c_str());
  std::abort();
}

// A file in the temporary directory private to this process, removed at exit.
class TempFile {
public:
  explicit TempFile(const std::string& name) {
    std::error_code ec;
    auto dir = std::filesystem::temp_directory_path(ec);
    if (ec) dir = "/tmp";
    path_ = (dir / ("ctnn_fuzz_" + std::to_string(::getpid()) + "_" + name)).string();
  }
  ~TempFile() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;

  const std::string& path() const noexcept { return path_; }

  void write(const unsigned char* data, std::size_t size) const {
    std::FILE* f = std::fopen(path_.c_str(), "wb");
    if (!f) violated("cannot create the temporary file", path_);
    if (size && std::fwrite(data, 1, size, f) != size) violated("cannot write the temporary file", path_);
    if (std::fclose(f) != 0) violated("cannot close the temporary file", path_);
  }

private:
  std::string path_;
};

// An error message is one line of printable ASCII of bounded length that starts with `prefix` and
// names `path`: bytes taken from a corrupt file (a NUL, a newline, a terminal escape, a megabyte of
// name) must not truncate, split, garble or flood it.
inline void check_message(const char* what, const std::string& prefix, const std::string& path) {
  const std::string m = what;
  if (m.compare(0, prefix.size(), prefix) != 0) violated("an error message does not start with", prefix + ": " + m);
  if (m.find(path) == std::string::npos) violated("an error message does not name the file", m);
  if (m.size() > 4096) violated("an error message is longer than 4096 bytes", m.substr(0, 200) + "...");
  for (const char c : m)
    if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) > 0x7e)
      violated("an error message holds a byte that is not printable ASCII", m);
}

// ---- checkpoints -------------------------------------------------------------------------------

inline std::vector<float> values_of(Net& net, Opt& opt) {
  std::vector<float> out;
  for (const auto& p : net.parameters()) out.insert(out.end(), p.value, p.value + p.size);
  for (const auto& b : net.buffers()) out.insert(out.end(), b.value, b.value + b.size);
  for (const auto& b : opt.state(net.parameters())) out.insert(out.end(), b.value, b.value + b.size);
  out.push_back(static_cast<float>(opt.steps));
  return out;
}

inline bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && (a.empty() || std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0);
}

// The file a checkpoint input stands for: the input after its flag byte, with the fixes it asks for.
inline std::vector<unsigned char> checkpoint_file(const unsigned char* data, std::size_t size) {
  if (size == 0) return {};
  const unsigned char flags = data[0];
  std::vector<unsigned char> file(data + 1, data + size);
  if ((flags & fix_size) && file.size() >= 20)
    for (int i = 0; i < 8; ++i) file[12 + static_cast<std::size_t>(i)] = static_cast<unsigned char>(std::uint64_t{file.size()} >> (8 * i));
  if ((flags & fix_checksum) && file.size() >= 8) {
    const std::uint64_t sum = ctnn::io::fnv1a64(file.data(), file.size() - 8);
    for (int i = 0; i < 8; ++i) file[file.size() - 8 + static_cast<std::size_t>(i)] = static_cast<unsigned char>(sum >> (8 * i));
  }
  return file;
}

// Runs one checkpoint input through load_weights and load_checkpoint. Returns how many of the two
// loads succeeded (the replay test uses it to check that the seeds are valid).
inline int checkpoint_one(const unsigned char* data, std::size_t size) {
  static Net net(1, 7);
  static Opt opt(0.1f, 0.9f);
  static TempFile file("checkpoint.ckpt"), resaved("resaved.ckpt");
  const std::vector<unsigned char> bytes = checkpoint_file(data, size);
  file.write(bytes.data(), bytes.size());

  int loaded = 0;
  auto attempt = [&](const char* which, auto&& load) {
    const std::vector<float> before = values_of(net, opt);
    try {
      load();
    } catch (const ctnn::Error& e) {
      if (!same_bits(before, values_of(net, opt))) violated("a failed load changed the network or optimizer", which);
      check_message(e.what(), "ctnn::io: ", file.path());
      return;
    }
    ++loaded;
  };

  attempt("load_weights", [&] { ctnn::io::load_weights(file.path(), net); });
  ctnn::io::TrainingState state;
  attempt("load_checkpoint", [&] { state = ctnn::io::load_checkpoint(file.path(), net, opt); });

  if (loaded == 2) {  // a full checkpoint: it saves and loads back bit for bit
    const std::vector<float> values = values_of(net, opt);
    ctnn::io::save_checkpoint(resaved.path(), net, opt, state);
    static Net other(1, 8);
    static Opt other_opt(0.1f, 0.9f);
    const ctnn::io::TrainingState back = ctnn::io::load_checkpoint(resaved.path(), other, other_opt);
    if (!same_bits(values, values_of(other, other_opt))) violated("a loaded checkpoint does not save and load back");
    bool same = back.epoch == state.epoch && back.step == state.step && back.notes == state.notes &&
                back.rng.s == state.rng.s && back.metrics.size() == state.metrics.size();
    for (auto a = back.metrics.cbegin(), b = state.metrics.cbegin(); same && a != back.metrics.end(); ++a, ++b)
      same = a->first == b->first && std::bit_cast<std::uint64_t>(a->second) == std::bit_cast<std::uint64_t>(b->second);
    if (!same) violated("the training state does not save and load back");
  }
  return loaded;
}

// Seed inputs: a weights file and a full checkpoint of Net, each with and without the fix flags.
inline std::vector<std::pair<std::string, std::vector<unsigned char>>> checkpoint_seeds() {
  TempFile file("seed.ckpt");
  Net net(1, 3);
  Opt opt(0.1f, 0.9f);
  for (const auto& b : opt.state(net.parameters()))
    for (std::size_t i = 0; i < b.size; ++i) b.value[i] = 0.01f * static_cast<float>(i);
  opt.steps = 5;
  ctnn::io::TrainingState state;
  state.epoch = 2;
  state.step = 10;
  state.rng = ctnn::Rng(42).state();
  state.metrics = {{"best_accuracy", 0.5}, {"loss", 1.25}};
  state.notes = {{"schedule", "cosine"}};

  std::vector<std::pair<std::string, std::vector<unsigned char>>> seeds;
  auto add = [&](const std::string& name) {
    const std::vector<unsigned char> bytes = ctnn::io::read_file(file.path());
    for (const unsigned char flags : {0, fix_size | fix_checksum}) {
      std::vector<unsigned char> input{flags};
      input.insert(input.end(), bytes.begin(), bytes.end());
      seeds.emplace_back(name + "-flags" + std::to_string(flags), std::move(input));
    }
  };
  net.save(file.path());
  add("weights");
  ctnn::io::save_checkpoint(file.path(), net, opt, state);
  add("full");
  return seeds;
}

// ---- CIFAR-10 ----------------------------------------------------------------------------------

// Runs one input through Cifar10::parse (lax and strict), Cifar10::load_file and
// Cifar10::read_class_names. Returns the number of images read (0 when the input was refused).
inline std::size_t cifar10_one(const unsigned char* data, std::size_t size) {
  using ctnn::data::Cifar10;
  using ctnn::data::CifarDataset;
  static TempFile file("cifar10.bin");
  file.write(data, size);
  const std::span<const std::uint8_t> bytes(data, size);

  bool parsed = false, loaded = false;
  CifarDataset from_memory, from_file;
  try {
    from_memory = Cifar10::parse(bytes, "fuzz input");
    parsed = true;
  } catch (const ctnn::Error& e) {
    check_message(e.what(), "ctnn::data::Cifar10", "'fuzz input'");
  }
  try {
    (void)Cifar10::parse(bytes, "fuzz input", {.strict_size = true});
    if (size != Cifar10::file_bytes) violated("strict parsing accepted a file that is not 30,730,000 bytes");
  } catch (const ctnn::Error&) {
  }
  try {
    from_file = Cifar10::load_file(file.path());
    loaded = true;
  } catch (const ctnn::Error& e) {
    check_message(e.what(), "ctnn::data::Cifar10", file.path());
  }
  if (parsed != loaded) violated("Cifar10::parse and Cifar10::load_file disagree on whether the input is valid");
  if (parsed) {
    if (from_memory.labels != from_file.labels || from_memory.images != from_file.images)
      violated("Cifar10::parse and Cifar10::load_file read different data");
    from_memory.validate("fuzz input");
    if (from_memory.size() * Cifar10::record_bytes != size) violated("the number of records does not match the size");
    for (const auto l : from_memory.labels)
      if (l < 0 || l > 9) violated("a label outside 0..9 was accepted");
  }
  try {
    const auto names = Cifar10::read_class_names(file.path());
    if (names.size() != Cifar10::num_classes) violated("read_class_names returned a number of names other than 10");
    for (const auto& n : names)
      if (n.empty()) violated("read_class_names returned an empty name");
  } catch (const ctnn::Error& e) {
    check_message(e.what(), "ctnn::data::Cifar10", file.path());
  }
  return parsed ? from_memory.size() : 0;
}

// Seed inputs: one and two valid records.
inline std::vector<std::pair<std::string, std::vector<unsigned char>>> cifar10_seeds() {
  std::vector<std::pair<std::string, std::vector<unsigned char>>> seeds;
  for (std::size_t records : {1, 2}) {
    std::vector<unsigned char> b(records * ctnn::data::Cifar10::record_bytes);
    for (std::size_t i = 0; i < b.size(); ++i) b[i] = static_cast<unsigned char>(i * 31 + 7);
    for (std::size_t r = 0; r < records; ++r) b[r * ctnn::data::Cifar10::record_bytes] = static_cast<unsigned char>(r + 3);
    seeds.emplace_back("records-" + std::to_string(records), std::move(b));
  }
  const char names[] = "airplane\nautomobile\nbird\ncat\ndeer\ndog\nfrog\nhorse\nship\ntruck\n";
  seeds.emplace_back("class-names", std::vector<unsigned char>(names, names + sizeof names - 1));
  return seeds;
}

// ---- safetensors -------------------------------------------------------------------------------

// Runs one input (a safetensors file) through a strict and a non-strict load_safetensors. Returns
// 1 when the strict load succeeded.
inline int safetensors_one(const unsigned char* data, std::size_t size) {
  static Net net(1, 7), other(1, 8);
  static Opt unused(0.1f);
  static TempFile file("model.safetensors"), resaved("resaved.safetensors");
  file.write(data, size);
  auto values = [](Net& n) {
    std::vector<float> out;
    for (const auto& p : n.parameters()) out.insert(out.end(), p.value, p.value + p.size);
    for (const auto& b : n.buffers()) out.insert(out.end(), b.value, b.value + b.size);
    return out;
  };
  const std::vector<float> before = values(net);
  int loaded = 0;
  try {
    ctnn::io::load_safetensors(file.path(), net);
    loaded = 1;
  } catch (const ctnn::Error& e) {
    if (!same_bits(before, values(net))) violated("a failed strict safetensors load changed the network");
    check_message(e.what(), "ctnn::io: ", file.path());
  }
  if (loaded) {
    ctnn::io::save_safetensors(resaved.path(), net);
    ctnn::io::load_safetensors(resaved.path(), other);
    if (!same_bits(values(net), values(other))) violated("a loaded safetensors file does not save and load back");
  }
  try {  // non-strict: every reported tensor is loaded, the others keep their values
    const std::vector<float> start = values(other);
    const ctnn::io::LoadReport r = ctnn::io::load_safetensors(file.path(), other, {.strict = false});
    if (r.loaded.size() + r.missing.size() + r.mismatched.size() != other.parameters().size() + other.buffers().size())
      violated("a non-strict safetensors load reported a wrong number of tensors");
    if (r.loaded.empty() && !same_bits(start, values(other))) violated("a non-strict load that loaded nothing changed the network");
  } catch (const ctnn::Error& e) {
    check_message(e.what(), "ctnn::io: ", file.path());
  }
  return loaded;
}

// Seed inputs: the harness's network in F32, BF16 and F16.
inline std::vector<std::pair<std::string, std::vector<unsigned char>>> safetensors_seeds() {
  TempFile file("seed.safetensors");
  Net net(1, 3);
  std::vector<std::pair<std::string, std::vector<unsigned char>>> seeds;
  for (const auto dtype : {ctnn::io::Dtype::f32, ctnn::io::Dtype::bf16, ctnn::io::Dtype::f16}) {
    ctnn::io::save_safetensors(file.path(), net, {.dtype = dtype});
    seeds.emplace_back(ctnn::io::dtype_name(dtype), ctnn::io::read_file(file.path()));
  }
  return seeds;
}

}  // namespace ctnn_fuzz
