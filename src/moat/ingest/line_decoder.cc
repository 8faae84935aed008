#include "moat/ingest/line_decoder.h"

#include <simdjson.h>

#include <cstring>
#include <optional>
#include <utility>

#include "moat/core/time.h"

namespace moat::ingest {
namespace {

namespace od = simdjson::ondemand;

static_assert(kLinePadding >= simdjson::SIMDJSON_PADDING, "sources must pad lines for simdjson");
static_assert(ToIndex(LineOutcome::kLineTooLong) + 1 == kOutcomeCount);

enum class Kind : uint8_t { kTs, kAccountId, kString, kInt, kTime, kDouble };

struct FieldSpec {
  std::string_view name;
  Kind kind;
  Field bit;
  std::string Exchange::*str = nullptr;
  int64_t Exchange::*i64 = nullptr;
};

// clang-format off
constexpr FieldSpec kTs{"ts", Kind::kTs, Field{0}};
constexpr FieldSpec kAccountId{"account_id", Kind::kAccountId, Field{0}};
constexpr FieldSpec kRequestId{"request_id", Kind::kString, Field::kRequestId, &Exchange::request_id};
constexpr FieldSpec kOrgId{"org_id", Kind::kString, Field::kOrgId, &Exchange::org_id};
constexpr FieldSpec kApiKeyId{"api_key_id", Kind::kString, Field::kApiKeyId, &Exchange::api_key_id};
constexpr FieldSpec kIp{"ip", Kind::kString, Field::kIp, &Exchange::ip};
constexpr FieldSpec kAsn{"asn", Kind::kInt, Field::kAsn, nullptr, &Exchange::asn};
constexpr FieldSpec kCountry{"country", Kind::kString, Field::kCountry, &Exchange::country};
constexpr FieldSpec kUserAgent{"user_agent", Kind::kString, Field::kUserAgent, &Exchange::user_agent};
constexpr FieldSpec kTlsFingerprint{"tls_fingerprint", Kind::kString, Field::kTlsFingerprint, &Exchange::tls_fingerprint};
constexpr FieldSpec kPaymentFingerprint{"payment_fingerprint", Kind::kString, Field::kPaymentFingerprint, &Exchange::payment_fingerprint};
constexpr FieldSpec kEmailDomain{"email_domain", Kind::kString, Field::kEmailDomain, &Exchange::email_domain};
constexpr FieldSpec kAccountCreated{"account_created", Kind::kTime, Field::kAccountCreated, nullptr, &Exchange::account_created};
constexpr FieldSpec kModel{"model", Kind::kString, Field::kModel, &Exchange::model};
constexpr FieldSpec kConversationId{"conversation_id", Kind::kString, Field::kConversationId, &Exchange::conversation_id};
constexpr FieldSpec kTurn{"turn", Kind::kInt, Field::kTurn, nullptr, &Exchange::turn};
constexpr FieldSpec kSystemPrompt{"system_prompt", Kind::kString, Field::kSystemPrompt, &Exchange::system_prompt};
constexpr FieldSpec kPrompt{"prompt", Kind::kString, Field::kPrompt, &Exchange::prompt};
constexpr FieldSpec kInputTokens{"input_tokens", Kind::kInt, Field::kInputTokens, nullptr, &Exchange::input_tokens};
constexpr FieldSpec kOutputTokens{"output_tokens", Kind::kInt, Field::kOutputTokens, nullptr, &Exchange::output_tokens};
constexpr FieldSpec kReasoningTokens{"reasoning_tokens", Kind::kInt, Field::kReasoningTokens, nullptr, &Exchange::reasoning_tokens};
constexpr FieldSpec kTemperature{"temperature", Kind::kDouble, Field::kTemperature};
constexpr FieldSpec kMaxTokens{"max_tokens", Kind::kInt, Field::kMaxTokens, nullptr, &Exchange::max_tokens};
constexpr FieldSpec kStatus{"status", Kind::kInt, Field::kStatus, nullptr, &Exchange::status};
// clang-format on

inline bool Is(std::string_view key, const FieldSpec& spec) {
  // Lengths already match in Lookup; compare the rest of the bytes.
  return std::memcmp(key.data(), spec.name.data(), key.size()) == 0;
}

// Dispatch on length, then first byte, then one memcmp: no chain of compares.
const FieldSpec* Lookup(std::string_view key) {
  const auto one = [&](const FieldSpec& s) { return Is(key, s) ? &s : nullptr; };
  switch (key.size()) {
    case 2:
      if (key[0] == 't') return one(kTs);
      if (key[0] == 'i') return one(kIp);
      return nullptr;
    case 3: return one(kAsn);
    case 4: return one(kTurn);
    case 5: return one(kModel);
    case 6:
      switch (key[0]) {
        case 'o': return one(kOrgId);
        case 'p': return one(kPrompt);
        case 's': return one(kStatus);
      }
      return nullptr;
    case 7: return one(kCountry);
    case 10:
      switch (key[0]) {
        case 'a': return key[1] == 'c' ? one(kAccountId) : one(kApiKeyId);
        case 'r': return one(kRequestId);
        case 'u': return one(kUserAgent);
        case 'm': return one(kMaxTokens);
      }
      return nullptr;
    case 11: return one(kTemperature);
    case 12:
      if (key[0] == 'e') return one(kEmailDomain);
      if (key[0] == 'i') return one(kInputTokens);
      return nullptr;
    case 13:
      if (key[0] == 'o') return one(kOutputTokens);
      if (key[0] == 's') return one(kSystemPrompt);
      return nullptr;
    case 15:
      switch (key[0]) {
        case 'c': return one(kConversationId);
        case 't': return one(kTlsFingerprint);
        case 'a': return one(kAccountCreated);
      }
      return nullptr;
    case 16: return one(kReasoningTokens);
    case 19: return one(kPaymentFingerprint);
  }
  return nullptr;
}

bool IsJsonSpace(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

std::string_view TrimRight(std::string_view s) {
  while (!s.empty() && IsJsonSpace(s.back())) s.remove_suffix(1);
  return s;
}

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

// RFC 8259 number grammar. simdjson On-Demand only checks numbers it is asked
// to convert, so this tells "not JSON" apart from "not representable".
bool IsJsonNumber(std::string_view s) {
  size_t i = 0;
  if (i < s.size() && s[i] == '-') ++i;
  if (i >= s.size()) return false;
  if (s[i] == '0') {
    ++i;
  } else if (s[i] >= '1' && s[i] <= '9') {
    while (i < s.size() && IsDigit(s[i])) ++i;
  } else {
    return false;
  }
  if (i < s.size() && s[i] == '.') {
    ++i;
    if (i >= s.size() || !IsDigit(s[i])) return false;
    while (i < s.size() && IsDigit(s[i])) ++i;
  }
  if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    ++i;
    if (i < s.size() && (s[i] == '+' || s[i] == '-')) ++i;
    if (i >= s.size() || !IsDigit(s[i])) return false;
    while (i < s.size() && IsDigit(s[i])) ++i;
  }
  return i == s.size();
}

// RFC 3339 can only spell years 0000-9999; an offset can push a parsed time
// just outside, which the serialiser could not write back.
constexpr EventTime kMinTime = -62167219200LL * kMicrosPerSecond;  // 0000-01-01T00:00:00Z
constexpr EventTime kMaxTime = 253402300800LL * kMicrosPerSecond;  // 10000-01-01T00:00:00Z

std::optional<EventTime> ParseTime(std::string_view s) {
  const std::optional<EventTime> t = ParseRfc3339(s);
  if (!t || *t < kMinTime || *t >= kMaxTime) return std::nullopt;
  return t;
}

constexpr int kMaxDepth = 1024;

// Walks a value we do not keep, so that a line with broken JSON inside an
// unknown field is still rejected as invalid_json.
bool ValidateValue(od::value v, int depth) {
  if (depth > kMaxDepth) return false;
  od::json_type type;
  if (v.type().get(type)) return false;
  switch (type) {
    case od::json_type::object: {
      od::object obj;
      if (v.get_object().get(obj)) return false;
      for (auto field : obj) {
        std::string_view key;
        if (field.unescaped_key().get(key)) return false;
        od::value inner;
        if (field.value().get(inner)) return false;
        if (!ValidateValue(inner, depth + 1)) return false;
      }
      return true;
    }
    case od::json_type::array: {
      od::array arr;
      if (v.get_array().get(arr)) return false;
      for (auto element : arr) {
        od::value inner;
        if (element.get(inner)) return false;
        if (!ValidateValue(inner, depth + 1)) return false;
      }
      return true;
    }
    case od::json_type::string: {
      std::string_view s;
      return !v.get_string().get(s);
    }
    case od::json_type::number: {
      return IsJsonNumber(TrimRight(v.raw_json_token()));
    }
    case od::json_type::boolean: {
      bool b;
      return !v.get_bool().get(b);
    }
    case od::json_type::null: {
      bool is_null = false;
      return !v.is_null().get(is_null) && is_null;
    }
  }
  return false;
}

}  // namespace

std::string_view OutcomeCode(LineOutcome outcome) {
  switch (outcome) {
    case LineOutcome::kAccepted: return "accepted";
    case LineOutcome::kEmptyLine: return "empty_line";
    case LineOutcome::kInvalidJson: return "invalid_json";
    case LineOutcome::kInvalidUtf8: return "invalid_utf8";
    case LineOutcome::kNotAnObject: return "not_an_object";
    case LineOutcome::kMissingTs: return "missing_ts";
    case LineOutcome::kMissingAccountId: return "missing_account_id";
    case LineOutcome::kBadTimestamp: return "bad_timestamp";
    case LineOutcome::kWrongType: return "wrong_type";
    case LineOutcome::kLineTooLong: return "line_too_long";
  }
  return "unknown";
}

struct LineDecoder::Impl {
  od::parser parser;
};

LineDecoder::LineDecoder(size_t max_line_bytes)
    : impl_(std::make_unique<Impl>()), max_line_bytes_(max_line_bytes) {}
LineDecoder::~LineDecoder() = default;
LineDecoder::LineDecoder(LineDecoder&&) noexcept = default;
LineDecoder& LineDecoder::operator=(LineDecoder&&) noexcept = default;

LineOutcome LineDecoder::Decode(std::string_view line, Exchange& out) {
  out.Clear();
  field_ = {};
  if (line.size() > max_line_bytes_) return LineOutcome::kLineTooLong;
  {
    size_t i = 0;
    while (i < line.size() && IsJsonSpace(line[i])) ++i;
    if (i == line.size()) return LineOutcome::kEmptyLine;
  }

  const auto structural = [](simdjson::error_code e) {
    return e == simdjson::UTF8_ERROR ? LineOutcome::kInvalidUtf8 : LineOutcome::kInvalidJson;
  };

  od::document doc;
  if (auto e = impl_->parser
                   .iterate(simdjson::padded_string_view(line.data(), line.size(),
                                                         line.size() + kLinePadding))
                   .get(doc)) {
    return structural(e);
  }
  od::json_type root_type;
  if (auto e = doc.type().get(root_type)) return structural(e);
  if (root_type != od::json_type::object) {
    // Still make sure the whole line is one valid JSON value.
    od::value v;
    bool valid = false;
    if (root_type == od::json_type::array) {
      od::array arr;
      valid = !doc.get_array().get(arr);
      if (valid) {
        for (auto element : arr) {
          if (element.get(v) || !ValidateValue(v, 1)) {
            valid = false;
            break;
          }
        }
      }
    } else {
      std::string_view raw;
      switch (root_type) {
        case od::json_type::string: valid = !doc.get_string().get(raw); break;
        case od::json_type::number:
          valid = !doc.raw_json_token().get(raw) && IsJsonNumber(TrimRight(raw));
          break;
        case od::json_type::boolean: {
          bool b;
          valid = !doc.get_bool().get(b);
          break;
        }
        case od::json_type::null: {
          bool n = false;
          valid = !doc.is_null().get(n) && n;
          break;
        }
        default: break;
      }
    }
    if (valid && root_type == od::json_type::array) {
      const char* loc;
      valid = doc.current_location().get(loc) == simdjson::OUT_OF_BOUNDS;
    }
    return valid ? LineOutcome::kNotAnObject : LineOutcome::kInvalidJson;
  }

  od::object obj;
  if (auto e = doc.get_object().get(obj)) return structural(e);

  // The first field problem is remembered; parsing goes on so that broken
  // JSON later in the line still wins.
  LineOutcome field_problem = LineOutcome::kAccepted;
  std::string_view problem_field;
  const auto problem = [&](LineOutcome o, std::string_view name) {
    if (field_problem == LineOutcome::kAccepted) {
      field_problem = o;
      problem_field = name;
    }
  };
  bool have_ts = false;
  bool have_account = false;

  for (auto field_result : obj) {
    od::field field;
    if (auto e = std::move(field_result).get(field)) return structural(e);
    std::string_view key;
    if (auto e = field.unescaped_key().get(key)) return structural(e);
    od::value v = field.value();
    const FieldSpec* spec = Lookup(key);
    if (spec == nullptr) {
      if (!ValidateValue(v, 1)) return LineOutcome::kInvalidJson;
      continue;
    }
    od::json_type type;
    if (auto e = v.type().get(type)) return structural(e);

    if (type == od::json_type::null) {
      bool is_null = false;
      if (v.is_null().get(is_null) || !is_null) return LineOutcome::kInvalidJson;
      // Null is absent; for a repeated key the last one wins, null included.
      switch (spec->kind) {
        case Kind::kTs: have_ts = false; break;
        case Kind::kAccountId: have_account = false; out.account_id.clear(); break;
        default: out.present &= ~static_cast<uint32_t>(spec->bit); break;
      }
      continue;
    }

    const bool want_string = spec->kind == Kind::kTs || spec->kind == Kind::kAccountId ||
                             spec->kind == Kind::kString || spec->kind == Kind::kTime;
    const bool want_number = spec->kind == Kind::kInt || spec->kind == Kind::kDouble;
    if ((want_string && type != od::json_type::string) ||
        (want_number && type != od::json_type::number)) {
      if (!ValidateValue(v, 1)) return LineOutcome::kInvalidJson;
      problem(LineOutcome::kWrongType, spec->name);
      continue;
    }

    if (want_string) {
      std::string_view s;
      if (auto e = v.get_string().get(s)) return structural(e);
      switch (spec->kind) {
        case Kind::kTs: {
          const std::optional<EventTime> t = ParseTime(s);
          if (!t) {
            problem(LineOutcome::kBadTimestamp, spec->name);
            continue;
          }
          out.ts = *t;
          have_ts = true;
          break;
        }
        case Kind::kAccountId:
          out.account_id.assign(s.data(), s.size());
          have_account = true;
          break;
        case Kind::kTime: {
          const std::optional<EventTime> t = ParseTime(s);
          if (!t) {
            problem(LineOutcome::kBadTimestamp, spec->name);
            continue;
          }
          out.*(spec->i64) = *t;
          out.Set(spec->bit);
          break;
        }
        default:
          (out.*(spec->str)).assign(s.data(), s.size());
          out.Set(spec->bit);
          break;
      }
      continue;
    }

    // A number: check the grammar ourselves, then convert.
    if (!IsJsonNumber(TrimRight(v.raw_json_token()))) return LineOutcome::kInvalidJson;
    if (spec->kind == Kind::kInt) {
      int64_t n;
      if (v.get_int64().get(n)) {
        problem(LineOutcome::kWrongType, spec->name);  // fraction, exponent or beyond int64
        continue;
      }
      out.*(spec->i64) = n;
    } else {
      double d;
      if (v.get_double().get(d)) {
        problem(LineOutcome::kWrongType, spec->name);  // beyond double range
        continue;
      }
      out.temperature = d;
    }
    out.Set(spec->bit);
  }

  // Exactly one value on the line: `{...} x` is not JSON Lines.
  const char* loc;
  if (doc.current_location().get(loc) != simdjson::OUT_OF_BOUNDS) return LineOutcome::kInvalidJson;

  if (field_problem != LineOutcome::kAccepted) {
    field_ = problem_field;
    return field_problem;
  }
  if (!have_ts) {
    field_ = kTs.name;
    return LineOutcome::kMissingTs;
  }
  if (!have_account || out.account_id.empty()) {
    field_ = kAccountId.name;
    return LineOutcome::kMissingAccountId;
  }
  return LineOutcome::kAccepted;
}

}  // namespace moat::ingest
