#pragma once
// byte_reader.hpp's definitions (core/config.hpp: separate compilation).

#include "../byte_reader.hpp"

namespace ctnn::io::detail {

CTNN_INLINE void parse_tensors(Cursor& c, std::vector<TensorRecord>& out, const char* kind) {
  const std::uint64_t n = c.u64(cat("the number of ", kind, " tensors"));
  for (std::uint64_t i = 0; i < n; ++i) {
    TensorRecord r;
    r.name = c.str(cat("the name of ", kind, " ", i));
    const std::string shown = printable(r.name);
    r.count = c.u64(cat("the size of ", kind, " '", shown, "'"));
    r.offset = c.floats(r.count, cat("the ", r.count, " float32 values of ", kind, " '", shown, "'"));
    out.push_back(std::move(r));
  }
}

CTNN_INLINE void parse_training(Cursor& c, TrainingState& t) {
  t.epoch = c.u64("the epoch");
  t.step = c.u64("the step");
  for (std::size_t i = 0; i < 4; ++i) t.rng.s[i] = c.u64(cat("word ", i, " of the random generator state"));
  const std::uint64_t metrics = c.u64("the number of metrics");
  for (std::uint64_t i = 0; i < metrics; ++i) {
    std::string key = c.str(cat("the name of metric ", i));
    const double v = c.f64(cat("the value of metric '", printable(key), "'"));
    t.metrics[std::move(key)] = v;
  }
  const std::uint64_t notes = c.u64("the number of notes");
  for (std::uint64_t i = 0; i < notes; ++i) {
    std::string key = c.str(cat("the name of note ", i));
    t.notes[std::move(key)] = c.str(cat("the text of note '", printable(key), "'"));
  }
}

CTNN_INLINE void parse_body(const ParseContext& ctx, Cursor& c, ParsedCheckpoint& out) {
  out.signature_hash = c.u64("the architecture signature hash");
  out.architecture = c.str("the architecture name");
  const std::size_t count_at = c.pos();
  const std::uint64_t sections = c.u64("the number of sections");
  if (sections != 2 && sections != 4)
    ctnn::detail::fail("ctnn::io: checkpoint '", ctx.path, "' is malformed: it records ", sections,
                       " sections at byte offset ", count_at,
                       "; expected 2 (parameters, buffers) or 4 (parameters, buffers, optimizer, training)");
  out.sections = static_cast<std::size_t>(sections);
  for (std::size_t i = 0; i < out.sections; ++i) {
    const std::string expected = section_names[i];
    const std::size_t name_at = c.pos();
    const std::string name = c.str(cat("the name of section ", i + 1, " ('", expected, "')"));
    if (name != expected)
      ctnn::detail::fail("ctnn::io: checkpoint '", ctx.path, "' is malformed: section ", i + 1, " at byte offset ",
                         name_at, " is named '", printable(name), "' but '", expected, "' was expected");
    const std::uint64_t size = c.u64(cat("the size of section '", name, "'"));
    const std::size_t begin = c.pos();
    const bool complete = size <= c.end() - begin;
    const std::size_t end = complete ? begin + static_cast<std::size_t>(size) : c.end();
    if (!complete && !(ctx.truncated && c.end() == ctx.file_end))
      ctnn::detail::fail("ctnn::io: checkpoint '", ctx.path, "' is malformed: section '", name, "' at byte offset ",
                         begin, " records ", size, " bytes but only ", c.end() - begin, " remain");
    Cursor body(ctx, begin, end, complete ? name : std::string{});
    switch (i) {
      case 0: parse_tensors(body, out.parameters, "parameter"); break;
      case 1: parse_tensors(body, out.buffers, "buffer"); break;
      case 2:
        out.optimizer_steps = body.u64("the optimizer step count");
        parse_tensors(body, out.optimizer, "optimizer state");
        break;
      default: parse_training(body, out.training); break;
    }
    if (!complete) c.fail_need(size, cat("the ", size, "-byte body of section '", name, "'"));
    if (body.pos() != end)
      ctnn::detail::fail("ctnn::io: checkpoint '", ctx.path, "' is malformed: section '", name, "' records ", size,
                         " bytes but its contents end at byte offset ", body.pos(), ", ", end - body.pos(),
                         " bytes before its end");
    c.take(size, cat("the body of section '", name, "'"));
  }
}

CTNN_INLINE std::string hex64(std::uint64_t v) {
  char buf[19];
  std::snprintf(buf, sizeof buf, "0x%016llx", static_cast<unsigned long long>(v));
  return buf;
}

CTNN_INLINE ParsedCheckpoint parse_checkpoint(const std::string& path, const std::vector<unsigned char>& bytes) {
  const std::size_t size = bytes.size();
  const std::size_t magic_present = std::min(size, sizeof checkpoint_magic);
  if (std::memcmp(bytes.data(), checkpoint_magic, magic_present) != 0) {
    std::string seen;
    for (std::size_t i = 0; i < magic_present; ++i) {
      char b[4];
      std::snprintf(b, sizeof b, "%02x", bytes[i]);
      if (i) seen += ' ';
      seen += b;
    }
    ctnn::detail::fail("ctnn::io: '", path, "' is not a ctnn checkpoint: it starts with the bytes ", seen,
                       " instead of the magic \"CTNNCKPT\"");
  }

  ParseContext ctx{path, bytes.data(), size, 0, true};
  Cursor c(ctx, 0, size);
  c.take(sizeof checkpoint_magic, "the 8-byte magic \"CTNNCKPT\"");
  const std::uint32_t version = c.u32("the format version");
  if (version != checkpoint_version)
    ctnn::detail::fail("ctnn::io: checkpoint '", path, "' has format version ", version,
                       " but this build of ctnn reads version ", checkpoint_version);
  const std::uint64_t recorded = c.u64("the file size");
  if (recorded < minimum_file_size)
    ctnn::detail::fail("ctnn::io: checkpoint '", path, "' is corrupted: its header records a size of ", recorded,
                       " bytes, less than the ", minimum_file_size, " bytes of an empty checkpoint");
  if (recorded < size)
    ctnn::detail::fail("ctnn::io: checkpoint '", path, "' is corrupted: it is ", size,
                       " bytes long but its header records ", recorded, " bytes");

  ParsedCheckpoint out;
  if (recorded > size) {
    // Truncated: walk the structure as far as it goes to say what is missing.
    ctx.recorded_size = recorded;
    parse_body(ctx, c, out);
    c.u64("the checksum");
    ctnn::detail::fail("ctnn::io: checkpoint '", path, "' is truncated at byte offset ", size, ": its header records ",
                       recorded, " bytes");
  }

  const std::size_t data_end = size - 8;
  Cursor sum_at(ctx, data_end, size);
  const std::uint64_t stored = sum_at.u64("the checksum");
  const std::uint64_t computed = fnv1a64(bytes.data(), data_end);
  if (stored != computed)
    ctnn::detail::fail("ctnn::io: checkpoint '", path, "' is corrupted: its checksum (FNV-1a 64 of bytes 0 to ",
                       data_end, ") is ", hex64(computed), " but the file records ", hex64(stored));

  ctx.truncated = false;
  Cursor body(ctx, c.pos(), data_end);
  parse_body(ctx, body, out);
  if (body.pos() != data_end)
    ctnn::detail::fail("ctnn::io: checkpoint '", path, "' is malformed: ", data_end - body.pos(),
                       " unexpected bytes at byte offset ", body.pos(), " before the checksum");
  return out;
}

CTNN_INLINE void Cursor::fail_need(std::uint64_t n, const std::string& what) const {
  if (ctx_.truncated && end_ == ctx_.file_end)
    ctnn::detail::fail("ctnn::io: checkpoint '", ctx_.path, "' is truncated at byte offset ", ctx_.file_end,
                       ": expected ", what, " (", n, " bytes at byte offset ", pos_, ")",
                       ctx_.recorded_size ? cat("; its header records ", ctx_.recorded_size, " bytes") : std::string{});
  if (section_.empty())
    ctnn::detail::fail("ctnn::io: checkpoint '", ctx_.path, "' is malformed: ", what, " (", n,
                       " bytes at byte offset ", pos_, ") runs past the end of the data at byte offset ", end_);
  ctnn::detail::fail("ctnn::io: checkpoint '", ctx_.path, "' is malformed: ", what, " (", n, " bytes at byte offset ",
                     pos_, ") runs past the end of section '", section_, "' at byte offset ", end_);
}

}  // namespace ctnn::io::detail
