#include "moat/degrade/transform.h"

#include <algorithm>
#include <vector>

#include <simdjson.h>

#include "moat/core/json_writer.h"
#include "moat/degrade/reasoning.h"

namespace moat::degrade {

namespace od = simdjson::ondemand;

namespace {

bool Withholds(Mode m) { return m != Mode::kWatermark; }
bool Marks(Mode m) { return m != Mode::kWithholdReasoning; }

enum class Role : uint8_t { kNone, kAnswer, kReasoning };

// A string value to rewrite: its byte range (quotes included) in the input.
struct Edit {
  size_t begin = 0;
  size_t end = 0;
  Role role = Role::kNone;
  std::string_view text;  // unescaped, owned by the parser
};

struct Candidate {
  std::string_view key;
  Edit edit;
};

constexpr size_t kMaxDepth = 64;

class Walker {
 public:
  Walker(const char* base, size_t size, std::vector<Edit>& edits) : base_(base), size_(size), edits_(edits) {}

  simdjson::error_code Value(od::value v, size_t depth) {
    if (depth > kMaxDepth) return simdjson::DEPTH_ERROR;
    od::json_type t;
    if (auto e = v.type().get(t)) return e;
    if (t == od::json_type::object) {
      od::object o;
      if (auto e = v.get_object().get(o)) return e;
      return Object(o, depth);
    }
    if (t == od::json_type::array) {
      od::array a;
      if (auto e = v.get_array().get(a)) return e;
      for (auto item : a) {
        od::value iv;
        if (auto e = item.get(iv)) return e;
        if (auto e = Value(iv, depth + 1)) return e;
      }
      return simdjson::SUCCESS;
    }
    return simdjson::SUCCESS;  // scalars: nothing to rewrite
  }

 private:
  simdjson::error_code Object(od::object o, size_t depth) {
    std::string_view type, role;
    std::vector<Candidate> candidates;
    for (auto field : o) {
      std::string_view key;
      if (auto e = field.unescaped_key().get(key)) return e;
      od::value v;
      if (auto e = field.value().get(v)) return e;
      od::json_type t;
      if (auto e = v.type().get(t)) return e;
      if (t != od::json_type::string) {
        if ((t == od::json_type::object || t == od::json_type::array) && !Opaque(key)) {
          if (auto e = Value(v, depth + 1)) return e;
        }
        continue;
      }
      const std::string_view raw = v.raw_json_token();
      std::string_view s;
      if (auto e = v.get_string().get(s)) return e;
      if (key == "type") {
        type = s;
        continue;
      }
      if (key == "role") {
        role = s;
        continue;
      }
      if (key != "text" && key != "thinking" && key != "content" && key != "output_text" &&
          key != "reasoning_content" && key != "reasoning")
        continue;
      const size_t begin = static_cast<size_t>(raw.data() - base_);
      candidates.push_back({key, Edit{begin, StringEnd(begin), Role::kNone, s}});
    }
    // Echoed prompts are not ours to change.
    if (role == "user" || role == "system" || role == "developer" || role == "tool") return simdjson::SUCCESS;
    for (Candidate& c : candidates) {
      c.edit.role = RoleOf(type, c.key);
      if (c.edit.role != Role::kNone) edits_.push_back(c.edit);
    }
    return simdjson::SUCCESS;
  }

  // Tool inputs and call arguments are data for programs: a changed word
  // there changes what the tool does.
  static bool Opaque(std::string_view key) {
    return key == "input" || key == "arguments" || key == "tool_calls" || key == "function_call" ||
           key == "parameters" || key == "metadata" || key == "logprobs";
  }

  static Role RoleOf(std::string_view type, std::string_view key) {
    if (key == "reasoning_content" || key == "reasoning") return Role::kReasoning;
    if (key == "thinking") return type == "thinking" ? Role::kReasoning : Role::kNone;
    if (key == "text") {
      if (type == "reasoning_text") return Role::kReasoning;
      if (type == "text" || type == "output_text" || type == "summary_text") return Role::kAnswer;
      return Role::kNone;
    }
    return Role::kAnswer;  // "content" / "output_text" strings
  }

  // One past the closing quote of the string token starting at `begin`
  // (get_string has already checked that it is closed; the bound is belt
  // and braces).
  size_t StringEnd(size_t begin) const {
    size_t i = begin + 1;
    while (i < size_ && base_[i] != '"') i += base_[i] == '\\' ? 2 : 1;
    return std::min(i + 1, size_);
  }

  const char* base_;
  size_t size_;
  std::vector<Edit>& edits_;
};

}  // namespace

Result<Mode> ParseMode(std::string_view name) {
  if (name == "withhold-reasoning") return Mode::kWithholdReasoning;
  if (name == "watermark") return Mode::kWatermark;
  if (name == "withhold+watermark") return Mode::kWithholdAndWatermark;
  return Status::Error("unknown mode '" + std::string(name) +
                       "' (withhold-reasoning, watermark, withhold+watermark)");
}

std::string_view ModeName(Mode mode) {
  switch (mode) {
    case Mode::kWithholdReasoning: return "withhold-reasoning";
    case Mode::kWatermark: return "watermark";
    case Mode::kWithholdAndWatermark: return "withhold+watermark";
  }
  return "?";
}

Result<Transformer> Transformer::Create(SynonymTable synonyms, std::optional<KeyRing> keys) {
  Transformer t;
  t.synonyms_ = std::make_unique<SynonymTable>(std::move(synonyms));
  t.marker_ = std::make_unique<Watermarker>(*t.synonyms_);
  t.keys_ = std::move(keys);
  if (t.keys_) t.marking_key_ = t.keys_->MarkingKey();
  return t;
}

Result<Transformer> Transformer::Load(const std::string& synonyms_path, const std::string& key_file) {
  auto synonyms = SynonymTable::Load(synonyms_path);
  if (!synonyms.ok()) return synonyms.status();
  std::optional<KeyRing> keys;
  if (!key_file.empty()) {
    auto ring = KeyRing::Load(key_file);
    if (!ring.ok()) return ring.status();
    keys = std::move(ring).value();
  }
  return Create(std::move(synonyms).value(), std::move(keys));
}

void Transformer::Answer(std::string_view text, Mode mode, std::string& out, TransformStats& stats) const {
  ++stats.text_fields;
  std::string withheld;
  if (Withholds(mode) && WithholdReasoningInText(text, withheld)) {
    ++stats.reasoning_fields;
    text = withheld;
  }
  if (Marks(mode)) marker_->Mark(text, *marking_key_, out, &stats.mark);
  else out.append(text);
}

void Transformer::Reasoning(std::string_view text, Mode mode, std::string& out, TransformStats& stats) const {
  std::string summary;
  if (Withholds(mode)) {
    ++stats.reasoning_fields;
    summary = SummarizeReasoning(text);
    text = summary;
  }
  if (Marks(mode)) marker_->Mark(text, *marking_key_, out, &stats.mark);
  else out.append(text);
}

Result<std::string> Transformer::TransformText(std::string_view text, Mode mode, TransformStats* stats) const {
  if (Marks(mode) && marking_key_ == nullptr)
    return Status::Error("mode " + std::string(ModeName(mode)) + " needs a key file with an active key");
  TransformStats local;
  std::string out;
  Answer(text, mode, out, local);
  if (stats != nullptr) *stats = local;
  return out;
}

Result<std::string> Transformer::Transform(std::string_view json, Mode mode, TransformStats* stats) const {
  if (Marks(mode) && marking_key_ == nullptr)
    return Status::Error("mode " + std::string(ModeName(mode)) + " needs a key file with an active key");
  // One parser per thread: it keeps its buffers, so a call allocates only
  // for the output.
  thread_local od::parser parser;
  thread_local std::string padded;
  padded.assign(json);
  padded.append(simdjson::SIMDJSON_PADDING, '\0');
  // On-demand parsing checks only what the walk reads, and the walk skips
  // numbers, literals and opaque values: validate the whole text first, so
  // nothing that is not JSON comes back as if it were (about 1 us per 4 KB).
  thread_local simdjson::dom::parser validator;
  if (auto e = validator.parse(padded.data(), json.size(), false).error())
    return Status::Error(std::string("transform: response is not JSON: ") + simdjson::error_message(e));
  std::vector<Edit> edits;
  od::document doc;
  if (auto e = parser.iterate(padded.data(), json.size(), padded.size()).get(doc))
    return Status::Error(std::string("transform: response is not JSON: ") + simdjson::error_message(e));
  od::value root;
  od::json_type t;
  if (doc.get_value().get(root) || root.type().get(t) || t != od::json_type::object)
    return Status::Error("transform: response is not a JSON object");
  Walker walker(padded.data(), json.size(), edits);
  if (auto e = walker.Value(root, 0))
    return Status::Error(std::string("transform: invalid JSON: ") + simdjson::error_message(e));
  // The walk consumed the whole object: anything still ahead is trailing text.
  if (const char* rest = nullptr; !doc.current_location().get(rest))
    return Status::Error("transform: trailing text after the JSON object");

  // Nested objects report their strings before the enclosing object's.
  std::sort(edits.begin(), edits.end(), [](const Edit& a, const Edit& b) { return a.begin < b.begin; });
  TransformStats local;
  std::string out, text;
  out.reserve(json.size() + json.size() / 8);
  size_t copied = 0;
  for (const Edit& e : edits) {
    text.clear();
    if (e.role == Role::kReasoning) Reasoning(e.text, mode, text, local);
    else Answer(e.text, mode, text, local);
    if (text == e.text) continue;  // keep the original escaping
    out.append(json.substr(copied, e.begin - copied));
    AppendJsonString(text, out);
    copied = e.end;
  }
  out.append(json.substr(copied));
  if (stats != nullptr) *stats = local;
  return out;
}

}  // namespace moat::degrade
