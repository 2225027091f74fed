// safetensors: round trips in F32, BF16 and F16 (conversions against exact references), the header
// checks with their file/offset-naming errors, strict and non-strict loads (a new head on a
// pretrained body), freezing and re-initialising parameters, and the JSON reader.
#include <ctnn/ctnn.hpp>
#include <doctest/doctest.h>

#include <bit>
#include <cmath>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "io/fixture.hpp"

using namespace ctnn;
using io_test::TempDir;

namespace {

template <std::size_t Classes>
using Small = Seq<Conv<2, 4, 3, 1, 1, with_bias>, BatchNorm<4>, ReLU, GlobalAvgPool, Flatten, Linear<4, Classes>>;
using In = Shape<2, 5, 5>;
using Net = Network<Small<3>, In>;

std::vector<float> values(const Net& n) {
  std::vector<float> v;
  for (const auto& p : n.parameters()) v.insert(v.end(), p.value, p.value + p.size);
  for (const auto& b : n.buffers()) v.insert(v.end(), b.value, b.value + b.size);
  return v;
}

// A file with one F32 tensor "t" of shape [2] and the given header (for the header checks).
std::vector<unsigned char> file_with(const std::string& header, std::size_t data_bytes = 8) {
  std::vector<unsigned char> b;
  b.reserve(8 + header.size() + data_bytes);
  for (int i = 0; i < 8; ++i) b.push_back(static_cast<unsigned char>(std::uint64_t(header.size()) >> (8 * i)));
  for (const char c : header) b.push_back(static_cast<unsigned char>(c));
  for (std::size_t i = 0; i < data_bytes; ++i) b.push_back(0);
  return b;
}

std::string error_of_file(const std::vector<unsigned char>& b) {
  return io_test::error_of([&] { io::SafetensorsFile::parse(b, "x.safetensors"); });
}

}  // namespace

TEST_CASE("safetensors: an F32 round trip is exact; names, shapes, dtypes and metadata as PyTorch writes them") {
  TempDir dir("st_roundtrip");
  Net a(2, 1), b(2, 2);
  for (auto& buf : a.buffers())
    for (std::size_t i = 0; i < buf.size; ++i) buf.value[i] = 0.5f + float(i);
  io::save_safetensors(dir.file("a.safetensors"), a);
  REQUIRE(values(a) != values(b));
  const io::LoadReport r = io::load_safetensors(dir.file("a.safetensors"), b);
  CHECK(r.complete());
  CHECK(values(a) == values(b));
  const auto f = io::SafetensorsFile::read(dir.file("a.safetensors"));
  CHECK(f.metadata.at("producer") == "ctnn");
  const auto* w = f.find("0.weight");
  REQUIRE(w);
  CHECK(w->shape == std::vector<std::size_t>{4, 2, 3, 3});
  CHECK(f.find("5.weight")->shape == std::vector<std::size_t>{3, 4});
  CHECK(f.find("1.running_var")->shape == std::vector<std::size_t>{4});
  std::uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | f.bytes[std::size_t(i)];
  CHECK((8 + n) % 8 == 0);  // the data starts aligned
}

TEST_CASE("safetensors: BF16 and F16 written with round-to-nearest-even and read back exactly") {
  // Exact references for the conversions.
  CHECK(io::detail::float_to_bf16(1.0f) == 0x3F80);
  CHECK(io::detail::float_to_bf16(std::bit_cast<float>(0x3F808000u)) == 0x3F80);  // tie, even stays
  CHECK(io::detail::float_to_bf16(std::bit_cast<float>(0x3F818000u)) == 0x3F82);  // tie, odd rounds up
  CHECK(io::detail::float_to_bf16(std::bit_cast<float>(0x3F808001u)) == 0x3F81);
  CHECK(std::isnan(io::detail::bf16_to_float(io::detail::float_to_bf16(std::numeric_limits<float>::quiet_NaN()))));
  CHECK(io::detail::float_to_f16(1.0f) == 0x3C00);
  CHECK(io::detail::float_to_f16(-2.5f) == 0xC100);
  CHECK(io::detail::float_to_f16(65504.f) == 0x7BFF);
  CHECK(io::detail::float_to_f16(65520.f) == 0x7C00);                 // rounds to infinity
  CHECK(io::detail::float_to_f16(std::ldexp(1.f, -24)) == 0x0001);     // smallest subnormal
  CHECK(io::detail::float_to_f16(std::ldexp(1.f, -25)) == 0x0000);     // a tie to even: zero
  CHECK(io::detail::float_to_f16(std::ldexp(3.f, -25)) == 0x0002);     // 1.5 ulp: to even, 2
  CHECK(io::detail::float_to_f16(std::ldexp(1.f, -14)) == 0x0400);     // smallest normal
  for (std::uint32_t h = 0; h < 0x10000u; ++h) {  // every finite F16 converts to float and back unchanged
    const auto v = static_cast<std::uint16_t>(h);
    if ((v & 0x7C00u) == 0x7C00u) continue;
    REQUIRE(io::detail::float_to_f16(io::detail::f16_to_float(v)) == v);
  }
  CHECK(io::detail::f16_to_float(0x0001) == std::ldexp(1.f, -24));
  TempDir dir("st_half");
  Net a(2, 1);
  for (const auto dtype : {io::Dtype::bf16, io::Dtype::f16}) {
    io::save_safetensors(dir.file("h.safetensors"), a, {.dtype = dtype});
    Net b(2, 9);
    io::load_safetensors(dir.file("h.safetensors"), b);
    const auto va = values(a), vb = values(b);
    for (std::size_t i = 0; i < va.size(); ++i) {
      const float want = dtype == io::Dtype::bf16 ? io::detail::bf16_to_float(io::detail::float_to_bf16(va[i]))
                                                  : io::detail::f16_to_float(io::detail::float_to_f16(va[i]));
      REQUIRE(vb[i] == want);
    }
  }
}

TEST_CASE("safetensors: every malformed header is an error naming the file, the offset and the tensor") {
  const std::string ok = R"({"t":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})";
  CHECK_NOTHROW(io::SafetensorsFile::parse(file_with(ok), "x"));
  CHECK(error_of_file({1, 2, 3}).find("truncated at byte offset 3: expected the 8-byte header length") != std::string::npos);
  auto big = file_with(ok);
  big[3] = 1;
  CHECK(error_of_file(big).find("records a header of") != std::string::npos);
  CHECK(error_of_file(file_with(R"({"t":{"dtype":"F32","shape":[2],"data_offsets":[0,8]})")).find("the JSON header is malformed at byte offset") != std::string::npos);
  CHECK(error_of_file(file_with(R"({"t":{"dtype":"Q4","shape":[1],"data_offsets":[0,8]}})")).find("tensor 't' (header byte offset 13) has dtype Q4, which is not a safetensors dtype") != std::string::npos);
  CHECK(error_of_file(file_with(R"({"t":{"dtype":"I64","shape":[2],"data_offsets":[0,8]}})")).find("holds 8 bytes but its shape and dtype need 16") != std::string::npos);
  CHECK(error_of_file(file_with(R"({"t":{"dtype":"F32","shape":[2],"data_offsets":[0,16]}})")).find("data_offsets [0, 16] outside the 8 data bytes") != std::string::npos);
  CHECK(error_of_file(file_with(R"({"t":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})")).find("holds 8 bytes but its shape and dtype need 12") != std::string::npos);
  CHECK(error_of_file(file_with(R"({"t":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"u":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})")).find("overlaps the tensor before it") != std::string::npos);
  CHECK(error_of_file(file_with(R"({"t":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})")).find("belong to no tensor") != std::string::npos);
  CHECK(error_of_file(file_with(ok, 12)).find("after the last tensor belong to no tensor") != std::string::npos);
  CHECK(error_of_file(file_with(R"({"t":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}})")).find("a dimension is not a whole number") != std::string::npos);
  CHECK(error_of_file(file_with(R"({"t":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"t":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})")).find("appears twice") != std::string::npos);
  CHECK(error_of_file(file_with(R"({"t":{"shape":[2],"data_offsets":[0,8]}})")).find("has no dtype string") != std::string::npos);
  // 2^32 x 2^32 F32 values would wrap to 0 bytes and pass the size check.
  CHECK(error_of_file(file_with(R"({"t":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,0]}})", 0))
            .find("has a shape whose size overflows 64 bits (at dimension 1 = 4294967296)") != std::string::npos);
}

TEST_CASE("safetensors: every dtype of the format parses; F64 converts to float, integers do not") {
  // Every dtype with its size, as the format defines them.
  const std::vector<std::pair<const char*, std::size_t>> sizes{{"F32", 4}, {"BF16", 2}, {"F16", 2}, {"F64", 8}, {"F8_E4M3", 1},
      {"F8_E5M2", 1}, {"I8", 1}, {"U8", 1}, {"BOOL", 1}, {"I16", 2}, {"U16", 2}, {"I32", 4}, {"U32", 4}, {"I64", 8}, {"U64", 8}};
  for (const auto& [name, bytes] : sizes) {
    CAPTURE(name);
    const std::string h = std::string(R"({"t":{"dtype":")") + name + R"(","shape":[2],"data_offsets":[0,)" + std::to_string(2 * bytes) + "]}}";
    const io::SafetensorsFile f = io::SafetensorsFile::parse(file_with(h, 2 * bytes), "x");
    CHECK(std::string(io::dtype_name(f.entries[0].dtype)) == name);
    CHECK(io::dtype_bytes(f.entries[0].dtype) == bytes);
  }
  // F64: 0.1 and -2^-30 become the nearest floats.
  std::vector<unsigned char> b = file_with(R"({"t":{"dtype":"F64","shape":[2],"data_offsets":[0,16]}})", 16);
  const double d[2] = {0.1, -std::ldexp(1.0, -30)};
  std::memcpy(b.data() + b.size() - 16, d, 16);
  const io::SafetensorsFile f = io::SafetensorsFile::parse(b, "x");
  float out[2];
  f.to_float(f.entries[0], out);
  CHECK(out[0] == 0.1f);
  CHECK(out[1] == -std::ldexp(1.f, -30));
  const io::SafetensorsFile ints = io::SafetensorsFile::parse(file_with(R"({"t":{"dtype":"I32","shape":[2],"data_offsets":[0,8]}})"), "x");
  CHECK(io_test::error_of([&] { ints.to_float(ints.entries[0], out); }).find("tensor 't' has dtype I32, which does not convert to float") !=
        std::string::npos);
}

TEST_CASE("a strict load refuses a file that does not fit and changes nothing; a non-strict one loads what fits") {
  TempDir dir("st_strict");
  Network<Small<7>, In> seven(2, 1);  // a pretrained body with another head
  io::save_safetensors(dir.file("seven.safetensors"), seven);
  Net three(2, 2);
  const auto before = values(three);
  const std::string msg = io_test::error_of([&] { io::load_safetensors(dir.file("seven.safetensors"), three); });
  CHECK(msg.find("tensor 5.weight: [7, 4] in the file, [3, 4] in the network") != std::string::npos);
  CHECK(values(three) == before);
  const io::LoadReport r = io::load_safetensors(dir.file("seven.safetensors"), three, {.strict = false});
  CHECK(r.mismatched.size() == 2);  // the head's weight and bias
  CHECK(r.missing.empty());
  CHECK(r.loaded.size() == three.parameters().size() + three.buffers().size() - 2);
  CHECK(three.parameters()[0].value[5] == seven.parameters()[0].value[5]);
  // A map that renames; a file tensor nobody asks for is unexpected.
  io::NameMap map{{{"0.weight", "stem.weight"}}};
  io::save_safetensors(dir.file("renamed.safetensors"), three, {.map = &map});
  Net back(2, 3);
  CHECK(io_test::error_of([&] { io::load_safetensors(dir.file("renamed.safetensors"), back); }).find("no tensor for 0.weight") != std::string::npos);
  const auto report = io::load_safetensors(dir.file("renamed.safetensors"), back, {.strict = false});
  CHECK(report.unexpected == std::vector<std::string>{"stem.weight"});
  CHECK(io::load_safetensors(dir.file("renamed.safetensors"), back, {.map = &map}).complete());
}

TEST_CASE("fine-tuning: freeze the body, re-initialise the head") {
  Net net(4, 1);
  Rng rng(3);
  const float before_head = net.parameters()[4].value[0];
  CHECK(init::reinitialize<Cpu>(net.parameters(), "5.", rng) == 2);
  CHECK(net.parameters()[4].value[0] != before_head);
  for (const auto& p : net.parameters())
    if (p.name == "5.bias")
      for (std::size_t i = 0; i < p.size; ++i) CHECK(std::abs(p.value[i]) <= 0.5f);  // 1/sqrt(4)
  CHECK_THROWS_AS(init::reinitialize<Cpu>(net.parameters(), "9.", rng), Error);
  const auto trainable = freeze(net.parameters(), {"0.", "1."});
  CHECK(trainable.size() == net.parameters().size());
  CHECK(trainable[0].grad == nullptr);
  CHECK(trainable[4].grad != nullptr);
  // One step through fit's machinery: the frozen tensors stay, the head moves.
  Tensor<In> x(4);
  for (std::size_t i = 0; i < x.size(); ++i) x.data()[i] = std::sin(float(i));
  Tensor<Shape<3>> g(4);
  const std::vector<std::int32_t> labels{0, 1, 2, 0};
  SGD opt{0.5f, 0.9f, 1e-2f};
  const std::vector<float> conv(net.parameters()[0].value, net.parameters()[0].value + net.parameters()[0].size);
  const std::vector<float> head(net.parameters()[4].value, net.parameters()[4].value + net.parameters()[4].size);
  train::step(net, opt, x, labels, g, train::CrossEntropy{}, train::no_hook{}, trainable);
  CHECK(std::equal(conv.begin(), conv.end(), net.parameters()[0].value));
  CHECK_FALSE(std::equal(head.begin(), head.end(), net.parameters()[4].value));
}

TEST_CASE("the JSON reader: escapes, nesting, and errors with offsets") {
  const auto v = io::json::parse(R"( {"a": [1, 2.5, -3e2], "b": "x\"y\u00e9", "c": {"d": true, "e": null}} )", "j", 100);
  CHECK(v.find("a")->items.size() == 3);
  CHECK(v.find("a")->items[2].text == "-3e2");
  CHECK(v.find("b")->text == "x\"y\xc3\xa9");
  CHECK(v.find("c")->find("d")->boolean);
  CHECK(io_test::error_of([] { io::json::parse("[1, ", "j", 100); }).find("at byte offset 104") != std::string::npos);
  CHECK(io_test::error_of([] { io::json::parse("\"abc", "j"); }).find("not terminated") != std::string::npos);
  CHECK(io::json::quote("a\"b\n") == "\"a\\\"b\\u000a\"");
}
