#include "moat/features/prompt_scan.h"

#include <algorithm>
#include <array>
#include <cstdint>
#include <deque>

#include <xxhash.h>

#include "moat/core/check.h"

namespace moat::features {
namespace {

// Generic phrases people (and scripts) use to ask a model to show its
// reasoning. Kept behavioural and short; not taken from any traffic source.
constexpr std::array<std::string_view, 27> kPhrases = {
    "step by step",        "show your reasoning", "explain your reasoning",
    "chain of thought",    "think carefully",     "full reasoning",
    "reasoning process",   "show your work",      "show all steps",
    "show every step",     "explain each step",   "thought process",
    "detailed reasoning",  "reason through",      "walk me through",
    "think it through",    "your reasoning",      "reasoning steps",
    "one step at a time",  "each step",           "every step",
    "thinking it through", "think through",       "line of reasoning",
    "reasoning trace",     "intermediate steps",  "work it out",
};

constexpr uint8_t kSpace = 27;
constexpr uint8_t kOther = 28;

// Byte -> DFA symbol: letters case-folded, digits one class, whitespace and
// hyphens one class (collapsed by the automaton), everything else one class.
constexpr std::array<uint8_t, 256> MakeClasses() {
  std::array<uint8_t, 256> c{};
  for (int b = 0; b < 256; ++b) {
    uint8_t v = kOther;
    if (b >= 'a' && b <= 'z') v = static_cast<uint8_t>(b - 'a');
    else if (b >= 'A' && b <= 'Z') v = static_cast<uint8_t>(b - 'A');
    else if (b >= '0' && b <= '9') v = 26;
    else if (b == ' ' || b == '\t' || b == '\n' || b == '\r' || b == '-') v = kSpace;
    c[b] = v;
  }
  return c;
}
constexpr std::array<uint8_t, 256> kClass = MakeClasses();

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

std::span<const std::string_view> ReasoningElicitationPhrases() { return kPhrases; }

PromptScanner::PromptScanner() {
  // Aho-Corasick trie over the reduced alphabet, then completed to a DFA.
  std::vector<std::array<int, kAlphabet>> go(1);
  go[0].fill(-1);
  std::vector<uint8_t> accept(1, 0);
  std::vector<uint8_t> last_symbol(1, kOther);
  for (std::string_view p : kPhrases) {
    max_phrase_ = std::max(max_phrase_, p.size());
    int s = 0;
    for (unsigned char ch : p) {
      const uint8_t sym = kClass[ch];
      if (go[s][sym] < 0) {
        go[s][sym] = static_cast<int>(go.size());
        go.emplace_back().fill(-1);
        accept.push_back(0);
        last_symbol.push_back(sym);
      }
      s = go[s][sym];
    }
    accept[s] = 1;
  }
  const size_t n = go.size();
  MOAT_CHECK(n < 65535);
  next_.assign(n * kStride, 0);
  std::vector<int> fail(n, 0);
  std::deque<int> queue;
  for (int a = 0; a < kAlphabet; ++a) {
    const int t = go[0][a];
    if (t >= 0) {
      fail[t] = 0;
      next_[a] = static_cast<uint16_t>(t);
      queue.push_back(t);
    } else {
      next_[a] = 0;
    }
  }
  while (!queue.empty()) {
    const int s = queue.front();
    queue.pop_front();
    accept[s] |= accept[fail[s]];
    for (int a = 0; a < kAlphabet; ++a) {
      const int t = go[s][a];
      if (t >= 0) {
        fail[t] = next_[fail[s] * kStride + a];
        next_[s * kStride + a] = static_cast<uint16_t>(t);
        queue.push_back(t);
      } else {
        next_[s * kStride + a] = next_[fail[s] * kStride + a];
      }
    }
  }
  // Collapse whitespace runs: a state reached by a space stays put on more
  // spaces, exactly as if the prompt had one space there.
  for (size_t s = 1; s < n; ++s)
    if (last_symbol[s] == kSpace) next_[s * kStride + kSpace] = static_cast<uint16_t>(s);
  accept_ = std::move(accept);
}

bool PromptScanner::Match(const unsigned char* p, size_t n) const {
  const uint16_t* next = next_.data();
  const uint8_t* accept = accept_.data();
  // A table walk is one dependent load per byte; four independent walks over
  // four slices of the prompt keep the core busy. Each slice starts early by
  // twice the longest phrase, so a phrase crossing a slice border is still
  // seen whole (whitespace runs longer than that are the only miss).
  constexpr size_t kWays = 4;
  const size_t overlap = 2 * max_phrase_;
  if (n < 4 * overlap) {
    uint32_t s = 0;
    uint8_t hit = 0;
    for (size_t i = 0; i < n; ++i) {
      s = next[(s << 5) + kClass[p[i]]];
      hit |= accept[s];
    }
    return hit != 0;
  }
  const size_t slice = (n + kWays - 1) / kWays;
  size_t pos[kWays], end[kWays];
  uint32_t st[kWays] = {0, 0, 0, 0};
  for (size_t w = 0; w < kWays; ++w) {
    pos[w] = w == 0 ? 0 : w * slice - overlap;
    end[w] = std::min(n, (w + 1) * slice);
  }
  uint8_t hit = 0;
  // Walk all four in lock-step for as long as every slice has bytes left.
  size_t common = SIZE_MAX;
  for (size_t w = 0; w < kWays; ++w) common = std::min(common, end[w] - pos[w]);
  for (size_t i = 0; i < common; ++i) {
    st[0] = next[(st[0] << 5) + kClass[p[pos[0] + i]]];
    st[1] = next[(st[1] << 5) + kClass[p[pos[1] + i]]];
    st[2] = next[(st[2] << 5) + kClass[p[pos[2] + i]]];
    st[3] = next[(st[3] << 5) + kClass[p[pos[3] + i]]];
    hit |= accept[st[0]] | accept[st[1]] | accept[st[2]] | accept[st[3]];
  }
  for (size_t w = 0; w < kWays; ++w) {
    uint32_t s = st[w];
    for (size_t i = pos[w] + common; i < end[w]; ++i) {
      s = next[(s << 5) + kClass[p[i]]];
      hit |= accept[s];
    }
  }
  return hit != 0;
}

PromptScan PromptScanner::Scan(std::string_view prompt) const {
  PromptScan out;
  const auto* p = reinterpret_cast<const unsigned char*>(prompt.data());
  const size_t n = prompt.size();
  out.elicits_reasoning = Match(p, n);
  out.templatable = n >= 2 * kSignatureChars;

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
