// ONNX export and import within ctnn: a round trip of the weights bit for bit (file -> network ->
// file gives the same bytes), the graph checked against the type with the first differing node
// named, malformed files; and the fixture for tests/interop/onnx_check.py (onnx's checker and ONNX
// Runtime against ctnn's logits at two batch sizes), written into CTNN_INTEROP_DIR.
#include <ctnn/ctnn.hpp>
#include <doctest/doctest.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "io/fixture.hpp"

using namespace ctnn;
using io_test::TempDir;

namespace {

using Mixed = Seq<Conv<3, 8, 3, 1, 1, with_bias>, BatchNorm<8>, GELU,
                  Residual<Seq<DepthwiseConv<8>, BatchNorm<8>, LeakyReLU<0.1>>, Identity, ReLU>, MaxPool<2>,
                  Conv<8, 8, 3, 2, 1, groups<2>>, Sigmoid, AvgPool<2>, Tanh, Dropout<0.2>, GlobalAvgPool, Flatten,
                  Linear<8, 5>>;
using MixedIn = Shape<3, 16, 16>;

template <class Net>
void randomize_buffers(Net& net) {
  for (auto& b : net.buffers())
    for (std::size_t i = 0; i < b.size; ++i) b.value[i] = 0.3f + 0.1f * float((i * 7) % 5);
}

// Running statistics of real activations (training-mode passes over random inputs), so that the
// evaluation-mode output depends on the input through every layer.
template <class Net>
void calibrate(Net& net) {
  Tensor<typename Net::input_shape> x(net.max_batch());
  Rng rng(11);
  for (int pass = 0; pass < 30; ++pass) {
    for (std::size_t i = 0; i < x.size(); ++i) x.data()[i] = static_cast<float>(rng.normal());
    net.forward(x, Mode::train);
  }
}

void write_f32(const std::string& path, const std::vector<float>& v) {
  FILE* f = std::fopen(path.c_str(), "wb");
  REQUIRE(f);
  std::fwrite(v.data(), 4, v.size(), f);
  std::fclose(f);
}

// An input of `batch` samples, its ctnn logits, for the Python side.
template <class Net>
void write_case(Net& net, const std::string& stem, std::size_t batch) {
  Tensor<typename Net::input_shape> x(batch);
  for (std::size_t i = 0; i < x.size(); ++i) x.data()[i] = std::sin(0.37f * float(i)) + 0.1f * std::cos(0.011f * float(i));
  write_f32(stem + "_in_b" + std::to_string(batch) + ".f32", std::vector<float>(x.data(), x.data() + x.size()));
  write_f32(stem + "_out_b" + std::to_string(batch) + ".f32", to_host(net.forward(x, Mode::eval)));
}

}  // namespace

TEST_CASE("ONNX: export, import into a fresh network, export again: the same bytes; the same logits") {
  TempDir dir("onnx_roundtrip");
  Network<Mixed, MixedIn> a(2, 1), b(2, 2);
  randomize_buffers(a);
  io::export_onnx(dir.file("a.onnx"), a);
  io::import_onnx(dir.file("a.onnx"), b);
  io::export_onnx(dir.file("b.onnx"), b);
  CHECK(io_test::read_bytes(dir.file("a.onnx")) == io_test::read_bytes(dir.file("b.onnx")));
  Tensor<MixedIn> x(2);
  for (std::size_t i = 0; i < x.size(); ++i) x.data()[i] = std::cos(float(i));
  CHECK(to_host(a.forward(x, Mode::eval)) == to_host(b.forward(x, Mode::eval)));
}

TEST_CASE("ONNX import checks the graph against the type and names the first node that differs") {
  TempDir dir("onnx_mismatch");
  using A = Seq<Conv<3, 4, 3>, BatchNorm<4>, ReLU, GlobalAvgPool, Flatten, Linear<4, 2>>;
  using B = Seq<Conv<3, 4, 3>, ReLU, GlobalAvgPool, Flatten, Linear<4, 2>>;       // no batch norm
  using C = Seq<Conv<3, 4, 5>, BatchNorm<4>, ReLU, GlobalAvgPool, Flatten, Linear<4, 2>>;  // 5x5 kernel
  using E = Seq<Conv<3, 4, 3>, BatchNorm<4>, ReLU, GlobalAvgPool, Flatten, Linear<4, 3>>;  // 3 classes
  Network<A, Shape<3, 8, 8>> a(1, 1);
  io::export_onnx(dir.file("a.onnx"), a);
  Network<B, Shape<3, 8, 8>> b(1);
  Network<C, Shape<3, 8, 8>> c(1);
  Network<E, Shape<3, 8, 8>> e(1);
  CHECK(io_test::error_of([&] { io::import_onnx(dir.file("a.onnx"), b); })
            .find("node 1 ('BatchNormalization_1', byte offset") != std::string::npos);
  CHECK(io_test::error_of([&] { io::import_onnx(dir.file("a.onnx"), b); })
            .find("is BatchNormalization in the file but the network expects Relu") != std::string::npos);
  CHECK(io_test::error_of([&] { io::import_onnx(dir.file("a.onnx"), c); }).find("node 0 ('Conv_0'") != std::string::npos);
  const std::vector<float> before(e.parameters()[0].value, e.parameters()[0].value + e.parameters()[0].size);
  CHECK(io_test::error_of([&] { io::import_onnx(dir.file("a.onnx"), e); })
            .find("node 5 ('Gemm_5', byte offset") != std::string::npos);
  CHECK(std::equal(before.begin(), before.end(), e.parameters()[0].value));  // nothing was loaded
  // Malformed files.
  auto bytes = io_test::read_bytes(dir.file("a.onnx"));
  io_test::write_bytes(dir.file("cut.onnx"), std::vector<unsigned char>(bytes.begin(), bytes.begin() + 40));
  CHECK(io_test::error_of([&] { io::import_onnx(dir.file("cut.onnx"), a); }).find("is malformed at byte offset") != std::string::npos);
  io_test::write_bytes(dir.file("junk.onnx"), {0x08, 0x08});
  CHECK(io_test::error_of([&] { io::import_onnx(dir.file("junk.onnx"), a); }).find("holds no graph") != std::string::npos);
  CHECK(io_test::error_of([&] { io::import_onnx(dir.file("missing.onnx"), a); }).find("missing.onnx") != std::string::npos);
}

TEST_CASE("the fixture for onnx_check.py: a mixed network and ResNet-18, inputs and ctnn logits at batch 1 and 3") {
  const char* out = std::getenv("CTNN_INTEROP_DIR");
  if (!out) {
    MESSAGE("CTNN_INTEROP_DIR is not set: no fixture written (CTest sets it)");
    return;
  }
  std::filesystem::create_directories(out);
  const std::string dir = out;
  Network<Mixed, MixedIn> mixed(3, 4);
  calibrate(mixed);
  io::export_onnx(dir + "/mixed.onnx", mixed);
  write_case(mixed, dir + "/mixed", 1);
  write_case(mixed, dir + "/mixed", 3);
  Network<ResNet18<10>, Shape<3, 32, 32>> resnet(3, 5);
  calibrate(resnet);
  io::export_onnx(dir + "/resnet18.onnx", resnet);
  write_case(resnet, dir + "/resnet18", 1);
  write_case(resnet, dir + "/resnet18", 3);
}
