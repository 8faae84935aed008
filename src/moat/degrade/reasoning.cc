#include "moat/degrade/reasoning.h"

#include <cctype>
#include <vector>

namespace moat::degrade {

namespace {

bool IsSpace(char c) { return std::isspace(static_cast<unsigned char>(c)) != 0; }

std::string_view Trim(std::string_view s) {
  while (!s.empty() && IsSpace(s.front())) s.remove_prefix(1);
  while (!s.empty() && IsSpace(s.back())) s.remove_suffix(1);
  return s;
}

std::vector<std::string_view> Sentences(std::string_view text) {
  std::vector<std::string_view> out;
  size_t start = 0;
  for (size_t i = 0; i <= text.size(); ++i) {
    const bool end = i == text.size() || text[i] == '\n' ||
                     ((text[i] == '.' || text[i] == '!' || text[i] == '?') && (i + 1 == text.size() || IsSpace(text[i + 1])));
    if (!end) continue;
    const size_t stop = i < text.size() && text[i] != '\n' ? i + 1 : i;
    const std::string_view s = Trim(text.substr(start, stop - start));
    if (!s.empty()) out.push_back(s);
    start = i + 1;
  }
  return out;
}

void AppendCut(std::string_view sentence, std::string& out) {
  size_t words = 0, i = 0;
  while (i < sentence.size()) {
    while (i < sentence.size() && IsSpace(sentence[i])) ++i;
    if (i == sentence.size()) break;
    if (++words > kSummaryWordsPerSentence) {
      out.append(Trim(sentence.substr(0, i)));
      out.append("...");
      return;
    }
    while (i < sentence.size() && !IsSpace(sentence[i])) ++i;
  }
  out.append(sentence);
}

bool StartsWithNoCase(std::string_view s, std::string_view prefix) {
  if (s.size() < prefix.size()) return false;
  for (size_t i = 0; i < prefix.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(s[i])) != prefix[i]) return false;
  return true;
}

// Keeps the whitespace around `body` and summarises what is between.
void AppendSummarised(std::string_view body, std::string& out) {
  const std::string_view core = Trim(body);
  if (core.empty()) {
    out.append(body);
    return;
  }
  const size_t lead = static_cast<size_t>(core.data() - body.data());
  out.append(body.substr(0, lead));
  out.append(SummarizeReasoning(core));
  out.append(body.substr(lead + core.size()));
}

bool WithholdTagged(std::string_view text, std::string& out) {
  static constexpr std::pair<std::string_view, std::string_view> kTags[] = {
      {"<think>", "</think>"}, {"<thinking>", "</thinking>"}, {"<reasoning>", "</reasoning>"}};
  for (const auto& [open, close] : kTags) {
    const size_t at = text.find(open);
    if (at == std::string_view::npos) continue;
    const size_t body = at + open.size();
    const size_t end = text.find(close, body);
    const size_t body_end = end == std::string_view::npos ? text.size() : end;
    out.append(text.substr(0, body));
    AppendSummarised(text.substr(body, body_end - body), out);
    out.append(text.substr(body_end));
    return true;
  }
  return false;
}

// "Reasoning:" at a line start, then a later line starting "Final answer:"
// or "Answer:". Without the answer line the section's end is unknown and the
// text is left alone.
bool WithholdLabelled(std::string_view text, std::string& out) {
  size_t label = std::string_view::npos;
  for (size_t line = 0; line < text.size();) {
    const std::string_view rest = text.substr(line);
    if (label == std::string_view::npos) {
      if (StartsWithNoCase(rest, "reasoning:")) label = line;
    } else if (StartsWithNoCase(rest, "final answer:") || StartsWithNoCase(rest, "answer:")) {
      const size_t body = label + std::string_view("reasoning:").size();
      out.append(text.substr(0, body));
      AppendSummarised(text.substr(body, line - body), out);
      out.append(text.substr(line));
      return true;
    }
    const size_t eol = text.find('\n', line);
    if (eol == std::string_view::npos) break;
    line = eol + 1;
  }
  return false;
}

}  // namespace

std::string SummarizeReasoning(std::string_view reasoning) {
  const std::vector<std::string_view> sentences = Sentences(reasoning);
  std::string out;
  if (sentences.empty()) return out;
  AppendCut(sentences.front(), out);
  if (sentences.size() > 1) {
    out.push_back(' ');
    AppendCut(sentences.back(), out);
  }
  return out;
}

bool WithholdReasoningInText(std::string_view text, std::string& out) {
  std::string result;
  if (!WithholdTagged(text, result) && !WithholdLabelled(text, result)) return false;
  out = std::move(result);
  return true;
}

}  // namespace moat::degrade
