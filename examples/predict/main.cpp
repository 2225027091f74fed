// ctnn_predict: the classes of image files under a trained ResNet-18 (CIFAR-10 layout: 3x32x32,
// 10 classes), or its accuracy and confusion matrix on a folder of labelled images.
//
//   ctnn_predict --weights run.ckpt cat.png ship.jpg            # top-5 classes with probabilities
//   ctnn_predict --weights run.ckpt --eval photos/              # photos/<class>/<image>: accuracy,
//                                                               # confusion.csv and confusion.png
// --weights takes a checkpoint of cifar10_resnet18 or a weights file (net.save, <checkpoint>.ema).
// Images are resized to 32x32 and normalised with CIFAR-10's mean and std, as in training. Class
// names are CIFAR-10's unless --classes names a file with one per line. Exit codes: 0, 1 an error,
// 2 a usage error.
#include <ctnn/ctnn.hpp>

#include <CLI/CLI.hpp>
#include <stb/stb_image_write.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

namespace {

using Model = ctnn::ResNet18<10>;
using Image = ctnn::Shape<3, 32, 32>;
using Net = ctnn::Network<Model, Image>;
constexpr std::size_t classes = 10, batch = 64;

// The confusion matrix as CSV (rows: true class, columns: predicted) and as a PNG heat map: 24x24
// pixels per cell, white (no images) to dark blue (every image of the row's class), true classes
// top to bottom and predicted classes left to right (scripts/plot_confusion.py draws it with names).
void write_confusion(const ctnn::ConfusionMatrix& m, const std::vector<std::string>& names, const std::string& prefix) {
  std::ofstream csv(prefix + ".csv");
  csv << "true\\predicted";
  for (const auto& n : names) csv << ',' << n;
  csv << '\n';
  for (std::size_t t = 0; t < m.classes; ++t) {
    csv << names[t];
    for (std::size_t p = 0; p < m.classes; ++p) csv << ',' << m.at(t, p);
    csv << '\n';
  }
  if (!csv) throw ctnn::Error("ctnn_predict: cannot write '" + prefix + ".csv'");
  constexpr int cell = 24;
  const int side = int(m.classes) * cell;
  std::vector<unsigned char> px(std::size_t(side) * side * 3);
  for (std::size_t t = 0; t < m.classes; ++t) {
    std::size_t row = 0;
    for (std::size_t p = 0; p < m.classes; ++p) row += m.at(t, p);
    for (std::size_t p = 0; p < m.classes; ++p) {
      const double share = row ? double(m.at(t, p)) / double(row) : 0.0;
      const unsigned char rgb[3] = {static_cast<unsigned char>(255 - 247 * share), static_cast<unsigned char>(255 - 207 * share),
                                    static_cast<unsigned char>(255 - 148 * share)};
      for (int y = 0; y < cell; ++y)
        for (int x = 0; x < cell; ++x)
          for (int k = 0; k < 3; ++k) px[((std::size_t(t) * cell + y) * side + p * cell + x) * 3 + k] = rgb[k];
    }
  }
  if (!stbi_write_png((prefix + ".png").c_str(), side, side, 3, px.data(), side * 3))
    throw ctnn::Error("ctnn_predict: cannot write '" + prefix + ".png'");
}

int run(const std::string& weights, const std::string& classes_file, const std::string& eval_dir,
        const std::string& confusion, std::size_t top, const std::vector<std::string>& images) {
  std::vector<std::string> names(ctnn::data::Cifar10::standard_class_names.begin(), ctnn::data::Cifar10::standard_class_names.end());
  if (!classes_file.empty()) names = ctnn::data::detail::read_names(classes_file, classes, "ctnn_predict");
  Net net(batch, 0);
  net.load(weights);
  const ctnn::data::LoaderOptions norm = ctnn::data::LoaderOptions::evaluation(batch);  // CIFAR-10's mean and std
  if (!eval_dir.empty()) {
    ctnn::data::CifarDataset d = ctnn::data::ImageFolder<Image>::load(eval_dir);
    std::vector<std::int32_t> to_model(d.num_classes());  // folder classes -> model classes, by name
    for (std::size_t i = 0; i < d.num_classes(); ++i) {
      const auto it = std::find(names.begin(), names.end(), d.class_names[i]);
      if (it == names.end())
        throw ctnn::Error("ctnn_predict: the class folder '" + d.class_names[i] + "' in '" + eval_dir +
                          "' is not one of the model's classes (pass --classes with the right names)");
      to_model[i] = static_cast<std::int32_t>(it - names.begin());
    }
    for (auto& l : d.labels) l = to_model[static_cast<std::size_t>(l)];
    const std::size_t folder_classes = d.num_classes();
    d.class_names = names;
    ctnn::data::Loader loader(d, norm);
    ctnn::ConfusionMatrix m(classes);
    while (const auto* b = loader.next()) {
      const auto best = ctnn::top_k(ctnn::predict(net, b->images), classes, 1);
      for (std::size_t k = 0; k < b->size(); ++k) m.add(static_cast<std::size_t>(b->labels[k]), best[k][0].index);
    }
    write_confusion(m, names, confusion);
    std::printf("accuracy %.2f%% (%zu images of %zu classes in %s); confusion matrix: %s.csv, %s.png\n",
                100.0 * m.accuracy(), m.total(), folder_classes, eval_dir.c_str(), confusion.c_str(), confusion.c_str());
    return 0;
  }
  const ctnn::data::Normalizer<3> normalize(norm.mean, norm.stddev, "ctnn_predict");
  ctnn::Tensor<Image> x(batch, 0);
  for (std::size_t first = 0; first < images.size(); first += batch) {
    const std::size_t n = std::min(batch, images.size() - first);
    x.set_batch(n);
    for (std::size_t i = 0; i < n; ++i) {
      const auto bytes = ctnn::data::read_image<Image>(images[first + i]);
      for (std::size_t j = 0; j < Image::size; ++j) x.sample(i)[j] = normalize(j / 1024, bytes[j]);
    }
    const auto best = ctnn::top_k(ctnn::predict(net, x), classes, top);
    for (std::size_t i = 0; i < n; ++i) {
      std::printf("%s:", images[first + i].c_str());
      for (const auto& s : best[i]) std::printf(" %s %.4f", names[s.index].c_str(), double(s.probability));
      std::printf("\n");
    }
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::string weights, classes_file, eval_dir, confusion = "confusion";
  std::size_t top = 5;
  std::vector<std::string> images;
  CLI::App app{"Classifies image files with a trained CIFAR-10 ResNet-18, or evaluates it on a folder of labelled images."};
  app.add_option("--weights", weights, "checkpoint or weights file of cifar10_resnet18")->required();
  app.add_option("--classes", classes_file, "file of the 10 class names, one per line (default: CIFAR-10's)");
  app.add_option("--top", top, "classes to print per image")->check(CLI::Range(1, 10))->capture_default_str();
  app.add_option("--eval", eval_dir, "folder of <class>/<image>: print the accuracy, write the confusion matrix");
  app.add_option("--confusion", confusion, "file name prefix of the confusion matrix (.csv, .png)")->capture_default_str();
  app.add_option("images", images, "image files (PNG, JPEG, BMP, ...)");
  try {
    app.parse(argc, argv);
    if (images.empty() == eval_dir.empty()) throw CLI::ValidationError("give image files or --eval DIR (one of them)");
    return run(weights, classes_file, eval_dir, confusion, top, images);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  } catch (const ctnn::Error& e) {
    std::fprintf(stderr, "ctnn_predict: %s\n", e.what());
    return 1;
  }
}
