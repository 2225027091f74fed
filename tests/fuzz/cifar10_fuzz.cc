// libFuzzer target: CIFAR-10 binary files through ctnn::data::Cifar10::parse, load_file and
// read_class_names (see harness.hpp for the properties checked). Built and run by
// scripts/fuzz.sh; tests/fuzz/replay.cpp replays the kept inputs in the normal test suite.

#include "harness.hpp"

extern "C" int LLVMFuzzerTestOneInput(const unsigned char* data, std::size_t size) {
  ctnn_fuzz::cifar10_one(data, size);
  return 0;
}
