// The counters behind GET /metrics, rendered in the Prometheus text
// exposition format (version 0.0.4). Updated from worker threads with
// atomics; label sets are bounded (routes are patterns, methods a fixed set).
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <tuple>

#include "moat/ingest/line_decoder.h"
#include "moat/policy/policy.h"

namespace moat::serve {

// Upper bounds of the latency histogram buckets, in seconds.
inline constexpr std::array<double, 13> kLatencyBuckets = {
    0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025,
    0.005,    0.01,    0.025,  0.1,     0.5,    1.0};

class LatencyHistogram {
 public:
  void Observe(double seconds);
  // Appends the _bucket/_sum/_count lines for `name` (labels may be empty).
  void Render(std::string_view name, std::string_view labels, std::string& out) const;
  uint64_t count() const { return count_.load(std::memory_order_relaxed); }

 private:
  std::array<std::atomic<uint64_t>, kLatencyBuckets.size() + 1> buckets_{};
  std::atomic<uint64_t> count_{0};
  std::atomic<uint64_t> sum_ns_{0};
};

// Values read at scrape time from the engine, the decision cache and the server.
struct Gauges {
  uint64_t accounts = 0;
  uint64_t extraction = 0;
  uint64_t suspicious = 0;
  uint64_t benign = 0;
  uint64_t campaigns = 0;
  uint64_t flagged_campaigns = 0;
  uint64_t blocks = 0;
  uint64_t overrides = 0;
  uint64_t queue_exchanges = 0;     // waiting for the engine
  double newest_event_time = 0;     // seconds since the epoch; 0: none yet
  double engine_lag_seconds = 0;    // wall clock minus newest event time
  uint64_t open_connections = 0;
  uint64_t journal_bytes = 0;
};

class Metrics {
 public:
  void CountRequest(std::string_view route, std::string_view method, int status, double seconds);
  void CountDecision(const policy::Decision& d, double seconds);
  void CountBadLines(ingest::LineOutcome outcome, uint64_t n) {
    bad_lines_[ingest::ToIndex(outcome)].fetch_add(n, std::memory_order_relaxed);
  }

  std::atomic<uint64_t> exchanges_ingested{0};  // accepted into the engine queue
  std::atomic<uint64_t> exchanges_applied{0};   // consumed by the engine
  std::atomic<uint64_t> verdict_updates{0};
  std::atomic<uint64_t> action_changes_stored{0};
  std::atomic<uint64_t> audit_errors{0};

  std::string Render(const Gauges& g) const;

 private:
  using RequestKey = std::tuple<std::string, std::string, int>;  // route, method, status
  std::atomic<uint64_t>& RequestCounter(std::string_view route, std::string_view method, int status);

  static uint64_t NextId();
  const uint64_t id_ = NextId();  // tells thread-local caches of successive instances apart
  mutable std::mutex mu_;
  // Counters never move once made: workers keep pointers to them in a
  // thread-local cache, so counting a request takes no lock.
  std::map<RequestKey, std::unique_ptr<std::atomic<uint64_t>>> requests_;
  std::array<std::atomic<uint64_t>, policy::kActions> actions_{};
  std::array<std::atomic<uint64_t>, policy::kActions> refused_{};  // admit == false
  std::array<std::atomic<uint64_t>, ingest::kOutcomeCount> bad_lines_{};
  LatencyHistogram decision_latency_;
  LatencyHistogram request_latency_;
};

}  // namespace moat::serve
