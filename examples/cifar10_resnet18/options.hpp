#pragma once
// The example's options: filled by the command line (main.cpp), used by the training (train.cpp).
// Two translation units, so that CLI11 and the network compile in parallel.

#include <ctnn/train/options.hpp>

#include <cstddef>
#include <cstdint>
#include <string>

// The program's options; those of the loop itself bind directly to ctnn::train::Options.
struct Options {
  ctnn::train::Options fit;  // epochs, checkpoint and history get the example's defaults in main()
  std::string data = "data/cifar-10-batches-bin", schedule = "cosine", device = "cpu", on_nan = "stop";
  std::string weights, name_map = "ctnn", export_onnx, export_safetensors;
  std::size_t synthetic = 0, batch = 128, threads = 0;
  float lr = 0.1f, momentum = 0.9f, wd = 5e-4f;
  std::uint64_t seed = 0;
  bool nesterov = false;
  bool distributed = false;  // --distributed: fit.communicator is the MPI world (main.cpp)
};

// Initialises the network (--weights), trains it (unless --epochs 0) and writes --export-* (train.cpp).
int run(const Options& o);
