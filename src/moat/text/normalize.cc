#include "moat/text/normalize.h"

#include <array>
#include <cstring>
#include <vector>

#include <utf8proc.h>

namespace moat::text {
namespace internal {

namespace {
bool IsSingleScript(int32_t cp) {
  return (cp >= 0x3040 && cp <= 0x30FF) ||   // Hiragana, Katakana
         (cp >= 0x3400 && cp <= 0x4DBF) ||   // CJK extension A
         (cp >= 0x4E00 && cp <= 0x9FFF) ||   // CJK unified ideographs
         (cp >= 0xF900 && cp <= 0xFAFF) ||   // CJK compatibility ideographs
         (cp >= 0x20000 && cp <= 0x3FFFF);   // CJK extensions B..
}
}  // namespace

CodepointClass ClassifyNonAscii(const unsigned char* p, size_t n, size_t* len) {
  utf8proc_int32_t cp = -1;
  const utf8proc_ssize_t got = utf8proc_iterate(p, static_cast<utf8proc_ssize_t>(n < 4 ? n : 4), &cp);
  if (got <= 0 || cp < 0) {
    *len = 1;
    return CodepointClass::kWord;  // bad byte: keep it inside the word
  }
  *len = static_cast<size_t>(got);
  if (IsSingleScript(cp)) return CodepointClass::kSingle;
  switch (utf8proc_category(cp)) {
    case UTF8PROC_CATEGORY_LU: case UTF8PROC_CATEGORY_LL: case UTF8PROC_CATEGORY_LT:
    case UTF8PROC_CATEGORY_LM: case UTF8PROC_CATEGORY_LO: case UTF8PROC_CATEGORY_MN:
    case UTF8PROC_CATEGORY_MC: case UTF8PROC_CATEGORY_ME: case UTF8PROC_CATEGORY_ND:
    case UTF8PROC_CATEGORY_NL: case UTF8PROC_CATEGORY_NO:
      return CodepointClass::kWord;
    default:
      return CodepointClass::kSeparator;
  }
}

}  // namespace internal

namespace {

// ASCII byte actions: 0 copy, 1 whitespace, 2 digit, 3 upper-case letter.
constexpr std::array<uint8_t, 128> MakeAsciiAction() {
  std::array<uint8_t, 128> a{};
  for (int b = 0; b < 128; ++b) {
    if (b >= 'A' && b <= 'Z') a[b] = 3;
    else if (b >= '0' && b <= '9') a[b] = 2;
    else if (b <= 0x20 || b == 0x7F) a[b] = 1;  // controls count as whitespace
  }
  return a;
}
constexpr std::array<uint8_t, 128> kAsciiAction = MakeAsciiAction();

class Emitter {
 public:
  Emitter(std::string& out, bool keep_digits) : out_(out), keep_digits_(keep_digits) {}

  void Ascii(unsigned char b) {
    switch (kAsciiAction[b]) {
      case 0: Put(static_cast<char>(b)); break;
      case 1: Space(); break;
      case 2: Digit(static_cast<char>(b)); break;
      default: Put(static_cast<char>(b + ('a' - 'A'))); break;
    }
  }
  void Space() {
    pending_space_ = !out_.empty();
    in_digits_ = false;
  }
  void Digit(char d) {
    if (!keep_digits_) {
      if (in_digits_) return;
      Flush();
      out_.push_back('0');
      in_digits_ = true;
      return;
    }
    Flush();
    out_.push_back(d);
  }
  void Put(char c) {
    Flush();
    out_.push_back(c);
    in_digits_ = false;
  }
  void PutBytes(const char* p, size_t n) {
    Flush();
    out_.append(p, n);
    in_digits_ = false;
  }

 private:
  void Flush() {
    if (pending_space_) {
      out_.push_back(' ');
      pending_space_ = false;
    }
  }
  std::string& out_;
  bool keep_digits_;
  bool pending_space_ = false;
  bool in_digits_ = false;
};

constexpr utf8proc_option_t kNfkcCaseFold = static_cast<utf8proc_option_t>(
    UTF8PROC_STABLE | UTF8PROC_COMPOSE | UTF8PROC_COMPAT | UTF8PROC_CASEFOLD | UTF8PROC_IGNORE);

bool AllAscii(std::string_view s) {
  const char* p = s.data();
  size_t n = s.size();
  while (n >= 8) {
    uint64_t w;
    std::memcpy(&w, p, 8);
    if (w & 0x8080808080808080ULL) return false;
    p += 8;
    n -= 8;
  }
  while (n--) {
    if (static_cast<unsigned char>(*p++) & 0x80) return false;
  }
  return true;
}

// Normalises one stretch of valid UTF-8 through utf8proc (decompose with
// canonical reordering, then compose) and feeds the code points out.
void NormalizeValid(const unsigned char* p, size_t n, Emitter& emit) {
  if (n == 0) return;
  thread_local std::vector<utf8proc_int32_t> buffer(256);
  utf8proc_ssize_t len = utf8proc_decompose(p, static_cast<utf8proc_ssize_t>(n), buffer.data(),
                                            static_cast<utf8proc_ssize_t>(buffer.size()), kNfkcCaseFold);
  if (len > static_cast<utf8proc_ssize_t>(buffer.size())) {
    buffer.resize(static_cast<size_t>(len));
    len = utf8proc_decompose(p, static_cast<utf8proc_ssize_t>(n), buffer.data(),
                             static_cast<utf8proc_ssize_t>(buffer.size()), kNfkcCaseFold);
  }
  if (len < 0) {  // cannot happen on validated input; keep the bytes
    emit.PutBytes(reinterpret_cast<const char*>(p), n);
    return;
  }
  len = utf8proc_normalize_utf32(buffer.data(), len, kNfkcCaseFold);
  if (len < 0) {
    emit.PutBytes(reinterpret_cast<const char*>(p), n);
    return;
  }
  for (utf8proc_ssize_t i = 0; i < len; ++i) {
    const utf8proc_int32_t cp = buffer[static_cast<size_t>(i)];
    if (cp < 0x80) {
      emit.Ascii(static_cast<unsigned char>(cp));
      continue;
    }
    const utf8proc_category_t cat = utf8proc_category(cp);
    if (cat == UTF8PROC_CATEGORY_ZS || cat == UTF8PROC_CATEGORY_ZL || cat == UTF8PROC_CATEGORY_ZP ||
        cat == UTF8PROC_CATEGORY_CC) {
      emit.Space();
      continue;
    }
    utf8proc_uint8_t bytes[4];
    const utf8proc_ssize_t nb = utf8proc_encode_char(cp, bytes);
    if (cat == UTF8PROC_CATEGORY_ND) {
      // Another script's digit: one '0' per run, or kept as it is.
      emit.Digit('0');
      continue;
    }
    emit.PutBytes(reinterpret_cast<const char*>(bytes), static_cast<size_t>(nb));
  }
}

}  // namespace

void Normalize(std::string_view in, std::string& out, NormalizeOptions options) {
  out.clear();
  Emitter emit(out, options.keep_digits);
  if (AllAscii(in)) {
    // Output never outgrows ASCII input: write through a pointer, trim once.
    out.resize(in.size());
    char* o = out.data();
    char* const begin = o;
    bool pending_space = false, in_digits = false;
    for (const char ch : in) {
      const auto b = static_cast<unsigned char>(ch);
      const uint8_t action = kAsciiAction[b];
      if (action == 1) {
        pending_space = o != begin;
        in_digits = false;
        continue;
      }
      if (action == 2 && !options.keep_digits) {
        if (in_digits) continue;
        in_digits = true;
      } else {
        in_digits = false;
      }
      if (pending_space) {
        *o++ = ' ';
        pending_space = false;
      }
      *o++ = action == 3 ? static_cast<char>(b + ('a' - 'A')) : (action == 2 && !options.keep_digits ? '0' : ch);
    }
    out.resize(static_cast<size_t>(o - begin));
    return;
  }
  // Split at invalid bytes: valid stretches go through utf8proc as a whole
  // (so a combining mark composes with an ASCII base letter before it).
  const auto* p = reinterpret_cast<const unsigned char*>(in.data());
  const size_t n = in.size();
  size_t start = 0;
  size_t i = 0;
  while (i < n) {
    if (p[i] < 0x80) {
      ++i;
      continue;
    }
    utf8proc_int32_t cp;
    const utf8proc_ssize_t got =
        utf8proc_iterate(p + i, static_cast<utf8proc_ssize_t>(n - i < 4 ? n - i : 4), &cp);
    if (got > 0 && cp >= 0) {
      i += static_cast<size_t>(got);
      continue;
    }
    NormalizeValid(p + start, i - start, emit);
    emit.Put(static_cast<char>(p[i]));  // a bad byte is copied as it is
    start = ++i;
  }
  NormalizeValid(p + start, n - start, emit);
}

std::string Normalize(std::string_view in, NormalizeOptions options) {
  std::string out;
  Normalize(in, out, options);
  return out;
}

}  // namespace moat::text
