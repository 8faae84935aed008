// Template signatures of a prompt: hashes of its normalised opening and
// closing characters (lowercase, whitespace collapsed, numbers as '0'),
// computed on every prompt (a few dozen bytes each end, no allocation); the
// `template` link kind is built on them. Content analysis (reasoning
// elicitation, output requests, task types, topics, mined templates) lives in
// `text` and is sampled per account (see KeyExtractor). Knows nothing about
// accounts.
#pragma once

#include <cstdint>
#include <string_view>

namespace moat::features {

inline constexpr int kSignatureChars = 40;

struct PromptScan {
  uint64_t prefix_hash = 0;  // first kSignatureChars normalised characters
  uint64_t suffix_hash = 0;  // last kSignatureChars normalised characters
};

PromptScan ScanPrompt(std::string_view prompt);

}  // namespace moat::features
