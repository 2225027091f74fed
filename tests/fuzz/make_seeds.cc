// Writes the seed corpora of the fuzz targets: make_seeds DIR writes DIR/checkpoint/* (a weights
// file and a full checkpoint of the harness's network, with and without the fix flags) and
// DIR/cifar10/* (valid records and a class-name list) and DIR/safetensors/* (F32, BF16, F16 files). scripts/fuzz.sh runs it before fuzzing, so
// the seeds always follow the current file format.

#include <cstdio>
#include <filesystem>
#include <fstream>

#include "harness.hpp"

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: make_seeds DIR\n");
    return 2;
  }
  const std::filesystem::path dir = argv[1];
  auto write = [&](const char* target, const auto& seeds) {
    std::filesystem::create_directories(dir / target);
    for (const auto& [name, bytes] : seeds) {
      std::ofstream out(dir / target / ("seed-" + name), std::ios::binary | std::ios::trunc);
      out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
      if (!out) {
        std::fprintf(stderr, "make_seeds: cannot write %s\n", (dir / target / name).c_str());
        return false;
      }
    }
    return true;
  };
  return write("checkpoint", ctnn_fuzz::checkpoint_seeds()) && write("cifar10", ctnn_fuzz::cifar10_seeds()) &&
                 write("safetensors", ctnn_fuzz::safetensors_seeds())
             ? 0
             : 1;
}
