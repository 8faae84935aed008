#include "moat/features/prompt_scan.h"

#include <algorithm>
#include <array>
#include <cstdint>

#include <xxhash.h>

namespace moat::features {
namespace {

// Byte -> normalised character for template signatures: lowercase, every
// number '0' (so "problem 17" and "problem 342" share a signature), every
// whitespace ' '; 0 marks whitespace so runs collapse.
constexpr std::array<char, 256> MakeNorm() {
  std::array<char, 256> n{};
  for (int b = 0; b < 256; ++b) {
    char v = static_cast<char>(b);
    if (b >= 'A' && b <= 'Z') v = static_cast<char>(b - 'A' + 'a');
    else if (b >= '0' && b <= '9') v = '0';
    else if (b == ' ' || b == '\t' || b == '\n' || b == '\r') v = 0;
    n[b] = v;
  }
  return n;
}
constexpr std::array<char, 256> kNorm = MakeNorm();

constexpr uint64_t kPrefixSeed = 0x9e3779b97f4a7c15ULL;
constexpr uint64_t kSuffixSeed = 0xc2b2ae3d27d4eb4fULL;

// Normalises up to `max_out` characters of `in` into `out` (collapsing
// whitespace, trimming leading whitespace). Returns characters written.
int Normalise(const unsigned char* in, size_t n, char* out, int max_out) {
  int k = 0;
  bool pending_space = false;
  for (size_t i = 0; i < n && k < max_out; ++i) {
    const char c = kNorm[in[i]];
    if (c == 0) {
      pending_space = k > 0;
      continue;
    }
    if (c == '0' && !pending_space && k > 0 && out[k - 1] == '0') continue;  // a number is one '0'
    if (pending_space) {
      out[k++] = ' ';
      pending_space = false;
      if (k == max_out) break;
    }
    out[k++] = c;
  }
  return k;
}

}  // namespace

PromptScan ScanPrompt(std::string_view prompt) {
  PromptScan out;
  const auto* p = reinterpret_cast<const unsigned char*>(prompt.data());
  const size_t n = prompt.size();

  char buf[kSignatureChars] = {};
  int k = Normalise(p, n, buf, kSignatureChars);
  out.prefix_hash = XXH3_64bits_withSeed(buf, static_cast<size_t>(k), kPrefixSeed);
  // Closing characters: normalise a raw window a little wider than the
  // signature, keep its last kSignatureChars.
  constexpr size_t kWindow = 2 * kSignatureChars;
  const size_t start = n > kWindow ? n - kWindow : 0;
  char wbuf[kWindow] = {};
  k = Normalise(p + start, n - start, wbuf, static_cast<int>(kWindow));
  const int from = k > kSignatureChars ? k - kSignatureChars : 0;
  out.suffix_hash = XXH3_64bits_withSeed(wbuf + from, static_cast<size_t>(k - from), kSuffixSeed);
  return out;
}

}  // namespace moat::features
