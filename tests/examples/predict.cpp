// ctnn_predict, run as a user runs it: top-k classes of image files and --eval over a folder of
// labelled images (accuracy, confusion matrix CSV and PNG), against ctnn::predict in-process on the
// same images and weights.
#include <ctnn/ctnn.hpp>
#include <doctest/doctest.h>

#if defined(CTNN_PREDICT_EXE) && CTNN_HAS_STB
#include <stb/stb_image.h>
#include <stb/stb_image_write.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "io/fixture.hpp"

using namespace ctnn;
using io_test::TempDir;

namespace {

using Image = Shape<3, 32, 32>;
using Net = Network<ResNet18<10>, Image>;

std::pair<int, std::string> run(const std::string& args) {
  const std::string cmd = std::string(CTNN_PREDICT_EXE) + " " + args + " 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  REQUIRE(p != nullptr);
  std::string out;
  char buf[512];
  while (std::fgets(buf, sizeof buf, p)) out += buf;
  const int status = pclose(p);
  return {WEXITSTATUS(status), out};
}

// Image i of a synthetic set as a PNG (CHW bytes -> interleaved RGB).
void write_png(const std::string& path, const data::CifarDataset& d, std::size_t i) {
  std::vector<std::uint8_t> px(32 * 32 * 3);
  for (std::size_t c = 0; c < 3; ++c)
    for (std::size_t j = 0; j < 1024; ++j) px[j * 3 + c] = d.images[i * 3072 + c * 1024 + j];
  REQUIRE(stbi_write_png(path.c_str(), 32, 32, 3, px.data(), 32 * 3) != 0);
}

}  // namespace

TEST_CASE("ctnn_predict: top-5 classes of image files and --eval of a folder, as ctnn::predict gives them") {
  TempDir dir("predict");
  Net net(8, 3);
  const std::string weights = dir.file("weights.ckpt");
  net.save(weights);
  const data::CifarDataset d = data::synthetic_cifar(6, 1);
  const std::vector<std::string> names(data::Cifar10::standard_class_names.begin(), data::Cifar10::standard_class_names.end());
  std::vector<std::string> files;
  for (std::size_t i = 0; i < d.size(); ++i) {
    const auto folder = dir.path / "eval" / names[i % 3];
    std::filesystem::create_directories(folder);
    files.push_back((folder / (std::to_string(i) + ".png")).string());
    write_png(files.back(), d, i);
  }
  // The reference: the same images, normalised as in training, through ctnn::predict.
  const data::Normalizer<3> norm({0.4914f, 0.4822f, 0.4465f}, {0.2470f, 0.2435f, 0.2616f}, "test");
  Tensor<Image> x(8, d.size());
  for (std::size_t i = 0; i < d.size(); ++i)
    for (std::size_t j = 0; j < 3072; ++j) x.sample(i)[j] = norm(j / 1024, d.images[i * 3072 + j]);
  const auto best = top_k(predict(net, x), 10, 5);

  const auto [rc, out] = run("--weights " + weights + " " + files[0] + " " + files[1]);
  INFO(out);
  REQUIRE(rc == 0);
  std::istringstream lines(out);
  for (std::size_t i = 0; i < 2; ++i) {
    std::string line;
    std::getline(lines, line);
    std::ostringstream want;
    want << files[i] << ":";
    for (const auto& s : best[i]) {
      char p[32];
      std::snprintf(p, sizeof p, "%.4f", double(s.probability));
      want << " " << names[s.index] << " " << p;
    }
    CHECK(line == want.str());
  }

  ConfusionMatrix m(10);
  for (std::size_t i = 0; i < d.size(); ++i) m.add(i % 3, best[i][0].index);
  const std::string prefix = dir.file("cm");
  const auto [erc, eout] = run("--weights " + weights + " --eval " + (dir.path / "eval").string() + " --confusion " + prefix);
  INFO(eout);
  REQUIRE(erc == 0);
  char acc[64];
  std::snprintf(acc, sizeof acc, "accuracy %.2f%% (6 images of 3 classes", 100.0 * m.accuracy());
  CHECK(eout.find(acc) != std::string::npos);
  const auto csv = io_test::read_bytes(prefix + ".csv");
  const std::string text(csv.begin(), csv.end());
  CHECK(text.rfind("true\\predicted,airplane,automobile,bird,cat,", 0) == 0);
  std::ostringstream row;
  row << "\nbird";
  for (std::size_t p = 0; p < 10; ++p) row << ',' << m.at(2, p);
  CHECK(text.find(row.str() + "\n") != std::string::npos);
  int w = 0, h = 0, n = 0;
  unsigned char* png = stbi_load((prefix + ".png").c_str(), &w, &h, &n, 3);
  REQUIRE(png != nullptr);
  stbi_image_free(png);
  CHECK(w == 240);
  CHECK(h == 240);

  // Usage errors and a folder class the model does not know.
  CHECK(run("--weights " + weights).first == 2);
  std::filesystem::create_directories(dir.path / "eval" / "zebra");
  write_png((dir.path / "eval" / "zebra" / "z.png").string(), d, 0);
  const auto [zrc, zout] = run("--weights " + weights + " --eval " + (dir.path / "eval").string());
  CHECK(zrc == 1);
  CHECK(zout.find("the class folder 'zebra'") != std::string::npos);
  CHECK(run("--weights " + dir.file("missing.ckpt") + " " + files[0]).first == 1);
}

#else

TEST_CASE("ctnn_predict needs the examples and stb_image") {
  FAIL("ctnn_predict is not built here (needs CTNN_BUILD_EXAMPLES and stb_image: install libstb-dev with "
       "scripts/install_deps.sh and configure again)");
}

#endif
