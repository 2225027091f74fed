// scripts/read_ctnn_checkpoint.py against the C++ writer: everything a full checkpoint holds comes
// back bit for bit through --json --values, --to-safetensors writes a file that ctnn's own
// validating reader accepts with the same values, and damaged files are refused with the file,
// the byte offset and what was expected.

#include <sys/wait.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "io/fixture.hpp"

#ifndef CTNN_PYTHON
#error "CMake defines CTNN_PYTHON (a python3) and CTNN_SOURCE_DIR for this test"
#endif

using namespace io_test;
namespace io = ctnn::io;
namespace json = ctnn::io::json;

namespace {

struct Run {
  int status = -1;
  std::string out, err;
};

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// Runs the script with `args` (already shell-quoted where needed), capturing its output.
Run script(const TempDir& dir, const std::string& args) {
  const std::string out = dir.file("stdout"), err = dir.file("stderr");
  std::string cmd = "'";
  cmd += CTNN_PYTHON;
  cmd += "' '";
  cmd += CTNN_SOURCE_DIR;
  cmd += "/scripts/read_ctnn_checkpoint.py' ";
  cmd += args;
  cmd += " >'" + out + "' 2>'" + err + "'";
  const int raw = std::system(cmd.c_str());
  Run r;
  r.status = WIFEXITED(raw) ? WEXITSTATUS(raw) : -1;
  r.out = slurp(out);
  r.err = slurp(err);
  return r;
}

std::string quoted(const std::string& path) { return "'" + path + "'"; }

float as_float(const json::Value& v) {
  REQUIRE(v.kind == json::Value::Kind::number);
  return static_cast<float>(std::strtod(v.text.c_str(), nullptr));
}

std::uint64_t as_u64(const json::Value* v) {
  REQUIRE(v);
  REQUIRE(v->kind == json::Value::Kind::number);
  return std::strtoull(v->text.c_str(), nullptr, 10);
}

// The JSON list of one section against the tensors ctnn wrote.
template <class T>
void check_tensors(const json::Value* list, std::span<const T> expected) {
  REQUIRE(list);
  REQUIRE(list->kind == json::Value::Kind::array);
  REQUIRE(list->items.size() == expected.size());
  for (std::size_t i = 0; i < expected.size(); ++i) {
    const json::Value& t = list->items[i];
    CAPTURE(expected[i].name);
    REQUIRE(t.find("name"));
    CHECK(t.find("name")->text == expected[i].name);
    CHECK(as_u64(t.find("count")) == expected[i].size);
    const json::Value* values = t.find("values");
    REQUIRE(values);
    REQUIRE(values->items.size() == expected[i].size);
    std::size_t differ = 0;
    for (std::size_t j = 0; j < expected[i].size; ++j)
      if (std::bit_cast<std::uint32_t>(as_float(values->items[j])) != std::bit_cast<std::uint32_t>(expected[i].value[j])) ++differ;
    CHECK(differ == 0);
  }
}

struct Written {
  Net net{batch, 3};
  SGD opt = make_sgd();
  io::TrainingState state;
  Written() {
    ctnn::Rng data(7);
    Trainer<Net, SGD> t(net, opt, data);
    for (int i = 0; i < 2; ++i) t.step();
    state.epoch = 5;
    state.step = 2;
    state.rng = data.state();
    state.metrics["best_accuracy"] = 0.953125;
    state.metrics["loss"] = 1.0 / 3.0;
    state.notes["schedule"] = "cosine";
    state.notes["quoted \"text\""] = "line one\nline two, caf\xc3\xa9";
  }
};

}  // namespace

TEST_CASE("read_ctnn_checkpoint.py: a full checkpoint comes back bit for bit as JSON") {
  TempDir dir("read_checkpoint_json");
  Written w;
  const std::string path = dir.file("model.ckpt");
  io::save_checkpoint(path, w.net, w.opt, w.state);

  const Run r = script(dir, quoted(path) + " --json --values");
  INFO(r.err);
  REQUIRE(r.status == 0);
  const json::Value root = json::parse(r.out, "the script's JSON");
  CHECK(root.find("architecture")->text == Net::architecture());
  CHECK(root.find("full")->boolean);
  CHECK(as_u64(root.find("format_version")) == io::checkpoint_version);
  CHECK(as_u64(root.find("signature_hash")) == io::fnv1a64(w.net.architecture_signature()));
  check_tensors(root.find("parameters"), std::span<const ctnn::Parameter>(w.net.parameters()));
  check_tensors(root.find("buffers"), std::span<const ctnn::Buffer>(w.net.buffers()));
  const std::vector<ctnn::Buffer> opt_state = w.opt.state(w.net.parameters());
  check_tensors(root.find("optimizer"), std::span<const ctnn::Buffer>(opt_state));
  CHECK(as_u64(root.find("optimizer_steps")) == w.opt.steps);

  const json::Value* t = root.find("training");
  REQUIRE(t);
  CHECK(as_u64(t->find("epoch")) == 5);
  CHECK(as_u64(t->find("step")) == 2);
  REQUIRE(t->find("rng_state")->items.size() == 4);
  for (std::size_t i = 0; i < 4; ++i) CHECK(as_u64(&t->find("rng_state")->items[i]) == w.state.rng.s[i]);
  // Python's repr of a double reads back to the same double.
  CHECK(std::strtod(t->find("metrics")->find("loss")->text.c_str(), nullptr) == 1.0 / 3.0);
  CHECK(std::strtod(t->find("metrics")->find("best_accuracy")->text.c_str(), nullptr) == 0.953125);
  CHECK(t->find("notes")->find("schedule")->text == "cosine");
  CHECK(t->find("notes")->find("quoted \"text\"")->text == "line one\nline two, caf\xc3\xa9");
}

TEST_CASE("read_ctnn_checkpoint.py: the summary, and a weights-only file") {
  TempDir dir("read_checkpoint_summary");
  Written w;
  const std::string path = dir.file("weights.ctnn");
  w.net.save(path);
  const Run r = script(dir, quoted(path));
  INFO(r.err);
  REQUIRE(r.status == 0);
  CHECK(r.out.find("ctnn checkpoint, format version 1, weights") != std::string::npos);
  CHECK(r.out.find("architecture: " + Net::architecture()) != std::string::npos);
  CHECK(r.out.find("parameters: " + std::to_string(w.net.parameters().size()) + " tensors") != std::string::npos);
  CHECK(r.out.find("0.weight") != std::string::npos);
  CHECK(r.out.find("optimizer") == std::string::npos);

  const Run j = script(dir, quoted(path) + " --json");
  REQUIRE(j.status == 0);
  const json::Value root = json::parse(j.out, "the script's JSON");
  CHECK_FALSE(root.find("full")->boolean);
  CHECK(root.find("optimizer") == nullptr);
  CHECK(root.find("parameters")->items[0].find("values") == nullptr);  // values only with --values
}

TEST_CASE("read_ctnn_checkpoint.py: --to-safetensors writes what ctnn's safetensors reader accepts") {
  TempDir dir("read_checkpoint_safetensors");
  Written w;
  const std::string path = dir.file("model.ckpt"), out = dir.file("model.safetensors");
  io::save_checkpoint(path, w.net, w.opt, w.state);
  const Run r = script(dir, quoted(path) + " --to-safetensors " + quoted(out));
  INFO(r.err);
  REQUIRE(r.status == 0);
  const io::SafetensorsFile f = io::SafetensorsFile::read(out);
  CHECK(f.metadata.at("architecture") == Net::architecture());
  std::vector<std::pair<std::string, std::vector<float>>> expected;
  for (const auto& p : w.net.parameters()) expected.emplace_back(p.name, std::vector<float>(p.value, p.value + p.size));
  for (const auto& b : w.net.buffers()) expected.emplace_back(b.name, std::vector<float>(b.value, b.value + b.size));
  REQUIRE(f.entries.size() == expected.size());
  for (const auto& [name, values] : expected) {
    CAPTURE(name);
    const io::SafetensorsEntry* e = f.find(name);
    REQUIRE(e);
    CHECK(e->shape == std::vector<std::size_t>{values.size()});  // the checkpoint holds counts, not shapes
    std::vector<float> got(values.size());
    f.to_float(*e, got.data());
    CHECK(std::memcmp(got.data(), values.data(), values.size() * sizeof(float)) == 0);
  }
}

TEST_CASE("read_ctnn_checkpoint.py: damaged files are refused with the file, the offset and what was expected") {
  TempDir dir("read_checkpoint_bad");
  Written w;
  const std::string good = dir.file("good.ckpt"), bad = dir.file("bad.ckpt");
  io::save_checkpoint(good, w.net, w.opt, w.state);
  const std::vector<unsigned char> bytes = read_bytes(good);

  auto refused = [&](const std::vector<unsigned char>& b, const std::string& expected) {
    write_bytes(bad, b);
    const Run r = script(dir, quoted(bad));
    CAPTURE(expected);
    CHECK(r.status == 1);
    CHECK(r.out.empty());
    INFO(r.err);
    CHECK(r.err.find(bad) != std::string::npos);
    CHECK(r.err.find(expected) != std::string::npos);
  };

  // Where things are: the first section's name follows the architecture text and the section
  // count; its tensor count follows the name and the body size; the first tensor's values follow
  // its name and value count.
  const std::size_t name_at = 28 + 8 + get_u64(bytes, 28) + 8;
  const std::size_t count_at = name_at + 8 + std::string("parameters").size() + 8;
  const std::size_t values_at = count_at + 8 + 8 + std::string("0.weight").size() + 8;

  std::vector<unsigned char> b = bytes;
  b[values_at + 5] ^= 0x40;
  refused(b, "the checksum does not match the contents (the file is corrupt) at byte offset " + std::to_string(bytes.size() - 8));
  write_bytes(bad, b);
  CHECK(script(dir, quoted(bad) + " --no-checksum").status == 0);  // a flipped value bit is still a well-formed file

  refused(std::vector<unsigned char>(bytes.begin(), bytes.end() - 100), "the file records " + std::to_string(bytes.size()) + " bytes");
  refused(std::vector<unsigned char>(bytes.begin(), bytes.begin() + 20), "shorter than any ctnn checkpoint");

  b = bytes;
  b[0] = 'X';
  refused(b, "not a ctnn checkpoint: expected the magic 'CTNNCKPT' at byte offset 0");

  b = bytes;
  b[8] = 2;
  fix_checksum(b);
  refused(b, "format version 2; this script reads version 1 at byte offset 8");

  b = bytes;
  b[name_at + 8] = 'x';
  fix_checksum(b);
  refused(b, "section 'xarameters' where 'parameters' was expected at byte offset " + std::to_string(name_at));

  // A value count far beyond the section.
  b = bytes;
  put_u64(b, count_at + 8 + 8 + std::string("0.weight").size(), 1u << 30);
  fix_checksum(b);
  refused(b, "tensor '0.weight' records 1073741824 values but only");
}
