#include "moat/text/pattern_set.h"

#include <atomic>
#include <cstring>

#include <hs.h>

#include "moat/core/check.h"
#include "moat/text/normalize.h"

namespace moat::text {
namespace {

bool IsWordChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         static_cast<unsigned char>(c) >= 0x80;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\n')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\n')) s.remove_suffix(1);
  return s;
}

// One phrase to a regex fragment: literal characters escaped, blanks and
// hyphens flexible, word boundaries where the phrase starts/ends with a word
// character, a trailing '*' leaves the end open.
void AppendPhrase(std::string_view phrase, std::string& out) {
  phrase = Trim(phrase);
  bool open_end = false;
  if (!phrase.empty() && phrase.back() == '*') {
    open_end = true;
    phrase.remove_suffix(1);
  }
  if (phrase.empty()) return;
  if (IsWordChar(phrase.front())) out += "\\b";
  bool in_gap = false;
  for (const char c : phrase) {
    if (c == ' ' || c == '-' || c == '_' || c == '\t') {
      in_gap = true;
      continue;
    }
    if (in_gap) {
      out += "[\\s\\-_]+";
      in_gap = false;
    }
    const auto u = static_cast<unsigned char>(c);
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || u >= 0x80) {
      out.push_back(c);
    } else {
      out.push_back('\\');
      out.push_back(c);
    }
  }
  if (!open_end && IsWordChar(phrase.back())) out += "\\b";
}

// Splits a word list at commas outside braces; items trimmed, empty dropped.
std::vector<std::string_view> SplitWordList(std::string_view list) {
  std::vector<std::string_view> items;
  int depth = 0;
  size_t start = 0;
  for (size_t i = 0; i <= list.size(); ++i) {
    const char c = i < list.size() ? list[i] : ',';
    if (c == '{') ++depth;
    if (c == '}' && depth > 0) --depth;
    if (c == ',' && depth == 0) {
      const std::string_view item = Trim(list.substr(start, i - start));
      if (!item.empty()) items.push_back(item);
      start = i + 1;
    }
  }
  return items;
}

// Expands "{a|b}" alternatives (not nested) into every combination.
void ExpandBraces(std::string_view phrase, std::string prefix, std::vector<std::string>& out) {
  const size_t open = phrase.find('{');
  if (open == std::string_view::npos) {
    out.push_back(prefix.append(phrase));
    return;
  }
  const size_t close = phrase.find('}', open);
  if (close == std::string_view::npos) {
    out.push_back(prefix.append(phrase));
    return;
  }
  prefix.append(phrase.substr(0, open));
  std::string_view alts = phrase.substr(open + 1, close - open - 1);
  for (;;) {
    const size_t bar = alts.find('|');
    ExpandBraces(phrase.substr(close + 1), prefix + std::string(alts.substr(0, bar)), out);
    if (bar == std::string_view::npos) break;
    alts.remove_prefix(bar + 1);
  }
}

std::vector<std::string> Phrases(const PatternSpec& spec) {
  std::vector<std::string> out;
  if (spec.syntax == PatternSyntax::kPhrase) {
    ExpandBraces(Trim(spec.expression), "", out);
  } else if (spec.syntax == PatternSyntax::kWordList) {
    for (const std::string_view item : SplitWordList(spec.expression)) ExpandBraces(item, "", out);
  }
  return out;
}

// Scan-form byte classes.
enum ScanClass : uint8_t { kGapSpace, kGapMark, kWordByte, kUpper, kDigit, kPunct, kHigh };
constexpr std::array<uint8_t, 256> MakeScanClass() {
  std::array<uint8_t, 256> t{};
  for (int b = 0; b < 256; ++b) {
    if (b <= 0x20 || b == 0x7F) t[b] = kGapSpace;
    else if (b == '-' || b == '_') t[b] = kGapMark;
    else if (b >= 'a' && b <= 'z') t[b] = kWordByte;
    else if (b >= 'A' && b <= 'Z') t[b] = kUpper;
    else if (b >= '0' && b <= '9') t[b] = kDigit;
    else if (b >= 0x80) t[b] = kHigh;
    else t[b] = kPunct;
  }
  return t;
}
constexpr std::array<uint8_t, 256> kScanClass = MakeScanClass();

// One phrase to its scan-form literal: leading ' ' (every token starts after
// a space), trailing ' ' unless the phrase ends in '*'.
std::string ScanLiteral(std::string_view phrase) {
  phrase = Trim(phrase);
  bool open_end = false;
  if (!phrase.empty() && phrase.back() == '*') {
    open_end = true;
    phrase.remove_suffix(1);
  }
  // "\x01" first: only at the start of the text.
  const bool anchored = !phrase.empty() && phrase.front() == '\x01';
  if (anchored) phrase.remove_prefix(1);
  if (Trim(phrase).empty()) return {};
  std::string out;
  ToScanForm(phrase, out, /*at_start=*/anchored);
  if (open_end && !out.empty() && out.back() == ' ') out.pop_back();
  return out;
}

// A literal as a Hyperscan expression: every byte but letters and digits escaped.
std::string EscapeLiteral(std::string_view lit) {
  static const char kHex[] = "0123456789abcdef";
  std::string out;
  for (const char c : lit) {
    const auto u = static_cast<unsigned char>(c);
    if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')) {
      out.push_back(c);
    } else {
      out += "\\x";
      out.push_back(kHex[u >> 4]);
      out.push_back(kHex[u & 15]);
    }
  }
  return out;
}

std::atomic<uint64_t> next_generation{1};

// One scratch per thread, grown to fit every database the thread scans.
struct ThreadScratch {
  hs_scratch_t* scratch = nullptr;
  std::array<uint64_t, 8> fitted{};  // generations known to fit (scratch only grows)
  size_t next = 0;
  ~ThreadScratch() {
    if (scratch != nullptr) hs_free_scratch(scratch);
  }
  hs_scratch_t* For(const hs_database_t* db, uint64_t generation) {
    for (const uint64_t g : fitted) {
      if (g == generation) return scratch;
    }
    const hs_error_t err = hs_alloc_scratch(db, &scratch);
    MOAT_CHECK(err == HS_SUCCESS);  // only fails on out-of-memory or a corrupt database
    fitted[next] = generation;
    next = (next + 1) % fitted.size();
    return scratch;
  }
};

int OnMatch(unsigned int index, unsigned long long /*from*/, unsigned long long /*to*/, unsigned int /*flags*/,
            void* context) {
  auto* c = static_cast<std::pair<const uint32_t*, PatternMask*>*>(context);
  c->second->Set(c->first[index]);
  return 0;
}

}  // namespace

std::string PatternSet::ToExpression(const PatternSpec& spec) {
  std::string out;
  switch (spec.syntax) {
    case PatternSyntax::kRegex:
      return spec.expression;
    case PatternSyntax::kPhrase: {
      const std::vector<std::string> phrases = Phrases(spec);
      if (phrases.size() == 1) {
        AppendPhrase(phrases[0], out);
        return out;
      }
      [[fallthrough]];
    }
    case PatternSyntax::kWordList: {
      out = "(?:";
      bool first = true;
      for (const std::string& item : Phrases(spec)) {
        if (Trim(item).empty()) continue;
        if (!first) out.push_back('|');
        first = false;
        AppendPhrase(item, out);
      }
      out.push_back(')');
      return out;
    }
  }
  return out;
}

std::vector<std::string> PatternSet::ToScanLiterals(const PatternSpec& spec) {
  std::vector<std::string> out;
  for (const std::string& phrase : Phrases(spec)) {
    std::string lit = ScanLiteral(phrase);
    if (!lit.empty()) out.push_back(std::move(lit));
  }
  return out;
}

void ToScanForm(std::string_view text, std::string& out, bool at_start) {
  // Worst case: every byte a punctuation token (" x") plus the frame.
  out.resize(3 * text.size() + 3);
  char* const begin = out.data();
  char* o = begin;
  if (at_start) *o++ = '\x01';
  *o++ = ' ';
  const auto* p = reinterpret_cast<const unsigned char*>(text.data());
  const size_t n = text.size();
  // The last byte written is ' ' after a separator or punctuation token.
  bool in_digits = false;
  for (size_t i = 0; i < n; ++i) {
    unsigned char b = p[i];
    uint8_t cls = kScanClass[b];
    if (cls == kWordByte) {  // most bytes: copy the run of lower-case letters
      do {
        *o++ = static_cast<char>(b);
        if (++i == n) break;
        b = p[i];
        cls = kScanClass[b];
      } while (cls == kWordByte);
      in_digits = false;
      if (i == n) break;
    }
    if (cls == kGapSpace) {
      *o = ' ';
      o += o[-1] != ' ';
      in_digits = false;
      continue;
    }
    switch (cls) {
      case kUpper:
        *o++ = static_cast<char>(b + ('a' - 'A'));
        in_digits = false;
        break;
      case kDigit:
        if (!in_digits) *o++ = '0';
        in_digits = true;
        break;
      case kGapMark:
        // A '-' between whitespace is a minus sign: punctuation.
        if (b == '-' && i > 0 && i + 1 < n && kScanClass[p[i - 1]] == kGapSpace &&
            kScanClass[p[i + 1]] == kGapSpace) {
          *o++ = '-';
          *o++ = ' ';
        } else if (o[-1] != ' ') {
          *o++ = ' ';
        }
        in_digits = false;
        break;
      case kPunct:
        if (o[-1] != ' ') *o++ = ' ';
        *o++ = static_cast<char>(b);
        *o++ = ' ';
        in_digits = false;
        break;
      default: {  // non-ASCII: a word character, or a token of its own
        size_t len = 1;
        const internal::CodepointClass k = internal::ClassifyNonAscii(p + i, n - i, &len);
        if (k == internal::CodepointClass::kWord) {
          std::memcpy(o, p + i, len);
          o += len;
        } else {
          if (o[-1] != ' ') *o++ = ' ';
          std::memcpy(o, p + i, len);
          o += len;
          *o++ = ' ';
        }
        i += len - 1;
        in_digits = false;
        break;
      }
    }
  }
  if (o[-1] != ' ') *o++ = ' ';
  out.resize(static_cast<size_t>(o - begin));
}

Result<PatternSet> PatternSet::Compile(std::span<const PatternSpec> specs) {
  return Compile(specs, PatternSetOptions{});
}

Result<PatternSet> PatternSet::Compile(std::span<const PatternSpec> specs, PatternSetOptions options) {
  if (specs.empty()) return Status::Error("pattern set: no patterns");
  if (hs_valid_platform() != HS_SUCCESS) return Status::Error("pattern set: this CPU lacks SSSE3, Hyperscan cannot run");
  std::vector<std::string> expressions;
  std::vector<const char*> pointers;
  std::vector<unsigned int> flags;
  std::vector<unsigned int> indexes;
  std::vector<size_t> spec_of;  // expression index -> spec index
  PatternSet set;
  set.scan_form_ = options.scan_form;
  expressions.reserve(specs.size());
  for (size_t i = 0; i < specs.size(); ++i) {
    if (specs[i].id >= kMaxPatternIds) {
      return Status::Error("pattern set: pattern #" + std::to_string(i) + " '" + specs[i].expression +
                           "': id " + std::to_string(specs[i].id) + " is not below " +
                           std::to_string(kMaxPatternIds));
    }
    if (options.scan_form && specs[i].syntax != PatternSyntax::kRegex) {
      const std::vector<std::string> literals = ToScanLiterals(specs[i]);
      if (literals.empty()) {
        return Status::Error("pattern set: pattern #" + std::to_string(i) + " (id " + std::to_string(specs[i].id) +
                             ") is empty");
      }
      for (const std::string& lit : literals) {
        expressions.push_back(EscapeLiteral(lit));
        flags.push_back(HS_FLAG_SINGLEMATCH);
        indexes.push_back(static_cast<unsigned int>(indexes.size()));
        set.ids_.push_back(specs[i].id);
        spec_of.push_back(i);
      }
      continue;
    }
    expressions.push_back(ToExpression(specs[i]));
    if (expressions.back().empty() || expressions.back() == "(?:)") {
      return Status::Error("pattern set: pattern #" + std::to_string(i) + " (id " + std::to_string(specs[i].id) +
                           ") is empty");
    }
    flags.push_back(options.scan_form ? HS_FLAG_SINGLEMATCH : HS_FLAG_CASELESS | HS_FLAG_SINGLEMATCH);
    indexes.push_back(static_cast<unsigned int>(indexes.size()));
    set.ids_.push_back(specs[i].id);
    spec_of.push_back(i);
  }
  for (const std::string& e : expressions) pointers.push_back(e.c_str());
  hs_database_t* db = nullptr;
  hs_compile_error_t* error = nullptr;
  const hs_error_t err = hs_compile_multi(pointers.data(), flags.data(), indexes.data(),
                                          static_cast<unsigned int>(pointers.size()), HS_MODE_BLOCK, nullptr, &db,
                                          &error);
  if (err != HS_SUCCESS) {
    std::string message = "pattern set: ";
    if (error != nullptr && error->expression >= 0 && static_cast<size_t>(error->expression) < spec_of.size()) {
      const size_t i = spec_of[static_cast<size_t>(error->expression)];
      message += "pattern #" + std::to_string(i) + " (id " + std::to_string(specs[i].id) + ") '" +
                 specs[i].expression + "' does not compile: " + error->message;
    } else {
      message += std::string("compile failed: ") + (error != nullptr ? error->message : "unknown error");
    }
    if (error != nullptr) hs_free_compile_error(error);
    return Status::Error(std::move(message));
  }
  set.db_ = std::shared_ptr<hs_database>(db, [](hs_database_t* d) { hs_free_database(d); });
  set.generation_ = next_generation.fetch_add(1, std::memory_order_relaxed);
  return set;
}

void PatternSet::ScanInto(std::string_view part, bool at_start, PatternMask& mask) const {
  thread_local ThreadScratch scratch;
  hs_scratch_t* s = scratch.For(db_.get(), generation_);
  std::pair<const uint32_t*, PatternMask*> context{ids_.data(), &mask};
  // A raw set has no "not at start" mode: '^' can match a continued part
  // (as ScanAll's tail always did); the scan form marks the start instead.
  if (scan_form_) {
    thread_local std::string form;
    ToScanForm(part, form, at_start);
    part = form;
  }
  const hs_error_t err =
      hs_scan(db_.get(), part.data(), static_cast<unsigned int>(part.size()), 0, s, OnMatch, &context);
  MOAT_CHECK(err == HS_SUCCESS);
}

PatternMask PatternSet::ScanAll(std::string_view text) const {
  PatternMask mask;
  if (text.size() <= kHeadBytes + kTailBytes) {
    ScanInto(text, true, mask);
  } else {
    ScanInto(text.substr(0, kHeadBytes), true, mask);
    ScanInto(text.substr(text.size() - kTailBytes), false, mask);
  }
  return mask;
}

PatternMask PatternSet::ScanAllContinued(std::string_view text) const {
  PatternMask mask;
  if (text.size() <= kHeadBytes + kTailBytes) {
    ScanInto(text, false, mask);
  } else {
    ScanInto(text.substr(0, kHeadBytes), false, mask);
    ScanInto(text.substr(text.size() - kTailBytes), false, mask);
  }
  return mask;
}

}  // namespace moat::text
