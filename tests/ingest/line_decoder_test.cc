#include "moat/ingest/line_decoder.h"

#include <gtest/gtest.h>

#include <string>

#include "moat/core/exchange_json.h"
#include "moat/core/time.h"

namespace moat::ingest {
namespace {

// Decodes `line` from a buffer with the padding sources guarantee.
struct Harness {
  LineDecoder decoder;
  Exchange x;
  std::string buf;
  explicit Harness(size_t max = kDefaultMaxLineBytes) : decoder(max) {}
  LineOutcome Decode(std::string_view line) {
    buf.assign(line);
    buf.append(kLinePadding, '\0');
    return decoder.Decode(std::string_view(buf.data(), line.size()), x);
  }
};

constexpr std::string_view kMin = R"({"ts":"2026-02-03T14:05:07.123Z","account_id":"acct_1"})";

TEST(LineDecoder, AcceptsMinimal) {
  Harness h;
  ASSERT_EQ(h.Decode(kMin), LineOutcome::kAccepted);
  EXPECT_EQ(h.x.ts, *ParseRfc3339("2026-02-03T14:05:07.123Z"));
  EXPECT_EQ(h.x.account_id, "acct_1");
  EXPECT_EQ(h.x.present, 0u);
}

struct Case {
  std::string line;
  LineOutcome outcome;
  std::string field;
};

TEST(LineDecoder, EveryOutcome) {
  const std::string ok_head = R"({"ts":"2026-02-03T14:05:07Z","account_id":"a")";
  const Case cases[] = {
      {"", LineOutcome::kEmptyLine, ""},
      {" \t \r", LineOutcome::kEmptyLine, ""},
      {"{", LineOutcome::kInvalidJson, ""},
      {"not json", LineOutcome::kInvalidJson, ""},
      {ok_head + "} x", LineOutcome::kInvalidJson, ""},
      {ok_head + "}}", LineOutcome::kInvalidJson, ""},
      {ok_head + "} {}", LineOutcome::kInvalidJson, ""},
      {ok_head + ",\"extra\":[1,2,}", LineOutcome::kInvalidJson, ""},
      {ok_head + ",\"extra\":tru}", LineOutcome::kInvalidJson, ""},
      {ok_head + ",\"extra\":01}", LineOutcome::kInvalidJson, ""},
      {ok_head + ",\"asn\":01}", LineOutcome::kInvalidJson, ""},
      {ok_head + ",\"prompt\":\"bad \\x escape\"}", LineOutcome::kInvalidJson, ""},
      {ok_head + ",\"prompt\":\"ab\xff\"}", LineOutcome::kInvalidUtf8, ""},
      {"[1,2]", LineOutcome::kNotAnObject, ""},
      {"\"text\"", LineOutcome::kNotAnObject, ""},
      {"42", LineOutcome::kNotAnObject, ""},
      {"null", LineOutcome::kNotAnObject, ""},
      {R"({"account_id":"a"})", LineOutcome::kMissingTs, "ts"},
      {R"({"ts":null,"account_id":"a"})", LineOutcome::kMissingTs, "ts"},
      {R"({"ts":"2026-02-03T14:05:07Z"})", LineOutcome::kMissingAccountId, "account_id"},
      {R"({"ts":"2026-02-03T14:05:07Z","account_id":""})", LineOutcome::kMissingAccountId,
       "account_id"},
      {R"({"ts":"2026-02-03T14:05:07Z","account_id":null})", LineOutcome::kMissingAccountId,
       "account_id"},
      {R"({"ts":"yesterday","account_id":"a"})", LineOutcome::kBadTimestamp, "ts"},
      {R"({"ts":"2026-02-30T00:00:00Z","account_id":"a"})", LineOutcome::kBadTimestamp, "ts"},
      {R"({"ts":"0000-01-01T00:00:00+01:00","account_id":"a"})", LineOutcome::kBadTimestamp,
       "ts"},
      {ok_head + R"(,"account_created":"2026-13-01T00:00:00Z"})", LineOutcome::kBadTimestamp,
       "account_created"},
      {R"({"ts":1770127507,"account_id":"a"})", LineOutcome::kWrongType, "ts"},
      {R"({"ts":"2026-02-03T14:05:07Z","account_id":7})", LineOutcome::kWrongType, "account_id"},
      {ok_head + R"(,"asn":"x"})", LineOutcome::kWrongType, "asn"},
      {ok_head + R"(,"turn":1.5})", LineOutcome::kWrongType, "turn"},
      {ok_head + R"(,"turn":1.0})", LineOutcome::kWrongType, "turn"},
      {ok_head + R"(,"turn":1e2})", LineOutcome::kWrongType, "turn"},
      {ok_head + R"(,"input_tokens":99999999999999999999})", LineOutcome::kWrongType,
       "input_tokens"},
      {ok_head + R"(,"temperature":"hot"})", LineOutcome::kWrongType, "temperature"},
      {ok_head + R"(,"temperature":1e400})", LineOutcome::kWrongType, "temperature"},
      {ok_head + R"(,"prompt":["a"]})", LineOutcome::kWrongType, "prompt"},
      {ok_head + R"(,"ip":true})", LineOutcome::kWrongType, "ip"},
      {ok_head + R"(,"status":{"code":200}})", LineOutcome::kWrongType, "status"},
      // A field problem loses to broken JSON later in the line.
      {ok_head + R"(,"asn":"x",)", LineOutcome::kInvalidJson, ""},
  };
  Harness h;
  for (const Case& c : cases) {
    SCOPED_TRACE(c.line);
    EXPECT_EQ(h.Decode(c.line), c.outcome) << OutcomeCode(h.Decode(c.line));
    EXPECT_EQ(h.decoder.field(), c.field);
  }
  Harness small(16);
  EXPECT_EQ(small.Decode(kMin), LineOutcome::kLineTooLong);
}

TEST(LineDecoder, OutcomeCodesAreStable) {
  const char* expected[] = {"accepted",      "empty_line",   "invalid_json",       "invalid_utf8",
                            "not_an_object", "missing_ts",   "missing_account_id", "bad_timestamp",
                            "wrong_type",    "line_too_long"};
  ASSERT_EQ(std::size(expected), kOutcomeCount);
  for (size_t i = 0; i < kOutcomeCount; ++i)
    EXPECT_EQ(OutcomeCode(static_cast<LineOutcome>(i)), expected[i]);
}

TEST(LineDecoder, NullOptionalIsAbsentUnknownIgnored) {
  Harness h;
  ASSERT_EQ(h.Decode(R"({"ts":"2026-02-03T14:05:07Z","account_id":"a","asn":null,"prompt":null,)"
                     R"("x-gw":{"nested":[1,{"b":null}],"s":"\u00e9"},"turn":-3,"input_tokens":-1})"),
            LineOutcome::kAccepted);
  EXPECT_FALSE(h.x.Has(Field::kAsn));
  EXPECT_FALSE(h.x.Has(Field::kPrompt));
  EXPECT_TRUE(h.x.Has(Field::kTurn));
  EXPECT_EQ(h.x.turn, -3);  // negative integers are accepted as they are
  EXPECT_EQ(h.x.input_tokens, -1);
}

TEST(LineDecoder, EscapedKeysAndOffsets) {
  Harness h;
  ASSERT_EQ(h.Decode(R"({"t\u0073":"2026-02-03T15:05:07+01:00","account_id":"a\nb"})"),
            LineOutcome::kAccepted);
  EXPECT_EQ(h.x.ts, *ParseRfc3339("2026-02-03T14:05:07Z"));
  EXPECT_EQ(h.x.account_id, "a\nb");
}

TEST(LineDecoder, ReusedRecordIsClearedBetweenLines) {
  Harness h;
  ASSERT_EQ(h.Decode(R"({"ts":"2026-02-03T14:05:07Z","account_id":"a","prompt":"p","asn":5})"),
            LineOutcome::kAccepted);
  ASSERT_EQ(h.Decode(kMin), LineOutcome::kAccepted);
  EXPECT_EQ(h.x.present, 0u);
  EXPECT_TRUE(h.x.prompt.empty());
  EXPECT_EQ(h.x.asn, 0);
}

Exchange FullRecord() {
  Exchange x;
  x.ts = *ParseRfc3339("2026-02-03T14:05:07.123Z");
  x.account_id = "acct_000123";
  const auto s = [&](Field f, std::string& dst, std::string v) {
    dst = std::move(v);
    x.Set(f);
  };
  const auto n = [&](Field f, int64_t& dst, int64_t v) {
    dst = v;
    x.Set(f);
  };
  s(Field::kRequestId, x.request_id, "req_\"quoted\"\\");
  s(Field::kOrgId, x.org_id, "org_1");
  s(Field::kApiKeyId, x.api_key_id, "key_9");
  s(Field::kIp, x.ip, "2001:db8::1");
  n(Field::kAsn, x.asn, 64512);
  s(Field::kCountry, x.country, "DE");
  s(Field::kUserAgent, x.user_agent, "openai-python/1.30.1");
  s(Field::kTlsFingerprint, x.tls_fingerprint, "t13d1516h2_8daaf6152771_02713d6af862");
  s(Field::kPaymentFingerprint, x.payment_fingerprint, "pm_abc");
  s(Field::kEmailDomain, x.email_domain, "example.org");
  x.account_created = *ParseRfc3339("2025-12-31T23:59:59.999Z");
  x.Set(Field::kAccountCreated);
  s(Field::kModel, x.model, "frontier-1");
  s(Field::kConversationId, x.conversation_id, "conv_7");
  n(Field::kTurn, x.turn, 3);
  s(Field::kSystemPrompt, x.system_prompt, "You are\ta helpful assistant.\n\x01");
  s(Field::kPrompt, x.prompt, "Explain step by step: \xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80 \"why\"");
  n(Field::kInputTokens, x.input_tokens, 1234);
  n(Field::kOutputTokens, x.output_tokens, 5678);
  n(Field::kReasoningTokens, x.reasoning_tokens, 4000);
  x.temperature = 0.7;
  x.Set(Field::kTemperature);
  n(Field::kMaxTokens, x.max_tokens, INT64_MAX);
  n(Field::kStatus, x.status, 200);
  return x;
}

void ExpectSame(const Exchange& a, const Exchange& b) {
  EXPECT_EQ(a.present, b.present);
  EXPECT_EQ(a.ts, b.ts);
  EXPECT_EQ(a.account_id, b.account_id);
  EXPECT_EQ(a.request_id, b.request_id);
  EXPECT_EQ(a.org_id, b.org_id);
  EXPECT_EQ(a.api_key_id, b.api_key_id);
  EXPECT_EQ(a.ip, b.ip);
  EXPECT_EQ(a.asn, b.asn);
  EXPECT_EQ(a.country, b.country);
  EXPECT_EQ(a.user_agent, b.user_agent);
  EXPECT_EQ(a.tls_fingerprint, b.tls_fingerprint);
  EXPECT_EQ(a.payment_fingerprint, b.payment_fingerprint);
  EXPECT_EQ(a.email_domain, b.email_domain);
  EXPECT_EQ(a.account_created, b.account_created);
  EXPECT_EQ(a.model, b.model);
  EXPECT_EQ(a.conversation_id, b.conversation_id);
  EXPECT_EQ(a.turn, b.turn);
  EXPECT_EQ(a.system_prompt, b.system_prompt);
  EXPECT_EQ(a.prompt, b.prompt);
  EXPECT_EQ(a.input_tokens, b.input_tokens);
  EXPECT_EQ(a.output_tokens, b.output_tokens);
  EXPECT_EQ(a.reasoning_tokens, b.reasoning_tokens);
  EXPECT_DOUBLE_EQ(a.temperature, b.temperature);
  EXPECT_EQ(a.max_tokens, b.max_tokens);
  EXPECT_EQ(a.status, b.status);
}

TEST(LineDecoder, EveryFieldRoundTrips) {
  const Exchange full = FullRecord();
  std::string line;
  AppendExchangeJson(full, line);
  Harness h;
  ASSERT_EQ(h.Decode(line), LineOutcome::kAccepted) << line;
  ExpectSame(full, h.x);

  // And each field alone, so a mix-up between two fields cannot hide.
  for (uint32_t bit = 1; bit <= static_cast<uint32_t>(Field::kStatus); bit <<= 1) {
    Exchange one = full;
    one.present = bit;
    line.clear();
    AppendExchangeJson(one, line);
    SCOPED_TRACE(line);
    ASSERT_EQ(h.Decode(line), LineOutcome::kAccepted);
    EXPECT_EQ(h.x.present, bit);
    // Re-serialising the decoded record gives the same line.
    std::string again;
    AppendExchangeJson(h.x, again);
    EXPECT_EQ(again, line);
  }
}

}  // namespace
}  // namespace moat::ingest
