// Text normalisation and tokenisation for prompt sketches: NFKC case folding,
// whitespace collapsing, numbers to '0', and an allocation-free word
// tokenizer. Part of `text`, which never knows about accounts.
#pragma once

#include <cstddef>
#include <cstdint>
#include <iterator>
#include <string>
#include <string_view>

namespace moat::text {

struct NormalizeOptions {
  // Off by default: every run of digits becomes one '0', so "Solve 37+5" and
  // "Solve 2+91" normalise alike (templates differ in their numbers).
  bool keep_digits = false;
};

// Writes the normal form of `in` to `out` (overwritten; its capacity is
// reused, so a caller that keeps one string per thread allocates only while
// it grows):
//  - Unicode NFKC with case folding and default-ignorable code points (zero
//    width spaces, joiners, soft hyphens) removed, through utf8proc; pure
//    ASCII input takes a table fast path that never calls utf8proc;
//  - every whitespace run (ASCII, Unicode Z*, control characters) becomes
//    one ' ', leading and trailing whitespace is dropped;
//  - every run of decimal digits (any script) becomes "0" unless kept.
// Invalid UTF-8 never fails: each bad byte is copied as it is and the valid
// stretches around it are normalised.
void Normalize(std::string_view in, std::string& out, NormalizeOptions options = {});

// Convenience for tests and cold paths.
std::string Normalize(std::string_view in, NormalizeOptions options = {});

namespace internal {
// 0: separator, 1: ASCII letter or digit, 2: non-ASCII byte.
struct ByteClassTable {
  uint8_t v[256];
};
constexpr ByteClassTable MakeByteClass() {
  ByteClassTable c{};
  for (int b = 0; b < 256; ++b) {
    if ((b >= 'a' && b <= 'z') || (b >= 'A' && b <= 'Z') || (b >= '0' && b <= '9')) c.v[b] = 1;
    else if (b >= 0x80) c.v[b] = 2;
  }
  return c;
}
inline constexpr ByteClassTable kByteClass = MakeByteClass();
enum class CodepointClass : uint8_t { kSeparator, kWord, kSingle };
// Classifies the (possibly invalid) UTF-8 sequence at p; sets *len to the
// bytes it spans (an invalid byte is a one-byte word character).
CodepointClass ClassifyNonAscii(const unsigned char* p, size_t n, size_t* len);
}  // namespace internal

// Splits text into words without allocating. A word is a maximal run of ASCII
// letters/digits and non-ASCII letters, marks and numbers; a Han, Hiragana or
// Katakana code point is a word on its own (those scripts have no spaces);
// punctuation, symbols and whitespace separate words and are dropped. Meant
// for normalised text; on raw text it works but does not fold case.
class Tokenizer {
 public:
  explicit Tokenizer(std::string_view text) : p_(reinterpret_cast<const unsigned char*>(text.data())), n_(text.size()) {}

  // Sets `token` to the next word; false at the end.
  bool Next(std::string_view& token) {
    using internal::CodepointClass;
    size_t len = 0;
    while (pos_ < n_) {  // skip separators
      const uint8_t c = internal::kByteClass.v[p_[pos_]];
      if (c == 1) break;
      if (c == 0) {
        ++pos_;
        continue;
      }
      const CodepointClass k = internal::ClassifyNonAscii(p_ + pos_, n_ - pos_, &len);
      if (k == CodepointClass::kWord) break;
      if (k == CodepointClass::kSingle) {
        token = View(pos_, len);
        pos_ += len;
        return true;
      }
      pos_ += len;
    }
    if (pos_ >= n_) return false;
    const size_t start = pos_;
    while (pos_ < n_) {
      const uint8_t c = internal::kByteClass.v[p_[pos_]];
      if (c == 1) {
        ++pos_;
        continue;
      }
      if (c == 0) break;
      if (internal::ClassifyNonAscii(p_ + pos_, n_ - pos_, &len) != CodepointClass::kWord) break;
      pos_ += len;
    }
    token = View(start, pos_ - start);
    return true;
  }

  // Byte offset of the next unread character.
  size_t position() const { return pos_; }

 private:
  std::string_view View(size_t at, size_t len) const {
    return std::string_view(reinterpret_cast<const char*>(p_) + at, len);
  }
  const unsigned char* p_;
  size_t n_;
  size_t pos_ = 0;
};

// Calls f(std::string_view) for every word of `text`.
template <typename F>
void ForEachToken(std::string_view text, F&& f) {
  Tokenizer t(text);
  std::string_view token;
  while (t.Next(token)) f(token);
}

// Range over the words: `for (std::string_view w : Tokens(text))`.
class Tokens {
 public:
  explicit Tokens(std::string_view text) : text_(text) {}
  class iterator {
   public:
    using iterator_category = std::input_iterator_tag;
    using value_type = std::string_view;
    using difference_type = std::ptrdiff_t;
    using pointer = const std::string_view*;
    using reference = const std::string_view&;
    iterator() = default;
    explicit iterator(std::string_view text) : t_(text), done_(false) { ++*this; }
    reference operator*() const { return token_; }
    pointer operator->() const { return &token_; }
    iterator& operator++() {
      done_ = !t_.Next(token_);
      return *this;
    }
    void operator++(int) { ++*this; }
    friend bool operator==(const iterator& a, const iterator& b) { return a.done_ && b.done_; }

   private:
    Tokenizer t_{std::string_view()};
    std::string_view token_;
    bool done_ = true;
  };
  iterator begin() const { return iterator(text_); }
  iterator end() const { return iterator(); }

 private:
  std::string_view text_;
};

}  // namespace moat::text
