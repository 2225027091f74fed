// Runtime CPU dispatch (backend/cpu/isa.hpp): every instruction set this CPU supports runs the
// Winograd transforms correctly (against the double reference, tolerances as in winograd.cpp) and
// agrees with the others; sets the CPU lacks, and unknown names in CTNN_ISA, are clear errors.
#include <ctnn/backend/cpu.hpp>
#include <doctest/doctest.h>

#include <cmath>
#include <cstdlib>
#include <string>
#include <vector>

#include "support/harness.hpp"

using ctnn::backend::Geometry2d;
using ctnn::backend::cpu::Isa;
using ctnn::backend::cpu::Winograd3x3;
namespace cpu = ctnn::backend::cpu;

namespace {

// The sets this CPU supports, lowest first.
std::vector<Isa> supported() {
  std::vector<Isa> out;
  for (Isa isa : {Isa::baseline, Isa::avx2, Isa::avx512})
    if (static_cast<int>(isa) <= static_cast<int>(cpu::detected_isa())) out.push_back(isa);
  return out;
}

// Restores the active set when a test case ends.
struct IsaScope {
  Isa saved = cpu::active_isa();
  ~IsaScope() { cpu::set_isa(saved); }
};

struct Result {
  std::vector<float> y, dx, dw;
};

// Forward, backward data and backward filter of one Winograd layer built under `isa`.
Result run(Isa isa, std::size_t tile, const Geometry2d& g, std::size_t N, const std::vector<float>& x,
           const std::vector<float>& w, const std::vector<float>& dy) {
  cpu::set_isa(isa);
  Winograd3x3 k(g, N, tile);
  REQUIRE(k.isa() == isa);
  Result r{std::vector<float>(N * g.out_size(), 7.f), std::vector<float>(x.size(), 7.f), std::vector<float>(w.size(), 0.f)};
  k.forward(x.data(), w.data(), r.y.data(), N);
  k.backward_data(w.data(), dy.data(), r.dx.data(), N);
  k.backward_filter(x.data(), dy.data(), r.dw.data(), N);
  return r;
}

}  // namespace

TEST_CASE("isa: names and detection") {
  CHECK(cpu::name(Isa::baseline) == "baseline");
  CHECK(cpu::name(Isa::avx2) == "avx2");
  CHECK(cpu::name(Isa::avx512) == "avx512");
  MESSAGE("this CPU: ", std::string(cpu::name(cpu::detected_isa())), ", active: ", std::string(cpu::name(cpu::active_isa())));
#if !CTNN_ISA_DISPATCH
  CHECK(cpu::detected_isa() == Isa::baseline);
#endif
}

TEST_CASE("isa: every supported set against the reference, and against each other") {
  IsaScope scope;
  // Odd planes with partial tiles, channel counts that are not multiples of a vector, padding 0..2,
  // a plane large enough to run in blocks of tile rows, and lane groups of more than 8 images (21
  // images: groups of 11 and 10).
  const struct {
    std::size_t N, C, H, W, O, P;
  } cases[] = {{3, 13, 7, 5, 6, 1}, {2, 17, 11, 13, 19, 2}, {5, 9, 2, 2, 7, 1},
               {3, 8, 6, 5, 9, 0}, {2, 16, 40, 37, 24, 1}, {21, 3, 9, 11, 5, 1}};
  for (const auto& c : cases) {
    CAPTURE(c.C);
    CAPTURE(c.H);
    CAPTURE(c.W);
    CAPTURE(c.P);
    const Geometry2d g{c.C, c.H, c.W, c.O, c.H + 2 * c.P - 2, c.W + 2 * c.P - 2, 3, 1, c.P};
    const ref::ConvGeom rg{c.N, c.C, c.H, c.W, c.O, 3, 1, c.P};
    ctnn::Rng rng(5 + c.C);
    const auto x = ref::uniform(c.N * c.C * c.H * c.W, rng), w = ref::uniform(c.O * c.C * 9, rng),
               dy = ref::uniform(c.N * c.O * rg.Ho() * rg.Wo(), rng);
    const ref::Vec xd(x.begin(), x.end()), wd(w.begin(), w.end()), dyd(dy.begin(), dy.end());
    const ref::Vec y = ref::conv2d(rg, xd, wd);
    ref::Vec dx, dw;
    ref::conv2d_backward(rg, xd, wd, dyd, dx, dw);

    for (std::size_t tile : {2, 4}) {
      CAPTURE(tile);
      const double scale = tile == 4 ? 1e-4 : 1e-5;  // as in winograd.cpp
      std::vector<Result> results;
      for (Isa isa : supported()) {
        CAPTURE(std::string(cpu::name(isa)));
        results.push_back(run(isa, tile, g, c.N, x, w, dy));
        const Result& r = results.back();
        ref::expect_close(r.y, y, 1e-4, scale * std::sqrt(double(c.C * 9)), "forward");
        ref::expect_close(r.dx, dx, 1e-4, scale * std::sqrt(double(c.O * 9)), "dx");
        ref::expect_close(r.dw, dw, 1e-4, scale * std::sqrt(double(c.N * rg.Ho() * rg.Wo())), "dw");
      }
      // The sets differ only in rounding (FMA contraction, summation order).
      for (std::size_t i = 1; i < results.size(); ++i) {
        const ref::Vec y0(results[0].y.begin(), results[0].y.end()), dw0(results[0].dw.begin(), results[0].dw.end());
        ref::expect_close(results[i].y, y0, 1e-5, 0.1 * scale * std::sqrt(double(c.C * 9)), "forward across sets");
        ref::expect_close(results[i].dw, dw0, 1e-5, 0.1 * scale * std::sqrt(double(c.N * rg.Ho() * rg.Wo())),
                          "dw across sets");
      }
    }
  }
}

TEST_CASE("isa: a set the CPU lacks is an error, and the active set stays") {
  IsaScope scope;
  const Isa before = cpu::active_isa();
  if (cpu::detected_isa() == Isa::avx512) {
    MESSAGE("this CPU supports every set; nothing to refuse");
    return;
  }
  const Isa above = static_cast<Isa>(static_cast<int>(cpu::detected_isa()) + 1);
  try {
    cpu::set_isa(above);
    FAIL("set_isa accepted an instruction set this CPU lacks");
  } catch (const ctnn::Error& e) {
    const std::string what = e.what();
    CHECK(what.find("set_isa") != std::string::npos);
    CHECK(what.find(std::string(cpu::name(above))) != std::string::npos);
    CHECK(what.find("not supported by this CPU") != std::string::npos);
  }
  CHECK(cpu::active_isa() == before);
}

TEST_CASE("isa: CTNN_ISA chooses the initial set") {
  const char* saved = std::getenv("CTNN_ISA");
  const std::string keep = saved ? saved : "";
  ::setenv("CTNN_ISA", "baseline", 1);
  CHECK(cpu::detail::initial_isa() == Isa::baseline);
  ::unsetenv("CTNN_ISA");
  CHECK(cpu::detail::initial_isa() == cpu::detected_isa());
  ::setenv("CTNN_ISA", "sse9", 1);
  try {
    (void)cpu::detail::initial_isa();
    FAIL("an unknown CTNN_ISA was accepted");
  } catch (const ctnn::Error& e) {
    CHECK(std::string(e.what()) == "CTNN_ISA='sse9': expected one of baseline, avx2, avx512");
  }
  if (saved)
    ::setenv("CTNN_ISA", keep.c_str(), 1);
  else
    ::unsetenv("CTNN_ISA");
}
