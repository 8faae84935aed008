// Property fuzzer for LineDecoder: decoding is deterministic, accepted records
// are well-formed, and serialise -> decode gives the same record back.
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "moat/core/exchange_json.h"
#include "moat/ingest/line_decoder.h"
#include "fuzz_check.h"


namespace {

using moat::Exchange;
using moat::Field;
using moat::ingest::LineOutcome;


bool SameStrings(const Exchange& a, const Exchange& b) {
  return a.account_id == b.account_id && a.request_id == b.request_id && a.org_id == b.org_id &&
         a.api_key_id == b.api_key_id && a.ip == b.ip && a.country == b.country &&
         a.user_agent == b.user_agent && a.tls_fingerprint == b.tls_fingerprint &&
         a.payment_fingerprint == b.payment_fingerprint && a.email_domain == b.email_domain &&
         a.model == b.model && a.conversation_id == b.conversation_id &&
         a.system_prompt == b.system_prompt && a.prompt == b.prompt;
}

bool SameInts(const Exchange& a, const Exchange& b) {
  return a.asn == b.asn && a.turn == b.turn && a.input_tokens == b.input_tokens &&
         a.output_tokens == b.output_tokens && a.reasoning_tokens == b.reasoning_tokens &&
         a.max_tokens == b.max_tokens && a.status == b.status && a.present == b.present;
}

bool Same(const Exchange& a, const Exchange& b) {
  return a.ts == b.ts && a.account_created == b.account_created && SameStrings(a, b) &&
         SameInts(a, b) &&
         (std::memcmp(&a.temperature, &b.temperature, sizeof(double)) == 0 ||
          a.temperature == b.temperature);
}

// The serialiser writes times with milliseconds only.
int64_t FloorMillis(int64_t t) { return t - (((t % 1000) + 1000) % 1000); }

struct State {
  moat::ingest::LineDecoder decoder;
  Exchange first, second, third;
  std::vector<char> buf;
  std::string line;
};

LineOutcome DecodePadded(State& s, const char* data, size_t size, Exchange& out) {
  s.buf.assign(data, data + size);
  s.buf.resize(size + moat::ingest::kLinePadding, '\0');
  return s.decoder.Decode(std::string_view(s.buf.data(), size), out);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static State* state = new State();  // reused, as a source would
  State& s = *state;
  const char* text = reinterpret_cast<const char*>(data);

  const LineOutcome a = DecodePadded(s, text, size, s.first);
  const std::string field_a(s.decoder.field());
  const LineOutcome b = DecodePadded(s, text, size, s.second);
  FUZZ_CHECK(a == b);
  FUZZ_CHECK(field_a == s.decoder.field());
  FUZZ_CHECK(moat::ingest::ToIndex(a) < moat::ingest::kOutcomeCount);
  FUZZ_CHECK(moat::ingest::OutcomeCode(a) != "unknown");
  if (a != LineOutcome::kAccepted) return 0;
  FUZZ_CHECK(Same(s.first, s.second));
  FUZZ_CHECK(!s.first.account_id.empty());

  // Serialise and decode again.
  Exchange& x = s.first;
  // Temperatures: 4 decimals on output, and huge magnitudes do not fit the
  // writer's fixed-point buffer, so leave such values out of the round trip.
  const bool temperature_exact_enough =
      !x.Has(Field::kTemperature) || (std::isfinite(x.temperature) && std::fabs(x.temperature) < 1e15);
  if (!temperature_exact_enough) x.present &= ~static_cast<uint32_t>(Field::kTemperature);
  s.line.clear();
  moat::AppendExchangeJson(x, s.line);
  const LineOutcome c = DecodePadded(s, s.line.data(), s.line.size(), s.third);
  if (c != LineOutcome::kAccepted) {
    std::fprintf(stderr, "re-serialised line rejected (%s): %s\n",
                 std::string(moat::ingest::OutcomeCode(c)).c_str(), s.line.c_str());
    std::abort();
  }
  Exchange expected = x;
  expected.ts = FloorMillis(x.ts);
  if (x.Has(Field::kAccountCreated)) expected.account_created = FloorMillis(x.account_created);
  if (!x.Has(Field::kTemperature)) expected.temperature = 0.0;
  const Exchange& y = s.third;
  FUZZ_CHECK(expected.ts == y.ts);
  FUZZ_CHECK(expected.account_created == y.account_created);
  FUZZ_CHECK(SameStrings(expected, y));
  FUZZ_CHECK(SameInts(expected, y));
  if (x.Has(Field::kTemperature)) {
    FUZZ_CHECK(std::fabs(expected.temperature - y.temperature) <= 0.00005 * (1 + 1e-9));
  }
  return 0;
}
