#pragma once
// The data pipeline: datasets of uint8 images of any Shape<C, H, W> (dataset.hpp); readers for
// CIFAR-10 (and its writer), CIFAR-100 and the IDX files of MNIST, Fashion-MNIST and KMNIST; a
// synthetic CIFAR-like set; and the Loader that batches, augments, normalises and prefetches them
// (loader.hpp over sampling.hpp, augmentation.hpp, prefetch.hpp). Compiled by nvcc, also
// cuda::DeviceLoader (device_loader.hpp): the same batches prepared on the GPU.

#include "core/config.hpp"
#include "data/augmentation.hpp"
#include "data/cifar10.hpp"
#include "data/cifar100.hpp"
#include "data/dataset.hpp"
#if CTNN_HAS_CUDA
#include "data/device_loader.hpp"
#endif
#include "data/files.hpp"
#include "data/idx.hpp"
#if defined(CTNN_HAS_STB) && CTNN_HAS_STB
#include "data/image.hpp"  // image files and folders (stb_image; the CMake target links it when found)
#endif
#include "data/loader.hpp"
#include "data/prefetch.hpp"
#include "data/sampling.hpp"
#include "data/synthetic.hpp"
