#pragma once
// schedule.hpp's definitions (core/config.hpp: separate compilation).

#include "../schedule.hpp"

namespace ctnn::schedule {

CTNN_INLINE std::function<float(std::size_t)> by_name(const std::string& name, float lr, std::size_t total) {
  if (name == "cosine") return Cosine{lr, total};
  if (name == "multistep") return MultiStep{lr, {total / 2, total * 3 / 4}, 0.1f};
  if (name == "onecycle") return OneCycle{lr, total};
  if (name == "constant") {
    detail::check_lr("ctnn::schedule::by_name", "lr", lr);
    return [lr](std::size_t) { return lr; };
  }
  ctnn::detail::fail("ctnn::schedule::by_name: unknown schedule '", name, "': expected cosine, multistep, onecycle or constant");
}

}  // namespace ctnn::schedule
