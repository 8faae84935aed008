// The curated synonym sets the lexical watermark chooses within
// (data/watermark/synonyms.tsv). Immutable after loading; lookups are
// allocation-free so the marker can run on the response path.
//
// A member is a word ("large"), a two-word phrase ("do not") or a
// contraction ("don't"), so that "do not"/"don't" can be one set. A member
// may carry guards: conditions on the token before or after it that say
// where it may stand ("so" only at the start of a clause, "need" not before
// "to"). A slot's members are those whose guards hold there; the word in
// the text must be one of them, or the slot is not eligible.
#pragma once

#include <algorithm>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <boost/unordered/unordered_flat_map.hpp>
#include <boost/unordered/unordered_flat_set.hpp>

#include "moat/core/status.h"

namespace moat::degrade {

enum class PartOfSpeech : uint8_t {
  kAdjective,
  kAdverb,
  kNoun,
  kVerb,
  kPronoun,
  kPreposition,
  kConjunction,
  kDeterminer,
  kAuxiliary,  // auxiliaries with "not" or a pronoun: "do not"/"don't", "it is"/"it's"
};

std::string_view PartOfSpeechName(PartOfSpeech pos);

// Sets hold at most this many members: the detector's exact test groups
// slots by set size.
inline constexpr size_t kMaxSetSize = 4;
// A member, phrase or contraction included, is at most this long.
inline constexpr size_t kMaxWordLength = 24;

// Unkeyed 64-bit fingerprint shared by the marker and the detector.
uint64_t Fingerprint(std::string_view s);

// Tokens a guard can name besides lower-case words: the start of the text,
// a sentence or a line (START, before a unit), the end of one (END, after a
// unit), a comma or semicolon (COMMA), digits (NUMBER; also before a unit
// when the token before ends in one: "$5 left"), "$" and digits after a
// unit (MONEY), a capitalised word after a unit (NAME) and anything else,
// such as quotes and brackets (OTHER). A colon counts as a sentence break.
inline constexpr std::string_view kGuardTokens[] = {"START", "END", "COMMA", "NUMBER", "MONEY", "NAME", "OTHER"};

struct Guard {
  bool after = false;   // the token after the unit, else the one before
  bool negate = false;  // holds when the token is NOT listed
  bool lower_only = false;  // instead of a token test: the unit is written all lower-case
  std::vector<uint64_t> tokens;  // sorted fingerprints of the listed tokens
  bool names = false;   // "NAME" listed: any capitalised word after the unit
};

// Whether `token` (a Fingerprint) satisfies a token guard.
inline bool GuardHolds(const Guard& g, uint64_t token, bool is_name) {
  const bool listed = std::binary_search(g.tokens.begin(), g.tokens.end(), token) || (g.names && is_name);
  return listed != g.negate;
}

struct SynonymSet {
  PartOfSpeech pos = PartOfSpeech::kNoun;
  std::vector<std::string> words;          // lower-case, file order; "'" for apostrophes
  std::vector<uint64_t> word_fingerprints;  // unkeyed XXH3 of each word
  std::vector<std::vector<Guard>> guards;   // per member, all must hold
  bool guarded = false;                     // some member has guards
  uint64_t fingerprint = 0;                 // of the set, for slot identity
  // Bit i set: words[i] starts with a vowel letter (takes "an", not "a").
  uint8_t vowel_initial = 0;
  // Bit i set: words[i] is a contraction (written with the text's apostrophe).
  uint8_t contraction = 0;

  // Whether member i's guards hold. `Context` supplies before(), after(),
  // after_is_name() and lower_case(), computed only when a guard asks.
  template <typename Context>
  bool Fits(size_t i, Context& ctx) const {
    for (const Guard& g : guards[i]) {
      const bool ok = g.lower_only ? ctx.lower_case()
                      : g.after    ? GuardHolds(g, ctx.after(), ctx.after_is_name())
                                   : GuardHolds(g, ctx.before(), false);
      if (!ok) return false;
    }
    return true;
  }
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

  // `lower` must already be lower-case ASCII ("'" for any apostrophe).
  // nullptr when not in any set.
  const WordRef* Find(std::string_view lower) const;
  // False when no member has this length and first and last letter: rules
  // out most words without hashing them.
  bool MayContain(std::string_view lower) const { return Filter(first_, last_, lower); }
  // False when `lower` cannot be the first word of a two-word or contracted
  // member: the marker then does not look at the next word.
  bool MayStartUnit(std::string_view lower) const {
    return Filter(unit_first_, unit_last_, lower) && (lower.size() > 8 || unit_first_codes_.contains(Pack(lower)));
  }
  // The same for the word after the space or apostrophe ("not", "t").
  bool MayEndUnit(std::string_view lower) const {
    return Filter(unit_second_first_, unit_second_last_, lower) &&
           (lower.size() > 8 || unit_second_codes_.contains(Pack(lower)));
  }
  const SynonymSet& set(uint32_t i) const { return sets_[i]; }
  size_t size() const { return sets_.size(); }
  size_t word_count() const { return words_.size(); }

 private:
  // Up to 8 bytes as one integer: an exact, hash-free key for short words.
  static uint64_t Pack(std::string_view w) {
    uint64_t code = 0;
    const size_t n = w.size() < 8 ? w.size() : 8;
    for (size_t i = 0; i < n; ++i) code |= static_cast<uint64_t>(static_cast<unsigned char>(w[i])) << (8 * i);
    return code;
  }
  using Bits = uint32_t[kMaxWordLength + 1];  // by length: bit per letter
  static bool Filter(const Bits& first, const Bits& last, std::string_view w) {
    if (w.size() > kMaxWordLength || w.empty()) return false;
    return (first[w.size()] >> ((w.front() - 'a') & 31) & 1) && (last[w.size()] >> ((w.back() - 'a') & 31) & 1);
  }
  Status CheckGuardsSurviveMarking(std::string_view source, const std::vector<size_t>& set_lines) const;
  struct Hash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return Fingerprint(s); }
  };
  std::vector<SynonymSet> sets_;
  Bits first_ = {}, last_ = {};            // members
  Bits unit_first_ = {}, unit_last_ = {};                // first words of phrases and contractions
  Bits unit_second_first_ = {}, unit_second_last_ = {};  // their second words
  boost::unordered_flat_map<std::string, WordRef, Hash, std::equal_to<>> words_;
  boost::unordered_flat_map<uint64_t, WordRef> short_words_;  // members of up to 8 bytes, by Pack
  boost::unordered_flat_set<uint64_t> unit_first_codes_, unit_second_codes_;
};

// data/watermark/synonyms.tsv in the source tree.
std::string DefaultSynonymsPath();

}  // namespace moat::degrade
