// Word k-shingles of a text as keyed 64-bit hashes, the common input of
// MinHash and SimHash. Each token is hashed once; a shingle hash combines the
// k token hashes. Part of `text`, which never knows about accounts.
#pragma once

#include <cstdint>
#include <cstring>
#include <string_view>

#include <xxhash.h>

#include "moat/text/normalize.h"

namespace moat::text {

inline constexpr uint32_t kMaxShingleTokens = 8;

struct ShingleOptions {
  uint32_t k = 3;     // words per shingle, 1..kMaxShingleTokens
  uint64_t seed = 0;  // the key: without it an outsider cannot predict hashes
};

// Calls f(uint64_t) once per word k-shingle of `text` (normalised text is
// expected). A text with fewer than k words (but at least one) yields one
// shingle of all its words; a text with no words yields none.
template <typename F>
void ForEachShingle(std::string_view text, const ShingleOptions& options, F&& f) {
  const uint32_t k = options.k == 0 ? 1 : (options.k > kMaxShingleTokens ? kMaxShingleTokens : options.k);
  const uint64_t combine_seed = options.seed ^ 0x5851f42d4c957f2dULL;
  uint64_t window[kMaxShingleTokens];
  uint32_t filled = 0;
  Tokenizer tokens(text);
  std::string_view token;
  while (tokens.Next(token)) {
    const uint64_t h = XXH3_64bits_withSeed(token.data(), token.size(), options.seed);
    if (filled < k) {
      window[filled++] = h;
      if (filled < k) continue;
    } else {
      std::memmove(window, window + 1, (k - 1) * sizeof(uint64_t));
      window[k - 1] = h;
    }
    f(XXH3_64bits_withSeed(window, k * sizeof(uint64_t), combine_seed));
  }
  if (filled > 0 && filled < k) f(XXH3_64bits_withSeed(window, filled * sizeof(uint64_t), combine_seed));
}

}  // namespace moat::text
