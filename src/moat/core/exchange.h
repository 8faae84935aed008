// The exchange record of spec/exchange-log.md, version 1: one request/response
// seen by the gateway. Lowest layer: depends on nothing else in moat.
#pragma once

#include <cstdint>
#include <string>

namespace moat {

// Event time: microseconds since the Unix epoch, UTC.
using EventTime = int64_t;

// Which optional fields a record carried. Absent and JSON null are the same.
enum class Field : uint32_t {
  kRequestId = 1u << 0,
  kOrgId = 1u << 1,
  kApiKeyId = 1u << 2,
  kIp = 1u << 3,
  kAsn = 1u << 4,
  kCountry = 1u << 5,
  kUserAgent = 1u << 6,
  kTlsFingerprint = 1u << 7,
  kPaymentFingerprint = 1u << 8,
  kEmailDomain = 1u << 9,
  kAccountCreated = 1u << 10,
  kModel = 1u << 11,
  kConversationId = 1u << 12,
  kTurn = 1u << 13,
  kSystemPrompt = 1u << 14,
  kPrompt = 1u << 15,
  kInputTokens = 1u << 16,
  kOutputTokens = 1u << 17,
  kReasoningTokens = 1u << 18,
  kTemperature = 1u << 19,
  kMaxTokens = 1u << 20,
  kStatus = 1u << 21,
};

// Owns its strings so it can wait in the reorder buffer; a decoder reuses one
// instance per line so string capacity is recycled on the hot path.
struct Exchange {
  EventTime ts = 0;
  std::string account_id;
  std::string request_id;
  std::string org_id;
  std::string api_key_id;
  std::string ip;
  int64_t asn = 0;
  std::string country;
  std::string user_agent;
  std::string tls_fingerprint;
  std::string payment_fingerprint;
  std::string email_domain;
  EventTime account_created = 0;
  std::string model;
  std::string conversation_id;
  int64_t turn = 0;
  std::string system_prompt;
  std::string prompt;
  int64_t input_tokens = 0;
  int64_t output_tokens = 0;
  int64_t reasoning_tokens = 0;
  double temperature = 0.0;
  int64_t max_tokens = 0;
  int64_t status = 0;
  uint32_t present = 0;  // bit set of Field

  bool Has(Field f) const { return (present & static_cast<uint32_t>(f)) != 0; }
  void Set(Field f) { present |= static_cast<uint32_t>(f); }
  // Resets every field but keeps string capacity.
  void Clear();
};

}  // namespace moat
