// Property fuzzer for the policy file parser: parsing is deterministic, an
// error always names origin:line:column, an accepted policy has unique rule
// names and decides requests without breaking an invariant.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <set>
#include <string>
#include <string_view>

#include "moat/policy/policy.h"
#include "fuzz_check.h"


namespace {

// "fuzz.toml:<line>:<column>: " with both numbers positive.
bool NamesLineAndColumn(const std::string& m) {
  const std::string_view prefix = "fuzz.toml:";
  if (m.compare(0, prefix.size(), prefix) != 0) return false;
  size_t i = prefix.size();
  for (int part = 0; part < 2; ++part) {
    const size_t start = i;
    while (i < m.size() && m[i] >= '0' && m[i] <= '9') ++i;
    if (i == start || m[start] == '0' || i >= m.size() || m[i] != ':') return false;
    ++i;
  }
  return i < m.size() && m[i] == ' ';
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace moat;
  using namespace moat::policy;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto a = Policy::Parse(text, "fuzz.toml");
  auto b = Policy::Parse(text, "fuzz.toml");
  FUZZ_CHECK(a.ok() == b.ok());
  if (!a.ok()) {
    FUZZ_CHECK(a.status().message() == b.status().message());
    FUZZ_CHECK(NamesLineAndColumn(a.status().message()));
    return 0;
  }
  const Policy& p = *a.value();
  std::set<std::string> names;
  for (const Rule& r : p.rules()) {
    FUZZ_CHECK(!r.name.empty() && names.insert(r.name).second);
    FUZZ_CHECK(r.action != Action::kDegrade || !r.degrade_mode.empty());
    FUZZ_CHECK(r.action != Action::kThrottle || !r.throttle.empty());
  }
  // Decide under it: flagged accounts in a campaign, an allow-listed org.
  DecisionState state(a.value());
  engine::VerdictUpdate us[2];
  us[0].account_id = "a";
  us[0].verdict = score::Verdict::kExtraction;
  us[0].score = 0.9;
  us[0].campaign_id = "c";
  us[0].campaign_size = 5;
  us[0].reasons = {{score::Signal::kHighVolume, 0.5, ""}, {score::Signal::kProxyRotation, 0.2, ""}};
  us[1] = us[0];
  us[1].account_id = "b";
  us[1].verdict = score::Verdict::kSuspicious;
  state.ApplyUpdates(us);
  const std::string lab = p.allowlisted_orgs().empty() ? std::string("o") : p.allowlisted_orgs()[0];
  for (int i = 0; i < 4; ++i) {
    DecideRequest r;
    r.account_id = i % 2 ? "a" : "b";
    r.ip = "203.0.113.9";
    r.org_id = i >= 2 ? std::string_view(lab) : std::string_view("o");
    r.payment_fingerprint = "card";
    r.output_tokens_estimate = 100;
    const Decision d = state.Decide(r, 1'000'000 + i);
    FUZZ_CHECK(d.retry_after_ms >= 0);
    FUZZ_CHECK(d.admit == (d.action == Action::kAllow || d.action == Action::kDegrade ||
                           (d.action == Action::kThrottle && d.retry_after_ms == 0)));
    if (p.IsAllowlistedOrg(HashKey(r.org_id)) && d.source != DecisionSource::kOverride)
      FUZZ_CHECK(d.action <= Action::kThrottle);
  }
  return 0;
}
