// One pass over a prompt: does it ask for step-by-step reasoning (a small,
// generic phrase lexicon, case-insensitive, whitespace-collapsed), and what
// are the hashes of its normalised opening and closing characters (template
// signatures). Lives in features until the `text` module exists; it knows
// nothing about accounts.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

namespace moat::features {

// The reasoning-elicitation lexicon: the one place these phrases live. Plain
// lowercase; hyphens and runs of whitespace in a prompt match one space.
std::span<const std::string_view> ReasoningElicitationPhrases();

struct PromptScan {
  bool elicits_reasoning = false;
  uint64_t prefix_hash = 0;  // first kSignatureChars normalised characters
  uint64_t suffix_hash = 0;  // last kSignatureChars normalised characters
  // Long enough that the signatures are an opening and an ending around a
  // varying body (a template), not the whole of a short common message.
  bool templatable = false;
};

// Immutable after construction; share one instance across threads.
class PromptScanner {
 public:
  static constexpr int kSignatureChars = 40;
  PromptScanner();
  PromptScan Scan(std::string_view prompt) const;

 private:
  static constexpr int kAlphabet = 29;  // a-z, digit, space, other
  static constexpr int kStride = 32;    // row width: a shift, not a multiply
  bool Match(const unsigned char* p, size_t n) const;
  std::vector<uint16_t> next_;          // state * kStride + symbol
  size_t max_phrase_ = 0;
  std::vector<uint8_t> accept_;
};

}  // namespace moat::features
