// 64-bit SimHash (Charikar) over the same keyed word shingles as MinHash:
// near-duplicate texts have a small Hamming distance. Part of `text`, which
// never knows about accounts.
#pragma once

#include <bit>
#include <cstdint>
#include <string_view>

#include "moat/text/shingle.h"

namespace moat::text {

// Bit i is set when more shingles have bit i set than clear; 0 for a text
// without words. Options as for MinHash (seed keys it, k words per shingle).
uint64_t SimHash(std::string_view text, const ShingleOptions& options = {});

inline int HammingDistance(uint64_t a, uint64_t b) { return std::popcount(a ^ b); }

}  // namespace moat::text
