// The second translation unit of portability/header_only_units (tests/support/two_units.hpp).
#include "two_units.hpp"

double two_units::train_and_reload_in_other_unit(const std::filesystem::path& dir) { return train_and_reload(dir); }
