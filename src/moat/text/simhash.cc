#include "moat/text/simhash.h"

namespace moat::text {

uint64_t SimHash(std::string_view text, const ShingleOptions& options) {
  int32_t votes[64] = {};
  ForEachShingle(text, options, [&](uint64_t h) {
    for (int b = 0; b < 64; ++b) votes[b] += static_cast<int32_t>((h >> b) & 1) * 2 - 1;
  });
  uint64_t out = 0;
  for (int b = 0; b < 64; ++b) out |= static_cast<uint64_t>(votes[b] > 0) << b;
  return out;
}

}  // namespace moat::text
