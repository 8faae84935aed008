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
  // ending in '*' matches as a prefix ("summari*"). A phrase may hold
  // alternatives in braces, expanded before matching:
  // "show {me |}{your|the} work" is four phrases ("" is an alternative).
  kWordList,
  // A Hyperscan (PCRE subset) regular expression, as written (in a
  // scan-form set, written against the scan form: see ToScanForm).
  kRegex,
};

struct PatternSpec {
  uint32_t id = 0;  // < kMaxPatternIds; several specs may share an id
  std::string expression;
  PatternSyntax syntax = PatternSyntax::kPhrase;
};

inline constexpr uint32_t kMaxPatternIds = 256;

struct PatternSetOptions {
  // Match phrases and word lists as pure literals over the *scan form* of a
  // text (ToScanForm) instead of as caseless regexes with \b over the text
  // itself: several times faster (Hyperscan's literal matchers), and the
  // same matches for phrases and word lists except where noted at
  // ToScanForm. kRegex specs are then written against the scan form.
  bool scan_form = false;
};

// The scan form of a text (raw ASCII or Normalize output; other raw
// non-ASCII text should be normalised first): ASCII lower-cased, every digit
// run one '0', every run of whitespace/control characters, '-' and '_' one
// ' ' (except a '-' with whitespace on both sides, a minus sign, which stays
// punctuation), every other punctuation or symbol character (ASCII or
// Unicode, and each Han/Kana character) set apart as its own token by single
// spaces, and the whole preceded by "\x01 " (start of text; "" when
// !at_start) and followed by ' '. So a word boundary is always a space, and
// the phrase "step by step" is the literal " step by step ", "summari*" is
// " summari", "tl;dr" is " tl ; dr " and "c++" is " c + + ".
// Differences from the \b regex semantics: whitespace around punctuation
// is not significant ("tl; dr" matches "tl;dr"), '_' separates words, and
// a phrase gap does not match a spaced " - ". In a scan-form set a phrase
// that starts with "\x01" matches only at the start of the text.
void ToScanForm(std::string_view text, std::string& out, bool at_start = true);

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
// A scan-form set (PatternSetOptions) turns each text it scans into its scan
// form first (in a thread_local buffer).
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
  static Result<PatternSet> Compile(std::span<const PatternSpec> specs, PatternSetOptions options);

  // The ids (< 64) that matched; ids >= 64 are ignored here.
  uint64_t Scan(std::string_view text) const { return ScanAll(text).words[0]; }
  // All ids that matched.
  PatternMask ScanAll(std::string_view text) const;
  // As ScanAll, for a text that continues another: in a scan-form set the
  // start-of-text mark "\x01" is left out. For callers that cut a long text
  // themselves.
  PatternMask ScanAllContinued(std::string_view text) const;

  size_t size() const { return ids_.size(); }
  // The Hyperscan expression a spec was compiled to (for tests and errors).
  static std::string ToExpression(const PatternSpec& spec);
  // The scan-form literals a phrase or word-list spec stands for (empty for
  // a regex), as compiled in a scan-form set.
  static std::vector<std::string> ToScanLiterals(const PatternSpec& spec);
  bool scan_form() const { return scan_form_; }

 private:
  PatternSet() = default;
  void ScanInto(std::string_view part, bool at_start, PatternMask& mask) const;
  std::shared_ptr<hs_database> db_;
  std::vector<uint32_t> ids_;  // Hyperscan expression index -> spec id
  uint64_t generation_ = 0;    // unique per compiled database
  bool scan_form_ = false;
};

}  // namespace moat::text
