// Checkpoint format: round trips, the documented layout, and every way a load must refuse a file
// while leaving the network and the optimizer untouched.

#include "fixture.hpp"

#include <cerrno>
#include <cstring>

using namespace io_test;
namespace io = ctnn::io;

namespace {

// A network trained for a few steps, with an optimizer that has state, and a training state.
struct Trained {
  Net net;
  SGD opt = make_sgd();
  ctnn::Rng data;
  io::TrainingState state;

  explicit Trained(std::uint64_t seed, int steps = 3) : net(batch, seed), data(seed + 100) {
    Trainer<Net, SGD> t(net, opt, data);
    for (int i = 0; i < steps; ++i) t.step();
    state.epoch = 2;
    state.step = static_cast<std::uint64_t>(steps);
    state.rng = data.state();
    state.metrics["best_accuracy"] = 0.953125;
    state.metrics["loss"] = 1.0 / 3.0;
    state.notes["schedule"] = "cosine";
    state.notes["empty"] = "";
  }
};

// A stand-in network with the same architecture name as Net but tensor lists the test chooses,
// to write files that are intact yet do not fit Net.
struct FakeNet {
  using device = ctnn::Cpu;
  static std::string architecture() { return Net::architecture(); }
  std::vector<ctnn::Parameter> params;
  std::vector<ctnn::Buffer> bufs;
  std::vector<std::vector<float>> storage;

  explicit FakeNet(Net& real) {
    for (const auto& p : real.parameters()) params.push_back(p);
    for (const auto& b : real.buffers()) bufs.push_back(b);
  }
  // Gives parameter i its own memory of n values.
  void resize_parameter(std::size_t i, std::size_t n) {
    storage.emplace_back(n, 0.5f);
    params[i].value = storage.back().data();
    params[i].size = n;
  }
  std::span<ctnn::Parameter> parameters() { return params; }
  std::span<const ctnn::Parameter> parameters() const { return params; }
  std::span<ctnn::Buffer> buffers() { return bufs; }
  std::span<const ctnn::Buffer> buffers() const { return bufs; }
};

// A fresh network and optimizer (different seed, one step so the optimizer has state) and a
// snapshot of them, to check that a refused load changed nothing.
struct Victim {
  Net net{batch, 77};
  SGD opt = make_sgd();
  ctnn::Rng data{5};
  Snapshot before;
  Victim() {
    Trainer<Net, SGD>(net, opt, data).step();
    before = snapshot(net, opt);
  }
  std::string load_error(const std::string& path) {
    return error_of([&] { io::load_checkpoint(path, net, opt); });
  }
  std::string load_weights_error(const std::string& path) {
    return error_of([&] { net.load(path); });
  }
  void check_unchanged() { check_identical(before, snapshot(net, opt)); }
};

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

}  // namespace

TEST_CASE("io: a full checkpoint round-trips parameters, buffers, optimizer and training state") {
  TempDir dir("roundtrip");
  const std::string path = dir.file("a.ckpt");
  Trained a(1);
  io::save_checkpoint(path, a.net, a.opt, a.state);

  Net net(batch, 2);
  SGD opt = make_sgd();
  CHECK_FALSE(identical(snapshot(a.net, a.opt), snapshot(net, opt)));
  const io::TrainingState s = io::load_checkpoint(path, net, opt);
  check_identical(snapshot(a.net, a.opt), snapshot(net, opt));
  CHECK(opt.steps == 3);
  CHECK(s.epoch == 2);
  CHECK(s.step == 3);
  CHECK(s.rng.s == a.data.state().s);
  CHECK(s.metrics == a.state.metrics);
  CHECK(s.notes == a.state.notes);

  // The restored generator continues the same sequence.
  ctnn::Rng r;
  r.set_state(s.rng);
  CHECK(r.next_u64() == a.data.next_u64());

  // Buffers really are part of it: the running statistics moved away from their initial values.
  Net untrained(batch, 1);
  CHECK(a.net.buffers()[0].value[0] != untrained.buffers()[0].value[0]);
  CHECK(std::memcmp(net.buffers()[0].value, a.net.buffers()[0].value, 8 * sizeof(float)) == 0);
}

TEST_CASE("io: Network::save and Network::load round-trip parameters and buffers") {
  TempDir dir("weights");
  const std::string path = dir.file("w.ckpt");
  Trained a(3);
  a.net.save(path);

  Net net(batch, 4);
  net.load(path);
  check_identical(snapshot(a.net), snapshot(net));

  // A full checkpoint loads as weights too; a weights file cannot resume training.
  const std::string full = dir.file("full.ckpt");
  io::save_checkpoint(full, a.net, a.opt, a.state);
  Net other(batch, 5);
  other.load(full);
  check_identical(snapshot(a.net), snapshot(other));

  Victim v;
  const std::string msg = v.load_error(path);
  CHECK(contains(msg, path));
  CHECK(contains(msg, "only parameters and buffers"));
  v.check_unchanged();
}

TEST_CASE("io: the file follows the documented layout") {
  TempDir dir("layout");
  const std::string path = dir.file("l.ckpt");
  Trained a(1);
  io::save_checkpoint(path, a.net, a.opt, a.state);
  const auto b = read_bytes(path);

  CHECK(std::memcmp(b.data(), "CTNNCKPT", 8) == 0);
  CHECK((b[8] | b[9] << 8 | b[10] << 16 | b[11] << 24) == 1);
  CHECK(get_u64(b, 12) == b.size());
  CHECK(get_u64(b, 20) == io::fnv1a64(a.net.architecture_signature()));
  const std::string arch = Net::architecture();
  CHECK(arch == "Seq<Conv<3,8,3,1,1>, BatchNorm<8>, ReLU, GlobalAvgPool, Flatten, Linear<8,10>> on 3x8x8");
  REQUIRE(get_u64(b, 28) == arch.size());
  CHECK(std::string(b.begin() + 36, b.begin() + 36 + static_cast<std::ptrdiff_t>(arch.size())) == arch);
  std::size_t at = 36 + arch.size();
  CHECK(get_u64(b, at) == 4);  // sections
  at += 8;
  CHECK(get_u64(b, at) == 10);
  CHECK(std::string(b.begin() + static_cast<std::ptrdiff_t>(at) + 8, b.begin() + static_cast<std::ptrdiff_t>(at) + 18) ==
        "parameters");
  at += 18;
  const std::uint64_t section_size = get_u64(b, at);
  at += 8;
  CHECK(get_u64(b, at) == a.net.parameters().size());
  at += 8;
  const auto& p0 = a.net.parameters()[0];
  REQUIRE(get_u64(b, at) == p0.name.size());
  CHECK(std::string(b.begin() + static_cast<std::ptrdiff_t>(at) + 8,
                    b.begin() + static_cast<std::ptrdiff_t>(at + 8 + p0.name.size())) == p0.name);
  at += 8 + p0.name.size();
  CHECK(get_u64(b, at) == p0.size);
  at += 8;
  CHECK(std::memcmp(b.data() + at, p0.value, p0.size * sizeof(float)) == 0);  // little-endian host
  CHECK(section_size > p0.size * sizeof(float));
  CHECK(get_u64(b, b.size() - 8) == io::fnv1a64(b.data(), b.size() - 8));

  const std::string sig = a.net.architecture_signature();
  CHECK(sig.starts_with(arch + "\nparameter 0.weight 216\nparameter 1.weight 8\n"));
  CHECK(contains(sig, "buffer 1.running_mean 8\nbuffer 1.running_var 8\n"));
}

TEST_CASE("io: an architecture mismatch names both architectures") {
  TempDir dir("arch");
  {
    const std::string path = dir.file("resnet18.ckpt");
    ctnn::Network<ctnn::ResNet18<10>, ctnn::Shape<3, 32, 32>> r18(1, 1);
    r18.save(path);
    ctnn::Network<ctnn::ResNet34<10>, ctnn::Shape<3, 32, 32>> r34(1, 1);
    const std::string msg = error_of([&] { r34.load(path); });
    CHECK(contains(msg, "checkpoint '" + path + "' holds 'ResNet18<10> on 3x32x32' but the network is 'ResNet34<10> on 3x32x32'"));
  }
  {
    // Same layers and parameter sizes, different input shape: still a different architecture.
    const std::string path = dir.file("small.ckpt");
    Trained a(1);
    io::save_checkpoint(path, a.net, a.opt, a.state);
    ctnn::Network<Spec, ctnn::Shape<3, 16, 16>> other(batch, 1);
    const auto before = snapshot(other);
    SGD opt = make_sgd();
    const std::string msg = error_of([&] { io::load_checkpoint(path, other, opt); });
    CHECK(contains(msg, "on 3x8x8' but the network is '"));
    CHECK(contains(msg, "on 3x16x16'"));
    check_identical(before, snapshot(other));
  }
}

TEST_CASE("io: a truncated file is refused with its offset and what was expected") {
  TempDir dir("truncated");
  const std::string good = dir.file("good.ckpt");
  Trained a(1);
  io::save_checkpoint(good, a.net, a.opt, a.state);
  const auto bytes = read_bytes(good);
  const std::size_t arch_end = 36 + Net::architecture().size();

  struct Case {
    std::size_t length;
    const char* expected;
  };
  const Case cases[] = {
      {0, "expected the 8-byte magic"},
      {5, "expected the 8-byte magic"},
      {8, "expected the format version"},
      {10, "expected the format version"},
      {12, "expected the file size"},
      {20, "expected the architecture signature hash"},
      {30, "expected the length of the architecture name"},
      {40, "expected the architecture name"},
      {arch_end + 4, "expected the number of sections"},
      {arch_end + 20, "expected the name of section 1 ('parameters')"},
      {arch_end + 54, "expected the name of parameter 0"},
      {arch_end + 62, "expected the size of parameter '0.weight'"},
      {arch_end + 200, "expected the 216 float32 values of parameter '0.weight'"},
      {bytes.size() / 2, "expected"},
      {bytes.size() - 20, "of note"},
      {bytes.size() - 8, "expected the checksum"},
      {bytes.size() - 1, "expected the checksum"},
  };
  Victim v;
  for (const auto& c : cases) {
    CAPTURE(c.length);
    std::string name = std::to_string(c.length);
    name += ".ckpt";
    const std::string path = dir.file(name);
    write_bytes(path, std::vector<unsigned char>(bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(c.length)));
    for (const std::string& msg : {v.load_error(path), v.load_weights_error(path)}) {
      CAPTURE(msg);
      CHECK(contains(msg, "checkpoint '" + path + "' is truncated at byte offset " + std::to_string(c.length) + ": "));
      CHECK(contains(msg, c.expected));
      if (c.length >= 20) CHECK(contains(msg, "its header records " + std::to_string(bytes.size()) + " bytes"));
    }
    v.check_unchanged();
  }
}

TEST_CASE("io: a corrupted byte fails the checksum") {
  TempDir dir("corrupt");
  const std::string good = dir.file("good.ckpt");
  Trained a(1);
  io::save_checkpoint(good, a.net, a.opt, a.state);
  const auto bytes = read_bytes(good);
  Victim v;
  for (std::size_t at : {std::size_t{30}, bytes.size() / 3, bytes.size() / 2, bytes.size() - 30, bytes.size() - 3}) {
    CAPTURE(at);
    auto b = bytes;
    b[at] ^= 0x10;
    const std::string path = dir.file("c.ckpt");
    write_bytes(path, b);
    const std::string msg = v.load_error(path);
    CAPTURE(msg);
    CHECK(contains(msg, "checkpoint '" + path + "' is corrupted: its checksum"));
    v.check_unchanged();
  }
  // Extra bytes after the end the header records.
  auto b = bytes;
  b.push_back(0);
  const std::string path = dir.file("long.ckpt");
  write_bytes(path, b);
  const std::string msg = v.load_weights_error(path);
  CHECK(contains(msg, "is corrupted: it is " + std::to_string(b.size()) + " bytes long but its header records " +
                          std::to_string(bytes.size()) + " bytes"));
  v.check_unchanged();
}

TEST_CASE("io: wrong magic, wrong version, missing file") {
  TempDir dir("magic");
  const std::string good = dir.file("good.ckpt");
  Trained a(1);
  a.net.save(good);
  const auto bytes = read_bytes(good);
  Victim v;

  auto b = bytes;
  b[0] = 'X';
  const std::string path = dir.file("bad.ckpt");
  write_bytes(path, b);
  std::string msg = v.load_weights_error(path);
  CHECK(contains(msg, "'" + path + "' is not a ctnn checkpoint: it starts with the bytes 58 54 4e 4e 43 4b 50 54"));
  write_bytes(path, {'h', 'i'});
  msg = v.load_weights_error(path);
  CHECK(contains(msg, "is not a ctnn checkpoint: it starts with the bytes 68 69 instead"));

  b = bytes;
  b[8] = 2;
  fix_checksum(b);
  write_bytes(path, b);
  msg = v.load_error(path);
  CHECK(contains(msg, "checkpoint '" + path + "' has format version 2 but this build of ctnn reads version 1"));
  v.check_unchanged();

  const std::string missing = dir.file("missing.ckpt");
  msg = v.load_weights_error(missing);
  CHECK(contains(msg, "cannot open checkpoint '" + missing + "': " + std::strerror(ENOENT)));
  v.check_unchanged();
}

TEST_CASE("io: tensor sizes and names must match") {
  TempDir dir("size");
  Net real(batch, 1);
  Victim v;

  {  // an intact file whose first parameter is one value short
    FakeNet fake(real);
    fake.resize_parameter(0, 215);
    const std::string path = dir.file("short.ckpt");
    io::save_weights(path, fake);
    const std::string msg = v.load_weights_error(path);
    CHECK(contains(msg, "checkpoint '" + path + "': parameter '0.weight' holds 215 values in the checkpoint but 216 in the network"));
    v.check_unchanged();
  }
  {  // a renamed buffer
    FakeNet fake(real);
    fake.bufs[1].name = "1.running_variance";
    const std::string path = dir.file("renamed.ckpt");
    io::save_weights(path, fake);
    const std::string msg = v.load_weights_error(path);
    CHECK(contains(msg, "buffer 1 is '1.running_variance' in the checkpoint but '1.running_var' in the network"));
    v.check_unchanged();
  }
  {  // a missing parameter
    FakeNet fake(real);
    fake.params.pop_back();
    const std::string path = dir.file("fewer.ckpt");
    io::save_weights(path, fake);
    const std::string msg = v.load_weights_error(path);
    CHECK(contains(msg, "holds 4 parameter tensors but the network has 5"));
    v.check_unchanged();
  }
  {  // a section size that disagrees with its contents (checksum fixed up to get past it)
    const std::string path = dir.file("section.ckpt");
    real.save(path);
    auto b = read_bytes(path);
    const std::size_t size_at = 36 + Net::architecture().size() + 8 + 18;
    put_u64(b, size_at, get_u64(b, size_at) + 4);
    fix_checksum(b);
    write_bytes(path, b);
    const std::string msg = v.load_weights_error(path);
    CHECK(contains(msg, "checkpoint '" + path + "' is malformed"));
    v.check_unchanged();
  }
  {  // a tensor length beyond its section
    const std::string path = dir.file("tensor.ckpt");
    real.save(path);
    auto b = read_bytes(path);
    const std::size_t count_at = 36 + Net::architecture().size() + 8 + 18 + 8 + 8 + 8 + 8;  // "0.weight" values
    REQUIRE(get_u64(b, count_at) == 216);
    put_u64(b, count_at, 1ull << 60);
    fix_checksum(b);
    write_bytes(path, b);
    const std::string msg = v.load_weights_error(path);
    CHECK(contains(msg, "is malformed: the 1152921504606846976 float32 values of parameter '0.weight'"));
    CHECK(contains(msg, "runs past the end of section 'parameters'"));
    v.check_unchanged();
  }
}

TEST_CASE("io: a failed load leaves the network and the optimizer unchanged") {
  TempDir dir("unchanged");
  const std::string path = dir.file("sgd.ckpt");
  Trained a(1);
  io::save_checkpoint(path, a.net, a.opt, a.state);

  // Parameters and buffers fit, the optimizer state does not: nothing may have been copied.
  Net net(batch, 9);
  ctnn::AdamW<> adam;
  adam.state(net.parameters())[0].value[0] = 42.0f;
  adam.steps = 7;
  const Snapshot before = snapshot(net, adam);
  std::string msg = error_of([&] { io::load_checkpoint(path, net, adam); });
  CHECK(contains(msg, "holds 5 optimizer state tensors but the optimizer has 10 (the first is "
                      "'momentum_buffer.0.weight' in the checkpoint and 'exp_avg.0.weight' in the optimizer)"));
  check_identical(before, snapshot(net, adam));
  CHECK(adam.state(net.parameters())[0].value[0] == 42.0f);
  CHECK(adam.steps == 7);

  // SGD without momentum has no state at all.
  SGD plain{0.1f};
  msg = error_of([&] { io::load_checkpoint(path, net, plain); });
  CHECK(contains(msg, "holds 5 optimizer state tensors but the optimizer has 0"));
  check_identical(before, snapshot(net, adam));
  CHECK(plain.steps == 0);

  // The same file then loads into a matching optimizer.
  SGD sgd = make_sgd();
  io::load_checkpoint(path, net, sgd);
  check_identical(snapshot(a.net, a.opt), snapshot(net, sgd));
}

TEST_CASE("io: a user-written optimizer with the same contract round-trips") {
  TempDir dir("user_optimizer");
  const std::string path = dir.file("u.ckpt");
  Net a(batch, 1);
  FakeSGD opt;
  ctnn::Rng data(3);
  Trainer<Net, FakeSGD> t(a, opt, data);
  for (int i = 0; i < 3; ++i) t.step();
  io::save_checkpoint(path, a, opt, io::TrainingState{});

  Net b(batch, 2);
  FakeSGD opt_b;
  io::load_checkpoint(path, b, opt_b);
  check_identical(snapshot(a, opt), snapshot(b, opt_b));
  CHECK(opt_b.steps == 3);
}
