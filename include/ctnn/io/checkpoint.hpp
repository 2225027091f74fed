#pragma once
// Checkpoints: a network's parameters and buffers, and optionally the optimizer state and the
// training state, in one architecture-checked, checksummed file that is replaced atomically.
//
//   ctnn::io::save_checkpoint(path, net, optimizer, state);            // everything needed to resume
//   ctnn::io::TrainingState s = ctnn::io::load_checkpoint(path, net, optimizer);
//   net.save(path);  net.load(path);                                   // parameters and buffers only
//   (ctnn::io::save_weights / load_weights are the free-function forms of the last two)
//
// Loading validates the whole file (magic, version, size, checksum, architecture, every section's
// name and size, every tensor's name and size) before it writes anything into the network or the
// optimizer, so a load that throws leaves both unchanged. (The optimizer's state() may allocate its
// zero state while the optimizer section is being checked; the values it already had do not change.)
// A file written by net.save() loads with load_weights only; a full checkpoint loads either way.
// Checkpoints hold float32 values and do not record the device: one written from the GPU loads on
// the CPU and the other way round. The file format is described in format.hpp.

#include <concepts>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "../core/error.hpp"
#include "../core/parameter.hpp"
#include "../optim/state.hpp"
#include "byte_reader.hpp"
#include "byte_writer.hpp"
#include "checksum.hpp"
#include "file.hpp"
#include "format.hpp"

namespace ctnn::io {

// What checkpointing needs from a network (ctnn::Network provides it).
template <class Net>
concept CheckpointNetwork = requires(Net& net, const Net& cnet) {
  typename Net::device;
  { Net::architecture() } -> std::convertible_to<std::string>;
  { net.parameters() } -> std::convertible_to<std::span<Parameter>>;
  { net.buffers() } -> std::convertible_to<std::span<Buffer>>;
  { cnet.parameters() } -> std::convertible_to<std::span<const Parameter>>;
  { cnet.buffers() } -> std::convertible_to<std::span<const Buffer>>;
};

template <CheckpointNetwork Net>
std::string architecture_signature(const Net& net) {
  return architecture_signature(Net::architecture(), net.parameters(), net.buffers());
}

namespace detail {

template <class T>
void check_tensors(const std::string& path, const char* kind, const std::vector<TensorRecord>& records,
                   std::span<const T> expected, const char* owner) {
  if (records.size() != expected.size())
    ctnn::detail::fail("ctnn::io: checkpoint '", path, "' holds ", records.size(), " ", kind, " tensors but ",
                       owner, " has ", expected.size(),
                       records.empty() || expected.empty()
                           ? std::string{}
                           : cat(" (the first is '", printable(records[0].name), "' in the checkpoint and '", expected[0].name,
                                 "' in ", owner, ")"));
  for (std::size_t i = 0; i < records.size(); ++i) {
    const auto& r = records[i];
    const auto& e = expected[i];
    if (r.name != e.name)
      ctnn::detail::fail("ctnn::io: checkpoint '", path, "': ", kind, " ", i, " is '", printable(r.name),
                         "' in the checkpoint but '", e.name, "' in ", owner);
    if (r.count != e.size)
      ctnn::detail::fail("ctnn::io: checkpoint '", path, "': ", kind, " '", r.name, "' holds ", r.count,
                         " values in the checkpoint but ", e.size, " in ", owner);
  }
}

template <class Net>
void check_network(const std::string& path, const ParsedCheckpoint& ckpt, const Net& net) {
  const std::string arch = Net::architecture();
  if (ckpt.architecture != arch)
    ctnn::detail::fail("ctnn::io: checkpoint '", path, "' holds '", printable(ckpt.architecture),
                       "' but the network is '", arch, "'");
  check_tensors(path, "parameter", ckpt.parameters, std::span<const Parameter>(net.parameters()), "the network");
  check_tensors(path, "buffer", ckpt.buffers, std::span<const Buffer>(net.buffers()), "the network");
  const std::uint64_t hash = fnv1a64(architecture_signature(net));
  if (ckpt.signature_hash != hash)
    ctnn::detail::fail("ctnn::io: checkpoint '", path, "' records the architecture signature hash ",
                       hex64(ckpt.signature_hash), " but the network '", arch, "' has ", hex64(hash),
                       " although their parameters and buffers agree");
}

template <class D>
void upload_floats(float* dst, const unsigned char* src, std::size_t count) {
  if constexpr (std::endian::native == std::endian::little) {
    D::upload(dst, src, count * sizeof(float));
  } else {
    constexpr std::size_t chunk = std::size_t{1} << 16;
    std::vector<float> staging(std::min(count, chunk));
    for (std::size_t off = 0; off < count; off += chunk) {
      const std::size_t k = std::min(chunk, count - off);
      std::memcpy(staging.data(), src + off * sizeof(float), k * sizeof(float));
      for (std::size_t i = 0; i < k; ++i)
        staging[i] = std::bit_cast<float>(byteswap32(std::bit_cast<std::uint32_t>(staging[i])));
      D::upload(dst + off, staging.data(), k * sizeof(float));
    }
  }
}

template <class D, class T>
void upload_tensors(const std::vector<unsigned char>& bytes, const std::vector<TensorRecord>& records,
                    std::span<T> targets) {
  for (std::size_t i = 0; i < records.size(); ++i)
    upload_floats<D>(targets[i].value, bytes.data() + records[i].offset, static_cast<std::size_t>(records[i].count));
}

}  // namespace detail

// Writes the parameters and buffers of `net` to `path` (atomically; see the format notes).
template <CheckpointNetwork Net>
void save_weights(const std::string& path, const Net& net) {
  detail::WriteInput in;
  in.architecture = Net::architecture();
  in.signature_hash = fnv1a64(architecture_signature(net));
  in.parameters = net.parameters();
  in.buffers = net.buffers();
  detail::write_checkpoint<typename Net::device>(path, in);
}

// Loads parameters and buffers from a file written by save_weights or save_checkpoint. Throws
// ctnn::Error, leaving `net` unchanged, unless the file is intact and fits the network exactly.
template <CheckpointNetwork Net>
void load_weights(const std::string& path, Net& net) {
  const std::vector<unsigned char> bytes = read_file(path, "checkpoint");
  const detail::ParsedCheckpoint ckpt = detail::parse_checkpoint(path, bytes);
  detail::check_network(path, ckpt, std::as_const(net));
  using D = typename Net::device;
  detail::upload_tensors<D>(bytes, ckpt.parameters, std::span<Parameter>(net.parameters()));
  detail::upload_tensors<D>(bytes, ckpt.buffers, std::span<Buffer>(net.buffers()));
}

// Writes everything needed to resume training: parameters, buffers, the optimizer's state and
// step count, and `state`. The optimizer's state() is called for net.parameters() (it only reads
// them), which allocates zero state if the optimizer has not stepped yet.
// (In the optimizer contract above, state() may take std::span<const Parameter>, as ctnn::SGD and
// ctnn::AdamW do, or std::span<Parameter>.)
template <CheckpointNetwork Net, OptimizerState Opt>
void save_checkpoint(const std::string& path, const Net& net, Opt& optimizer, const TrainingState& state) {
  std::vector<Buffer> opt_state;
  if constexpr (requires { optimizer.state(std::span<const Parameter>(net.parameters())); })
    opt_state = optimizer.state(std::span<const Parameter>(net.parameters()));
  else  // an optimizer whose state() takes mutable parameters; it only reads them
    opt_state = optimizer.state(std::span<Parameter>(const_cast<Net&>(net).parameters()));
  detail::WriteInput in;
  in.architecture = Net::architecture();
  in.signature_hash = fnv1a64(architecture_signature(net));
  in.parameters = net.parameters();
  in.buffers = net.buffers();
  in.full = true;
  in.optimizer_state = opt_state;
  in.optimizer_steps = static_cast<std::uint64_t>(optimizer.steps);
  in.training = &state;
  detail::write_checkpoint<typename Net::device>(path, in);
}

// Restores a checkpoint written by save_checkpoint into `net` and `optimizer` and returns the
// training state. Throws ctnn::Error, leaving both unchanged, unless the file is intact and fits
// the network and the optimizer exactly.
template <CheckpointNetwork Net, OptimizerState Opt>
TrainingState load_checkpoint(const std::string& path, Net& net, Opt& optimizer) {
  const std::vector<unsigned char> bytes = read_file(path, "checkpoint");
  detail::ParsedCheckpoint ckpt = detail::parse_checkpoint(path, bytes);
  detail::check_network(path, ckpt, std::as_const(net));
  if (!ckpt.full())
    ctnn::detail::fail("ctnn::io: checkpoint '", path,
                       "' holds only parameters and buffers (it was written by Network::save / save_weights), "
                       "no optimizer or training state to resume from; load it with Network::load");
  const std::vector<Buffer> opt_state = optimizer.state(std::span<Parameter>(net.parameters()));
  detail::check_tensors(path, "optimizer state", ckpt.optimizer, std::span<const Buffer>(opt_state), "the optimizer");

  using D = typename Net::device;
  detail::upload_tensors<D>(bytes, ckpt.parameters, std::span<Parameter>(net.parameters()));
  detail::upload_tensors<D>(bytes, ckpt.buffers, std::span<Buffer>(net.buffers()));
  detail::upload_tensors<D>(bytes, ckpt.optimizer, std::span<const Buffer>(opt_state));
  optimizer.steps = static_cast<std::remove_cvref_t<decltype(optimizer.steps)>>(ckpt.optimizer_steps);
  return std::move(ckpt.training);
}

// What Network::save and Network::load call.
struct Weights {
  template <class Net>
  static void save(const std::string& path, const Net& net) { save_weights(path, net); }
  template <class Net>
  static void load(const std::string& path, Net& net) { load_weights(path, net); }
};

}  // namespace ctnn::io
