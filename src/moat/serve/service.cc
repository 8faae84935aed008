#include "moat/serve/service.h"

#include <simdjson.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <deque>
#include <filesystem>
#include <fstream>
#include <functional>
#include <future>
#include <mutex>
#include <optional>
#include <thread>

#include "moat/core/json_writer.h"
#include "moat/core/secret.h"
#include "moat/core/text_file.h"
#include "moat/core/time.h"
#include "moat/engine/engine.h"
#include "moat/ingest/ingest.h"
#include "moat/ingest/line_decoder.h"
#include "moat/ingest/quarantine.h"
#include "moat/serve/journal.h"
#include "moat/serve/metrics.h"

namespace moat::serve {

namespace {

using SteadyClock = std::chrono::steady_clock;

constexpr std::string_view kAuditCheckpoint = "serve.audit";
constexpr size_t kReplayBatch = 1024;
// An override without a duration lasts this long (event time).
constexpr EventTime kDefaultOverrideDuration = 365 * kMicrosPerDay;

EventTime WallNow() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

double SecondsSince(SteadyClock::time_point t0) {
  return std::chrono::duration<double>(SteadyClock::now() - t0).count();
}

// The last address of an X-Forwarded-For list: the one the edge proxy
// appended (Envoy with use_remote_address). Earlier entries come from the
// client and can be forged.
std::string_view LastAddress(std::string_view v) {
  if (const size_t comma = v.rfind(','); comma != std::string_view::npos) v = v.substr(comma + 1);
  while (!v.empty() && v.front() == ' ') v.remove_prefix(1);
  while (!v.empty() && v.back() == ' ') v.remove_suffix(1);
  return v;
}


// A JSON request body, parsed once, read by field name with type checks
// whose errors name the field. For the admin API (not the hot path).
class JsonBody {
 public:
  static Result<JsonBody> Parse(const std::string& body) {
    JsonBody b;
    b.parser_ = std::make_unique<simdjson::dom::parser>();
    simdjson::dom::element doc;
    if (auto err = b.parser_->parse(body).get(doc); err) {
      return Status::Error(std::string("body is not valid JSON: ") + simdjson::error_message(err));
    }
    if (doc.get_object().get(b.obj_)) return Status::Error("body must be a JSON object");
    return b;
  }
  // Absent or null: nullopt. Wrong type: error naming the field.
  Result<std::optional<std::string>> String(std::string_view key) const {
    simdjson::dom::element e;
    if (obj_.at_key(key).get(e) || e.is_null()) return std::optional<std::string>();
    std::string_view v;
    if (e.get_string().get(v)) return Status::Error("field '" + std::string(key) + "' must be a string");
    return std::optional<std::string>(std::string(v));
  }
  Result<std::optional<double>> Number(std::string_view key) const {
    simdjson::dom::element e;
    if (obj_.at_key(key).get(e) || e.is_null()) return std::optional<double>();
    double v = 0;
    if (e.get_double().get(v)) return Status::Error("field '" + std::string(key) + "' must be a number");
    return std::optional<double>(v);
  }

 private:
  std::unique_ptr<simdjson::dom::parser> parser_;
  simdjson::dom::object obj_;
};

Response BadField(const Status& st) { return JsonError(400, "bad_request", st.message()); }

// Forwards the engine's questions to the partner evidence source and marks
// every account it gives weight in the decision cache: the policy's
// indicator_match then holds for the account's next request.
class IndicatorEvidence final : public engine::ExternalEvidence {
 public:
  IndicatorEvidence(engine::ExternalEvidence& inner, policy::DecisionState& state) : inner_(inner), state_(state) {}
  void Observe(const Exchange& x) override { inner_.Observe(x); }
  score::PartnerEvidence Evidence(std::string_view account_id, const score::ScoreResult& without,
                                  uint32_t exchanges) override {
    score::PartnerEvidence e = inner_.Evidence(account_id, without, exchanges);
    if (e.weight > 0) state_.SetIndicatorMatch(account_id, true);
    return e;
  }

 private:
  engine::ExternalEvidence& inner_;
  policy::DecisionState& state_;
};

struct Task {
  std::vector<Exchange> batch;
  uint64_t journal_end = 0;  // 0: not journalled (file input)
  std::function<void(engine::Engine&)> fn;
};

}  // namespace

struct Service::Impl {
  ServiceOptions options;
  std::unique_ptr<store::Store> store;
  std::unique_ptr<Journal> journal;
  policy::DecisionState state;
  engine::Engine engine;
  std::unique_ptr<IndicatorEvidence> indicator_evidence;
  Metrics metrics;
  RecoveryReport recovery;
  HttpServer* server = nullptr;

  // The engine thread and its queue.
  std::mutex queue_mu;
  std::condition_variable queue_cv;
  std::condition_variable idle_cv;
  std::deque<Task> queue;
  bool busy = false;
  bool stopping = false;
  std::atomic<uint64_t> queued_exchanges{0};
  std::thread engine_thread;
  SteadyClock::time_point last_stats;

  std::atomic<EventTime> newest_event{0};
  std::atomic<uint64_t> verdicts_extraction{0}, verdicts_suspicious{0}, verdicts_benign{0},
      engine_campaigns{0};

  // Audit: action changes drained from the decision cache into the store.
  std::mutex audit_mu;
  std::vector<policy::ActionChange> changes;
  uint64_t audit_checkpoint = 0;  // journal offset the store's audit is complete up to

  std::mutex quarantine_mu;
  std::FILE* quarantine = nullptr;
  std::string quarantine_path;

  std::thread housekeeping;
  std::mutex house_mu;
  std::condition_variable house_cv;
  std::atomic<bool> inputs_stopped{false};

  Impl(ServiceOptions o, std::shared_ptr<const policy::Policy> p)
      : options(std::move(o)), state(std::move(p)), engine(options.detector) {}

  EventTime Now() const {
    if (options.clock == ClockMode::kEvent) return newest_event.load(std::memory_order_relaxed);
    return WallNow();
  }

  // --- engine thread ----------------------------------------------------

  void Enqueue(Task t) {
    const uint64_t n = t.batch.size();
    {
      std::lock_guard lock(queue_mu);
      queue.push_back(std::move(t));
    }
    queued_exchanges.fetch_add(n, std::memory_order_relaxed);
    queue_cv.notify_one();
  }

  void EngineLoop() {
    for (;;) {
      Task t;
      {
        std::unique_lock lock(queue_mu);
        queue_cv.wait(lock, [&] { return stopping || !queue.empty(); });
        if (queue.empty()) return;
        t = std::move(queue.front());
        queue.pop_front();
        busy = true;
      }
      if (t.fn) {
        t.fn(engine);
      } else {
        Consume(t.batch, t.journal_end);
      }
      {
        std::lock_guard lock(queue_mu);
        busy = false;
        if (queue.empty()) idle_cv.notify_all();
      }
    }
  }

  void Consume(std::span<const Exchange> batch, uint64_t journal_end) {
    EventTime newest = 0;
    for (const Exchange& x : batch) {
      state.ObserveExchange(x);
      newest = std::max(newest, x.ts);
    }
    EventTime seen = newest_event.load(std::memory_order_relaxed);
    while (newest > seen && !newest_event.compare_exchange_weak(seen, newest)) {
    }
    engine.Consume(batch);
    metrics.exchanges_applied.fetch_add(batch.size(), std::memory_order_relaxed);
    queued_exchanges.fetch_sub(std::min<uint64_t>(batch.size(), queued_exchanges.load()),
                               std::memory_order_relaxed);
    PumpAudit(journal_end);
    // Verdict counts walk every account: refresh them at most once a second.
    if (SteadyClock::now() - last_stats > std::chrono::seconds(1)) RefreshEngineStats();
  }

  void RefreshEngineStats() {
    last_stats = SteadyClock::now();
    const engine::EngineStats s = engine.stats();
    verdicts_extraction = s.extraction;
    verdicts_suspicious = s.suspicious;
    verdicts_benign = s.benign;
    engine_campaigns = s.campaigns;
  }

  // Runs `fn` on the engine thread and waits for it (admin lookups).
  template <typename T>
  std::optional<T> OnEngine(std::function<T(engine::Engine&)> fn) {
    auto promise = std::make_shared<std::promise<T>>();
    auto future = promise->get_future();
    Task t;
    t.fn = [promise, fn = std::move(fn)](engine::Engine& e) { promise->set_value(fn(e)); };
    Enqueue(std::move(t));
    if (future.wait_for(std::chrono::seconds(30)) != std::future_status::ready) return std::nullopt;
    return future.get();
  }

  // Writes the action changes recorded since the last call to the store.
  // `journal_end` > 0: the engine has consumed the journal up to there, and
  // the audit checkpoint moves with it. Changes produced while replaying
  // journal lines the store had already audited before a restart are the
  // same changes again and are not written twice.
  void PumpAudit(uint64_t journal_end) {
    std::lock_guard lock(audit_mu);
    changes.clear();
    state.DrainActionChanges(changes);
    if (changes.empty()) return;
    if (journal_end != 0 && journal_end <= audit_checkpoint) return;
    std::vector<store::ActionRecord> records;
    records.reserve(changes.size());
    for (const policy::ActionChange& c : changes) {
      store::ActionRecord r;
      r.account_id = c.account_id;
      r.old_action = policy::ActionName(c.previous);
      r.new_action = policy::ActionName(c.action);
      r.rule = c.rule;
      r.evidence_json = policy::EvidenceJson(c);
      r.event_time = c.at;
      r.actor = c.actor.empty() ? "engine" : c.actor;
      records.push_back(std::move(r));
    }
    auto ids = store->AppendActions(records);
    if (!ids.ok()) {
      metrics.audit_errors.fetch_add(1);
      std::fprintf(stderr, "moat serve: audit: %s\n", ids.status().message().c_str());
      return;
    }
    metrics.action_changes_stored.fetch_add(records.size());
    if (journal_end > audit_checkpoint) {
      audit_checkpoint = journal_end;
      if (Status st = store->SaveCheckpoint({std::string(kAuditCheckpoint),
                                             std::to_string(journal_end), 0});
          !st.ok()) {
        metrics.audit_errors.fetch_add(1);
        std::fprintf(stderr, "moat serve: audit checkpoint: %s\n", st.message().c_str());
      }
    }
  }

  void HousekeepingLoop() {
    std::unique_lock lock(house_mu);
    while (!stopping) {
      house_cv.wait_for(lock, std::chrono::seconds(1));
      if (stopping) break;
      lock.unlock();
      state.Sweep(Now());
      PumpAudit(0);
      lock.lock();
    }
  }

  // --- recovery -----------------------------------------------------------

  Status Recover() {
    const auto t0 = SteadyClock::now();
    auto ckpt = store->LoadCheckpoint(kAuditCheckpoint);
    if (!ckpt.ok()) return ckpt.status();
    if (ckpt.value()) audit_checkpoint = std::stoull(ckpt.value()->position);
    recovery.audit_checkpoint = audit_checkpoint;
    recovery.torn_bytes = journal->truncated_bytes();

    std::FILE* f = std::fopen(journal->path().c_str(), "rb");
    if (f == nullptr) return Status::Error("serve: cannot read " + journal->path());
    ingest::LineDecoder decoder;
    std::vector<Exchange> batch;
    Exchange x;
    std::string line;
    line.reserve(1 << 16);
    uint64_t offset = 0;
    char* buf = nullptr;
    size_t cap = 0;
    ssize_t n;
    while ((n = getline(&buf, &cap, f)) > 0) {
      offset += static_cast<uint64_t>(n);
      line.assign(buf, static_cast<size_t>(n));
      if (!line.empty() && line.back() == '\n') line.pop_back();
      const size_t len = line.size();
      line.append(ingest::kLinePadding, ' ');
      if (decoder.Decode(std::string_view(line.data(), len), x) != ingest::LineOutcome::kAccepted) {
        continue;  // only accepted lines are journalled; a damaged one is skipped
      }
      batch.push_back(x);
      if (batch.size() == kReplayBatch) {
        Consume(batch, offset);
        recovery.journal_exchanges += batch.size();
        batch.clear();
      }
    }
    std::free(buf);
    std::fclose(f);
    if (!batch.empty()) {
      Consume(batch, offset);
      recovery.journal_exchanges += batch.size();
    }
    recovery.journal_bytes = offset;
    metrics.exchanges_ingested = recovery.journal_exchanges;
    RefreshEngineStats();

    // Analyst overrides in force come back from the store. Their action
    // changes were audited when they were made.
    auto overrides = store->ActiveOverrides(Now());
    if (!overrides.ok()) return overrides.status();
    for (const store::OverrideRecord& o : overrides.value()) {
      const auto action = policy::ParseAction(o.action);
      if (!action) continue;
      policy::Override ov;
      ov.action = *action;
      ov.degrade_mode = o.degrade_mode;
      ov.until = o.until;
      ov.analyst = o.analyst;
      ov.reason = o.reason;
      if (auto body = JsonBody::Parse(o.throttle_json); body.ok()) {
        if (auto v = body.value().Number("requests_per_minute"); v.ok() && v.value()) {
          ov.throttle.requests_per_minute = *v.value();
        }
        if (auto v = body.value().Number("output_tokens_per_minute"); v.ok() && v.value()) {
          ov.throttle.output_tokens_per_minute = *v.value();
        }
      }
      state.SetOverride(o.account_id, std::move(ov), Now());
      ++recovery.overrides_restored;
    }
    {
      std::lock_guard lock(audit_mu);
      changes.clear();
      state.DrainActionChanges(changes);
    }
    recovery.seconds = SecondsSince(t0);
    return Status::Ok();
  }

  // --- handlers -------------------------------------------------------------

  Response Healthz(const Request&) {
    std::string out;
    JsonWriter w(out);
    w.BeginObject();
    w.Key("status");
    w.String("ok");
    w.Key("exchanges");
    w.Uint(metrics.exchanges_applied.load());
    w.Key("queued_exchanges");
    w.Uint(queued_exchanges.load());
    w.Key("newest_event_time");
    const EventTime t = newest_event.load();
    if (t != 0) {
      w.String(FormatRfc3339(t));
    } else {
      w.Null();
    }
    w.Key("clock");
    w.String(options.clock == ClockMode::kEvent ? "event" : "wall");
    w.EndObject();
    return JsonResponse(200, std::move(out));
  }

  Response MetricsPage(const Request&) {
    Gauges g;
    const policy::DecisionStats ds = state.stats();
    g.accounts = ds.accounts;
    g.extraction = verdicts_extraction.load();
    g.suspicious = verdicts_suspicious.load();
    g.benign = verdicts_benign.load();
    g.campaigns = engine_campaigns.load();
    g.flagged_campaigns = ds.flagged_campaigns;
    g.blocks = ds.blocks;
    g.overrides = ds.overrides;
    g.queue_exchanges = queued_exchanges.load();
    const EventTime t = newest_event.load();
    g.newest_event_time = static_cast<double>(t) / kMicrosPerSecond;
    g.engine_lag_seconds = t == 0 ? 0 : static_cast<double>(WallNow() - t) / kMicrosPerSecond;
    g.open_connections = server != nullptr ? server->open_connections() : 0;
    g.journal_bytes = journal->size();
    Response r;
    r.content_type = "text/plain; version=0.0.4; charset=utf-8";
    r.body = metrics.Render(g);
    return r;
  }

  // POST /v1/decide: one JSON object per request.
  Response Decide(const Request& r) {
    const auto t0 = SteadyClock::now();
    // The DOM parser validates the whole document (On-Demand would skip
    // unknown fields unchecked); it is reused per thread, so a request
    // allocates nothing here once warm.
    thread_local simdjson::dom::parser parser;
    thread_local std::string buf;
    buf.assign(r.body);
    const size_t len = buf.size();
    buf.append(simdjson::SIMDJSON_PADDING, ' ');
    policy::DecideRequest req;
    std::optional<EventTime> ts;
    simdjson::dom::element doc;
    if (auto err = parser.parse(buf.data(), len, false).get(doc); err) {
      return JsonError(400, "bad_json",
                       std::string("body is not valid JSON: ") + simdjson::error_message(err));
    }
    simdjson::dom::object obj;
    if (doc.get_object().get(obj)) return JsonError(400, "bad_json", "body must be a JSON object");
    for (const auto kv : obj) {
      const std::string_view key = kv.key;
      const simdjson::dom::element v = kv.value;
      if (v.is_null()) continue;
      std::string_view* target = nullptr;
      if (key == "account_id") target = &req.account_id;
      else if (key == "api_key_id") target = &req.api_key_id;
      else if (key == "ip") target = &req.ip;
      else if (key == "org_id") target = &req.org_id;
      else if (key == "model") target = &req.model;
      else if (key == "payment_fingerprint") target = &req.payment_fingerprint;
      if (target != nullptr) {
        if (v.get_string().get(*target)) {
          return JsonError(400, "bad_field", "field '" + std::string(key) + "' must be a string");
        }
      } else if (key == "asn" || key == "output_tokens_estimate" || key == "max_tokens") {
        int64_t n = 0;
        if (v.get_int64().get(n)) {
          return JsonError(400, "bad_field", "field '" + std::string(key) + "' must be an integer");
        }
        if (key == "asn") req.asn = n;
        else req.output_tokens_estimate = std::max<int64_t>(req.output_tokens_estimate, n);
      } else if (key == "indicator_match") {
        if (v.get_bool().get(req.indicator_match)) {
          return JsonError(400, "bad_field", "field 'indicator_match' must be a boolean");
        }
      } else if (key == "ts") {
        std::string_view s;
        if (v.get_string().get(s) || !(ts = ParseRfc3339(s))) {
          return JsonError(400, "bad_field", "field 'ts' must be an RFC 3339 timestamp");
        }
      }
    }
    if (req.account_id.empty()) {
      return JsonError(400, "missing_field", "field 'account_id' is required");
    }
    const EventTime now = options.clock == ClockMode::kEvent && ts ? *ts : Now();
    const policy::Decision d = state.Decide(req, now);
    Response res;
    res.body.reserve(256);
    policy::AppendDecisionJson(d, res.body);
    res.body.push_back('\n');
    metrics.CountDecision(d, SecondsSince(t0));
    return res;
  }

  // Envoy's HTTP ext_authz contract: Envoy forwards the original request's
  // method, path (behind a prefix) and selected headers. 200 lets it
  // through with x-moat-* headers for the upstream; any other status is
  // returned to the client as it is, with its body and allowed headers.
  Response ExtAuthz(const Request& r) {
    const auto t0 = SteadyClock::now();
    policy::DecideRequest req;
    req.account_id = r.Header(options.account_header);
    req.api_key_id = r.Header(options.api_key_header);
    req.ip = LastAddress(r.Header(options.ip_header));
    req.org_id = r.Header(options.org_header);
    req.model = r.Header(options.model_header);
    if (req.account_id.empty()) {
      Response res = JsonError(403, "missing_account",
                               "no account header '" + options.account_header + "' on the request");
      res.headers.emplace_back("x-moat-action", "deny");
      return res;
    }
    EventTime now = Now();
    if (options.clock == ClockMode::kEvent) {
      if (auto t = ParseRfc3339(r.Header(options.event_time_header))) now = *t;
    }
    const policy::Decision d = state.Decide(req, now);
    Response res;
    res.headers.emplace_back("x-moat-action", policy::ActionName(d.action));
    res.headers.emplace_back("x-moat-rule", std::string(d.rule));
    res.headers.emplace_back("x-moat-verdict", score::VerdictName(d.verdict));
    if (!d.degrade_mode.empty()) res.headers.emplace_back("x-moat-degrade-mode", std::string(d.degrade_mode));
    if (d.review) res.headers.emplace_back("x-moat-review", "true");
    if (d.admit) {
      res.status = 200;
      res.content_type = "text/plain";
    } else {
      res.status = d.action == policy::Action::kThrottle ? 429 : 403;
      if (d.retry_after_ms > 0) {
        res.headers.emplace_back("retry-after", std::to_string((d.retry_after_ms + 999) / 1000));
      }
      policy::AppendDecisionJson(d, res.body);
      res.body.push_back('\n');
    }
    metrics.CountDecision(d, SecondsSince(t0));
    return res;
  }

  void Quarantine(std::string_view source, uint64_t line, ingest::LineOutcome outcome,
                  std::string_view raw) {
    std::string entry;
    ingest::Quarantine::AppendEntry(source, line, outcome, raw, entry);
    entry.push_back('\n');
    std::lock_guard lock(quarantine_mu);
    if (quarantine != nullptr) {
      std::fwrite(entry.data(), 1, entry.size(), quarantine);
      std::fflush(quarantine);
    }
  }

  // POST /v1/exchanges: a batch of exchange-log v1 lines. Accepted lines are
  // journalled (on disk before the answer) and queued for the engine; bad
  // lines are quarantined and reported by line number.
  Response PostExchanges(const Request& r) {
    if (r.body.empty()) return JsonError(400, "empty_body", "expected exchange-log v1 JSON Lines");
    if (queued_exchanges.load() > options.max_queued_exchanges) {
      Response res = JsonError(503, "engine_busy", "the engine is behind; retry later");
      res.headers.emplace_back("Retry-After", "1");
      return res;
    }
    thread_local ingest::LineDecoder decoder;
    thread_local Exchange x;
    std::string padded;
    padded.reserve(r.body.size() + ingest::kLinePadding);
    padded.assign(r.body);
    padded.append(ingest::kLinePadding, ' ');
    const std::string_view body(padded.data(), r.body.size());

    std::vector<Exchange> batch;
    std::string lines;
    lines.reserve(r.body.size() + 1);
    std::string errors;
    JsonWriter ew(errors);
    ew.BeginArray();
    uint64_t rejected = 0;
    const std::string source = "POST /v1/exchanges from " + r.remote_ip;
    size_t pos = 0;
    uint64_t line_no = 0;
    EventTime newest = 0;
    while (pos < body.size()) {
      size_t end = body.find('\n', pos);
      if (end == std::string_view::npos) end = body.size();
      std::string_view line = body.substr(pos, end - pos);
      pos = end + 1;
      ++line_no;
      if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
      const ingest::LineOutcome outcome = decoder.Decode(line, x);
      if (outcome == ingest::LineOutcome::kAccepted) [[likely]] {
        lines.append(line).push_back('\n');
        newest = std::max(newest, x.ts);
        batch.push_back(x);
        continue;
      }
      ++rejected;
      metrics.CountBadLines(outcome, 1);
      Quarantine(source, line_no, outcome, line);
      if (rejected <= 100) {  // the answer names the first 100; all are quarantined
        ew.BeginObject();
        ew.Key("line");
        ew.Uint(line_no);
        ew.Key("reason");
        ew.String(ingest::OutcomeCode(outcome));
        if (!decoder.field().empty()) {
          ew.Key("field");
          ew.String(decoder.field());
        }
        ew.EndObject();
      }
    }
    ew.EndArray();

    uint64_t end_offset = journal->size();
    if (!batch.empty()) {
      // The event clock moves with what is accepted, not with what the
      // engine has consumed yet.
      EventTime seen = newest_event.load(std::memory_order_relaxed);
      while (newest > seen && !newest_event.compare_exchange_weak(seen, newest)) {
      }
      const size_t n = batch.size();
      auto appended = journal->Append(lines, [&](uint64_t end) {
        Task t;
        t.batch = std::move(batch);
        t.journal_end = end;
        Enqueue(std::move(t));
      });
      if (!appended.ok()) {
        return JsonError(503, "journal_unavailable", appended.status().message());
      }
      end_offset = appended.value();
      metrics.exchanges_ingested.fetch_add(n, std::memory_order_relaxed);
    }
    const uint64_t accepted = line_no - rejected;
    std::string out;
    JsonWriter w(out);
    w.BeginObject();
    w.Key("accepted");
    w.Uint(accepted);
    w.Key("rejected");
    w.Uint(rejected);
    w.Key("journal_offset");
    w.Uint(end_offset);
    w.Key("errors");
    w.Raw(errors);
    w.EndObject();
    return JsonResponse(accepted == 0 ? 400 : 200, std::move(out));
  }

  // --- admin -------------------------------------------------------------

  std::optional<Response> Unauthorized(const Request& r) const {
    if (options.admin_token.empty()) {
      return JsonError(403, "admin_disabled", "start moat serve with --admin-token-file");
    }
    const std::string_view auth = r.Header("authorization");
    constexpr std::string_view kBearer = "Bearer ";
    if (auth.size() <= kBearer.size() || auth.substr(0, kBearer.size()) != kBearer ||
        !ConstantTimeEquals(auth.substr(kBearer.size()), options.admin_token)) {
      Response res = JsonError(401, "unauthorized", "admin endpoints need 'Authorization: Bearer TOKEN'");
      res.headers.emplace_back("WWW-Authenticate", "Bearer realm=\"moat-admin\"");
      return res;
    }
    return std::nullopt;
  }

  Response AdminAccount(const Request& r) {
    const std::string id = PercentDecode(std::string_view(r.path).substr(r.route.size()));
    if (id.empty()) return JsonError(400, "missing_account", "expected /admin/v1/accounts/ACCOUNT_ID");
    const EventTime now = Now();
    const auto view = state.Account(id, now);
    const auto engine_json = OnEngine<std::optional<std::string>>(
        [&id](engine::Engine& e) { return e.AccountJson(id); });
    if (!engine_json) return JsonError(503, "engine_busy", "the engine did not answer in time");
    auto history = store->AccountHistory(id, 200);
    auto appeals = store->AppealsOfAccount(id);
    auto overrides = store->OverridesOfAccount(id);
    for (const Status* st : {&history.status(), &appeals.status(), &overrides.status()}) {
      if (!st->ok()) return JsonError(500, "store_error", st->message());
    }
    if (!view && !*engine_json && history.value().empty() && appeals.value().empty() &&
        overrides.value().empty()) {
      return JsonError(404, "unknown_account", "no account '" + id + "'");
    }
    std::string out;
    JsonWriter w(out);
    w.BeginObject();
    w.Key("account_id");
    w.String(id);
    w.Key("engine");
    if (*engine_json) w.Raw(**engine_json); else w.Null();
    w.Key("decision");
    if (view) {
      w.BeginObject();
      w.Key("verdict");
      w.String(score::VerdictName(view->verdict));
      w.Key("score");
      w.Double(view->score, 4);
      w.Key("reasons");
      w.BeginArray();
      for (score::Signal s : view->reasons) w.String(score::SignalCode(s));
      w.EndArray();
      w.Key("campaign_id");
      if (view->campaign_id.empty()) w.Null(); else w.String(view->campaign_id);
      w.Key("campaign_size");
      w.Uint(view->campaign_size);
      w.Key("action");
      w.String(policy::ActionName(view->last_action));
      w.Key("rule");
      w.String(view->last_rule);
      w.Key("override");
      if (view->active_override) {
        const auto& o = *view->active_override;
        w.BeginObject();
        w.Key("action");
        w.String(policy::ActionName(o.action));
        w.Key("until");
        w.String(FormatRfc3339(o.until));
        w.Key("analyst");
        w.String(o.analyst);
        w.Key("reason");
        w.String(o.reason);
        w.EndObject();
      } else {
        w.Null();
      }
      w.EndObject();
    } else {
      w.Null();
    }
    w.Key("history");
    w.BeginArray();
    for (const store::ActionRecord& a : history.value()) {
      w.BeginObject();
      w.Key("id");
      w.Int(a.id);
      w.Key("at");
      w.String(FormatRfc3339(a.event_time));
      w.Key("from");
      w.String(a.old_action);
      w.Key("to");
      w.String(a.new_action);
      w.Key("rule");
      w.String(a.rule);
      w.Key("actor");
      w.String(a.actor);
      w.Key("evidence");
      if (a.evidence_json.empty()) w.Null(); else w.Raw(a.evidence_json);
      w.EndObject();
    }
    w.EndArray();
    w.Key("appeals");
    w.BeginArray();
    for (const store::Appeal& a : appeals.value()) AppendAppeal(a, w);
    w.EndArray();
    w.Key("overrides");
    w.BeginArray();
    for (const store::OverrideRecord& o : overrides.value()) {
      w.BeginObject();
      w.Key("id");
      w.Int(o.id);
      w.Key("action");
      w.String(o.action);
      w.Key("since");
      w.String(FormatRfc3339(o.since));
      w.Key("until");
      w.String(FormatRfc3339(o.until));
      w.Key("analyst");
      w.String(o.analyst);
      w.Key("reason");
      w.String(o.reason);
      w.EndObject();
    }
    w.EndArray();
    w.EndObject();
    return JsonResponse(200, std::move(out));
  }

  static void AppendAppeal(const store::Appeal& a, JsonWriter& w) {
    w.BeginObject();
    w.Key("id");
    w.Int(a.id);
    w.Key("account_id");
    w.String(a.account_id);
    w.Key("text");
    w.String(a.text);
    w.Key("submitted_by");
    w.String(a.submitted_by);
    w.Key("status");
    w.String(store::AppealStatusName(a.status));
    w.Key("status_actor");
    w.String(a.status_actor);
    w.Key("status_note");
    w.String(a.status_note);
    w.EndObject();
  }

  Response AdminCampaigns(const Request&) {
    const auto views = state.Campaigns(Now());
    const auto engine_jsonl =
        OnEngine<std::string>([](engine::Engine& e) { return e.CampaignsJsonl(); });
    if (!engine_jsonl) return JsonError(503, "engine_busy", "the engine did not answer in time");
    std::string out;
    JsonWriter w(out);
    w.BeginObject();
    w.Key("enforcement");
    w.BeginArray();
    for (const policy::CampaignView& c : views) {
      w.BeginObject();
      w.Key("campaign_id");
      w.String(c.campaign_id);
      w.Key("size");
      w.Uint(c.size);
      w.Key("known_members");
      w.Uint(c.known_members);
      w.Key("action");
      if (c.flagged_action) w.String(policy::ActionName(*c.flagged_action)); else w.Null();
      w.Key("rule");
      w.String(c.flagged_rule);
      w.EndObject();
    }
    w.EndArray();
    w.Key("campaigns");
    w.BeginArray();
    std::string_view rest = *engine_jsonl;
    while (!rest.empty()) {
      const std::string_view line = NextLine(rest);
      if (!line.empty()) w.Raw(line);
    }
    w.EndArray();
    w.EndObject();
    return JsonResponse(200, std::move(out));
  }

  Response AdminAppeal(const Request& r) {
    auto body = JsonBody::Parse(r.body);
    if (!body.ok()) return JsonError(400, "bad_json", body.status().message());
    auto account = body.value().String("account_id");
    auto text = body.value().String("text");
    auto by = body.value().String("submitted_by");
    for (const Status* st : {&account.status(), &text.status(), &by.status()}) {
      if (!st->ok()) return BadField(*st);
    }
    if (!account.value() || account.value()->empty() || !text.value()) {
      return JsonError(400, "missing_field", "fields 'account_id' and 'text' are required");
    }
    store::Appeal a;
    a.account_id = *account.value();
    a.text = *text.value();
    a.submitted_by = by.value().value_or("");
    auto id = store->AppendAppeal(a);
    if (!id.ok()) return JsonError(500, "store_error", id.status().message());
    return JsonResponse(201, "{\"id\":" + std::to_string(id.value()) + ",\"status\":\"open\"}");
  }

  Response AdminAppealStatus(const Request& r) {
    const std::string_view rest = std::string_view(r.path).substr(r.route.size());
    int64_t appeal_id = 0;
    if (rest.empty() || rest.size() > 18 ||
        !std::all_of(rest.begin(), rest.end(), [](char c) { return c >= '0' && c <= '9'; })) {
      return JsonError(400, "bad_appeal_id", "expected /admin/v1/appeals/ID with a numeric ID");
    }
    appeal_id = std::stoll(std::string(rest));
    auto body = JsonBody::Parse(r.body);
    if (!body.ok()) return JsonError(400, "bad_json", body.status().message());
    auto status = body.value().String("status");
    auto actor = body.value().String("actor");
    auto note = body.value().String("note");
    for (const Status* st : {&status.status(), &actor.status(), &note.status()}) {
      if (!st->ok()) return BadField(*st);
    }
    const auto parsed = status.value() ? store::ParseAppealStatus(*status.value()) : std::nullopt;
    if (!parsed) {
      return JsonError(400, "bad_field",
                       "field 'status' must be one of open, in_review, granted, denied");
    }
    store::AppealEvent e;
    e.appeal_id = appeal_id;
    e.status = *parsed;
    e.actor = actor.value().value_or("");
    e.note = note.value().value_or("");
    auto id = store->AppendAppealEvent(e);
    if (!id.ok()) return JsonError(404, "unknown_appeal", id.status().message());
    return JsonResponse(201, "{\"id\":" + std::to_string(id.value()) + "}");
  }

  Response AdminListAppeals(const Request& r) {
    const std::string_view s = r.Query("status");
    const auto status = store::ParseAppealStatus(s.empty() ? "open" : s);
    if (!status) return JsonError(400, "bad_query", "status must be open, in_review, granted or denied");
    auto appeals = store->AppealsByStatus(*status);
    if (!appeals.ok()) return JsonError(500, "store_error", appeals.status().message());
    std::string out;
    JsonWriter w(out);
    w.BeginObject();
    w.Key("appeals");
    w.BeginArray();
    for (const store::Appeal& a : appeals.value()) AppendAppeal(a, w);
    w.EndArray();
    w.EndObject();
    return JsonResponse(200, std::move(out));
  }

  // An analyst override: written to the store first (so an acknowledged
  // override survives a crash), then applied to the decision cache, where the
  // account's next request sees it.
  Response AdminOverride(const Request& r) {
    auto body = JsonBody::Parse(r.body);
    if (!body.ok()) return JsonError(400, "bad_json", body.status().message());
    const JsonBody& b = body.value();
    auto account = b.String("account_id");
    auto action = b.String("action");
    auto mode = b.String("degrade_mode");
    auto analyst = b.String("analyst");
    auto reason = b.String("reason");
    auto rpm = b.Number("requests_per_minute");
    auto tpm = b.Number("output_tokens_per_minute");
    auto duration = b.Number("duration_seconds");
    for (const Status* st : {&account.status(), &action.status(), &mode.status(), &analyst.status(),
                             &reason.status(), &rpm.status(), &tpm.status(), &duration.status()}) {
      if (!st->ok()) return BadField(*st);
    }
    if (!account.value() || account.value()->empty() || !action.value()) {
      return JsonError(400, "missing_field", "fields 'account_id' and 'action' are required");
    }
    if (!analyst.value() || analyst.value()->empty()) {
      return JsonError(400, "missing_field", "field 'analyst' is required (the audit names who acted)");
    }
    const bool clear = *action.value() == "clear";
    const auto parsed = policy::ParseAction(*action.value());
    if (!clear && !parsed) {
      return JsonError(400, "bad_field",
                       "field 'action' must be allow, throttle, degrade, challenge, suspend, block or clear");
    }
    if (duration.value() && *duration.value() <= 0) {
      return JsonError(400, "bad_field", "field 'duration_seconds' must be positive");
    }
    const EventTime now = Now();
    const EventTime until =
        now + (duration.value() ? static_cast<EventTime>(*duration.value() * kMicrosPerSecond)
                                : kDefaultOverrideDuration);
    std::string throttle;
    JsonWriter tw(throttle);
    tw.BeginObject();
    if (rpm.value()) {
      tw.Key("requests_per_minute");
      tw.Double(*rpm.value());
    }
    if (tpm.value()) {
      tw.Key("output_tokens_per_minute");
      tw.Double(*tpm.value());
    }
    tw.EndObject();
    store::OverrideRecord rec;
    rec.account_id = *account.value();
    rec.action = *action.value();
    rec.degrade_mode = mode.value().value_or("");
    rec.throttle_json = throttle;
    rec.since = now;
    rec.until = until;
    rec.analyst = *analyst.value();
    rec.reason = reason.value().value_or("");
    auto id = store->AppendOverride(rec);
    if (!id.ok()) return JsonError(500, "store_error", id.status().message());
    if (clear) {
      state.ClearOverride(rec.account_id, now);
    } else {
      policy::Override o;
      o.action = *parsed;
      o.degrade_mode = rec.degrade_mode;
      o.throttle.requests_per_minute = rpm.value().value_or(0);
      o.throttle.output_tokens_per_minute = tpm.value().value_or(0);
      o.until = until;
      o.analyst = rec.analyst;
      o.reason = rec.reason;
      state.SetOverride(rec.account_id, std::move(o), now);
    }
    PumpAudit(0);
    std::string out;
    JsonWriter w(out);
    w.BeginObject();
    w.Key("id");
    w.Int(id.value());
    w.Key("account_id");
    w.String(rec.account_id);
    w.Key("action");
    w.String(rec.action);
    w.Key("until");
    w.String(FormatRfc3339(until));
    w.EndObject();
    return JsonResponse(201, std::move(out));
  }

  Response AdminReloadPolicy(const Request& r) {
    std::string path = options.policy_path;
    if (!r.body.empty()) {
      auto body = JsonBody::Parse(r.body);
      if (!body.ok()) return JsonError(400, "bad_json", body.status().message());
      auto p = body.value().String("path");
      if (!p.ok()) return BadField(p.status());
      if (p.value()) path = *p.value();
    }
    if (path.empty()) {
      return JsonError(400, "no_policy", "no policy file: start with --policy or send {\"path\": ...}");
    }
    if (Status st = state.LoadPolicy(path); !st.ok()) {
      // The running policy stays; the message carries line and column.
      return JsonError(400, "policy_refused", st.message());
    }
    const auto p = state.policy();
    std::string out;
    JsonWriter w(out);
    w.BeginObject();
    w.Key("policy");
    w.String(p->origin());
    w.Key("rules");
    w.Uint(p->rules().size());
    w.EndObject();
    return JsonResponse(200, std::move(out));
  }

  Handler Admin(Response (Impl::*fn)(const Request&)) {
    return [this, fn](const Request& r) {
      if (auto denied = Unauthorized(r)) return std::move(*denied);
      return (this->*fn)(r);
    };
  }
};

Service::Service(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Service::~Service() {
  Impl& s = *impl_;
  s.inputs_stopped = true;
  {
    // Both loops read `stopping`, each under its own mutex.
    std::scoped_lock lock(s.queue_mu, s.house_mu);
    s.stopping = true;
  }
  s.queue_cv.notify_all();
  s.house_cv.notify_all();
  if (s.engine_thread.joinable()) s.engine_thread.join();
  if (s.housekeeping.joinable()) s.housekeeping.join();
  s.PumpAudit(0);
  if (s.quarantine != nullptr) std::fclose(s.quarantine);
}

Result<std::unique_ptr<Service>> Service::Open(ServiceOptions options) {
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::create_directories(options.data_dir, ec);
  if (ec) return Status::Error("serve: cannot create " + options.data_dir + ": " + ec.message());
  std::shared_ptr<const policy::Policy> pol = policy::Policy::AllowAll();
  if (!options.policy_path.empty()) {
    auto loaded = policy::Policy::Load(options.policy_path);
    if (!loaded.ok()) return loaded.status();
    pol = std::move(loaded).value();
  }
  store::StoreOptions so;
  so.durability = options.fsync ? store::Durability::kFull : store::Durability::kNormal;
  auto st = store::Store::Open(options.data_dir + "/audit.db", so);
  if (!st.ok()) return st.status();
  auto journal = Journal::Open(options.data_dir + "/journal.jsonl", options.fsync);
  if (!journal.ok()) return journal.status();

  auto impl = std::make_unique<Impl>(std::move(options), std::move(pol));
  Impl& s = *impl;
  s.store = std::move(st).value();
  s.journal = std::move(journal).value();
  s.quarantine_path = s.options.data_dir + "/quarantine.jsonl";
  s.quarantine = std::fopen(s.quarantine_path.c_str(), "ab");
  if (s.quarantine == nullptr) return Status::Error("serve: cannot open " + s.quarantine_path);
  s.engine.SetVerdictListener([&s](std::span<const engine::VerdictUpdate> updates) {
    s.state.ApplyUpdates(updates);
    s.metrics.verdict_updates.fetch_add(updates.size(), std::memory_order_relaxed);
  });
  if (s.options.on_store_open)
    if (Status hs = s.options.on_store_open(*s.store); !hs.ok()) return hs;
  if (s.options.external_evidence != nullptr) {
    s.indicator_evidence = std::make_unique<IndicatorEvidence>(*s.options.external_evidence, s.state);
    s.engine.SetExternalEvidence(s.indicator_evidence.get());
  }
  if (Status rs = s.Recover(); !rs.ok()) return rs;
  s.engine_thread = std::thread([&s] { s.EngineLoop(); });
  s.housekeeping = std::thread([&s] { s.HousekeepingLoop(); });
  return std::unique_ptr<Service>(new Service(std::move(impl)));
}

void Service::Mount(HttpServer& server) {
  Impl& s = *impl_;
  s.server = &server;
  auto bind = [&s](Response (Impl::*fn)(const Request&)) {
    return [&s, fn](const Request& r) { return (s.*fn)(r); };
  };
  server.Route("GET", "/healthz", bind(&Impl::Healthz));
  server.Route("GET", "/metrics", bind(&Impl::MetricsPage));
  server.Route("POST", "/v1/decide", bind(&Impl::Decide));
  server.Route("POST", "/v1/exchanges", bind(&Impl::PostExchanges));
  server.Route("*", s.options.authz_prefix, bind(&Impl::ExtAuthz));
  server.RoutePrefix("*", s.options.authz_prefix + "/", bind(&Impl::ExtAuthz));
  server.RoutePrefix("GET", "/admin/v1/accounts/", s.Admin(&Impl::AdminAccount));
  server.Route("GET", "/admin/v1/campaigns", s.Admin(&Impl::AdminCampaigns));
  server.Route("POST", "/admin/v1/appeals", s.Admin(&Impl::AdminAppeal));
  server.Route("GET", "/admin/v1/appeals", s.Admin(&Impl::AdminListAppeals));
  server.RoutePrefix("POST", "/admin/v1/appeals/", s.Admin(&Impl::AdminAppealStatus));
  server.Route("POST", "/admin/v1/overrides", s.Admin(&Impl::AdminOverride));
  server.Route("POST", "/admin/v1/policy/reload", s.Admin(&Impl::AdminReloadPolicy));
  server.SetObserver([&s](std::string_view route, std::string_view method, int status, double secs) {
    s.metrics.CountRequest(route, method, status, secs);
  });
}

namespace {

// Hands ingest's batches to the engine thread (file and stdin inputs).
class QueueSink : public ExchangeSink {
 public:
  explicit QueueSink(Service::Impl& s) : s_(s) {}
  void Consume(std::span<const Exchange> batch) override;

 private:
  Service::Impl& s_;
};

}  // namespace

void QueueSink::Consume(std::span<const Exchange> batch) {
  if (s_.inputs_stopped) return;  // the service is gone; the engine no longer runs
  // Bounded queue: a fast file must not outrun the engine by gigabytes.
  while (s_.queued_exchanges.load() > s_.options.max_queued_exchanges / 2) {
    if (s_.inputs_stopped) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  Task t;
  t.batch.assign(batch.begin(), batch.end());
  s_.metrics.exchanges_ingested.fetch_add(batch.size(), std::memory_order_relaxed);
  s_.Enqueue(std::move(t));
}

void Service::StartInputs(std::vector<std::string> inputs) {
  if (inputs.empty()) return;
  std::thread([self = impl_, inputs = std::move(inputs)] {
    Impl& s = *self;
    QueueSink sink(s);
    // The files are their own record, read again at each start: their bad
    // lines go to a quarantine of their own, rewritten each time.
    auto quarantine = ingest::Quarantine::Create(s.options.data_dir + "/quarantine-input.jsonl");
    if (!quarantine.ok()) {
      std::fprintf(stderr, "moat serve: %s\n", quarantine.status().message().c_str());
      return;
    }
    const ingest::IngestReport report =
        ingest::ReadAll(inputs, ingest::IngestOptions{}, quarantine.value(), sink);
    for (size_t i = 1; i < ingest::kOutcomeCount; ++i) {
      s.metrics.CountBadLines(static_cast<ingest::LineOutcome>(i), report.stats.by_outcome[i]);
    }
    for (const auto& e : report.errors) std::fprintf(stderr, "moat serve: %s\n", e.message.c_str());
    if (Status st = quarantine.value().Flush(); !st.ok()) {
      std::fprintf(stderr, "moat serve: %s\n", st.message().c_str());
    }
  }).detach();
}

void Service::WaitIdle() {
  Impl& s = *impl_;
  std::unique_lock lock(s.queue_mu);
  s.idle_cv.wait(lock, [&] { return s.queue.empty() && !s.busy; });
}

Result<std::string> Service::OnEngine(std::function<std::string(engine::Engine&)> fn, std::chrono::seconds timeout) {
  auto promise = std::make_shared<std::promise<std::string>>();
  auto future = promise->get_future();
  Task t;
  t.fn = [promise, fn = std::move(fn)](engine::Engine& e) { promise->set_value(fn(e)); };
  impl_->Enqueue(std::move(t));
  if (future.wait_for(timeout) != std::future_status::ready)
    return Status::Error("serve: the engine did not answer within " + std::to_string(timeout.count()) + " s");
  return future.get();
}

const std::string& Service::journal_path() const { return impl_->journal->path(); }
const RecoveryReport& Service::recovery() const { return impl_->recovery; }
policy::DecisionState& Service::decisions() { return impl_->state; }
store::Store& Service::audit() { return *impl_->store; }

}  // namespace moat::serve
