// Replays the fuzz targets' inputs through the real loaders in the normal test suite (no clang or
// libFuzzer needed): the generated seeds, which must load, and every input kept in
// tests/fuzz/regressions/<target>/ (inputs that once crashed a loader or broke a property), which
// must be refused with a clean ctnn::Error unless the file name starts with "valid-". Under the
// asan preset this runs them with AddressSanitizer and UBSan too.
//
// CTNN_FUZZ_CORPUS=DIR additionally replays DIR/<target>/* (e.g. build/fuzz/corpus, grown by
// scripts/fuzz.sh) with the targets' properties only.

#include <doctest/doctest.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "harness.hpp"

namespace fs = std::filesystem;

namespace {

const fs::path regressions = fs::path(__FILE__).parent_path() / "regressions";

std::vector<unsigned char> read_all(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  REQUIRE(in.good());
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

std::vector<fs::path> files_in(const fs::path& dir) {
  std::vector<fs::path> out;
  if (fs::is_directory(dir))
    for (const auto& e : fs::directory_iterator(dir))
      if (e.is_regular_file()) out.push_back(e.path());
  std::sort(out.begin(), out.end());
  return out;
}

bool expected_valid(const fs::path& p) { return p.filename().string().rfind("valid-", 0) == 0; }

template <class F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const ctnn::Error& e) {
    return e.what();
  }
  return "(no ctnn::Error thrown)";
}

}  // namespace

TEST_CASE("fuzz replay: the checkpoint seeds load") {
  const auto seeds = ctnn_fuzz::checkpoint_seeds();
  REQUIRE(seeds.size() == 4);
  for (const auto& [name, bytes] : seeds) {
    CAPTURE(name);
    // A weights file loads with load_weights only; a full checkpoint loads both ways.
    CHECK(ctnn_fuzz::checkpoint_one(bytes.data(), bytes.size()) == (name.rfind("full", 0) == 0 ? 2 : 1));
  }
}

TEST_CASE("fuzz replay: the CIFAR-10 seeds load") {
  for (const auto& [name, bytes] : ctnn_fuzz::cifar10_seeds()) {
    CAPTURE(name);
    const std::size_t images = ctnn_fuzz::cifar10_one(bytes.data(), bytes.size());
    if (name == "class-names") {
      CHECK(images == 0);
      ctnn_fuzz::TempFile meta("replay-meta.txt");
      meta.write(bytes.data(), bytes.size());
      CHECK(ctnn::data::Cifar10::read_class_names(meta.path())[9] == "truck");
    } else {
      CHECK(images * ctnn::data::Cifar10::record_bytes == bytes.size());
    }
  }
}

TEST_CASE("fuzz replay: the safetensors seeds load") {
  const auto seeds = ctnn_fuzz::safetensors_seeds();
  REQUIRE(seeds.size() == 3);
  for (const auto& [name, bytes] : seeds) {
    CAPTURE(name);
    CHECK(ctnn_fuzz::safetensors_one(bytes.data(), bytes.size()) == 1);
  }
}

TEST_CASE("fuzz replay: kept checkpoint inputs are refused with a ctnn::Error") {
  const auto files = files_in(regressions / "checkpoint");
  CHECK(!files.empty());
  ctnn_fuzz::TempFile file("replay.ckpt");
  for (const auto& p : files) {
    CAPTURE(p.string());
    const auto input = read_all(p);
    const int loaded = ctnn_fuzz::checkpoint_one(input.data(), input.size());  // aborts if a property breaks
    if (expected_valid(p)) {
      CHECK(loaded > 0);
      continue;
    }
    CHECK(loaded == 0);
    const auto bytes = ctnn_fuzz::checkpoint_file(input.data(), input.size());
    file.write(bytes.data(), bytes.size());
    ctnn_fuzz::Net net(1, 1);
    ctnn_fuzz::Opt opt(0.1f);
    const std::string w = error_of([&] { net.load(file.path()); });
    CHECK(w.find("'" + file.path() + "'") != std::string::npos);
    const std::string c = error_of([&] { ctnn::io::load_checkpoint(file.path(), net, opt); });
    CHECK(c.find("'" + file.path() + "'") != std::string::npos);
  }
}

TEST_CASE("fuzz replay: kept CIFAR-10 inputs are refused with a ctnn::Error") {
  const auto files = files_in(regressions / "cifar10");
  CHECK(!files.empty());
  for (const auto& p : files) {
    CAPTURE(p.string());
    const auto input = read_all(p);
    const std::size_t images = ctnn_fuzz::cifar10_one(input.data(), input.size());  // aborts if a property breaks
    if (expected_valid(p)) {
      CHECK(images > 0);
      continue;
    }
    CHECK(images == 0);
    const std::string msg = error_of([&] { ctnn::data::Cifar10::load_file(p); });
    CHECK(msg.find(p.string()) != std::string::npos);
  }
}

TEST_CASE("fuzz replay: kept safetensors inputs are refused with a ctnn::Error") {
  const auto files = files_in(regressions / "safetensors");
  CHECK(!files.empty());
  for (const auto& p : files) {
    CAPTURE(p.string());
    const auto input = read_all(p);
    const int loaded = ctnn_fuzz::safetensors_one(input.data(), input.size());  // aborts if a property breaks
    CHECK(loaded == (expected_valid(p) ? 1 : 0));
    if (expected_valid(p)) continue;
    ctnn_fuzz::Net net(1, 1);
    const std::string msg = error_of([&] { ctnn::io::load_safetensors(p.string(), net); });
    CHECK(msg.find(p.string()) != std::string::npos);
  }
}

TEST_CASE("fuzz replay: a grown corpus (CTNN_FUZZ_CORPUS)") {
  const char* dir = std::getenv("CTNN_FUZZ_CORPUS");
  if (!dir) {
    MESSAGE("CTNN_FUZZ_CORPUS is not set; no corpus to replay");
    return;
  }
  std::size_t n = 0;
  for (const auto& p : files_in(fs::path(dir) / "checkpoint")) {
    const auto input = read_all(p);
    ctnn_fuzz::checkpoint_one(input.data(), input.size());
    ++n;
  }
  for (const auto& p : files_in(fs::path(dir) / "cifar10")) {
    const auto input = read_all(p);
    ctnn_fuzz::cifar10_one(input.data(), input.size());
    ++n;
  }
  for (const auto& p : files_in(fs::path(dir) / "safetensors")) {
    const auto input = read_all(p);
    ctnn_fuzz::safetensors_one(input.data(), input.size());
    ++n;
  }
  MESSAGE("replayed ", n, " corpus inputs from ", std::string(dir));
}

TEST_CASE("fuzz replay: text from a corrupt checkpoint is escaped and shortened in messages") {
  ctnn_fuzz::TempFile file("replay-text.ckpt");
  ctnn_fuzz::Net net(1, 1);
  auto message_for = [&](const char* kept) {
    const auto input = read_all(regressions / "checkpoint" / kept);
    const auto bytes = ctnn_fuzz::checkpoint_file(input.data(), input.size());
    file.write(bytes.data(), bytes.size());
    return error_of([&] { net.load(file.path()); });
  };
  const std::string control = message_for("control-bytes-in-architecture");
  CHECK(control.find("holds 'Seq<\\x00\\x0a\\x1b[2J\\x1b]0;owned\\x07>\\\\' but the network is 'Seq<Conv<3,4,3,1,1>") !=
        std::string::npos);
  const std::string long_name = message_for("long-architecture-name");
  CHECK(long_name.find("holds '" + std::string(200, 'X') + "... (5000 bytes)' but the network is") != std::string::npos);
  CHECK(long_name.size() < 600);
}
