// One-permutation MinHash with optimal densification (Shrivastava 2017) over
// keyed word shingles, for near-duplicate prompts and for an account's
// bounded set sketch. Part of `text`, which never knows about accounts.
//
// A sketch is a caller-owned span of K uint32 slots (K in 1..kMaxMinHashSlots,
// the same K for everything compared). Sketches are kept *raw* (undensified,
// empty bins hold kMinHashEmpty) because raw sketches merge exactly: the
// element-wise minimum of two raw sketches is the raw sketch of the union.
// Densification, which fills empty bins from other bins and is not
// mergeable, happens on the way to a comparison (Jaccard, LSH band keys).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

#include "moat/text/shingle.h"

namespace moat::text {

inline constexpr uint32_t kMinHashEmpty = 0xFFFFFFFFu;
inline constexpr size_t kMaxMinHashSlots = 1024;

template <size_t K>
using MinHashSketch = std::array<uint32_t, K>;
using MinHash128 = MinHashSketch<128>;
using MinHash64 = MinHashSketch<64>;

struct MinHashOptions {
  uint64_t seed = 0;      // keys shingles, bins and densification
  uint32_t shingle_k = 3;
};

struct LshBands {
  uint32_t bands = 16;  // bands * rows <= K
  uint32_t rows = 8;
};

// Immutable; share one across threads. All sketches that are compared must
// come from hashers with the same options.
class MinHasher {
 public:
  explicit MinHasher(MinHashOptions options = {}) : options_(options) {}

  // Marks every slot empty.
  static void Clear(std::span<uint32_t> sketch);
  // True when no element was ever added.
  static bool IsEmpty(std::span<const uint32_t> sketch);
  // into = into ∪ from (element-wise minimum); same K.
  static void Merge(std::span<uint32_t> into, std::span<const uint32_t> from);

  // Clears the sketch and adds the shingles of `text`.
  void Sketch(std::string_view text, std::span<uint32_t> sketch) const {
    Clear(sketch);
    AddText(text, sketch);
  }
  // Adds the shingles of `text` (a union with what is there).
  void AddText(std::string_view text, std::span<uint32_t> sketch) const {
    ForEachShingle(text, ShingleOptions{options_.shingle_k, options_.seed},
                   [&](uint64_t h) { AddHashed(h, sketch); });
  }
  // Adds one element given by an arbitrary 64-bit key (re-hashed with the seed).
  void AddElement(uint64_t element, std::span<uint32_t> sketch) const {
    AddHashed(XXH3_64bits_withSeed(&element, sizeof element, options_.seed), sketch);
  }
  // Adds one element whose hash is already keyed and uniform (a shingle
  // hash). True when the sketch changed.
  static bool AddHashed(uint64_t h, std::span<uint32_t> sketch) {
    const uint32_t bin = static_cast<uint32_t>(((h >> 32) * sketch.size()) >> 32);
    uint32_t v = static_cast<uint32_t>(h);
    if (v == kMinHashEmpty) v = kMinHashEmpty - 1;
    if (v >= sketch[bin]) return false;
    sketch[bin] = v;
    return true;
  }

  // Fills `dense` (same K) from a raw sketch: each empty bin copies the bin a
  // keyed probe sequence for that bin index lands on first among non-empty
  // bins. An empty sketch stays empty.
  void Densify(std::span<const uint32_t> raw, std::span<uint32_t> dense) const;

  // Estimated Jaccard similarity of the sets behind two raw sketches; 0 when
  // either is empty.
  double Jaccard(std::span<const uint32_t> raw_a, std::span<const uint32_t> raw_b) const;
  // The same on already densified sketches (densify once, compare many).
  static double JaccardDense(std::span<const uint32_t> dense_a, std::span<const uint32_t> dense_b);

  // LSH band keys of a raw sketch: band i hashes rows [i*r, (i+1)*r) of the
  // densified sketch with a per-band key, so two sketches share band key i
  // with probability J^r. Writes `bands` keys and returns how many were
  // written: 0 for an empty sketch (it has no candidates), else bands.
  size_t BandKeys(std::span<const uint32_t> raw, LshBands bands, std::span<uint64_t> keys) const;

  const MinHashOptions& options() const { return options_; }

 private:
  MinHashOptions options_;
};

}  // namespace moat::text
