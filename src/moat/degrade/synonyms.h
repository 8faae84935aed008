// The curated synonym sets the lexical watermark chooses within
// (data/watermark/synonyms.tsv). Immutable after loading; lookups are
// allocation-free so the marker can run on the response path.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <boost/unordered/unordered_flat_map.hpp>

#include "moat/core/status.h"

namespace moat::degrade {

enum class PartOfSpeech : uint8_t { kAdjective, kAdverb, kNoun, kVerb, kPronoun, kPreposition };

std::string_view PartOfSpeechName(PartOfSpeech pos);

// Sets hold at most this many words: the detector's exact test groups slots
// by set size.
inline constexpr size_t kMaxSetSize = 4;
inline constexpr size_t kMaxWordLength = 24;

// Unkeyed 64-bit fingerprint shared by the marker and the detector.
uint64_t Fingerprint(std::string_view s);

struct SynonymSet {
  PartOfSpeech pos = PartOfSpeech::kNoun;
  std::vector<std::string> words;          // lower-case, file order
  std::vector<uint64_t> word_fingerprints;  // unkeyed XXH3 of each word
  uint64_t fingerprint = 0;                 // of the set, for slot identity
  // Bit i set: words[i] starts with a vowel letter (takes "an", not "a").
  uint8_t vowel_initial = 0;
};

struct WordRef {
  uint32_t set = 0;
  uint32_t member = 0;
};

class SynonymTable {
 public:
  // Parses the TSV format documented in data/watermark/synonyms.tsv. Errors
  // name `source` and the line.
  static Result<SynonymTable> Parse(std::string_view text, std::string_view source);
  static Result<SynonymTable> Load(const std::string& path);

  // `lower` must already be lower-case ASCII. nullptr when not in any set.
  const WordRef* Find(std::string_view lower) const;
  // False when no member has this length and first and last letter: rules
  // out most words without hashing them.
  bool MayContain(std::string_view lower) const {
    if (lower.size() > kMaxWordLength || lower.empty()) return false;
    return (first_[lower.size()] >> ((lower.front() - 'a') & 31) & 1) &&
           (last_[lower.size()] >> ((lower.back() - 'a') & 31) & 1);
  }
  const SynonymSet& set(uint32_t i) const { return sets_[i]; }
  size_t size() const { return sets_.size(); }
  size_t word_count() const { return words_.size(); }

 private:
  struct Hash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return Fingerprint(s); }
  };
  std::vector<SynonymSet> sets_;
  uint32_t first_[kMaxWordLength + 1] = {};  // by length: bit per first letter
  uint32_t last_[kMaxWordLength + 1] = {};   // by length: bit per last letter
  boost::unordered_flat_map<std::string, WordRef, Hash, std::equal_to<>> words_;
};

// data/watermark/synonyms.tsv in the source tree.
std::string DefaultSynonymsPath();

}  // namespace moat::degrade
