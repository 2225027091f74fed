#pragma once
// error.hpp's definitions (core/config.hpp: separate compilation).

#include "../error.hpp"

namespace ctnn::detail {

CTNN_INLINE std::string cat_pieces(std::initializer_list<MessagePiece> pieces) {
  std::ostringstream out;
  for (const MessagePiece& p : pieces) p.print(out);
  return out.str();
}

}  // namespace ctnn::detail
