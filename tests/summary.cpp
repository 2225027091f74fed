#include <ctnn/ctnn.hpp>
#include <doctest/doctest.h>

#include <cstddef>
#include <sstream>
#include <string>
#include <vector>

using namespace ctnn;

namespace {

std::vector<std::string> lines_of(const std::string& s) {
  std::vector<std::string> out;
  std::istringstream in(s);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

// The rows between the header's '-' rule and the closing '=' rule.
std::vector<std::string> table_rows(const std::string& table) {
  std::vector<std::string> rows;
  bool inside = false;
  for (const auto& line : lines_of(table)) {
    if (!line.empty() && line.find_first_not_of('-') == std::string::npos) {
      inside = true;
    } else if (!line.empty() && line.find_first_not_of('=') == std::string::npos) {
      if (inside) break;
    } else if (inside) {
      rows.push_back(line);
    }
  }
  return rows;
}

using Small = Seq<Conv<1, 8>, BatchNorm<8>, ReLU, MaxPool<2>, Residual<Seq<Conv<8, 8>, BatchNorm<8>>, Identity, ReLU>,
                  GlobalAvgPool, Flatten, Linear<8, 10>>;
using SmallIn = Shape<1, 28, 20>;

}  // namespace

TEST_CASE("summary: thousands separators and byte units") {
  using detail::summary_impl::human_bytes;
  using detail::summary_impl::thousands;
  CHECK(thousands(0) == "0");
  CHECK(thousands(999) == "999");
  CHECK(thousands(1000) == "1,000");
  CHECK(thousands(123456) == "123,456");
  CHECK(thousands(1234567) == "1,234,567");
  CHECK(thousands(11173962) == "11,173,962");
  CHECK(human_bytes(999) == "999 B");
  CHECK(human_bytes(71784) == "71.78 kB");
  CHECK(human_bytes(44695848) == "44.70 MB");
}

TEST_CASE("summary: compile-time totals of a small network") {
  // conv 1->8 on 28x20: 8*28*20*9 MACs, 72 weights; bn: 16 params, one MAC per element; max-pool
  // 2x2 to 14x10; residual conv 8->8 on 14x10: 8*14*10*72 MACs, 576 weights; add: 8*14*10;
  // global pool: 8*14*10; linear 8->10: 80 MACs, 90 params.
  static_assert(parameter_count_v<Small, SmallIn> == 72 + 16 + 576 + 16 + 90);
  static_assert(macs_v<Small, SmallIn> ==
                8 * 28 * 20 * 9 + 8 * 28 * 20 + 8 * 14 * 10 * 4 + 8 * 14 * 10 * 72 + 8 * 14 * 10 + 8 * 14 * 10 +
                    8 * 14 * 10 + 80);
  // conv, bn, relu: 3 x 8x28x20; pool: 8x14x10; residual: conv, bn, add (Identity writes nothing);
  // global pool 8, flatten 8, linear 10.
  static_assert(activation_bytes_v<Small, SmallIn> == 4 * (3 * 8 * 28 * 20 + 4 * 8 * 14 * 10 + 8 + 8 + 10));
  Network<Small, SmallIn> net(1);
  CHECK(net.parameter_count() == parameter_count_v<Small, SmallIn>);
}

TEST_CASE("summary: the table of a small network") {
  const std::string table = summary<Small, SmallIn>();
  const std::string expected =
      "ctnn::summary: Seq<Conv<1,8,3,1,1>, BatchNorm<8>, ReLU, MaxPool<2,2,0>, Residual<Seq<Conv<8,8,3,1,1>, "
      "BatchNorm<8>>, Identity, ReLU>, GlobalAvgPool, Flatten, Linear<8,10>> on input 1x28x20 (per sample)\n"
      "=====================================================================================\n"
      "Layer                    Output shape   Parameters   Multiply-adds   Activation bytes\n"
      "-------------------------------------------------------------------------------------\n"
      "Seq                      10                    770         133,360             71,784\n"
      "  Conv<1,8,3,1,1>        8x28x20                72          40,320             17,920\n"
      "  BatchNorm<8>           8x28x20                16           4,480             17,920\n"
      "  ReLU                   8x28x20                 0               0             17,920\n"
      "  MaxPool<2,2,0>         8x14x10                 0           4,480              4,480\n"
      "  Residual               8x14x10               592          82,880             13,440\n"
      "    main: Seq            8x14x10               592          81,760              8,960\n"
      "      Conv<8,8,3,1,1>    8x14x10               576          80,640              4,480\n"
      "      BatchNorm<8>       8x14x10                16           1,120              4,480\n"
      "    shortcut: Identity   8x14x10                 0               0                  0\n"
      "    add + ReLU           8x14x10                 0           1,120              4,480\n"
      "  GlobalAvgPool          8x1x1                   0           1,120                 32\n"
      "  Flatten                8                       0               0                 32\n"
      "  Linear<8,10>           10                     90              80                 40\n"
      "=====================================================================================\n"
      "Total parameters:                        770\n"
      "Total multiply-adds per sample:      133,360\n"
      "Total activation bytes per sample:    71,784\n"
      "Input bytes per sample:                2,240\n"
      "Parameter size (float32):            3.08 kB\n"
      "Activation size per sample:         71.78 kB\n"
      "=====================================================================================\n";
  CHECK(table == expected);

  std::ostringstream os;
  summary<Small, SmallIn>(os);
  CHECK(os.str() == table);
}

TEST_CASE("summary: ResNet18<10> on CIFAR-10") {
  using Net = ResNet18<10>;
  using In = Shape<3, 32, 32>;
  static_assert(parameter_count_v<Net, In> == 11'173'962);
  static_assert(macs_v<Net, In> == 556'291'072);

  // The same count by hand: every convolution (out_h * out_w * out_c * in_c * k * k), the linear
  // layer, one MAC per element for each batch norm, residual add and the global average pool.
  struct ConvDesc {
    std::size_t in, out, k, hw_out;
  };
  std::vector<ConvDesc> convs{{3, 64, 3, 32}};
  std::size_t bn = 64 * 32 * 32;  // stem
  std::size_t adds = 0;
  std::size_t in = 64;
  const std::size_t widths[] = {64, 128, 256, 512};
  std::size_t hw = 32;
  for (std::size_t stage = 0; stage < 4; ++stage) {
    const std::size_t w = widths[stage];
    for (std::size_t block = 0; block < 2; ++block) {
      const bool down = stage > 0 && block == 0;
      if (down) hw /= 2;
      convs.push_back({in, w, 3, hw});
      convs.push_back({w, w, 3, hw});
      bn += 2 * w * hw * hw;
      if (down || in != w) {
        convs.push_back({in, w, 1, hw});
        bn += w * hw * hw;
      }
      adds += w * hw * hw;
      in = w;
    }
  }
  std::size_t conv_macs = 0, conv_params = 0;
  for (const auto& c : convs) {
    conv_macs += c.hw_out * c.hw_out * c.out * c.in * c.k * c.k;
    conv_params += c.out * c.in * c.k * c.k;
  }
  CHECK(convs.size() == 1 + 16 + 3);
  CHECK(conv_macs == 555'417'600);  // ~0.5554e9: the usual "0.56 GMACs" of CIFAR ResNet-18
  const std::size_t linear_macs = 512 * 10;
  const std::size_t pool = 512 * 4 * 4;
  CHECK(bn == 614'400);
  CHECK(adds == 245'760);
  CHECK(conv_macs + linear_macs + bn + adds + pool == macs_v<Net, In>);

  const std::size_t bn_params = 2 * (64 + 4 * 64 + 5 * 128 + 5 * 256 + 5 * 512);
  CHECK(conv_params + bn_params + 512 * 10 + 10 == parameter_count_v<Net, In>);

  const std::string table = summary<Net, In>();
  CHECK(table.find("ctnn::summary: ResNet18<10> on input 3x32x32") == 0);
  CHECK(table.find("Total parameters:                    11,173,962\n") != std::string::npos);
  CHECK(table.find("Total multiply-adds per sample:     556,291,072\n") != std::string::npos);
  CHECK(table.find("BasicBlock<64,128,2>") != std::string::npos);
  CHECK(table.find("shortcut: Seq") != std::string::npos);
  CHECK(table.find("Conv<64,128,1,2,0>") != std::string::npos);

  // Aligned columns: the last column is right-aligned, so every row ends at the same column.
  const auto rows = table_rows(table);
  REQUIRE(rows.size() > 80);
  const std::size_t width = rows.front().size();
  for (const auto& row : rows) CHECK(row.size() == width);
  CHECK(rows.front().find("ResNet18<10>") == 0);
  CHECK(rows.back().find("  Linear<512,10>") == 0);
}
