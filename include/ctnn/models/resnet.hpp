#pragma once
// ResNet building blocks and networks, matching torchvision's definitions (stride on the 3x3
// convolution of a Bottleneck, 1x1 convolution + batch norm shortcut where the shape changes).
//   ResNet18/34/50<Classes>          CIFAR stem: 3x3 convolution, no max-pool (for 32x32 inputs)
//   ImageNetResNet18/34/50<Classes>  7x7/2 convolution stem + 3x3/2 max-pool (for 224x224 inputs)

#include <cstddef>
#include <string>
#include <type_traits>
#include <utility>

#include "../layers/activation.hpp"
#include "../layers/batchnorm.hpp"
#include "../layers/conv.hpp"
#include "../layers/flatten.hpp"
#include "../layers/identity.hpp"
#include "../layers/linear.hpp"
#include "../layers/pool.hpp"
#include "../layers/residual.hpp"
#include "../layers/sequential.hpp"

namespace ctnn {

inline constexpr std::size_t stride1 = 1;
inline constexpr std::size_t stride2 = 2;

namespace detail {
template <std::size_t In, std::size_t Out, std::size_t Stride>
using projection_t = std::conditional_t<(Stride != 1 || In != Out), Seq<Conv<In, Out, 1, Stride, 0>, BatchNorm<Out>>, Identity>;
}  // namespace detail

// conv3x3(stride) - bn - relu - conv3x3 - bn, plus the shortcut, then relu.
template <std::size_t In, std::size_t Out, std::size_t Stride = stride1>
struct BasicBlock : Residual<Seq<Conv<In, Out, 3, Stride>, BatchNorm<Out>, ReLU, Conv<Out, Out, 3, 1>, BatchNorm<Out>>,
                             detail::projection_t<In, Out, Stride>, ReLU> {
  static constexpr std::size_t expansion = 1;
  static std::string name() { return "BasicBlock<" + detail::join_numbers(In, Out, Stride) + ">"; }
};

// conv1x1 - bn - relu - conv3x3(stride) - bn - relu - conv1x1 (x4) - bn, plus the shortcut, then relu.
template <std::size_t In, std::size_t Mid, std::size_t Stride = stride1>
struct Bottleneck
    : Residual<Seq<Conv<In, Mid, 1, 1, 0>, BatchNorm<Mid>, ReLU, Conv<Mid, Mid, 3, Stride>, BatchNorm<Mid>, ReLU,
                   Conv<Mid, 4 * Mid, 1, 1, 0>, BatchNorm<4 * Mid>>,
               detail::projection_t<In, 4 * Mid, Stride>, ReLU> {
  static constexpr std::size_t expansion = 4;
  static std::string name() { return "Bottleneck<" + detail::join_numbers(In, Mid, Stride) + ">"; }
};

namespace detail {

template <std::size_t, class T>
using repeat_t = T;

// A stage: the first block changes width and stride, the remaining Count-1 blocks keep them.
template <template <std::size_t, std::size_t, std::size_t> class Block, std::size_t In, std::size_t Width,
          std::size_t Stride, class Rest>
struct stage_impl;
template <template <std::size_t, std::size_t, std::size_t> class Block, std::size_t In, std::size_t Width,
          std::size_t Stride, std::size_t... I>
struct stage_impl<Block, In, Width, Stride, std::index_sequence<I...>> {
  static constexpr std::size_t out = Width * Block<In, Width, Stride>::expansion;
  using type = Seq<Block<In, Width, Stride>, repeat_t<I, Block<out, Width, 1>>...>;
};

template <template <std::size_t, std::size_t, std::size_t> class Block, std::size_t In, std::size_t Width,
          std::size_t Count, std::size_t Stride>
using stage_t = typename stage_impl<Block, In, Width, Stride, std::make_index_sequence<Count - 1>>::type;

template <template <std::size_t, std::size_t, std::size_t> class Block, std::size_t N1, std::size_t N2,
          std::size_t N3, std::size_t N4>
struct resnet_body {
  static constexpr std::size_t e = Block<64, 64, 1>::expansion;
  using type = Seq<stage_t<Block, 64, 64, N1, 1>, stage_t<Block, 64 * e, 128, N2, 2>, stage_t<Block, 128 * e, 256, N3, 2>,
                   stage_t<Block, 256 * e, 512, N4, 2>>;
  static constexpr std::size_t features = 512 * e;
};

template <class Body, std::size_t Classes>
using cifar_resnet_t = Seq<Conv<3, 64, 3, 1, 1>, BatchNorm<64>, ReLU, typename Body::type, GlobalAvgPool, Flatten,
                           Linear<Body::features, Classes>>;

template <class Body, std::size_t Classes>
using imagenet_resnet_t = Seq<Conv<3, 64, 7, 2, 3>, BatchNorm<64>, ReLU, MaxPool<3, 2, 1>, typename Body::type,
                              GlobalAvgPool, Flatten, Linear<Body::features, Classes>>;

}  // namespace detail

template <std::size_t Classes = 10>
struct ResNet18 : detail::cifar_resnet_t<detail::resnet_body<BasicBlock, 2, 2, 2, 2>, Classes> {
  static std::string name() { return "ResNet18<" + std::to_string(Classes) + ">"; }
};
template <std::size_t Classes = 10>
struct ResNet34 : detail::cifar_resnet_t<detail::resnet_body<BasicBlock, 3, 4, 6, 3>, Classes> {
  static std::string name() { return "ResNet34<" + std::to_string(Classes) + ">"; }
};
template <std::size_t Classes = 10>
struct ResNet50 : detail::cifar_resnet_t<detail::resnet_body<Bottleneck, 3, 4, 6, 3>, Classes> {
  static std::string name() { return "ResNet50<" + std::to_string(Classes) + ">"; }
};

template <std::size_t Classes = 1000>
struct ImageNetResNet18 : detail::imagenet_resnet_t<detail::resnet_body<BasicBlock, 2, 2, 2, 2>, Classes> {
  static std::string name() { return "ImageNetResNet18<" + std::to_string(Classes) + ">"; }
};
template <std::size_t Classes = 1000>
struct ImageNetResNet34 : detail::imagenet_resnet_t<detail::resnet_body<BasicBlock, 3, 4, 6, 3>, Classes> {
  static std::string name() { return "ImageNetResNet34<" + std::to_string(Classes) + ">"; }
};
template <std::size_t Classes = 1000>
struct ImageNetResNet50 : detail::imagenet_resnet_t<detail::resnet_body<Bottleneck, 3, 4, 6, 3>, Classes> {
  static std::string name() { return "ImageNetResNet50<" + std::to_string(Classes) + ">"; }
};

}  // namespace ctnn
