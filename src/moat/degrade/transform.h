// What a suspected extractor receives: the response JSON (or plain text)
// with its reasoning withheld, its words watermarked, or both. The entry
// point for `moat degrade` and for the server's POST /v1/transform.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "moat/core/status.h"
#include "moat/degrade/keys.h"
#include "moat/degrade/synonyms.h"
#include "moat/degrade/watermark.h"

namespace moat::degrade {

enum class Mode : uint8_t { kWithholdReasoning, kWatermark, kWithholdAndWatermark };

// "withhold-reasoning", "watermark", "withhold+watermark".
Result<Mode> ParseMode(std::string_view name);
std::string_view ModeName(Mode mode);

struct TransformStats {
  uint32_t reasoning_fields = 0;  // reasoning blocks/fields/sections summarised
  uint32_t text_fields = 0;       // answer strings seen
  MarkStats mark;
};

// Immutable after Create; Transform may be called from many threads at once.
class Transformer {
 public:
  // `keys` may be empty for withholding only; watermark modes then fail.
  static Result<Transformer> Create(SynonymTable synonyms, std::optional<KeyRing> keys);
  // Loads the synonym sets and (when `key_file` is not empty) the key file.
  static Result<Transformer> Load(const std::string& synonyms_path, const std::string& key_file);

  // A response body in any of these shapes, everything else copied byte for byte:
  //  - Anthropic Messages: content blocks {"type":"thinking","thinking":..}
  //    (summarised) and {"type":"text","text":..};
  //  - OpenAI Chat Completions: choices[].message.content, with
  //    "reasoning_content" / "reasoning" strings summarised;
  //  - OpenAI Responses: output items {"type":"reasoning"} whose
  //    {"type":"reasoning_text"} parts are summarised, "output_text" parts;
  //  - any answer string holding <think>...</think> or a Reasoning:/Final
  //    answer: section.
  // Errors: not JSON, not an object, or a watermark mode without a key.
  Result<std::string> Transform(std::string_view response_json, Mode mode, TransformStats* stats = nullptr) const;

  // Plain text: an inline reasoning section is withheld, all text marked.
  Result<std::string> TransformText(std::string_view text, Mode mode, TransformStats* stats = nullptr) const;

  const Watermarker& marker() const { return *marker_; }
  const KeyRing* keys() const { return keys_ ? &*keys_ : nullptr; }

 private:
  Transformer() = default;
  // Answer text and reasoning text, after withholding, marked per mode.
  void Answer(std::string_view text, Mode mode, std::string& out, TransformStats& stats) const;
  void Reasoning(std::string_view text, Mode mode, std::string& out, TransformStats& stats) const;

  std::unique_ptr<SynonymTable> synonyms_;  // stable address for marker_
  std::unique_ptr<Watermarker> marker_;
  std::optional<KeyRing> keys_;
  const WatermarkKey* marking_key_ = nullptr;
};

}  // namespace moat::degrade
