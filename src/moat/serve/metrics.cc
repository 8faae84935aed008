#include "moat/serve/metrics.h"

#include <cmath>
#include <cstdio>
#include <vector>

namespace moat::serve {

namespace {

void AppendDouble(double v, std::string& out) {
  char buf[64];
  const int n = std::snprintf(buf, sizeof buf, "%.9g", v);
  out.append(buf, static_cast<size_t>(n));
}

void Header(std::string_view name, std::string_view type, std::string_view help, std::string& out) {
  out.append("# HELP ").append(name).append(" ").append(help).append("\n");
  out.append("# TYPE ").append(name).append(" ").append(type).append("\n");
}

void Sample(std::string_view name, std::string_view labels, double v, std::string& out) {
  out.append(name);
  if (!labels.empty()) out.append("{").append(labels).append("}");
  out.push_back(' ');
  AppendDouble(v, out);
  out.push_back('\n');
}

// Methods are client input: anything unusual is counted as OTHER so a
// client cannot grow the label set.
std::string_view MethodLabel(std::string_view m) {
  for (std::string_view known : {"GET", "POST", "PUT", "DELETE", "HEAD", "PATCH", "OPTIONS"}) {
    if (m == known) return known;
  }
  return m == "-" ? "-" : "OTHER";
}

void AppendEscapedLabel(std::string_view v, std::string& out) {
  for (char c : v) {
    if (c == '\\' || c == '"') out.push_back('\\');
    if (c == '\n') {
      out.append("\\n");
      continue;
    }
    out.push_back(c);
  }
}

}  // namespace

void LatencyHistogram::Observe(double seconds) {
  size_t i = 0;
  while (i < kLatencyBuckets.size() && seconds > kLatencyBuckets[i]) ++i;
  buckets_[i].fetch_add(1, std::memory_order_relaxed);
  count_.fetch_add(1, std::memory_order_relaxed);
  sum_ns_.fetch_add(static_cast<uint64_t>(std::max(0.0, seconds) * 1e9), std::memory_order_relaxed);
}

void LatencyHistogram::Render(std::string_view name, std::string_view labels,
                              std::string& out) const {
  uint64_t cumulative = 0;
  const std::string sep = labels.empty() ? "" : std::string(labels) + ",";
  for (size_t i = 0; i <= kLatencyBuckets.size(); ++i) {
    cumulative += buckets_[i].load(std::memory_order_relaxed);
    std::string le;
    if (i < kLatencyBuckets.size()) {
      AppendDouble(kLatencyBuckets[i], le);
    } else {
      le = "+Inf";
    }
    Sample(std::string(name) + "_bucket", sep + "le=\"" + le + "\"", static_cast<double>(cumulative),
           out);
  }
  Sample(std::string(name) + "_sum", labels, static_cast<double>(sum_ns_.load()) / 1e9, out);
  Sample(std::string(name) + "_count", labels, static_cast<double>(count_.load()), out);
}

void Metrics::CountRequest(std::string_view route, std::string_view method, int status,
                           double seconds) {
  request_latency_.Observe(seconds);
  RequestCounter(route, MethodLabel(method), status).fetch_add(1, std::memory_order_relaxed);
}

uint64_t Metrics::NextId() {
  static std::atomic<uint64_t> next{1};
  return next.fetch_add(1);
}

std::atomic<uint64_t>& Metrics::RequestCounter(std::string_view route, std::string_view method,
                                               int status) {
  struct Cached {
    uint64_t owner;
    std::string route;
    std::string_view method;  // one of MethodLabel's literals
    int status;
    std::atomic<uint64_t>* counter;
  };
  thread_local std::vector<Cached> cache;
  for (const Cached& c : cache) {
    if (c.owner == id_ && c.status == status && c.method == method && c.route == route) {
      return *c.counter;
    }
  }
  std::lock_guard lock(mu_);
  auto& slot = requests_[{std::string(route), std::string(method), status}];
  if (!slot) slot = std::make_unique<std::atomic<uint64_t>>(0);
  // Bounded: routes x a few methods x the statuses seen; a thread that has
  // seen too many combinations starts over rather than scanning far.
  if (cache.size() >= 64) cache.clear();
  cache.push_back(Cached{id_, std::string(route), method, status, slot.get()});
  return *slot;
}

void Metrics::CountDecision(const policy::Decision& d, double seconds) {
  const auto a = static_cast<size_t>(d.action);
  actions_[a].fetch_add(1, std::memory_order_relaxed);
  if (!d.admit) refused_[a].fetch_add(1, std::memory_order_relaxed);
  decision_latency_.Observe(seconds);
}

std::string Metrics::Render(const Gauges& g) const {
  std::string out;
  out.reserve(8192);
  Header("moat_http_requests_total", "counter", "HTTP requests answered, by route, method and status.",
         out);
  {
    std::lock_guard lock(mu_);
    for (const auto& [key, counter] : requests_) {
      const uint64_t n = counter->load(std::memory_order_relaxed);
      const auto& [route, method, status] = key;
      std::string labels = "route=\"";
      AppendEscapedLabel(route, labels);
      labels += "\",method=\"" + method + "\",status=\"" + std::to_string(status) + "\"";
      Sample("moat_http_requests_total", labels, static_cast<double>(n), out);
    }
  }
  Header("moat_http_request_duration_seconds", "histogram",
         "Time from a request's header to its response, all routes.", out);
  request_latency_.Render("moat_http_request_duration_seconds", "", out);
  Header("moat_decision_duration_seconds", "histogram",
         "Time to answer a decision (/v1/decide and ext_authz), parsing included.", out);
  decision_latency_.Render("moat_decision_duration_seconds", "", out);

  Header("moat_decisions_total", "counter", "Decisions by action and whether the request was let through.",
         out);
  for (int a = 0; a < policy::kActions; ++a) {
    const uint64_t total = actions_[a].load(std::memory_order_relaxed);
    const uint64_t refused = refused_[a].load(std::memory_order_relaxed);
    const std::string action = policy::ActionName(static_cast<policy::Action>(a));
    Sample("moat_decisions_total", "action=\"" + action + "\",admit=\"true\"",
           static_cast<double>(total - refused), out);
    Sample("moat_decisions_total", "action=\"" + action + "\",admit=\"false\"",
           static_cast<double>(refused), out);
  }

  Header("moat_accounts", "gauge", "Accounts known to the engine, by current verdict.", out);
  Sample("moat_accounts", "verdict=\"extraction\"", static_cast<double>(g.extraction), out);
  Sample("moat_accounts", "verdict=\"suspicious\"", static_cast<double>(g.suspicious), out);
  Sample("moat_accounts", "verdict=\"benign\"", static_cast<double>(g.benign), out);
  Header("moat_campaigns", "gauge", "Campaigns the engine holds.", out);
  Sample("moat_campaigns", "", static_cast<double>(g.campaigns), out);
  Header("moat_campaigns_flagged", "gauge", "Campaigns under a campaign-wide action.", out);
  Sample("moat_campaigns_flagged", "", static_cast<double>(g.flagged_campaigns), out);
  Header("moat_blocks", "gauge", "Entries on the block list.", out);
  Sample("moat_blocks", "", static_cast<double>(g.blocks), out);
  Header("moat_overrides", "gauge", "Analyst overrides held.", out);
  Sample("moat_overrides", "", static_cast<double>(g.overrides), out);
  Header("moat_verdict_updates_total", "counter", "Verdict changes pushed by the engine.", out);
  Sample("moat_verdict_updates_total", "", static_cast<double>(verdict_updates.load()), out);
  Header("moat_action_changes_stored_total", "counter", "Action changes written to the audit store.",
         out);
  Sample("moat_action_changes_stored_total", "", static_cast<double>(action_changes_stored.load()),
         out);
  Header("moat_audit_errors_total", "counter", "Audit store writes that failed.", out);
  Sample("moat_audit_errors_total", "", static_cast<double>(audit_errors.load()), out);

  Header("moat_exchanges_ingested_total", "counter",
         "Exchanges accepted (journalled and queued for the engine).", out);
  Sample("moat_exchanges_ingested_total", "", static_cast<double>(exchanges_ingested.load()), out);
  Header("moat_exchanges_applied_total", "counter", "Exchanges the engine has consumed.", out);
  Sample("moat_exchanges_applied_total", "", static_cast<double>(exchanges_applied.load()), out);
  Header("moat_bad_lines_total", "counter", "Rejected exchange lines, by reason (quarantined).", out);
  for (size_t i = 1; i < ingest::kOutcomeCount; ++i) {
    Sample("moat_bad_lines_total",
           "reason=\"" + std::string(ingest::OutcomeCode(static_cast<ingest::LineOutcome>(i))) + "\"",
           static_cast<double>(bad_lines_[i].load()), out);
  }
  Header("moat_engine_queue_exchanges", "gauge", "Exchanges waiting for the engine thread.", out);
  Sample("moat_engine_queue_exchanges", "", static_cast<double>(g.queue_exchanges), out);
  Header("moat_engine_newest_event_time_seconds", "gauge",
         "Event time of the newest exchange ingested (Unix seconds).", out);
  Sample("moat_engine_newest_event_time_seconds", "", g.newest_event_time, out);
  Header("moat_engine_lag_seconds", "gauge",
         "Wall clock minus the newest event time ingested (large in replay).", out);
  Sample("moat_engine_lag_seconds", "", g.engine_lag_seconds, out);
  Header("moat_journal_bytes", "gauge", "Size of the durable exchange journal.", out);
  Sample("moat_journal_bytes", "", static_cast<double>(g.journal_bytes), out);
  Header("moat_http_open_connections", "gauge", "Client connections open.", out);
  Sample("moat_http_open_connections", "", static_cast<double>(g.open_connections), out);
  return out;
}

}  // namespace moat::serve
