#pragma once
// The example's network, and its weight files (interop.cpp): reading and writing safetensors and
// ONNX instantiate much code of their own, so they compile in a translation unit beside train.cpp.

#include <ctnn/models/resnet.hpp>
#include <ctnn/network.hpp>

#include "options.hpp"

template <class D>
using Net = ctnn::Network<ctnn::ResNet18<10>, ctnn::Shape<3, 32, 32>, D>;

template <class D>
void load_weights(Net<D>& net, const Options& o);  // --weights, --name-map
template <class D>
void export_weights(const Net<D>& net, const Options& o);  // --export-onnx, --export-safetensors
