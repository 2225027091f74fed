// io/weights_file.hpp: one load and one save for the three weight formats. Each format round
// trips exactly through load_weights_file, the format is recognised by content whatever the file
// is called, name maps apply to safetensors only, and a file in none of the formats is refused
// with what was expected.

#include <ctnn/ctnn.hpp>
#include <doctest/doctest.h>

#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "io/fixture.hpp"

using namespace ctnn;
using io_test::TempDir;
using io_test::error_of;

namespace {

using Small = Seq<Conv<3, 4, 3, 1, 1, with_bias>, BatchNorm<4>, ReLU, MaxPool<2>, Flatten, Linear<4 * 2 * 2, 3>>;
using Net = Network<Small, Shape<3, 4, 4>>;

std::vector<float> values(const auto& n) {
  std::vector<float> v;
  for (const auto& p : n.parameters()) v.insert(v.end(), p.value, p.value + p.size);
  for (const auto& b : n.buffers()) v.insert(v.end(), b.value, b.value + b.size);
  return v;
}

bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

// Gives the batch-norm statistics values other than the initial ones, so that buffers are checked too.
template <class N>
N& settled(N& n) {
  for (auto& b : n.buffers())
    for (std::size_t i = 0; i < b.size; ++i) b.value[i] = 0.25f + 0.125f * float(i);
  return n;
}

}  // namespace

TEST_CASE("every format round trips exactly, and is recognised by content") {
  TempDir dir("weights_file");
  Net a(2, 1);
  settled(a);
  for (const char* name : {"w.ctnn", "w.safetensors", "w.onnx"}) {
    CAPTURE(name);
    const std::string path = dir.file(name);
    const io::WeightFormat f = io::save_weights_file(path, a);
    CHECK(f == io::weight_format_for(path));
    CHECK(io::detect_weight_format(path) == f);
    Net b(2, 7);
    REQUIRE_FALSE(same_bits(values(a), values(b)));
    const io::LoadReport r = io::load_weights_file(path, b);
    CHECK(r.complete());
    CHECK(r.loaded.size() == a.parameters().size() + a.buffers().size());
    CHECK(same_bits(values(a), values(b)));

    // The same bytes under a name that says nothing.
    const std::string renamed = dir.file(std::string("renamed-") + name + ".bin");
    std::filesystem::copy_file(path, renamed);
    CHECK(io::detect_weight_format(renamed) == f);
    Net c(2, 9);
    io::load_weights_file(renamed, c);
    CHECK(same_bits(values(a), values(c)));
  }
  CHECK(std::string(io::format_name(io::WeightFormat::onnx)) == "ONNX");
  // A format named in the options wins over the extension.
  const std::string bin = dir.file("model.bin");
  CHECK(io::save_weights_file(bin, a, {.format = io::WeightFormat::onnx}) == io::WeightFormat::onnx);
  CHECK(io::detect_weight_format(bin) == io::WeightFormat::onnx);
}

TEST_CASE("a full checkpoint gives its weights") {
  TempDir dir("weights_file_full");
  Net a(2, 1);
  settled(a);
  SGD<> opt(0.1f, 0.9f);
  const std::string path = dir.file("run.ckpt");
  io::save_checkpoint(path, a, opt, io::TrainingState{});
  Net b(2, 5);
  io::load_weights_file(path, b);
  CHECK(same_bits(values(a), values(b)));
}

TEST_CASE("name maps: safetensors in PyTorch's names both ways; the other formats ignore them") {
  TempDir dir("weights_file_maps");
  using R = Network<ResNet18<10>, Shape<3, 32, 32>>;
  const R a(1, 1);
  const std::string st = dir.file("resnet18.safetensors"), onnx = dir.file("resnet18.onnx");
  io::save_weights_file(st, a, {.name_map = "pytorch-cifar"});
  const io::SafetensorsFile f = io::SafetensorsFile::read(st);
  CHECK(f.find("layer2.0.shortcut.0.weight") != nullptr);
  CHECK(f.find("linear.bias") != nullptr);
  CHECK(f.find("0.weight") == nullptr);

  R b(1, 2);
  const std::string wrong = error_of([&] { io::load_weights_file(st, b); });  // ctnn's names are not in it
  CHECK(wrong.find("it has no tensor for 0.weight") != std::string::npos);
  io::load_weights_file(st, b, {.name_map = "pytorch-cifar"});
  CHECK(same_bits(values(a), values(b)));

  const std::string torchvision = error_of([&] { io::load_weights_file(st, b, {.name_map = "torchvision"}); });
  CHECK(torchvision.find("no tensor for 0.weight (file name conv1.weight)") == std::string::npos);  // conv1 is common
  CHECK(torchvision.find("(file name layer") != std::string::npos);  // downsample vs shortcut, or fc vs linear

  // ONNX and ctnn files ignore the map: ONNX import matches the graph, whatever the names.
  io::save_weights_file(onnx, a, {.name_map = "pytorch-cifar"});
  R c(1, 3);
  io::load_weights_file(onnx, c, {.name_map = "torchvision"});
  CHECK(same_bits(values(a), values(c)));
  CHECK(error_of([&] { io::save_weights_file(st, a, {.name_map = "keras"}); })
            .find("unknown name map 'keras' for '" + st + "': expected ctnn, pytorch-cifar or torchvision") != std::string::npos);
  CHECK(error_of([&] { io::load_weights_file(onnx, c, {.name_map = "keras"}); }).find("unknown name map 'keras'") != std::string::npos);
}

TEST_CASE("a file in none of the formats, a missing file, and a failed load that changes nothing") {
  TempDir dir("weights_file_bad");
  const std::string text = dir.file("notes.txt");
  io_test::write_bytes(text, {'h', 'e', 'l', 'l', 'o', ' ', 'w', 'o', 'r', 'l', 'd', '\n'});
  Net net(2, 3);
  settled(net);
  const std::vector<float> before = values(net);
  const std::string msg = error_of([&] { io::load_weights_file(text, net); });
  CHECK(msg.find("ctnn::io: '" + text + "' (12 bytes) is none of the weight formats ctnn reads: expected a ctnn checkpoint") !=
        std::string::npos);
  CHECK(error_of([&] { io::load_weights_file(dir.file("absent.ctnn"), net); }).find("cannot open weights file '" + dir.file("absent.ctnn")) !=
        std::string::npos);

  // An ONNX model of another network: import names the node, nothing is loaded.
  using Other = Network<Seq<Conv<3, 4, 3, 1, 1, with_bias>, BatchNorm<4>, ReLU, AvgPool<2>, Flatten, Linear<16, 3>>, Shape<3, 4, 4>>;
  const std::string other = dir.file("other.onnx");
  const Other o(2, 1);
  io::save_weights_file(other, o);
  CHECK(error_of([&] { io::load_weights_file(other, net); }).find("AveragePool") != std::string::npos);
  CHECK(same_bits(before, values(net)));
}
