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

CaseShape ShapeOf(std::string_view w) {
  const auto upper = [](unsigned char c) { return c >= 'A' && c <= 'Z'; };
  size_t n_upper = 0;
  for (unsigned char c : w) n_upper += upper(c);
  if (n_upper == 0) return CaseShape::kLower;
  if (n_upper == 1 && upper(w[0])) return CaseShape::kTitle;
  if (n_upper == w.size() && w.size() > 1) return CaseShape::kUpper;
  return CaseShape::kOther;
}

void AppendShaped(std::string_view lower, CaseShape shape, std::string& out) {
  const size_t at = out.size();
  out.append(lower);
  if (shape == CaseShape::kTitle) out[at] = static_cast<char>(out[at] - 32);
  if (shape == CaseShape::kUpper)
    for (size_t i = at; i < out.size(); ++i) out[i] = static_cast<char>(out[i] - 32);
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
    bool eligible = !(begin > 0 && kBytes.blocks_before[p[begin - 1]]);
    if (pos < n) {
      if (kBytes.blocks_after[p[pos]]) eligible = false;
      // "example.com", "e.g": a dot glued to more letters is not a full stop.
      if (p[pos] == '.' && pos + 1 < n && kBytes.alnum[p[pos + 1]]) eligible = false;
    }
    word = WordSpan{begin, pos, eligible};
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

// Calls on_word(span, word, lower, ref, valid, context) for every word,
// where ref is null unless the word is an eligible set member with at least
// two valid members (context is then the previous word's fingerprint, else
// 0). on_word returns the lower-case word that now stands there, which
// becomes the next word's context; it must stay valid for one more call.
template <typename OnWord>
void Watermarker::Scan(std::string_view text, OnWord&& on_word) const {
  WordScanner scanner(text);
  WordSpan span;
  char buffers[2][kMaxWordLength];
  int current = 0;
  std::string_view prev;  // lower-case; a word longer than kMaxWordLength leaves ""
  while (scanner.Next(span)) {
    const std::string_view word = text.substr(span.begin, span.end - span.begin);
    const WordRef* ref = nullptr;
    uint8_t valid = 0;
    uint64_t context = 0;
    std::string_view lower;
    if (word.size() <= kMaxWordLength) {
      char* buf = buffers[current];
      for (size_t i = 0; i < word.size(); ++i) buf[i] = static_cast<char>(word[i] | 0x20);
      lower = std::string_view(buf, word.size());
      if (span.eligible && word.size() > 1 && table_.MayContain(lower) && ShapeOf(word) != CaseShape::kOther) {
        ref = table_.Find(lower);
        if (ref != nullptr) {
          valid = ValidMembers(table_.set(ref->set), prev);
          if (!(valid >> ref->member & 1) || std::popcount(valid) < 2) ref = nullptr;
          else context = Fingerprint(prev);
        }
      }
    }
    prev = on_word(span, word, lower, ref, valid, context);
    current ^= 1;
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
  Scan(text, [&](const WordSpan& span, std::string_view word, std::string_view lower, const WordRef* ref,
                 uint8_t valid, uint64_t context) -> std::string_view {
    ++local.words;
    if (ref == nullptr) return lower;
    ++local.eligible;
    const uint32_t choice = Choice(key, context, ref->set, valid);
    if (choice == ref->member) return lower;
    const std::string& replacement = table_.set(ref->set).words[choice];
    subs.push_back({span.begin, span.end, &replacement, ShapeOf(word)});
    return replacement;
  });
  const auto budget = static_cast<size_t>(kMaxChangedShare * static_cast<double>(local.words));
  const size_t apply = std::min(budget, subs.size());
  out.reserve(out.size() + text.size() + 8 * apply);
  size_t copied = 0;
  for (size_t i = 0; i < apply; ++i) {
    out.append(text.substr(copied, subs[i].begin - copied));
    AppendShaped(*subs[i].word, subs[i].shape, out);
    copied = subs[i].end;
  }
  out.append(text.substr(copied));
  local.changed = apply;
  if (stats != nullptr) {
    stats->words += local.words;
    stats->eligible += local.eligible;
    stats->changed += local.changed;
  }
}

void Watermarker::Observe(std::string_view text, std::vector<SlotObservation>& out) const {
  Scan(text, [&](const WordSpan&, std::string_view, std::string_view lower, const WordRef* ref, uint8_t valid,
                 uint64_t context) -> std::string_view {
    if (ref != nullptr)
      out.push_back(SlotObservation{SlotKey(context, table_.set(ref->set).fingerprint), context, ref->set, valid,
                                    static_cast<uint8_t>(ref->member)});
    return lower;
  });
}

}  // namespace moat::degrade
