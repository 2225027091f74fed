// A layer's floating-point template argument (ctnn::Number) must be finite: Dropout<NaN> does not
// compile, and the error says why.
// expect-first-error: is not a constant expression
// expect: ctnn::Number: an infinity or a NaN is not a valid template argument
// expect-errors: 3
#include <ctnn/ctnn.hpp>

#include <limits>

using Bad = ctnn::Dropout<std::numeric_limits<double>::quiet_NaN()>;

int main() { return Bad::name().empty() ? 1 : 0; }
