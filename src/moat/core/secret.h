// Comparing credentials (bearer tokens, passwords) without leaking, through
// timing, how long a matching prefix the caller guessed.
#pragma once

#include <string_view>

namespace moat {

inline bool ConstantTimeEquals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  unsigned char diff = 0;
  for (size_t i = 0; i < a.size(); ++i) diff |= static_cast<unsigned char>(a[i] ^ b[i]);
  return diff == 0;
}

}  // namespace moat
