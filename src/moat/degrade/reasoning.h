// Reasoning withholding: the step-by-step trace is what a distiller wants
// most, so it is replaced by a short summary a user can still follow. The
// final answer and everything around the reasoning stay byte-identical.
#pragma once

#include <string>
#include <string_view>

namespace moat::degrade {

// Sentences (or lines) kept from a trace: its first (what is being worked
// out) and its last (the conclusion), each cut to this many words.
inline constexpr size_t kSummaryWordsPerSentence = 25;

std::string SummarizeReasoning(std::string_view reasoning);

// Text with an inline reasoning section: <think>...</think> (or <thinking>,
// <reasoning>; an unclosed tag runs to the end) or a "Reasoning:" section
// followed by a "Final answer:"/"Answer:" line. Writes the text with the
// section summarised to `out` and returns true; returns false (out
// untouched) when there is no such section.
bool WithholdReasoningInText(std::string_view text, std::string& out);

}  // namespace moat::degrade
