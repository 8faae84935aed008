// Keyed lexical watermark: within curated synonym sets, the word a marked
// answer uses after a given previous word is the one a keyed hash prefers.
// Meaning, case, punctuation and whitespace are kept byte for byte outside
// the substituted letters; code, URLs and numbers are never touched.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "moat/degrade/keys.h"
#include "moat/degrade/synonyms.h"

namespace moat::degrade {

// At most this share of a text's words is ever replaced (rounded down, so a
// text under 13 words is never changed).
inline constexpr double kMaxChangedShare = 0.08;

struct MarkStats {
  uint64_t words = 0;     // letter runs outside code and URLs
  uint64_t eligible = 0;  // units (words, phrases, contractions) the marker may choose
  uint64_t changed = 0;   // of those, replaced by another member
  uint64_t capped = 0;    // replacements the 8% cap left out
};

// One eligible occurrence: a synonym-set member, its context (the previous
// unit) and which members could stand there. The "slot" is the pair
// (previous unit, set); the detector counts each slot once.
struct SlotObservation {
  uint64_t slot = 0;
  uint64_t context = 0;  // Fingerprint of the previous word, lower-case
  uint32_t set = 0;
  uint8_t valid = 0;     // bit i: member i fits here ("a"/"an" agreement, guards)
  uint8_t observed = 0;  // member index present in the text
};

// Where words are: maximal runs of ASCII letters outside fenced and inline
// code and URLs. `eligible` is false for runs glued to digits, paths,
// identifiers, markup or non-ASCII letters ("5th", "file.txt", "<think>").
struct WordSpan {
  size_t begin = 0;
  size_t end = 0;
  bool eligible = false;      // neither glued before nor after
  bool glued_before = false;
  bool glued_after = false;   // also by an apostrophe: "don" of "don't"
};

// A unit as the marker reads it: one word, or a phrase or contraction that
// is an eligible member ("do not", "don't").
struct TextUnit {
  size_t begin = 0;
  size_t end = 0;
  std::string_view lower;  // "'" for any apostrophe
  const WordRef* ref = nullptr;  // eligible member with >= 2 fitting members
  uint8_t valid = 0;             // bit i: member i fits here
  uint8_t runs = 1;              // letter runs (words) it spans
};

struct OwnedUnit {
  size_t begin = 0;
  size_t end = 0;
  std::string lower;
  int set = -1;  // the synonym set when eligible
};

class WordScanner {
 public:
  explicit WordScanner(std::string_view text) : t_(text) {}
  bool Next(WordSpan& word);

 private:
  std::string_view t_;
  size_t pos_ = 0;
  bool line_start_ = true;
  bool in_fence_ = false;
  bool in_inline_code_ = false;
};

class Watermarker {
 public:
  explicit Watermarker(const SynonymTable& table) : table_(table) {}

  // Appends `text` to `out` with eligible words set to `key`'s choice.
  void Mark(std::string_view text, const WatermarkKey& key, std::string& out, MarkStats* stats = nullptr) const;

  // Appends every eligible occurrence in `text`, in order (not deduplicated).
  void Observe(std::string_view text, std::vector<SlotObservation>& out) const;

  // Every unit of `text` in order, as Mark and Observe read it (for checks).
  void Units(std::string_view text, std::vector<OwnedUnit>& out) const;

  // The member `key` prefers among `valid` after `context`.
  uint32_t Choice(const WatermarkKey& key, uint64_t context, uint32_t set, uint8_t valid) const;

  const SynonymTable& table() const { return table_; }

 private:
  template <typename OnUnit>
  void Scan(std::string_view text, OnUnit&& on_unit) const;
  const SynonymTable& table_;
};

}  // namespace moat::degrade
