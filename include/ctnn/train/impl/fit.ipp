#pragma once
// fit.hpp's definitions (core/config.hpp: separate compilation).

#include "../fit.hpp"

namespace ctnn::train::detail {

CTNN_INLINE void check_settings(const std::string& path, const std::map<std::string, std::string>& now,
                                const std::map<std::string, std::string>& notes) {
  std::map<std::string, std::string> saved;
  for (const auto& [k, v] : notes)
    if (k.rfind(setting_prefix, 0) == 0) saved[k.substr(std::string(setting_prefix).size())] = v;
  for (const auto& [k, v] : now) {
    const auto it = saved.find(k);
    if (it == saved.end())
      ctnn::detail::fail("ctnn::train::fit: cannot resume from '", path, "': it does not record the setting '", k,
                         "' (this run: '", v, "'); allow different settings to resume anyway");
    if (it->second != v)
      ctnn::detail::fail("ctnn::train::fit: cannot resume from '", path, "': the setting '", k, "' is '", it->second,
                         "' there but '", v, "' in this run; allow different settings to resume anyway");
  }
  for (const auto& [k, v] : saved)
    if (!now.count(k))
      ctnn::detail::fail("ctnn::train::fit: cannot resume from '", path, "': it records the setting '", k, "' ('", v,
                         "'), which this run does not have; allow different settings to resume anyway");
}

}  // namespace ctnn::train::detail
