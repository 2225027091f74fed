#include <ctnn/data/loader.hpp>
#include <ctnn/data/synthetic.hpp>
#include <doctest/doctest.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <set>
#include <vector>

using namespace ctnn;
using namespace ctnn::data;

namespace {

// n images with varied pixels (all byte values occur) and labels i % 10.
CifarDataset make_dataset(std::size_t n) {
  CifarDataset d;
  d.class_names = synthetic_class_names();
  d.labels.resize(n);
  d.images.resize(n * CifarDataset::image_bytes);
  for (std::size_t i = 0; i < n; ++i) {
    d.labels[i] = static_cast<std::int32_t>(i % 10);
    for (std::size_t j = 0; j < CifarDataset::image_bytes; ++j)
      d.images[i * CifarDataset::image_bytes + j] = static_cast<std::uint8_t>((i * 131 + j * 7 + (j >> 5) * 3 + 1) & 0xFF);
  }
  return d;
}

// The normalised value of one byte, written as a user would write it.
float norm(const LoaderOptions& o, std::size_t c, std::uint8_t v) {
  return (static_cast<float>(v) / 255.0f - o.mean[c]) / o.stddev[c];
}

// A reference for one output sample: zero-pad, crop at (crop_x, crop_y), flip, normalise.
std::vector<float> reference(const CifarDataset& d, std::size_t idx, const Augmentation& a, const LoaderOptions& o) {
  const std::size_t P = 32 + 2 * o.pad;
  std::vector<std::uint8_t> padded(3 * P * P, 0);
  for (std::size_t c = 0; c < 3; ++c)
    for (std::size_t y = 0; y < 32; ++y)
      for (std::size_t x = 0; x < 32; ++x) padded[(c * P + y + o.pad) * P + x + o.pad] = d.pixel(idx, c, y, x);
  std::vector<float> out(CifarDataset::image_bytes);
  for (std::size_t c = 0; c < 3; ++c)
    for (std::size_t y = 0; y < 32; ++y)
      for (std::size_t x = 0; x < 32; ++x) {
        const std::size_t xs = a.flip ? 31 - x : x;
        out[c * 1024 + y * 32 + x] = norm(o, c, padded[(c * P + y + a.crop_y) * P + xs + a.crop_x]);
      }
  return out;
}

struct Recorded {
  std::vector<float> images;
  std::vector<std::int32_t> labels;
  std::vector<std::size_t> indices;
  std::vector<std::size_t> sizes;
};

// Every batch of the epoch that `loader` is in, from its current position.
Recorded drain(Loader<CifarImage>& loader) {
  Recorded r;
  while (const auto* b = loader.next()) {
    REQUIRE(b->images.batch() == b->size());
    r.images.insert(r.images.end(), b->images.data(), b->images.data() + b->images.size());
    r.labels.insert(r.labels.end(), b->labels.begin(), b->labels.end());
    r.indices.insert(r.indices.end(), b->indices.begin(), b->indices.end());
    r.sizes.push_back(b->size());
  }
  return r;
}

bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

}  // namespace

TEST_CASE("every sample appears exactly once per epoch, with its label") {
  const CifarDataset d = make_dataset(1000);
  for (const bool background : {true, false}) {
    CAPTURE(background);
    LoaderOptions o = LoaderOptions::training(7, 64);
    o.drop_last = false;
    o.background = background;
    Loader loader(d, o);
    CHECK(loader.size() == 1000);
    CHECK(loader.batches_per_epoch() == 16);
    CHECK(loader.samples_per_epoch() == 1000);
    for (std::size_t e = 0; e < 2; ++e) {
      loader.start_epoch(e);
      const Recorded r = drain(loader);
      REQUIRE(r.sizes.size() == 16);
      CHECK(r.sizes.front() == 64);
      CHECK(r.sizes.back() == 1000 - 15 * 64);
      std::vector<std::size_t> sorted = r.indices;
      std::sort(sorted.begin(), sorted.end());
      for (std::size_t i = 0; i < sorted.size(); ++i) REQUIRE(sorted[i] == i);
      for (std::size_t k = 0; k < r.indices.size(); ++k) REQUIRE(r.labels[k] == d.labels[r.indices[k]]);
      CHECK(r.indices == loader.order(e));
      CHECK(loader.next() == nullptr);  // stays at the end until start_epoch
    }
  }
}

TEST_CASE("drop_last skips the final partial batch; evaluation keeps it") {
  const CifarDataset d = make_dataset(100);
  Loader train(d, LoaderOptions::training(1, 32));
  CHECK(train.batches_per_epoch() == 3);
  CHECK(train.samples_per_epoch() == 96);
  train.start_epoch(0);
  const Recorded r = drain(train);
  CHECK(r.sizes == std::vector<std::size_t>{32, 32, 32});
  CHECK(std::set<std::size_t>(r.indices.begin(), r.indices.end()).size() == 96);

  Loader eval(d, LoaderOptions::evaluation(32));
  CHECK(eval.batches_per_epoch() == 4);
  eval.start_epoch(0);
  CHECK(drain(eval).sizes == std::vector<std::size_t>{32, 32, 32, 4});
}

TEST_CASE("the shuffle differs between epochs and seeds and repeats for one seed") {
  const CifarDataset d = make_dataset(500);
  Loader a(d, LoaderOptions::training(3, 50));
  Loader b(d, LoaderOptions::training(3, 50));
  Loader c(d, LoaderOptions::training(4, 50));
  CHECK(a.order(0) == b.order(0));
  CHECK(a.order(5) == b.order(5));
  CHECK(a.order(0) != a.order(1));
  CHECK(a.order(0) != c.order(0));
  std::vector<std::size_t> identity(500);
  for (std::size_t i = 0; i < 500; ++i) identity[i] = i;
  CHECK(a.order(0) != identity);
  a.start_epoch(1);
  CHECK(drain(a).indices == b.order(1));
}

TEST_CASE("crop offsets cover 0..2*pad and flips take both values") {
  const CifarDataset d = make_dataset(10);
  Loader loader(d, LoaderOptions::training(11));
  std::set<std::size_t> xs, ys;
  std::size_t flips = 0;
  const std::size_t n = 4000;
  for (std::size_t p = 0; p < n; ++p) {
    const Augmentation a = loader.augmentation(p % 3, p);
    CHECK(a.crop_x <= 8);
    CHECK(a.crop_y <= 8);
    xs.insert(a.crop_x);
    ys.insert(a.crop_y);
    flips += a.flip;
    CHECK(a == loader.augmentation(p % 3, p));  // a pure function of (seed, epoch, position)
  }
  CHECK(xs.size() == 9);
  CHECK(ys.size() == 9);
  CHECK(flips > n * 2 / 5);
  CHECK(flips < n * 3 / 5);
  CHECK(loader.augmentation(0, 1) != loader.augmentation(1, 1));  // depends on the epoch too (for this seed)

  LoaderOptions off = LoaderOptions::training(11);
  off.augment = false;
  CHECK(Loader(d, off).augmentation(0, 1) == Augmentation{4, 4, false});
}

TEST_CASE("evaluation: dataset order, no augmentation, normalisation applied exactly") {
  const CifarDataset d = make_dataset(70);
  const LoaderOptions o = LoaderOptions::evaluation(32);
  Loader loader(d, o);
  loader.start_epoch(0);
  std::size_t seen = 0;
  while (const auto* b = loader.next()) {
    for (std::size_t k = 0; k < b->size(); ++k) {
      const std::size_t i = seen + k;
      REQUIRE(b->indices[k] == i);
      REQUIRE(b->labels[k] == d.labels[i]);
      for (std::size_t c = 0; c < 3; ++c)
        for (std::size_t y = 0; y < 32; ++y)
          for (std::size_t x = 0; x < 32; ++x)
            REQUIRE(b->images(k, c, y, x) == norm(o, c, d.pixel(i, c, y, x)));
    }
    seen += b->size();
  }
  CHECK(seen == 70);
  // A few values spelled out: (v / 255 - mean) / std.
  CHECK(loader.normalized(0, 0) == doctest::Approx(-0.4914 / 0.2470).epsilon(1e-6));
  CHECK(loader.normalized(1, 255) == doctest::Approx((1 - 0.4822) / 0.2435).epsilon(1e-6));
  CHECK(loader.normalized(2, 128) == doctest::Approx((128 / 255.0 - 0.4465) / 0.2616).epsilon(1e-6));

  SUBCASE("custom normalisation constants") {
    LoaderOptions u = o;
    u.mean = {0.f, 0.5f, 1.f};
    u.stddev = {1.f, 0.5f, 2.f};
    Loader l(d, u);
    const auto* b = l.next();  // starts epoch 0
    REQUIRE(b);
    CHECK(b->images(3, 0, 1, 2) == static_cast<float>(d.pixel(3, 0, 1, 2)) / 255.0f);
    CHECK(b->images(3, 1, 1, 2) == (static_cast<float>(d.pixel(3, 1, 1, 2)) / 255.0f - 0.5f) / 0.5f);
    CHECK(b->images(3, 2, 1, 2) == (static_cast<float>(d.pixel(3, 2, 1, 2)) / 255.0f - 1.f) / 2.f);
  }
}

TEST_CASE("training samples are the padded, cropped, flipped, normalised images") {
  const CifarDataset d = make_dataset(300);
  const LoaderOptions o = LoaderOptions::training(5, 100);
  Loader loader(d, o);
  loader.start_epoch(2);
  bool saw_top_border = false, saw_flip = false;
  while (const auto* b = loader.next()) {
    for (std::size_t k = 0; k < b->size(); ++k) {
      const std::size_t pos = b->first_position + k;
      const Augmentation a = loader.augmentation(2, pos);
      const std::vector<float> want = reference(d, b->indices[k], a, o);
      REQUIRE(std::memcmp(want.data(), b->images.sample(k), CifarDataset::image_bytes * sizeof(float)) == 0);
      saw_flip |= a.flip;
      if (a.crop_y == 0) {  // shifted down by 4: rows 0..3 are padding, i.e. normalised zeros
        saw_top_border = true;
        for (std::size_t c = 0; c < 3; ++c)
          for (std::size_t y = 0; y < 4; ++y)
            for (std::size_t x = 0; x < 32; ++x) REQUIRE(b->images(k, c, y, x) == (0.f - o.mean[c]) / o.stddev[c]);
        // row 4 is the image's row 0 (shifted by crop_x, maybe flipped)
        if (a.crop_x == 4 && !a.flip) CHECK(b->images(k, 1, 4, 7) == norm(o, 1, d.pixel(b->indices[k], 1, 0, 7)));
      }
      if (a.crop_x == 8 && !a.flip)  // shifted left by 4: the last 4 columns are padding
        for (std::size_t x = 28; x < 32; ++x) CHECK(b->images(k, 0, 10, x) == (0.f - o.mean[0]) / o.stddev[0]);
    }
  }
  CHECK(saw_top_border);
  CHECK(saw_flip);
}

TEST_CASE("two loaders with one seed agree, with and without the background thread") {
  const CifarDataset d = synthetic_cifar(260, 9);
  LoaderOptions o = LoaderOptions::training(21, 64);
  o.drop_last = false;
  Loader threaded(d, o);
  o.background = false;
  Loader inline_(d, o);
  for (std::size_t e = 0; e < 2; ++e) {
    threaded.start_epoch(e);
    inline_.start_epoch(e);
    const Recorded a = drain(threaded), b = drain(inline_);
    CHECK(a.indices == b.indices);
    CHECK(a.labels == b.labels);
    CHECK(same_bits(a.images, b.images));
    CHECK(a.sizes == (std::vector<std::size_t>{64, 64, 64, 64, 4}));
  }
}

TEST_CASE("start_epoch(e, k) reproduces the tail of epoch e") {
  const CifarDataset d = make_dataset(333);
  const LoaderOptions o = LoaderOptions::training(8, 32);
  Loader full(d, o);
  REQUIRE(full.batches_per_epoch() == 10);
  full.start_epoch(4);
  const Recorded whole = drain(full);

  Loader resumed(d, o);
  resumed.start_epoch(4, 6);
  const auto* first = resumed.next();
  REQUIRE(first);
  CHECK(first->epoch == 4);
  CHECK(first->index == 6);
  CHECK(first->first_position == 6 * 32);
  Recorded tail;
  tail.images.assign(first->images.data(), first->images.data() + first->images.size());
  tail.indices.assign(first->indices.begin(), first->indices.end());
  const Recorded rest = drain(resumed);
  tail.images.insert(tail.images.end(), rest.images.begin(), rest.images.end());
  tail.indices.insert(tail.indices.end(), rest.indices.begin(), rest.indices.end());
  CHECK(tail.indices == std::vector<std::size_t>(whole.indices.begin() + 6 * 32, whole.indices.end()));
  CHECK(same_bits(tail.images, std::vector<float>(whole.images.begin() + 6 * 32 * CifarDataset::image_bytes, whole.images.end())));

  SUBCASE("restarting in the middle of an epoch discards the prefetched batch") {
    Loader l(d, o);
    l.start_epoch(1);
    REQUIRE(l.next());
    REQUIRE(l.next());  // the worker is now preparing batch 2 of epoch 1
    l.start_epoch(4, 9);
    const auto* b = l.next();
    REQUIRE(b);
    CHECK(b->index == 9);
    CHECK(std::vector<std::size_t>(b->indices.begin(), b->indices.end()) ==
          std::vector<std::size_t>(whole.indices.begin() + 9 * 32, whole.indices.end()));
    CHECK(l.next() == nullptr);
  }
  SUBCASE("the end of an epoch is a valid start; past it is an error") {
    Loader l(d, o);
    l.start_epoch(0, 10);
    CHECK(l.next() == nullptr);
    CHECK_THROWS_WITH(l.start_epoch(0, 11), doctest::Contains("an epoch has 10 batches"));
  }
}

TEST_CASE("an error in the worker is rethrown by next(), which can then be retried") {
  CifarDataset d = make_dataset(64);
  for (const bool background : {true, false}) {
    CAPTURE(background);
    LoaderOptions o = LoaderOptions::evaluation(16);
    o.background = background;
    Loader loader(d, o);  // the worker waits for start_epoch, so changing the dataset now is safe
    d.labels[40] = 42;
    loader.start_epoch(0);
    REQUIRE(loader.next());
    REQUIRE(loader.next());
    CHECK_THROWS_WITH_AS(loader.next(), doctest::Contains("label 42 of image 40 is not a class index"), ctnn::Error);
    CHECK_THROWS_AS(loader.next(), ctnn::Error);  // tried again, fails again
    d.labels[40] = 0;                             // the worker is idle after a failure
    const auto* b = loader.next();
    REQUIRE(b);
    CHECK(b->index == 2);
    CHECK(b->labels[8] == 0);
    REQUIRE(loader.next());
    CHECK(loader.next() == nullptr);
  }
}

TEST_CASE("bad options and datasets are reported") {
  const CifarDataset d = make_dataset(4);
  LoaderOptions o;
  o.batch = 0;
  CHECK_THROWS_WITH(Loader(d, o), doctest::Contains("batch size is 0"));
  o = {};
  o.stddev[1] = 0.f;
  CHECK_THROWS_WITH(Loader(d, o), doctest::Contains("stddev[1]"));
  o = {};
  o.flip_probability = 1.5f;
  CHECK_THROWS_WITH(Loader(d, o), doctest::Contains("flip_probability"));
  o = {};
  o.pad = 33;
  CHECK_THROWS_WITH(Loader(d, o), doctest::Contains("pad 33"));
  CifarDataset bad = make_dataset(4);
  bad.labels[2] = 10;
  CHECK_THROWS_WITH(Loader(bad, {}), doctest::Contains("label 10 of image 2"));
  bad.labels.pop_back();
  CHECK_THROWS_WITH(Loader(bad, {}), doctest::Contains("3 labels but 12288 image bytes"));

  CifarDataset empty;
  empty.class_names = {"only"};
  Loader none(empty, {});
  CHECK(none.batches_per_epoch() == 0);
  CHECK(none.next() == nullptr);
}

TEST_CASE("a loader destroyed mid-epoch stops its worker cleanly") {
  const CifarDataset d = make_dataset(200);
  for (int i = 0; i < 20; ++i) {
    Loader loader(d, LoaderOptions::training(static_cast<std::uint64_t>(i), 16));
    loader.start_epoch(0);
    if (i % 2) REQUIRE(loader.next());
  }
  CHECK(true);
}

TEST_CASE("Cutout: a square zeroed after normalisation, where augmentation() says; crops and flips unchanged") {
  const CifarDataset d = make_dataset(20);
  LoaderOptions plain = LoaderOptions::training(17, 10);
  LoaderOptions cut = plain;
  cut.cutout = 8;
  Loader a(d, plain), b(d, cut);
  for (std::size_t p = 0; p < 20; ++p) {
    const Augmentation x = a.augmentation(1, p), y = b.augmentation(1, p);
    CHECK(x.crop_x == y.crop_x);
    CHECK(x.crop_y == y.crop_y);
    CHECK(x.flip == y.flip);
    CHECK(y.cutout);
    CHECK(y.cutout_x < 32);
    CHECK(y.cutout_y < 32);
  }
  a.start_epoch(1);
  b.start_epoch(1);
  const auto* ba = a.next();
  const auto* bb = b.next();
  REQUIRE(ba->size() == bb->size());
  for (std::size_t k = 0; k < bb->size(); ++k) {
    const Augmentation aug = b.augmentation(1, bb->first_position + k);
    for (std::size_t c = 0; c < 3; ++c)
      for (std::size_t yy = 0; yy < 32; ++yy)
        for (std::size_t xx = 0; xx < 32; ++xx) {
          const bool inside = yy + 4 >= aug.cutout_y && yy < aug.cutout_y + 4 && xx + 4 >= aug.cutout_x && xx < aug.cutout_x + 4;
          const float want = inside ? 0.f : ba->images(k, c, yy, xx);
          REQUIRE(bb->images(k, c, yy, xx) == want);
        }
  }
  LoaderOptions never = cut;
  never.cutout_probability = 0.f;
  Loader n(d, never);
  CHECK_FALSE(n.augmentation(0, 3).cutout);
  LoaderOptions big = cut;
  big.cutout = 40;
  CHECK_THROWS_WITH(Loader(d, big), doctest::Contains("cutout 40 is larger than the image"));
}
