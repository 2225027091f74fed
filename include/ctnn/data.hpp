#pragma once
// The data pipeline: datasets of 3x32x32 uint8 images (CIFAR-10 reader and writer, a synthetic
// CIFAR-like set) and the batching, augmenting, prefetching Loader.

#include "data/cifar10.hpp"
#include "data/dataset.hpp"
#include "data/loader.hpp"
#include "data/synthetic.hpp"
