// PyTorch's ResNet-18 weights -> safetensors (scripts/pt_to_safetensors.py) -> ctnn: the same
// eval-mode logits as PyTorch (relative error <= 1e-4), through the pytorch-cifar name map; BF16
// weights load within BF16's precision. The fixture (tests/interop/torch_resnet.py) writes the files
// into CTNN_INTEROP_DIR; without torch it is skipped, and so is this test (exit code 77).
#include <ctnn/ctnn.hpp>
#include <doctest/doctest.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

using namespace ctnn;

namespace {

std::string dir() {
  const char* d = std::getenv("CTNN_INTEROP_DIR");
  return d ? d : "";
}

std::vector<float> read_f32(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::vector<char> b{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  std::vector<float> v(b.size() / 4);
  std::memcpy(v.data(), b.data(), v.size() * 4);
  return v;
}

double rel_error(const std::vector<float>& ref, const std::vector<float>& got) {
  double diff = 0, scale = 0;
  for (std::size_t i = 0; i < ref.size(); ++i) {
    diff = std::max(diff, std::abs(double(got[i]) - double(ref[i])));
    scale = std::max(scale, std::abs(double(ref[i])));
  }
  return diff / scale;
}

}  // namespace

TEST_CASE("PyTorch's ResNet-18 through safetensors gives PyTorch's logits") {
  if (dir().empty() || !std::filesystem::exists(dir() + "/resnet18_F32.safetensors")) {
    std::printf("the PyTorch fixture is missing (torch not installed?): skipping\n");
    std::exit(77);
  }
  using Net = Network<ResNet18<10>, Shape<3, 32, 32>>;
  Net net(4, 1);
  const io::NameMap map = io::name_maps::resnet(net, io::name_maps::Convention::pytorch_cifar);
  const io::LoadReport r = io::load_safetensors(dir() + "/resnet18_F32.safetensors", net, {.map = &map});
  CHECK(r.complete());
  CHECK(r.loaded.size() == net.parameters().size() + net.buffers().size());
  Tensor<Shape<3, 32, 32>> x(4);
  const auto input = read_f32(dir() + "/input.f32");
  REQUIRE(input.size() == x.size());
  std::copy(input.begin(), input.end(), x.data());
  const auto want = read_f32(dir() + "/logits.f32");
  const auto got = to_host(net.forward(x, Mode::eval));
  REQUIRE(got.size() == want.size());
  const double e = rel_error(want, got);
  MESSAGE("relative error of the logits against PyTorch: " << e);
  CHECK(e <= 1e-4);

  Net half(4, 2);
  io::load_safetensors(dir() + "/resnet18_BF16.safetensors", half, {.map = &map});
  const double eh = rel_error(want, to_host(half.forward(x, Mode::eval)));
  MESSAGE("with BF16 weights: " << eh);
  CHECK(eh <= 0.05);

  // Without the map the names do not fit: a strict load says which, a non-strict one reports them.
  Net plain(4, 3);
  CHECK_THROWS_WITH_AS(io::load_safetensors(dir() + "/resnet18_F32.safetensors", plain),
                       doctest::Contains("it has no tensor for 0.weight"), Error);
  const auto report = io::load_safetensors(dir() + "/resnet18_F32.safetensors", plain, {.strict = false});
  CHECK(report.loaded.empty());
  CHECK(report.missing.size() == plain.parameters().size() + plain.buffers().size());
  CHECK(report.unexpected.size() == report.missing.size());
}

// The other way: a ctnn ResNet-18 (its own weights, batch-norm statistics away from their
// defaults) saved as safetensors in pytorch-cifar's names, with its eval-mode logits on the
// fixture's input; tests/interop/torch_from_ctnn.py loads the file into the PyTorch model with a
// strict load_state_dict and compares the logits.
TEST_CASE("a ctnn ResNet-18 saved for PyTorch") {
  if (dir().empty() || !std::filesystem::exists(dir() + "/input.f32")) {
    std::printf("the PyTorch fixture is missing (torch not installed?): skipping\n");
    std::exit(77);
  }
  using Net = Network<ResNet18<10>, Shape<3, 32, 32>>;
  Net net(4, 5);
  std::size_t k = 0;
  for (auto& b : net.buffers())  // running_mean in [-0.2, 0.2], running_var in [0.5, 1.5]
    for (std::size_t i = 0; i < b.size; ++i, ++k)
      b.value[i] = b.name.ends_with("running_var") ? 0.5f + float(k % 11) / 10.f : -0.2f + float(k % 5) / 10.f;
  const io::NameMap map = io::name_maps::resnet(net, io::name_maps::Convention::pytorch_cifar);
  io::save_safetensors(dir() + "/ctnn_resnet18.safetensors", net, {.map = &map});
  Tensor<Shape<3, 32, 32>> x(4);
  const auto input = read_f32(dir() + "/input.f32");
  REQUIRE(input.size() == x.size());
  std::copy(input.begin(), input.end(), x.data());
  const auto logits = to_host(net.forward(x, Mode::eval));
  std::ofstream out(dir() + "/ctnn_logits.f32", std::ios::binary);
  out.write(reinterpret_cast<const char*>(logits.data()), std::streamsize(logits.size() * sizeof(float)));
  REQUIRE(out.good());
  // The file holds every tensor of the network plus a num_batches_tracked per batch norm.
  const io::SafetensorsFile f = io::SafetensorsFile::read(dir() + "/ctnn_resnet18.safetensors");
  CHECK(f.entries.size() == net.parameters().size() + net.buffers().size() + net.buffers().size() / 2);
  REQUIRE(f.find("layer2.0.shortcut.1.num_batches_tracked"));
  CHECK(f.find("layer2.0.shortcut.1.num_batches_tracked")->dtype == io::Dtype::i64);
}
