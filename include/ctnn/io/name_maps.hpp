#pragma once
// Name maps from ctnn's parameter paths to PyTorch's module names, for ctnn's ResNets:
//
//   ctnn::io::NameMap map = ctnn::io::name_maps::resnet(net, ctnn::io::name_maps::Convention::pytorch_cifar);
//   ctnn::io::load_safetensors("resnet18.safetensors", net, {.map = &map});
//
// Conventions:
//   pytorch_cifar  the widely used pytorch-cifar ResNets: conv1, bn1, layer{1..4}.{b}.conv1/bn1/
//                  conv2/bn2[/conv3/bn3], .shortcut.0/.shortcut.1 for the projection, linear
//   torchvision    torchvision.models.resnet18/34/50: the same, with downsample.0/.1 and fc
// ctnn's names follow the spec's structure: "0" the stem convolution, "1" its batch norm, then the
// stages (3 for the CIFAR stem, 4 after the ImageNet stem's max-pool) as "<stage>.<block>.main.<i>"
// and "<stage>.<block>.shortcut.<i>", and the last index the Linear. Batch-norm tensors keep their
// roles (weight, bias, running_mean, running_var); PyTorch's num_batches_tracked has no counterpart
// and is ignored by the loader. A name that does not fit this layout is an error naming it. For a
// network of your own, write the table (NameMap::names) yourself.

#include <cstddef>
#include <string>
#include <vector>

#include "../core/error.hpp"
#include "safetensors.hpp"

namespace ctnn::io::name_maps {

enum class Convention { pytorch_cifar, torchvision };

namespace detail {

inline std::vector<std::string> split(const std::string& s) {
  std::vector<std::string> out(1);
  for (const char c : s) {
    if (c == '.') out.emplace_back();
    else out.back() += c;
  }
  return out;
}

inline std::size_t index(const std::string& s, const std::string& name) {
  if (s.empty() || s.find_first_not_of("0123456789") != std::string::npos)
    ctnn::detail::fail("ctnn::io::name_maps::resnet: '", name, "' is not a name of a ctnn ResNet (", s, " is not a position)");
  return std::stoul(s);
}

}  // namespace detail

template <class Net>
NameMap resnet(const Net& net, Convention convention) {
  std::vector<std::string> names;
  for (const auto& p : net.parameters()) names.push_back(p.name);
  for (const auto& b : net.buffers()) names.push_back(b.name);
  // The Linear is the last top-level position; the stages sit at the one with deep names.
  std::size_t last = 0, body = 0;
  for (const auto& n : names) {
    const auto parts = detail::split(n);
    const std::size_t top = detail::index(parts[0], n);
    last = std::max(last, top);
    if (parts.size() > 2) body = top;
  }
  const bool torchvision = convention == Convention::torchvision;
  NameMap map;
  for (const auto& n : names) {
    const auto parts = detail::split(n);
    const std::size_t top = detail::index(parts[0], n);
    const std::string& role = parts.back();
    std::string to;
    if (parts.size() == 2 && top == 0) to = "conv1." + role;
    else if (parts.size() == 2 && top == 1) to = "bn1." + role;
    else if (parts.size() == 2 && top == last) to = std::string(torchvision ? "fc." : "linear.") + role;
    else if (parts.size() == 6 && top == body) {
      const std::size_t stage = detail::index(parts[1], n), block = detail::index(parts[2], n), i = detail::index(parts[4], n);
      std::string part;
      if (parts[3] == "main") {
        // conv-bn-relu-conv-bn[-relu-conv-bn]: convolution k sits at position 3(k-1), its bn after it
        if (i % 3 == 2) ctnn::detail::fail("ctnn::io::name_maps::resnet: '", n, "' names an activation, which has no tensors");
        part = std::string(i % 3 == 0 ? "conv" : "bn") + std::to_string(i / 3 + 1);
      } else if (parts[3] == "shortcut") {
        part = std::string(torchvision ? "downsample." : "shortcut.") + std::to_string(i);
      } else {
        ctnn::detail::fail("ctnn::io::name_maps::resnet: '", n, "' is neither in a block's main branch nor its shortcut");
      }
      to = "layer" + std::to_string(stage + 1) + "." + std::to_string(block) + "." + part + "." + role;
    } else {
      ctnn::detail::fail("ctnn::io::name_maps::resnet: '", n, "' does not fit the layout of a ctnn ResNet");
    }
    map.names.emplace_back(n, to);
  }
  return map;
}

}  // namespace ctnn::io::name_maps
