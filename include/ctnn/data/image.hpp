#pragma once
// Image files (PNG, JPEG, BMP, ...) as uint8 C x H x W samples, decoded by stb_image (Debian's
// libstb-dev: the headers and libstb.so, which the ctnn::ctnn CMake target links when it finds them;
// CTNN_HAS_STB is 1 then).
//
//   std::vector<std::uint8_t> chw = ctnn::data::read_image<Shape<3, 32, 32>>("cat.png");
//   CifarDataset d = ctnn::data::ImageFolder<Shape<3, 32, 32>>::load("photos");   // photos/<class>/*.png
//
// read_image decodes to C channels (1: grey, 3: RGB; an alpha channel is dropped) and, unless
// told not to, resizes to H x W by bilinear interpolation (pixel centres aligned, as OpenCV's
// INTER_LINEAR and PIL's BILINEAR without antialiasing). ImageFolder reads root/<class>/<image>
// with the classes sorted by folder name (torchvision's ImageFolder order) and the images of a class
// sorted by file name; files without an image extension (.png .jpg .jpeg .bmp .gif .tga .ppm .pgm)
// are skipped. Every problem is a ctnn::Error naming the path: a missing root, no class folders, a
// class without images, a file that does not decode (with stb's reason), an image of another size
// when resizing is off.

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "../core/error.hpp"
#include "../core/shape.hpp"
#include "dataset.hpp"
#include "files.hpp"

#if !__has_include(<stb/stb_image.h>)
#error "ctnn/data/image.hpp needs stb_image (Debian: libstb-dev; scripts/install_deps.sh installs it)"
#endif
#include <stb/stb_image.h>

namespace ctnn::data {

struct ImageOptions {
  bool resize = true;  // false: an image of another size is an error
};

namespace detail {

// Bilinear resize of an interleaved image (h x w x c) into planar C x H x W.
inline void resize_bilinear_to_chw(const std::uint8_t* src, std::size_t h, std::size_t w, std::size_t c,
                                   std::uint8_t* dst, std::size_t H, std::size_t W) {
  const double sy = double(h) / double(H), sx = double(w) / double(W);
  for (std::size_t y = 0; y < H; ++y) {
    const double fy = std::clamp((double(y) + 0.5) * sy - 0.5, 0.0, double(h - 1));
    const std::size_t y0 = static_cast<std::size_t>(fy), y1 = std::min(y0 + 1, h - 1);
    const double ty = fy - double(y0);
    for (std::size_t x = 0; x < W; ++x) {
      const double fx = std::clamp((double(x) + 0.5) * sx - 0.5, 0.0, double(w - 1));
      const std::size_t x0 = static_cast<std::size_t>(fx), x1 = std::min(x0 + 1, w - 1);
      const double tx = fx - double(x0);
      for (std::size_t k = 0; k < c; ++k) {
        auto at = [&](std::size_t yy, std::size_t xx) { return double(src[(yy * w + xx) * c + k]); };
        const double v = (1 - ty) * ((1 - tx) * at(y0, x0) + tx * at(y0, x1)) + ty * ((1 - tx) * at(y1, x0) + tx * at(y1, x1));
        dst[k * H * W + y * W + x] = static_cast<std::uint8_t>(std::clamp(std::lround(v), 0L, 255L));
      }
    }
  }
}

inline bool image_extension(const std::filesystem::path& p) {
  std::string e = p.extension().string();
  for (auto& ch : e) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  return e == ".png" || e == ".jpg" || e == ".jpeg" || e == ".bmp" || e == ".gif" || e == ".tga" || e == ".ppm" ||
         e == ".pgm";
}

}  // namespace detail

// The image at `path` as S::size bytes, C x H x W.
template <ShapeType S>
void read_image(const std::filesystem::path& path, std::uint8_t* out, ImageOptions options = {}) {
  constexpr const char* who = "ctnn::data::read_image";
  static_assert(S::rank == 3 && (S::template dim<0> == 1 || S::template dim<0> == 3),
                "ctnn::data::read_image: images are Shape<1 or 3, H, W>");
  constexpr std::size_t C = S::template dim<0>, H = S::template dim<1>, W = S::template dim<2>;
  const auto bytes = detail::read_whole_file(path, who, "an image file");
  int w = 0, h = 0, n = 0;
  std::uint8_t* pixels = stbi_load_from_memory(bytes.data(), static_cast<int>(bytes.size()), &w, &h, &n, int(C));
  if (!pixels)
    ctnn::detail::fail(who, ": cannot decode '", path.string(), "' (", bytes.size(), " bytes): ", stbi_failure_reason());
  struct Free {
    std::uint8_t* p;
    ~Free() { stbi_image_free(p); }
  } release{pixels};
  if ((std::size_t(h) != H || std::size_t(w) != W) && !options.resize)
    ctnn::detail::fail(who, ": '", path.string(), "' is ", w, "x", h, " pixels but the images are ", W, "x", H,
                       " (resizing is off)");
  detail::resize_bilinear_to_chw(pixels, std::size_t(h), std::size_t(w), C, out, H, W);
}

template <ShapeType S>
std::vector<std::uint8_t> read_image(const std::filesystem::path& path, ImageOptions options = {}) {
  std::vector<std::uint8_t> out(S::size);
  read_image<S>(path, out.data(), options);
  return out;
}

template <ShapeType S>
struct ImageFolder {
  static constexpr const char* who = "ctnn::data::ImageFolder";

  // The image files of root/<class>/, class by class (sorted), each class's files sorted.
  static std::vector<std::pair<std::filesystem::path, std::int32_t>> files(const std::filesystem::path& root,
                                                                          std::vector<std::string>& class_names) {
    namespace fs = std::filesystem;
    const auto type = detail::file_type(root, who);
    if (type != fs::file_type::directory)
      ctnn::detail::fail(who, ": '", root.string(), "' is ", detail::describe(type),
                         ", not a folder of class folders (root/<class>/<image>)");
    std::vector<fs::path> classes;
    for (const auto& e : fs::directory_iterator(root))
      if (e.is_directory()) classes.push_back(e.path());
    std::sort(classes.begin(), classes.end());
    if (classes.empty()) ctnn::detail::fail(who, ": '", root.string(), "' has no class folders (root/<class>/<image>)");
    std::vector<std::pair<fs::path, std::int32_t>> out;
    class_names.clear();
    for (const auto& c : classes) {
      std::vector<fs::path> images;
      for (const auto& e : fs::directory_iterator(c))
        if (e.is_regular_file() && detail::image_extension(e.path())) images.push_back(e.path());
      if (images.empty())
        ctnn::detail::fail(who, ": the class folder '", c.string(), "' holds no image files (.png, .jpg, ...)");
      std::sort(images.begin(), images.end());
      for (auto& p : images) out.emplace_back(std::move(p), static_cast<std::int32_t>(class_names.size()));
      class_names.push_back(c.filename().string());
    }
    return out;
  }

  static Dataset<S> load(const std::filesystem::path& root, ImageOptions options = {}) {
    Dataset<S> d;
    const auto list = files(root, d.class_names);
    d.images.resize(list.size() * S::size);
    d.labels.resize(list.size());
    for (std::size_t i = 0; i < list.size(); ++i) {
      read_image<S>(list[i].first, d.images.data() + i * S::size, options);
      d.labels[i] = list[i].second;
    }
    return d;
  }
};

}  // namespace ctnn::data
