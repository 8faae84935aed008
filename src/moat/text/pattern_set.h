// Many phrases and regular expressions matched in one pass over a text with
// Hyperscan: which of up to 256 ids matched. Part of `text`, which never
// knows about accounts.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "moat/core/status.h"

struct hs_database;

namespace moat::text {

enum class PatternSyntax : uint8_t {
  // Plain words, matched case-insensitively at word boundaries; any run of
  // whitespace, '-' or '_' in the text matches a space in the phrase.
  kPhrase,
  // Comma-separated phrases (as kPhrase), any of which matches; a phrase
  // ending in '*' matches as a prefix ("summari*").
  kWordList,
  // A Hyperscan (PCRE subset) regular expression, as written.
  kRegex,
};

struct PatternSpec {
  uint32_t id = 0;  // < kMaxPatternIds; several specs may share an id
  std::string expression;
  PatternSyntax syntax = PatternSyntax::kPhrase;
};

inline constexpr uint32_t kMaxPatternIds = 256;

struct PatternMask {
  std::array<uint64_t, kMaxPatternIds / 64> words{};
  bool Test(uint32_t id) const { return (words[id >> 6] >> (id & 63)) & 1; }
  void Set(uint32_t id) { words[id >> 6] |= uint64_t{1} << (id & 63); }
};

// Compiled once (Compile is slow: milliseconds to a second), then immutable
// and cheap to copy (the database is shared). Scanning is thread-safe: each
// thread uses its own Hyperscan scratch, held in a thread_local and grown to
// fit every set the thread scans, so a PatternSet is shared across threads
// as it is (no Clone needed).
//
// Long texts: only the first kHeadBytes and the last kTailBytes of a text
// longer than their sum are scanned (two scans), so the cost per text is
// bounded; a match straddling the cut is missed. Patterns are compiled
// caseless, single-match and without UTF-8 mode, so invalid UTF-8 in a text
// is harmless (non-ASCII bytes are just bytes to the patterns).
class PatternSet {
 public:
  static constexpr size_t kHeadBytes = 8192;
  static constexpr size_t kTailBytes = 2048;

  // Fails with a message naming the offending pattern (index, id, text).
  static Result<PatternSet> Compile(std::span<const PatternSpec> specs);

  // The ids (< 64) that matched; ids >= 64 are ignored here.
  uint64_t Scan(std::string_view text) const { return ScanAll(text).words[0]; }
  // All ids that matched.
  PatternMask ScanAll(std::string_view text) const;

  size_t size() const { return ids_.size(); }
  // The Hyperscan expression a spec was compiled to (for tests and errors).
  static std::string ToExpression(const PatternSpec& spec);

 private:
  PatternSet() = default;
  std::shared_ptr<hs_database> db_;
  std::vector<uint32_t> ids_;  // Hyperscan expression index -> spec id
  uint64_t generation_ = 0;    // unique per compiled database
};

}  // namespace moat::text
