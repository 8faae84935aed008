// Closed-loop replay: drives a running `moat serve --clock event` over HTTP
// the way a gateway would. Exchanges go in event order; each gets a decision
// before it is "served"; what the gateway did (served, degraded, refused with
// 429/403) is posted back as the exchange log, so the engine sees the
// attempts. The ground truth is read only here, for the report: what each
// campaign and each benign population actually received.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "moat/core/status.h"
#include "moat/serve/http_client.h"

namespace moat::serve {

// What the gateway did with one exchange.
enum class Served : uint8_t {
  kFull = 0,    // admitted at full quality (allow, or throttle under its limit)
  kDegraded,    // admitted in a degraded mode
  kThrottled,   // refused: over a throttle limit (429)
  kChallenged,  // refused until the caller passes step-up verification (403)
  kBlocked,     // refused: suspended or blocked (403)
};
inline constexpr int kServedKinds = 5;
const char* ServedName(Served s);  // "full", "degraded", "throttled", "challenged", "blocked"

struct GroupCounts {
  uint64_t accounts = 0;
  uint64_t accounts_refused = 0;  // accounts with at least one refused exchange
  std::array<uint64_t, kServedKinds> exchanges{};
  // Exchanges not served at full quality, by "action/source/rule" of the decision.
  std::map<std::string, uint64_t> by_rule;
  uint64_t total() const;
  uint64_t refused() const;  // throttled + challenged + blocked
};

struct ReplayOptions {
  std::vector<std::string> logs;
  std::string truth_path;
  std::string policy_path;  // optional: accounts of allow-listed orgs reported apart
  Endpoint server;
  int connections = 4;  // keep-alive connections for decisions, requests pipelined on each
  size_t step = 64;     // exchanges decided, then posted as one batch (the gateway's log shipping)
  uint64_t max_engine_lag = 256;  // posted exchanges the engine may be behind before replay waits
  bool progress = false;
};

struct ReplayReport {
  // "campaign/NAME" for extractor campaigns, "benign/POPULATION", "allowlisted".
  std::map<std::string, GroupCounts> groups;
  GroupCounts extractors;
  GroupCounts benign;       // allow-listed accounts included
  GroupCounts allowlisted;  // accounts of allow-listed orgs (needs policy_path)
  uint64_t exchanges = 0;
  uint64_t unlabelled = 0;  // exchanges of accounts missing from the truth
  uint64_t decide_calls = 0;
  uint64_t post_calls = 0;
  uint64_t rejected_lines = 0;  // lines the server refused in posted batches
  double seconds = 0;
};

Result<ReplayReport> RunReplay(const ReplayOptions& options);
std::string ReplayReportJson(const ReplayReport& r);
std::string ReplayReportText(const ReplayReport& r);

}  // namespace moat::serve
