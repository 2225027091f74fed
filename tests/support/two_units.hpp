#pragma once
// portability/header_only_units: one training run, compiled into two translation units of one
// program (tests/portability/header_only_units.cpp and tests/support/two_units.cpp), header-only.
// Each unit then holds its own copy of every library function the run uses; were one of them not
// inline (an impl/*.ipp definition without CTNN_INLINE), the program would not link.

#include <ctnn/ctnn.hpp>

#include <filesystem>
#include <string>

namespace two_units {

// Trains a small network (im2col and Winograd convolutions, batch norm, linear) for two epochs of
// synthetic images with a cosine schedule by name, a history file and a checkpoint in `dir`, loads
// the checkpoint into a fresh network and returns the sum of its logits on a test batch.
inline double train_and_reload(const std::filesystem::path& dir) {
  using Image = ctnn::Shape<3, 32, 32>;
  using Spec = ctnn::Seq<ctnn::Conv<3, 16, 3, 2>, ctnn::BatchNorm<16>, ctnn::ReLU, ctnn::Conv<16, 16, 3, 1, 1>,
                         ctnn::BatchNorm<16>, ctnn::ReLU, ctnn::GlobalAvgPool, ctnn::Flatten, ctnn::Linear<16, 10>>;
  using Net = ctnn::Network<Spec, Image>;
  std::filesystem::create_directories(dir);
  const ctnn::data::CifarDataset set = ctnn::data::synthetic_cifar(48, 7);
  ctnn::data::Loader<Image> loader(set, ctnn::data::LoaderOptions::training(3, 16));
  Net net(16, 5);
  ctnn::SGD<> opt{0.05f, 0.9f, 5e-4f};
  ctnn::train::Options o;
  o.epochs = 2;
  o.progress = ctnn::train::ProgressStyle::none;
  o.lr = ctnn::schedule::by_name("cosine", 0.05f, 2 * loader.batches_per_epoch());
  o.checkpoint = (dir / "run.ckpt").string();
  o.history = (dir / "history.csv").string();
  if (!ctnn::train::fit(net, opt, loader, nullptr, o).ok()) return -1.0;
  Net reloaded(16, 6);
  ctnn::SGD<> opt2{0.05f, 0.9f, 5e-4f};
  ctnn::io::load_checkpoint(o.checkpoint, reloaded, opt2);
  ctnn::Tensor<Image> x(16);
  for (std::size_t i = 0; i < x.size(); ++i) x.data()[i] = static_cast<float>(set.images[i]) / 255.f;
  double sum = 0.0;
  for (float v : reloaded.forward(x, ctnn::Mode::eval).span()) sum += v;
  return sum;
}

// The same run, called from the other translation unit.
double train_and_reload_in_other_unit(const std::filesystem::path& dir);

}  // namespace two_units
