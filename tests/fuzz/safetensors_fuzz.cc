// libFuzzer target: safetensors files through ctnn::io::load_safetensors, strict and non-strict (see
// harness.hpp for the properties checked). Built and run by scripts/fuzz.sh; tests/fuzz/replay.cpp
// replays the kept inputs in the normal test suite.

#include "harness.hpp"

extern "C" int LLVMFuzzerTestOneInput(const unsigned char* data, std::size_t size) {
  ctnn_fuzz::safetensors_one(data, size);
  return 0;
}
