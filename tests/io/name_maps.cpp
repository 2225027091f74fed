// io/name_maps.hpp: the ResNet maps give exactly the state_dict keys (and shapes) of the PyTorch
// definitions they name. The expected keys are generated here from those definitions' structure
// (torchvision's resnet18/50: conv1, bn1, layer1..4 of BasicBlock or Bottleneck with downsample.0/.1
// where the shape changes, fc); tests/interop/torch_logits checks pytorch-cifar's against PyTorch.

#include <ctnn/ctnn.hpp>
#include <doctest/doctest.h>

#include <map>
#include <set>
#include <string>
#include <vector>

using namespace ctnn;
namespace nm = ctnn::io::name_maps;

namespace {

void add_bn(std::set<std::string>& keys, const std::string& m) {
  for (const char* r : {"weight", "bias", "running_mean", "running_var"}) keys.insert(m + "." + r);
}

// The keys of a torchvision-style (or pytorch-cifar-style) ResNet's state_dict, without
// num_batches_tracked (which ctnn's loader ignores).
std::set<std::string> pytorch_keys(const std::vector<std::size_t>& blocks, bool bottleneck, bool torchvision) {
  std::set<std::string> keys{"conv1.weight", torchvision ? "fc.weight" : "linear.weight", torchvision ? "fc.bias" : "linear.bias"};
  add_bn(keys, "bn1");
  for (std::size_t s = 0; s < blocks.size(); ++s)
    for (std::size_t b = 0; b < blocks[s]; ++b) {
      const std::string block = "layer" + std::to_string(s + 1) + "." + std::to_string(b) + ".";
      for (int k = 1; k <= (bottleneck ? 3 : 2); ++k) {
        keys.insert(block + "conv" + std::to_string(k) + ".weight");
        add_bn(keys, block + "bn" + std::to_string(k));
      }
      // The shape changes in the first block of every stage but the first, and (4x expansion) in
      // the first block of the first stage of a bottleneck network.
      if (b == 0 && (s > 0 || bottleneck)) {
        const std::string shortcut = block + (torchvision ? "downsample." : "shortcut.");
        keys.insert(shortcut + "0.weight");
        add_bn(keys, shortcut + "1");
      }
    }
  return keys;
}

template <class N>
std::map<std::string, std::vector<std::size_t>> mapped(const N& net, nm::Convention c) {
  const io::NameMap map = nm::resnet(net, c);
  std::map<std::string, std::vector<std::size_t>> out;
  for (const auto& p : net.parameters()) CHECK(out.emplace(map.file_name(p.name), shape_of(p)).second);
  for (const auto& b : net.buffers()) CHECK(out.emplace(map.file_name(b.name), shape_of(b)).second);
  return out;
}

std::set<std::string> keys_of(const std::map<std::string, std::vector<std::size_t>>& m) {
  std::set<std::string> k;
  for (const auto& [name, shape] : m) k.insert(name);
  return k;
}

using Shape_ = std::vector<std::size_t>;

}  // namespace

TEST_CASE("torchvision: ResNet-18 (62 parameters, 40 buffers) and ResNet-50 (161, 106) with their shapes") {
  // Small images: the tensors do not depend on the input size.
  const Network<ImageNetResNet18<1000>, Shape<3, 32, 32>> r18(1, 1);
  const auto m18 = mapped(r18, nm::Convention::torchvision);
  CHECK(r18.parameters().size() == 62);
  CHECK(r18.buffers().size() == 40);
  CHECK(keys_of(m18) == pytorch_keys({2, 2, 2, 2}, false, true));
  CHECK(m18.at("conv1.weight") == Shape_{64, 3, 7, 7});
  CHECK(m18.at("layer2.0.downsample.0.weight") == Shape_{128, 64, 1, 1});
  CHECK(m18.at("layer4.1.conv2.weight") == Shape_{512, 512, 3, 3});
  CHECK(m18.at("fc.weight") == Shape_{1000, 512});
  CHECK(m18.at("fc.bias") == Shape_{1000});

  const Network<ImageNetResNet50<1000>, Shape<3, 32, 32>> r50(1, 1);
  const auto m50 = mapped(r50, nm::Convention::torchvision);
  CHECK(r50.parameters().size() == 161);
  CHECK(r50.buffers().size() == 106);
  CHECK(keys_of(m50) == pytorch_keys({3, 4, 6, 3}, true, true));
  CHECK(m50.at("layer1.0.conv1.weight") == Shape_{64, 64, 1, 1});
  CHECK(m50.at("layer1.0.conv3.weight") == Shape_{256, 64, 1, 1});
  CHECK(m50.at("layer1.0.downsample.0.weight") == Shape_{256, 64, 1, 1});
  CHECK(m50.at("layer3.5.bn3.running_var") == Shape_{1024});
  CHECK(m50.at("fc.weight") == Shape_{1000, 2048});
}

TEST_CASE("torchvision: ResNet-34") {
  const Network<ImageNetResNet34<10>, Shape<3, 32, 32>> r34(1, 1);
  CHECK(keys_of(mapped(r34, nm::Convention::torchvision)) == pytorch_keys({3, 4, 6, 3}, false, true));
}

TEST_CASE("pytorch-cifar: ResNet-18 and ResNet-50 (shortcut.0/.1, linear)") {
  const Network<ResNet18<10>, Shape<3, 32, 32>> r18(1, 1);
  const auto m18 = mapped(r18, nm::Convention::pytorch_cifar);
  CHECK(keys_of(m18) == pytorch_keys({2, 2, 2, 2}, false, false));
  CHECK(m18.at("conv1.weight") == Shape_{64, 3, 3, 3});
  CHECK(m18.at("linear.weight") == Shape_{10, 512});
  const Network<ResNet50<100>, Shape<3, 32, 32>> r50(1, 1);
  CHECK(keys_of(mapped(r50, nm::Convention::pytorch_cifar)) == pytorch_keys({3, 4, 6, 3}, true, false));
}

TEST_CASE("a network that is not a ResNet is refused, naming the tensor") {
  const Network<Seq<Conv<3, 4, 3>, ReLU, Conv<4, 4, 3>, Flatten, Linear<4 * 4 * 4, 2>>, Shape<3, 4, 4>> net(1, 1);
  try {
    (void)nm::resnet(net, nm::Convention::torchvision);
    FAIL("expected a ctnn::Error");
  } catch (const ctnn::Error& e) {
    CHECK(std::string(e.what()).find("ctnn::io::name_maps::resnet: '2.weight' does not fit the layout of a ctnn ResNet") !=
          std::string::npos);
  }
}
