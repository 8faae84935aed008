#include "moat/degrade/watermark.h"

#include <algorithm>
#include <bit>
#include <cctype>

#include <xxhash.h>

namespace moat::degrade {

namespace {

// Byte classes for the scanner, and the bytes that glue a word to a path,
// identifier, markup, escape or number (then it is not prose).
struct ByteTables {
  uint8_t cls[256];  // 0 other, 1 ASCII letter, 2 newline, 3 backtick
  bool blocks_before[256];
  bool blocks_after[256];
  bool alnum[256];
};

constexpr ByteTables MakeByteTables() {
  ByteTables t{};
  for (int b = 0; b < 256; ++b) {
    const bool letter = (b >= 'a' && b <= 'z') || (b >= 'A' && b <= 'Z');
    const bool digit = b >= '0' && b <= '9';
    t.cls[b] = letter ? 1 : b == '\n' ? 2 : b == '`' ? 3 : 0;
    t.alnum[b] = letter || digit;
    t.blocks_before[b] = digit || b >= 0x80;
    t.blocks_after[b] = digit || b >= 0x80;
  }
  for (const char* s = "_-'./@\\$#&=%+^~<{"; *s != 0; ++s) t.blocks_before[static_cast<unsigned char>(*s)] = true;
  for (const char* s = "_-'/@\\$#&=%+^~<>({["; *s != 0; ++s) t.blocks_after[static_cast<unsigned char>(*s)] = true;
  return t;
}
constexpr ByteTables kBytes = MakeByteTables();

enum class CaseShape : uint8_t { kLower, kTitle, kUpper, kOther };

// Case shape over the letters only, so "Do not" is Title and "DON'T" upper.
CaseShape ShapeOf(std::string_view w) {
  const auto upper = [](unsigned char c) { return c >= 'A' && c <= 'Z'; };
  const auto letter = [](unsigned char c) { return (c | 0x20) >= 'a' && (c | 0x20) <= 'z'; };
  size_t n_upper = 0, n_letters = 0;
  for (unsigned char c : w) {
    n_upper += upper(c);
    n_letters += letter(c);
  }
  if (n_upper == 0) return CaseShape::kLower;
  if (n_upper == 1 && upper(w[0])) return CaseShape::kTitle;
  if (n_upper == n_letters && n_letters > 1) return CaseShape::kUpper;
  return CaseShape::kOther;
}

// Writes a member in `shape`, with `apostrophe` (' or U+2019) for its "'".
void AppendShaped(std::string_view lower, CaseShape shape, std::string_view apostrophe, std::string& out) {
  const size_t at = out.size();
  for (char c : lower) {
    if (c == '\'') out.append(apostrophe);
    else out.push_back(shape == CaseShape::kUpper && c >= 'a' && c <= 'z' ? static_cast<char>(c - 32) : c);
  }
  if (shape == CaseShape::kTitle) out[at] = static_cast<char>(out[at] - 32);
}

// The apostrophe the text already uses, so contractions match it.
std::string_view ApostropheOf(std::string_view text) {
  static constexpr std::string_view kCurly = "\xE2\x80\x99";
  const size_t straight = text.find('\'');
  const size_t curly = text.find(kCurly);
  return curly < straight ? kCurly : std::string_view("'");
}

bool IsSentenceBreak(char c) { return c == '.' || c == '!' || c == '?' || c == ':' || c == '\n'; }
bool IsDigit(char c) { return c >= '0' && c <= '9'; }

// The token before a unit, from the bytes between the previous unit and it
// (marking never changes those) and the previous unit as it now stands
// (`prev_fp`: its fingerprint, which is also the slot's context).
uint64_t TokenBefore(std::string_view gap, bool first_unit, uint64_t prev_fp) {
  static const uint64_t kStart = Fingerprint("START"), kComma = Fingerprint("COMMA"),
                        kNumber = Fingerprint("NUMBER"), kOther = Fingerprint("OTHER");
  size_t end = gap.size();
  while (end > 0 && (gap[end - 1] == ' ' || gap[end - 1] == '\t')) --end;
  if (end == 0) return first_unit ? kStart : prev_fp;
  if (IsDigit(gap[end - 1])) return kNumber;
  bool comma = false;
  for (size_t i = 0; i < end; ++i) {
    if (IsSentenceBreak(gap[i])) return kStart;
    comma |= gap[i] == ',' || gap[i] == ';';
  }
  return comma ? kComma : kOther;
}

// The token after a unit: its first run of letters when it is a word.
uint64_t TokenAfter(std::string_view rest, bool& is_name) {
  static const uint64_t kEnd = Fingerprint("END"), kComma = Fingerprint("COMMA"), kNumber = Fingerprint("NUMBER"),
                        kMoney = Fingerprint("MONEY"), kOther = Fingerprint("OTHER");
  is_name = false;
  size_t i = 0;
  while (i < rest.size() && (rest[i] == ' ' || rest[i] == '\t')) ++i;
  if (i == rest.size() || IsSentenceBreak(rest[i])) return kEnd;
  const char c = rest[i];
  if (c == ',' || c == ';') return kComma;
  if (IsDigit(c)) return kNumber;
  if (c == '$' && i + 1 < rest.size() && IsDigit(rest[i + 1])) return kMoney;
  char buf[kMaxWordLength];
  size_t n = 0;
  for (size_t j = i; j < rest.size() && n < kMaxWordLength; ++j, ++n) {
    const char l = static_cast<char>(rest[j] | 0x20);
    if (l < 'a' || l > 'z') break;
    buf[n] = l;
  }
  if (n == 0) return kOther;
  is_name = c >= 'A' && c <= 'Z';
  return Fingerprint(std::string_view(buf, n));
}

uint64_t SlotKey(uint64_t context, uint64_t set_fingerprint) {
  const uint64_t in[2] = {context, set_fingerprint};
  return XXH3_64bits(in, sizeof(in));
}

// Members that agree with a preceding "a"/"an" (by first letter: a member
// whose sound differs, like "a useful", is then simply not eligible).
uint8_t ValidMembers(const SynonymSet& set, std::string_view prev_lower) {
  const uint8_t all = static_cast<uint8_t>((1u << set.words.size()) - 1);
  if (prev_lower == "a") return all & static_cast<uint8_t>(~set.vowel_initial);
  if (prev_lower == "an") return set.vowel_initial;
  return all;
}

// The tokens around a unit, read on first use.
class LazyContext {
 public:
  LazyContext(std::string_view gap, std::string_view rest, uint64_t prev_fp, bool first_unit, bool lower_case)
      : gap_(gap), rest_(rest), prev_fp_(prev_fp), first_unit_(first_unit), lower_case_(lower_case) {}
  uint64_t before() {
    if (!has_before_) before_ = TokenBefore(gap_, first_unit_, prev_fp_), has_before_ = true;
    return before_;
  }
  uint64_t after() {
    if (!has_after_) after_ = TokenAfter(rest_, after_is_name_), has_after_ = true;
    return after_;
  }
  bool after_is_name() {
    after();
    return after_is_name_;
  }
  bool lower_case() const { return lower_case_; }

 private:
  std::string_view gap_, rest_;
  uint64_t prev_fp_;
  bool first_unit_, lower_case_;
  bool has_before_ = false, has_after_ = false, after_is_name_ = false;
  uint64_t before_ = 0, after_ = 0;
};

}  // namespace

bool WordScanner::Next(WordSpan& word) {
  const auto* p = reinterpret_cast<const unsigned char*>(t_.data());
  const size_t n = t_.size();
  size_t pos = pos_;  // a local, so the byte loops keep it in a register
  while (pos < n) {
    if (line_start_) {
      line_start_ = false;
      in_inline_code_ = false;
      size_t q = pos;
      while (q < n && q - pos < 3 && p[q] == ' ') ++q;
      const bool fence = t_.compare(q, 3, "```") == 0 || t_.compare(q, 3, "~~~") == 0;
      if (fence) in_fence_ = !in_fence_;
      if (fence || in_fence_) {  // the fence line itself and every line inside
        const size_t eol = t_.find('\n', pos);
        pos = eol == std::string_view::npos ? n : eol + 1;
        line_start_ = true;
        continue;
      }
    }
    uint8_t k = 0;
    while (pos < n && (k = kBytes.cls[p[pos]]) == 0) ++pos;
    if (pos >= n) break;
    if (k == 2) {
      ++pos;
      line_start_ = true;
      continue;
    }
    if (k == 3) {
      in_inline_code_ = !in_inline_code_;
      ++pos;
      continue;
    }
    const size_t begin = pos;
    while (pos < n && kBytes.cls[p[pos]] == 1) ++pos;
    if (in_inline_code_) continue;
    // A URL runs to the next whitespace; none of its words are prose.
    const unsigned char c = p[begin];
    if (((c | 0x20) == 'h' && (t_.compare(begin, 7, "http://") == 0 || t_.compare(begin, 8, "https://") == 0)) ||
        ((c | 0x20) == 'w' && t_.compare(begin, 4, "www.") == 0)) {
      while (pos < n && !std::isspace(p[pos])) ++pos;
      continue;
    }
    const bool glued_before = begin > 0 && kBytes.blocks_before[p[begin - 1]];
    bool glued_after = false;
    if (pos < n) {
      glued_after = kBytes.blocks_after[p[pos]];
      // "example.com", "e.g": a dot glued to more letters is not a full stop.
      if (p[pos] == '.' && pos + 1 < n && kBytes.alnum[p[pos + 1]]) glued_after = true;
    }
    word = WordSpan{begin, pos, !glued_before && !glued_after, glued_before, glued_after};
    pos_ = pos;
    return true;
  }
  pos_ = pos;
  return false;
}

uint32_t Watermarker::Choice(const WatermarkKey& key, uint64_t context, uint32_t set_index, uint8_t valid) const {
  const SynonymSet& set = table_.set(set_index);
  uint32_t best = 0;
  uint64_t best_hash = UINT64_MAX;
  for (uint32_t i = 0; i < set.words.size(); ++i) {
    if (!(valid >> i & 1)) continue;
    const uint64_t h = key.Hash(context, set.word_fingerprints[i]);
    if (h <= best_hash) {
      best_hash = h;
      best = i;
    }
  }
  return best;
}

// Calls on_unit(unit, context) for every unit: a word, or two runs that
// form a phrase or contraction member ("do not", "don't") where that member
// fits. unit.ref is null unless the unit is an eligible member with at least
// two fitting members; context is then the previous unit's fingerprint.
// on_unit returns the lower-case unit that now stands there, which becomes
// the next unit's context; it must stay valid for one more call.
template <typename OnUnit>
void Watermarker::Scan(std::string_view text, OnUnit&& on_unit) const {
  WordScanner scanner(text);
  WordSpan span[2];
  bool have[2];
  have[0] = scanner.Next(span[0]);
  have[1] = have[0] && scanner.Next(span[1]);
  char buffers[2][kMaxWordLength];
  int current = 0;
  std::string_view prev;  // lower-case previous unit; a word longer than kMaxWordLength leaves ""
  size_t prev_end = 0;
  bool first = true;
  const auto lower_into = [&](std::string_view w, char* buf) {
    for (size_t i = 0; i < w.size(); ++i) buf[i] = static_cast<char>(w[i] | 0x20);
  };
  while (have[0]) {
    TextUnit unit{span[0].begin, span[0].end, {}, nullptr, 0, 1};
    const std::string_view word = text.substr(span[0].begin, span[0].end - span[0].begin);
    char* buf = buffers[current];
    uint64_t context = 0;  // the previous unit's fingerprint, once the unit is a member
    // Is the unit at `begin..end` (lower-case `lower`) an eligible member, and which members fit there?
    const auto member = [&](std::string_view lower, size_t end, bool eligible) -> bool {
      if (!eligible || !table_.MayContain(lower)) return false;
      const WordRef* ref = table_.Find(lower);
      if (ref == nullptr) return false;
      const CaseShape shape = ShapeOf(text.substr(span[0].begin, end - span[0].begin));
      if (shape == CaseShape::kOther) return false;
      const SynonymSet& set = table_.set(ref->set);
      uint8_t valid = ValidMembers(set, prev);
      if (!(valid >> ref->member & 1)) return false;
      const uint64_t prev_fp = Fingerprint(prev);
      if (set.guarded) {
        // The unit's own member first: most guarded words fail there, and
        // the tokens around it are only read when a guard asks.
        LazyContext ctx{text.substr(prev_end, span[0].begin - prev_end), text.substr(end), prev_fp, first,
                        shape == CaseShape::kLower};
        if (!set.Fits(ref->member, ctx)) return false;
        for (uint32_t i = 0; i < set.words.size(); ++i)
          if (i != ref->member && (valid >> i & 1) && !set.Fits(i, ctx)) valid &= static_cast<uint8_t>(~(1u << i));
      }
      if (std::popcount(valid) < 2) return false;
      unit.ref = ref;
      unit.valid = valid;
      context = prev_fp;
      unit.end = end;
      unit.lower = lower;
      return true;
    };
    bool is_member = false;
    if (word.size() <= kMaxWordLength) {
      lower_into(word, buf);
      const std::string_view lower(buf, word.size());
      unit.lower = lower;
      // A phrase ("do not") or contraction ("don't", "don’t") starting here.
      if (have[1] && !span[0].glued_before && table_.MayStartUnit(lower)) {
        const size_t gap = span[1].begin - span[0].end;
        const char c = text[span[0].end];
        const bool phrase = gap == 1 && c == ' ' && !span[0].glued_after && !span[1].glued_before;
        const bool contraction = (gap == 1 && c == '\'') || (gap == 3 && text.compare(span[0].end, 3, "\xE2\x80\x99") == 0);
        const std::string_view next = text.substr(span[1].begin, span[1].end - span[1].begin);
        if ((phrase || contraction) && word.size() + 1 + next.size() <= kMaxWordLength) {
          buf[word.size()] = phrase ? ' ' : '\'';
          lower_into(next, buf + word.size() + 1);
          if (table_.MayEndUnit(std::string_view(buf + word.size() + 1, next.size()))) {
            is_member = member(std::string_view(buf, word.size() + 1 + next.size()), span[1].end, !span[1].glued_after);
            if (is_member) unit.runs = 2;
          }
        }
      }
      if (!is_member) {
        unit.lower = lower;
        is_member = member(lower, span[0].end, span[0].eligible);
      }
    }
    prev = on_unit(static_cast<const TextUnit&>(unit), context);
    prev_end = unit.end;
    first = false;
    current ^= 1;
    // Advance past the unit's runs.
    for (uint8_t r = 0; r < unit.runs; ++r) {
      span[0] = span[1];
      have[0] = have[1];
      have[1] = have[0] && scanner.Next(span[1]);
    }
  }
}

void Watermarker::Mark(std::string_view text, const WatermarkKey& key, std::string& out, MarkStats* stats) const {
  // One pass decides the substitutions; the cap on changed words is applied
  // when writing, once the word count is known. Past the cap the remaining
  // choices were made with contexts that may not be written, which only
  // weakens the mark in those rare dense texts.
  struct Substitution {
    size_t begin, end;
    const std::string* word;
    CaseShape shape;
  };
  thread_local std::vector<Substitution> subs;
  subs.clear();
  MarkStats local;
  Scan(text, [&](const TextUnit& unit, uint64_t context) -> std::string_view {
    local.words += unit.runs;
    if (unit.ref == nullptr) return unit.lower;
    ++local.eligible;
    const uint32_t choice = Choice(key, context, unit.ref->set, unit.valid);
    if (choice == unit.ref->member) return unit.lower;
    const std::string& replacement = table_.set(unit.ref->set).words[choice];
    subs.push_back({unit.begin, unit.end, &replacement, ShapeOf(text.substr(unit.begin, unit.end - unit.begin))});
    return replacement;
  });
  const auto budget = static_cast<size_t>(kMaxChangedShare * static_cast<double>(local.words));
  const size_t apply = std::min(budget, subs.size());
  std::string_view apostrophe;  // looked up once, and only for a contraction
  out.reserve(out.size() + text.size() + 8 * apply);
  size_t copied = 0;
  for (size_t i = 0; i < apply; ++i) {
    out.append(text.substr(copied, subs[i].begin - copied));
    if (apostrophe.empty() && subs[i].word->find('\'') != std::string::npos) apostrophe = ApostropheOf(text);
    AppendShaped(*subs[i].word, subs[i].shape, apostrophe, out);
    copied = subs[i].end;
  }
  out.append(text.substr(copied));
  local.changed = apply;
  local.capped = subs.size() - apply;
  if (stats != nullptr) {
    stats->words += local.words;
    stats->eligible += local.eligible;
    stats->changed += local.changed;
    stats->capped += local.capped;
  }
}

void Watermarker::Observe(std::string_view text, std::vector<SlotObservation>& out) const {
  Scan(text, [&](const TextUnit& unit, uint64_t context) -> std::string_view {
    if (unit.ref != nullptr)
      out.push_back(SlotObservation{SlotKey(context, table_.set(unit.ref->set).fingerprint), context, unit.ref->set,
                                    unit.valid, static_cast<uint8_t>(unit.ref->member)});
    return unit.lower;
  });
}

void Watermarker::Units(std::string_view text, std::vector<OwnedUnit>& out) const {
  Scan(text, [&](const TextUnit& unit, uint64_t) -> std::string_view {
    out.push_back(OwnedUnit{unit.begin, unit.end, std::string(unit.lower), unit.ref == nullptr ? -1 : static_cast<int>(unit.ref->set)});
    return unit.lower;
  });
}

}  // namespace moat::degrade
