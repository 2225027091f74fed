// The per-element update rules of a multi-tensor kernel (backend/update_rule.hpp, CTNN_HD) against
// the CPU optimizers, bit for bit: several steps of SGD (plain, momentum, dampening, Nesterov,
// weight decay, lr changed every step by a cosine schedule) and AdamW, one value at a time through
// update_rule with the step's StepValues, the CPU optimizer through its expressions.
#include <ctnn/backend/cpu.hpp>
#include <ctnn/optim.hpp>
#include <ctnn/backend/update_rule.hpp>
#include <doctest/doctest.h>

#include <cmath>
#include <cstddef>
#include <cstring>
#include <random>
#include <string>
#include <vector>

using namespace ctnn;

namespace {

struct Params {
  std::vector<std::vector<float>> values, grads;
  std::vector<Parameter> list;
  explicit Params(const std::vector<std::size_t>& sizes) {
    std::mt19937 rng(7);
    std::normal_distribution<float> dist(0.f, 1.f);
    for (std::size_t s : sizes) {
      values.emplace_back(s);
      grads.emplace_back(s);
      for (auto& v : values.back()) v = dist(rng);
    }
    for (std::size_t i = 0; i < sizes.size(); ++i) {
      std::string name = "p";
      name += std::to_string(i);
      list.push_back(Parameter{name, values[i].data(), grads[i].data(), sizes[i]});
    }
  }
};

void random_grads(std::vector<std::vector<float>>& a, std::vector<std::vector<float>>& b, std::mt19937& rng) {
  std::normal_distribution<float> dist(0.f, 1.f);
  for (std::size_t i = 0; i < a.size(); ++i)
    for (std::size_t j = 0; j < a[i].size(); ++j) a[i][j] = b[i][j] = j % 13 == 2 ? 0.f : dist(rng);
}

bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

struct SgdCase {
  float momentum, weight_decay, dampening;
  bool nesterov;
};

}  // namespace

TEST_CASE("update_rule::sgd_update with sgd_values is the CPU SGD, bit for bit, every step") {
  const std::vector<std::size_t> sizes{5, 37, 130};
  const schedule::Cosine lr_at{0.1f, 6, 1};
  for (const SgdCase c : {SgdCase{0.f, 0.f, 0.f, false}, SgdCase{0.9f, 0.f, 0.f, false}, SgdCase{0.9f, 5e-4f, 0.f, true},
                          SgdCase{0.8f, 1e-2f, 0.25f, false}}) {
    CAPTURE(c.momentum);
    CAPTURE(c.nesterov);
    Params cpu(sizes), rule(sizes);
    std::vector<std::vector<float>> bufs;
    for (std::size_t s : sizes) bufs.emplace_back(s, 0.f);
    SGD<Cpu> opt{0.1f, c.momentum, c.weight_decay, c.nesterov, c.dampening};
    std::mt19937 rng(3);
    for (std::size_t t = 0; t < 6; ++t) {
      random_grads(cpu.grads, rule.grads, rng);
      opt.lr = lr_at(t);
      const StepValues s =
          update_rule::sgd_values(opt.lr, opt.momentum, opt.dampening, opt.weight_decay, opt.nesterov, opt.steps == 0);
      opt.step(cpu.list);
      for (std::size_t i = 0; i < sizes.size(); ++i)
        for (std::size_t j = 0; j < sizes[i]; ++j)
          update_rule::sgd_update(rule.values[i][j], rule.grads[i][j], bufs[i][j], s.v);
      for (std::size_t i = 0; i < sizes.size(); ++i) {
        CAPTURE(t);
        CAPTURE(i);
        CHECK(same_bits(cpu.values[i], rule.values[i]));
      }
    }
    if (c.momentum != 0.f) {
      const auto state = opt.state(cpu.list);
      for (std::size_t i = 0; i < sizes.size(); ++i)
        CHECK(same_bits(std::vector<float>(state[i].value, state[i].value + state[i].size), bufs[i]));
    }
  }
}

TEST_CASE("update_rule::adamw_update with adamw_values is the CPU AdamW, bit for bit, every step") {
  const std::vector<std::size_t> sizes{3, 64, 257};
  Params cpu(sizes), rule(sizes);
  std::vector<std::vector<float>> m, v;
  for (std::size_t s : sizes) {
    m.emplace_back(s, 0.f);
    v.emplace_back(s, 0.f);
  }
  AdamW<Cpu> opt{1e-3f, 0.9f, 0.999f, 1e-8f, 1e-2f};
  const schedule::Cosine lr_at{1e-2f, 8};
  std::mt19937 rng(5);
  for (std::size_t t = 0; t < 8; ++t) {
    random_grads(cpu.grads, rule.grads, rng);
    opt.lr = lr_at(t);
    const StepValues s = update_rule::adamw_values(opt.lr, opt.beta1, opt.beta2, opt.eps, opt.weight_decay, opt.steps + 1);
    opt.step(cpu.list);
    for (std::size_t i = 0; i < sizes.size(); ++i)
      for (std::size_t j = 0; j < sizes[i]; ++j)
        update_rule::adamw_update(rule.values[i][j], rule.grads[i][j], m[i][j], v[i][j], s.v);
    for (std::size_t i = 0; i < sizes.size(); ++i) {
      CAPTURE(t);
      CAPTURE(i);
      CHECK(same_bits(cpu.values[i], rule.values[i]));
    }
  }
  const auto state = opt.state(cpu.list);
  for (std::size_t i = 0; i < sizes.size(); ++i) {
    CHECK(same_bits(std::vector<float>(state[2 * i].value, state[2 * i].value + sizes[i]), m[i]));
    CHECK(same_bits(std::vector<float>(state[2 * i + 1].value, state[2 * i + 1].value + sizes[i]), v[i]));
  }
}

TEST_CASE("the step values change with the schedule and the step count") {
  // What a replayed CUDA graph gets: the host half recomputed each step.
  const StepValues a = update_rule::adamw_values(1e-3f, 0.9f, 0.999f, 1e-8f, 0.f, 1);
  const StepValues b = update_rule::adamw_values(1e-3f, 0.9f, 0.999f, 1e-8f, 0.f, 2);
  CHECK(a[update_rule::adamw_slot::step_size] == doctest::Approx(1e-3 / 0.1));
  CHECK(b[update_rule::adamw_slot::step_size] == doctest::Approx(1e-3 / 0.19));
  CHECK(a[update_rule::adamw_slot::bc2_sqrt] == doctest::Approx(std::sqrt(0.001)));
  const StepValues first = update_rule::sgd_values(0.1f, 0.9f, 0.f, 0.f, true, true);
  const StepValues later = update_rule::sgd_values(0.05f, 0.9f, 0.f, 0.f, true, false);
  CHECK(first[update_rule::sgd_slot::first] == 1.f);
  CHECK(later[update_rule::sgd_slot::first] == 0.f);
  CHECK(later[update_rule::sgd_slot::lr] == 0.05f);
  // The first step takes the gradient as the buffer; a later one mixes it in.
  float w = 1.f, buf = 123.f;
  update_rule::sgd_update(w, 2.f, buf, first.v);
  CHECK(buf == 2.f);
  CHECK(w == doctest::Approx(1.f - 0.1f * (2.f + 0.9f * 2.f)));
  update_rule::sgd_update(w, 1.f, buf, later.v);
  CHECK(buf == doctest::Approx(0.9f * 2.f + 1.f));
}

TEST_CASE("StepValues carry integers bit for bit") {
  for (std::uint32_t u : {0u, 1u, 49999u, 0xFFFFFFFFu, 0x7FC00001u}) CHECK(float_as_bits(bits_as_float(u)) == u);
}
