// libFuzzer target: checkpoint files through ctnn::io::load_weights and ctnn::io::load_checkpoint
// (see harness.hpp for the input layout and the properties checked). Built and run by
// scripts/fuzz.sh; tests/fuzz/replay.cpp replays the kept inputs in the normal test suite.

#include "harness.hpp"

extern "C" int LLVMFuzzerTestOneInput(const unsigned char* data, std::size_t size) {
  ctnn_fuzz::checkpoint_one(data, size);
  return 0;
}
