// Image files through stb_image: decoding to grey or RGB, CHW order, bilinear resizing, the
// ImageFolder layout and order, and a ctnn::Error naming the path for every problem.
#include <ctnn/data.hpp>
#include <doctest/doctest.h>

#if CTNN_HAS_STB
#include <stb/stb_image_write.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "io/fixture.hpp"

using namespace ctnn;
using namespace ctnn::data;
using io_test::TempDir;

namespace {

// An RGB PNG of w x h whose pixel (x, y) is (x * 10, y * 20, 100 + x + y).
void write_png(const std::string& path, int w, int h) {
  std::vector<std::uint8_t> px(static_cast<std::size_t>(w * h * 3));
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) {
      std::uint8_t* p = px.data() + (y * w + x) * 3;
      p[0] = static_cast<std::uint8_t>(x * 10);
      p[1] = static_cast<std::uint8_t>(y * 20);
      p[2] = static_cast<std::uint8_t>(100 + x + y);
    }
  REQUIRE(stbi_write_png(path.c_str(), w, h, 3, px.data(), w * 3) != 0);
}

}  // namespace

TEST_CASE("read_image: RGB as CHW at its own size, grey, and bilinear resizing") {
  TempDir dir("image_read");
  write_png(dir.file("a.png"), 4, 3);
  const auto chw = read_image<Shape<3, 3, 4>>(dir.file("a.png"));
  CHECK(chw[0 * 12 + 2 * 4 + 3] == 30);   // red of (x 3, y 2)
  CHECK(chw[1 * 12 + 2 * 4 + 3] == 40);   // green
  CHECK(chw[2 * 12 + 2 * 4 + 3] == 105);  // blue
  const auto grey = read_image<Shape<1, 3, 4>>(dir.file("a.png"));
  CHECK(grey.size() == 12);
  // stb's luma: (77 r + 150 g + 29 b) / 256
  CHECK(int(grey[0]) == (77 * 0 + 150 * 0 + 29 * 100) >> 8);
  // 4x3 -> 2x3 (half width): each output column averages two input columns.
  write_png(dir.file("b.png"), 4, 3);
  const auto half = read_image<Shape<3, 3, 2>>(dir.file("b.png"));
  CHECK(half[0 * 6 + 0 * 2 + 0] == 5);   // red of x 0 and 1: (0 + 10) / 2
  CHECK(half[0 * 6 + 0 * 2 + 1] == 25);  // (20 + 30) / 2
  CHECK(io_test::error_of([&] { read_image<Shape<3, 8, 8>>(dir.file("a.png"), {.resize = false}); })
            .find("a.png' is 4x3 pixels but the images are 8x8 (resizing is off)") != std::string::npos);
  {
    std::ofstream bad(dir.file("bad.png"));
    bad << "not an image";
  }
  CHECK(io_test::error_of([&] { read_image<Shape<3, 8, 8>>(dir.file("bad.png")); }).find("bad.png' (12 bytes)") !=
        std::string::npos);
  CHECK(io_test::error_of([&] { read_image<Shape<3, 8, 8>>(dir.file("none.png")); }).find("does not exist") != std::string::npos);
}

TEST_CASE("ImageFolder: classes sorted by folder name, images by file name, other files skipped") {
  TempDir dir("image_folder");
  for (const char* c : {"dog", "cat", "bird"}) std::filesystem::create_directories(dir.path / c);
  write_png((dir.path / "dog" / "2.png").string(), 5, 5);
  write_png((dir.path / "dog" / "1.PNG").string(), 6, 4);
  write_png((dir.path / "cat" / "x.png").string(), 3, 3);
  write_png((dir.path / "bird" / "y.png").string(), 4, 4);
  {
    std::ofstream notes(dir.path / "cat" / "notes.txt");
    notes << "skipped";
  }
  const auto d = ImageFolder<Shape<3, 8, 8>>::load(dir.path);
  REQUIRE(d.size() == 4);
  CHECK(d.class_names == std::vector<std::string>{"bird", "cat", "dog"});
  CHECK(d.labels == std::vector<std::int32_t>{0, 1, 2, 2});
  std::vector<std::string> names;
  const auto files = ImageFolder<Shape<3, 8, 8>>::files(dir.path, names);
  CHECK(files[2].first.filename() == "1.PNG");
  // The loader reads it like any dataset.
  Loader loader(d, LoaderOptions::evaluation(2));
  CHECK(loader.next()->size() == 2);

  std::filesystem::create_directories(dir.path / "empty");
  CHECK(io_test::error_of([&] { ImageFolder<Shape<3, 8, 8>>::load(dir.path); }).find("empty' holds no image files") !=
        std::string::npos);
  CHECK(io_test::error_of([&] { ImageFolder<Shape<3, 8, 8>>::load(dir.file("nowhere")); }).find("not a folder") !=
        std::string::npos);
  TempDir flat("image_flat");
  write_png(flat.file("z.png"), 2, 2);
  CHECK(io_test::error_of([&] { ImageFolder<Shape<3, 8, 8>>::load(flat.path); }).find("has no class folders") !=
        std::string::npos);
}

#else

TEST_CASE("image files need stb_image") {
  FAIL("this build has no stb_image (CTNN_HAS_STB is not set): install libstb-dev (scripts/install_deps.sh does) and "
       "configure again");
}

#endif
