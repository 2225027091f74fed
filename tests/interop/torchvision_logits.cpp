// torchvision's resnet18/34/50 -> safetensors (scripts/pt_to_safetensors.py) -> ctnn's
// ImageNetResNet18/34/50<1000> through the torchvision name map: strict loads (every tensor named
// and shaped as torchvision's, num_batches_tracked ignored) and torchvision's eval-mode logits
// (relative error <= 1e-4). The fixture (tests/interop/torchvision_resnet.py) writes the files into
// CTNN_INTEROP_DIR; without torchvision it is skipped, and so is this test (exit code 77).
#include <ctnn/ctnn.hpp>
#include <doctest/doctest.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

using namespace ctnn;

namespace {

std::string file(const std::string& name) {
  const char* d = std::getenv("CTNN_INTEROP_DIR");
  return std::string(d ? d : "") + "/" + name;
}

std::vector<float> read_f32(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  REQUIRE(in.good());
  std::vector<char> b{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  std::vector<float> v(b.size() / 4);
  std::memcpy(v.data(), b.data(), v.size() * 4);
  return v;
}

template <class Model>
void check_model(const char* name) {
  CAPTURE(name);
  using In = Shape<3, 64, 64>;
  Network<Model, In> net(2, 1);
  const io::NameMap map = io::name_maps::resnet(net, io::name_maps::Convention::torchvision);
  const io::LoadReport r = io::load_safetensors(file(std::string("tv_") + name + ".safetensors"), net, {.map = &map});
  CHECK(r.complete());
  Tensor<In> x(2);
  const auto input = read_f32(file("tv_input.f32"));
  REQUIRE(input.size() == x.size());
  std::copy(input.begin(), input.end(), x.data());
  const auto want = read_f32(file(std::string("tv_") + name + "_logits.f32"));
  const auto got = to_host(net.forward(x, Mode::eval));
  REQUIRE(got.size() == want.size());
  double diff = 0, scale = 0;
  for (std::size_t i = 0; i < want.size(); ++i) {
    diff = std::max(diff, std::abs(double(got[i]) - double(want[i])));
    scale = std::max(scale, std::abs(double(want[i])));
  }
  MESSAGE(std::string(name) << ": relative error of the logits against torchvision: " << diff / scale);
  CHECK(diff / scale <= 1e-4);
}

}  // namespace

TEST_CASE("torchvision's ResNets through safetensors give torchvision's logits") {
  if (!std::filesystem::exists(file("tv_resnet50.safetensors"))) {
    std::printf("the torchvision fixture is missing (torchvision not installed?): skipping\n");
    std::exit(77);
  }
  check_model<ImageNetResNet18<1000>>("resnet18");
  check_model<ImageNetResNet34<1000>>("resnet34");
  check_model<ImageNetResNet50<1000>>("resnet50");
}
