// Default lexicons for prompt analysis: reasoning elicitation, requests for
// long or verbatim output, task types and coarse topics, all matched in one
// Hyperscan pass per prompt. Generic behavioural phrases written for moat,
// not taken from any traffic source. Part of `text`, which never knows about
// accounts (topic *breadth* per account is computed by features).
#pragma once

#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "moat/core/status.h"
#include "moat/text/pattern_set.h"

namespace moat::text {

enum class LexiconKind : uint8_t { kReasoning = 0, kOutput = 1, kTask = 2, kTopic = 3 };

enum class TaskType : uint8_t {
  kMath, kCode, kTranslation, kSummarization, kExtraction, kCreativeWriting,
  kQuestionAnswering, kRewriting, kMultipleChoice, kDataGeneration, kRolePlay,
  kCount
};

enum class Topic : uint8_t {
  kPhysics, kChemistry, kBiology, kMedicine, kLaw, kFinance, kEconomics, kHistory,
  kGeography, kProgramming, kMathematics, kPhilosophy, kPsychology, kLiterature,
  kArts, kSports, kPolitics, kReligion, kComputingHardware, kEnvironment, kAstronomy,
  kEngineering, kEducation, kBusiness, kFood, kTravel, kLinguistics, kEntertainment,
  kCount
};

// What one prompt asks for. Bit i of a mask is entry i of that kind (see
// Lexicons::Name); task bits are TaskType values, topic bits Topic values.
struct PromptFeatures {
  uint64_t reasoning_mask = 0;  // reasoning-elicitation phrases matched
  uint64_t output_mask = 0;     // max-output / verbatim requests matched
  uint32_t task_mask = 0;
  uint32_t topic_mask = 0;
};

struct LexiconEntry {
  LexiconKind kind;
  uint32_t bit;  // < 64 for reasoning and output, < 32 for task and topic
  std::string_view name;
  PatternSyntax syntax;
  std::string_view expression;
};

// Immutable once compiled; Analyze is thread-safe (see PatternSet).
class Lexicons {
 public:
  static Result<Lexicons> Compile(std::span<const LexiconEntry> entries);

  // One Hyperscan scan over the scan form (see ToScanForm) of the prompt,
  // raw or normalised: a non-ASCII raw prompt is normalised first (long
  // prompts as PatternSet: first 8 KiB and last 2 KiB). Word lists and
  // phrases are pure literals over the scan form; the few kRegex entries
  // are written against it.
  PromptFeatures Analyze(std::string_view prompt) const;
  // The same for a text that is already Normalize output (any options):
  // skips the ASCII check and the normalisation; for callers that normalise
  // anyway (MinHash, template mining).
  PromptFeatures AnalyzeNormalized(std::string_view normalized) const;

  // Name of a bit ("" when unused); several entries may share a bit.
  std::string_view Name(LexiconKind kind, uint32_t bit) const;
  std::span<const LexiconEntry> entries() const { return entries_; }

 private:
  explicit Lexicons(PatternSet set) : set_(std::move(set)) {}
  PatternSet set_;
  std::vector<LexiconEntry> entries_;
};

// The built-in lexicon data and its compiled form (compiled on first use;
// aborts only if the built-in data does not compile, which a test pins).
std::span<const LexiconEntry> DefaultLexiconEntries();
const Lexicons& DefaultLexicons();

// Shorthand for DefaultLexicons().Analyze(prompt).
inline PromptFeatures Analyze(std::string_view prompt) { return DefaultLexicons().Analyze(prompt); }
// Shorthand for DefaultLexicons().AnalyzeNormalized(normalized).
inline PromptFeatures AnalyzeNormalized(std::string_view normalized) {
  return DefaultLexicons().AnalyzeNormalized(normalized);
}

}  // namespace moat::text
