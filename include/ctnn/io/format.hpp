#pragma once
// The checkpoint file format: its description, its constants and the records that the writer
// (byte_writer.hpp) and the reader (byte_reader.hpp) exchange with the API (checkpoint.hpp).
//
// FILE FORMAT, version 1. Every integer is little-endian; u32/u64/f64 are 4/8/8 bytes; f32 is
// IEEE-754 binary32 and f64 binary64, both little-endian; str is a u64 byte length followed by
// that many bytes of UTF-8 (no terminator).
//
//   offset  size  field
//   0       8     magic: the bytes "CTNNCKPT"
//   8       4     u32 format version (1)
//   12      8     u64 file size in bytes, including the trailing checksum
//   20      8     u64 FNV-1a 64 hash of the architecture signature (see below)
//   28      ...   str architecture: Network::architecture(), e.g. "ResNet18<10> on 3x32x32"
//           8     u64 number of sections: 2 (weights) or 4 (full checkpoint)
//           ...   sections, in this order: "parameters", "buffers" [, "optimizer", "training"]
//   end-8   8     u64 checksum: FNV-1a 64 of every byte before it (offset 0 to end-8)
//
// Each section is
//           str   name
//           u64   size of the body in bytes
//           ...   body
// with these bodies (a tensor list is a u64 count, then per tensor: str name, u64 number of
// values n, then n f32 values):
//   parameters   tensor list, in Network::parameters() order ("0.weight", "1.running_mean", ...)
//   buffers      tensor list, in Network::buffers() order (batch-norm running statistics)
//   optimizer    u64 optimizer step count (Opt::steps), then the tensor list of Opt::state()
//   training     u64 epoch, u64 step, 4 x u64 random generator state (ctnn::Rng::State::s),
//                u64 count, then per entry: str key, f64 value    (TrainingState::metrics)
//                u64 count, then per entry: str key, str value    (TrainingState::notes)
//
// The architecture signature is the text
//   "<architecture>\n" then per parameter "parameter <name> <size>\n" then per buffer
//   "buffer <name> <size>\n"
// (Network::architecture_signature()); the file stores the first line and the hash of the whole.
//
//
// The optimizer's part of a checkpoint comes from the optimizer-state contract (ctnn::OptimizerState,
// optim/state.hpp).

#include <cstddef>
#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <vector>

#include "../core/parameter.hpp"
#include "../core/random.hpp"

namespace ctnn::io {

inline constexpr char checkpoint_magic[8] = {'C', 'T', 'N', 'N', 'C', 'K', 'P', 'T'};
inline constexpr std::uint32_t checkpoint_version = 1;

// Where training stands, saved next to the network and optimizer state.
struct TrainingState {
  std::uint64_t epoch = 0;  // completed epochs (or whatever the training loop counts)
  std::uint64_t step = 0;   // completed optimizer steps
  Rng::State rng{};         // e.g. the data loader's generator, to resume the same sample order
  std::map<std::string, double> metrics;    // e.g. {"best_accuracy", 0.953}
  std::map<std::string, std::string> notes;  // e.g. {"schedule", "cosine"}
};

// The architecture signature described above (Network::architecture_signature()).
using ctnn::architecture_signature;

namespace detail {

inline std::uint32_t byteswap32(std::uint32_t v) noexcept {
  return (v >> 24) | ((v >> 8) & 0xff00u) | ((v << 8) & 0xff0000u) | (v << 24);
}

inline constexpr std::size_t header_size = 28;  // magic, version, file size, signature hash
// Header, architecture length, section count and checksum: no valid file is shorter.
inline constexpr std::size_t minimum_file_size = header_size + 8 + 8 + 8;
inline constexpr const char* section_names[4] = {"parameters", "buffers", "optimizer", "training"};

// What a checkpoint holds, as the writer gets it.
struct WriteInput {
  std::string architecture;
  std::uint64_t signature_hash = 0;
  std::span<const Parameter> parameters;
  std::span<const Buffer> buffers;
  bool full = false;  // optimizer and training sections too
  std::span<const Buffer> optimizer_state;
  std::uint64_t optimizer_steps = 0;
  const TrainingState* training = nullptr;
};

// What a checkpoint holds, as the reader finds it: names and sizes, and where the values are.
struct TensorRecord {
  std::string name;
  std::uint64_t count = 0;
  std::size_t offset = 0;  // byte offset of the values in the file
};

struct ParsedCheckpoint {
  std::string architecture;
  std::uint64_t signature_hash = 0;
  std::size_t sections = 0;
  std::vector<TensorRecord> parameters, buffers, optimizer;
  std::uint64_t optimizer_steps = 0;
  TrainingState training;
  bool full() const noexcept { return sections == 4; }
};

}  // namespace detail
}  // namespace ctnn::io
