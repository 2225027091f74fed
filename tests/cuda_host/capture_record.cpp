// The host side of graph-safe CUDA steps (backend/cuda/portable/capture_record.hpp), without a GPU:
// a capture records the generation of every tracked resource it used, refuses once one was
// reallocated, moved or freed (naming it), and refreshes its step-value nodes with values computed
// at each replay.
#include <ctnn/backend/cuda/portable/capture_record.hpp>
#include <doctest/doctest.h>

#include <memory>
#include <string>
#include <vector>

using namespace ctnn;
using namespace ctnn::cuda::detail;

TEST_CASE("a capture record is fresh until a resource it used is reallocated") {
  int a = 0, b = 0;
  TrackedResource workspace("the shared convolution workspace", &a);
  TrackedResource table("the multi-tensor optimizer table", &b);
  CaptureRecord record;
  {
    CaptureScope scope(record);
    note_use(workspace);
    note_use(workspace);  // recorded once
    note_use(table);
  }
  CHECK(record.uses() == 2);
  CHECK(record.stale().empty());

  // Outside a capture nothing is recorded.
  note_use(workspace);
  CHECK(record.uses() == 2);

  int c = 0;
  workspace.relocated(&c);
  const std::string why = record.stale();
  CHECK(why.find("the shared convolution workspace was reallocated or moved after the capture") != std::string::npos);
  // A new capture sees the new generation and is fresh again.
  CaptureRecord again;
  {
    CaptureScope scope(again);
    note_use(workspace);
  }
  CHECK(again.stale().empty());
}

TEST_CASE("a capture record refuses once a resource it used is freed") {
  CaptureRecord record;
  {
    auto table = std::make_unique<TrackedResource>("the multi-tensor optimizer table");
    {
      CaptureScope scope(record);
      note_use(*table);
    }
    CHECK(record.stale().empty());
  }
  CHECK(record.stale() == "the multi-tensor optimizer table was freed after the capture");
}

TEST_CASE("a moved resource keeps its state; relocating it after the move makes captures stale") {
  TrackedResource r("step scalars", nullptr);
  CaptureRecord record;
  {
    CaptureScope scope(record);
    note_use(r);
  }
  TrackedResource moved(std::move(r));
  CHECK(record.stale().empty());  // the state moved along, still alive
  int x = 0;
  moved.relocated(&x);
  CHECK(!record.stale().empty());
  // Assigning over a tracked resource retires the one it replaces.
  CaptureRecord second;
  TrackedResource other("other", nullptr);
  {
    CaptureScope scope(second);
    note_use(other);
  }
  other = TrackedResource("replacement", nullptr);
  CHECK(second.stale() == "other was freed after the capture");
}

TEST_CASE("step-value nodes are refreshed with values computed at each replay, in capture order") {
  TrackedResource owner("an optimizer's step scalars");
  float block_a[16] = {}, block_b[16] = {};
  int calls = 0;
  float lr = 0.1f;
  CaptureRecord record;
  {
    CaptureScope scope(record);
    record.step_values(reinterpret_cast<void*>(1), block_a, owner, [&] {
      StepValues v;
      v[0] = lr;
      v[1] = static_cast<float>(++calls);
      return v;
    });
    record.step_values(reinterpret_cast<void*>(2), block_b, owner, [&] {
      StepValues v;
      v[0] = -lr;
      return v;
    });
  }
  CHECK(record.step_value_nodes() == 2);
  CHECK(record.uses() == 1);  // the owner, once
  CHECK(calls == 0);          // nothing is computed while capturing

  struct Set {
    void* node;
    float* block;
    StepValues values;
  };
  std::vector<Set> sets;
  auto set = [&](void* node, float* block, const StepValues& v) { sets.push_back({node, block, v}); };
  record.refresh(set);
  lr = 0.05f;  // a schedule between replays
  record.refresh(set);
  REQUIRE(sets.size() == 4);
  CHECK(sets[0].node == reinterpret_cast<void*>(1));
  CHECK(sets[0].block == block_a);
  CHECK(sets[0].values[0] == 0.1f);
  CHECK(sets[0].values[1] == 1.f);
  CHECK(sets[1].node == reinterpret_cast<void*>(2));
  CHECK(sets[1].values[0] == -0.1f);
  CHECK(sets[2].values[0] == 0.05f);
  CHECK(sets[2].values[1] == 2.f);
  CHECK(calls == 2);
}

TEST_CASE("captures do not nest on one thread") {
  CaptureRecord outer, inner;
  CaptureScope scope(outer);
  CHECK_THROWS_WITH_AS(CaptureScope{inner}, doctest::Contains("captures do not nest"), Error);
  CHECK(active_capture() == &outer);
}
