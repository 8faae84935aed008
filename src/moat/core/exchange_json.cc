#include "moat/core/exchange_json.h"

#include "moat/core/json_writer.h"
#include "moat/core/time.h"

namespace moat {

void AppendExchangeJson(const Exchange& x, std::string& out) {
  JsonWriter w(out);
  std::string ts;
  w.BeginObject();
  w.Key("ts");
  AppendRfc3339(x.ts, ts);
  w.String(ts);
  w.Key("account_id");
  w.String(x.account_id);
  const auto str = [&](Field f, const char* key, const std::string& v) {
    if (x.Has(f)) {
      w.Key(key);
      w.String(v);
    }
  };
  const auto num = [&](Field f, const char* key, int64_t v) {
    if (x.Has(f)) {
      w.Key(key);
      w.Int(v);
    }
  };
  str(Field::kRequestId, "request_id", x.request_id);
  str(Field::kOrgId, "org_id", x.org_id);
  str(Field::kApiKeyId, "api_key_id", x.api_key_id);
  str(Field::kIp, "ip", x.ip);
  num(Field::kAsn, "asn", x.asn);
  str(Field::kCountry, "country", x.country);
  str(Field::kUserAgent, "user_agent", x.user_agent);
  str(Field::kTlsFingerprint, "tls_fingerprint", x.tls_fingerprint);
  str(Field::kPaymentFingerprint, "payment_fingerprint", x.payment_fingerprint);
  str(Field::kEmailDomain, "email_domain", x.email_domain);
  if (x.Has(Field::kAccountCreated)) {
    ts.clear();
    AppendRfc3339(x.account_created, ts);
    w.Key("account_created");
    w.String(ts);
  }
  str(Field::kModel, "model", x.model);
  str(Field::kConversationId, "conversation_id", x.conversation_id);
  num(Field::kTurn, "turn", x.turn);
  str(Field::kSystemPrompt, "system_prompt", x.system_prompt);
  str(Field::kPrompt, "prompt", x.prompt);
  num(Field::kInputTokens, "input_tokens", x.input_tokens);
  num(Field::kOutputTokens, "output_tokens", x.output_tokens);
  num(Field::kReasoningTokens, "reasoning_tokens", x.reasoning_tokens);
  if (x.Has(Field::kTemperature)) {
    w.Key("temperature");
    w.Double(x.temperature, 4);
  }
  num(Field::kMaxTokens, "max_tokens", x.max_tokens);
  num(Field::kStatus, "status", x.status);
  w.EndObject();
}

}  // namespace moat
