// `moat serve`'s service: the engine on a thread of its own fed through a
// queue, the decision cache it updates, the durable exchange journal and the
// audit store, and the HTTP routes the gateway and analysts call. State lives
// in the store and the journal; a restart rebuilds the rest from them.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "moat/core/status.h"
#include "moat/engine/engine.h"
#include "moat/policy/policy.h"
#include "moat/score/detector_config.h"
#include "moat/serve/http_server.h"
#include "moat/store/store.h"

namespace moat::serve {

enum class ClockMode : uint8_t {
  kWall,   // decisions at the wall clock (production)
  kEvent,  // decisions at the request's event time ("ts"), else the newest ingested (replay)
};

struct ServiceOptions {
  std::string data_dir;     // journal.jsonl, audit.db, quarantine.jsonl
  std::string policy_path;  // empty: allow everything
  score::DetectorConfig detector;
  ClockMode clock = ClockMode::kWall;
  std::string admin_token;  // empty: the admin API answers 403
  bool fsync = true;        // journal and store fsync before acknowledging
  // Where ext_authz finds the caller (Envoy forwards the original headers).
  std::string account_header = "x-account-id";
  std::string api_key_header = "x-api-key-id";
  std::string ip_header = "x-forwarded-for";  // last address of the list (the edge's)
  std::string org_header = "x-org-id";
  std::string model_header = "x-model";
  std::string event_time_header = "x-moat-event-time";  // honoured with ClockMode::kEvent
  std::string authz_prefix = "/ext_authz";
  // Beyond this many exchanges waiting for the engine, ingest answers 503.
  uint64_t max_queued_exchanges = 2'000'000;
  // Partner evidence for the engine (intel's PartnerEvidenceSource); not
  // owned, must outlive the Service. An account it gives weight to is also
  // marked as an indicator match in the decision cache, so policy rules on
  // indicator_match act on the account's next request.
  engine::ExternalEvidence* external_evidence = nullptr;
  // Runs once the store is open, before the journal is replayed: restores
  // what the engine's helpers must know before they see an exchange.
  std::function<Status(store::Store&)> on_store_open;
};

struct RecoveryReport {
  uint64_t journal_exchanges = 0;  // replayed into the engine
  uint64_t journal_bytes = 0;
  uint64_t torn_bytes = 0;  // cut off an unacknowledged torn tail
  uint64_t audit_checkpoint = 0;  // journal offset up to which the audit was complete
  uint64_t overrides_restored = 0;
  double seconds = 0;
};

class Service {
 public:
  // Opens the store and the journal in data_dir (created if missing),
  // loads the policy and replays the journal into a fresh engine.
  static Result<std::unique_ptr<Service>> Open(ServiceOptions options);
  ~Service();  // drains the engine queue, then stops its threads
  Service(const Service&) = delete;
  Service& operator=(const Service&) = delete;

  // Mounts every route (see docs/serve.md) and the metrics observer.
  void Mount(HttpServer& server);
  // Reads exchange logs ("-": stdin) into the engine on a background thread,
  // alongside POSTed batches (these are not journalled: the file is the record).
  // What it reads after the Service is destroyed is dropped.
  void StartInputs(std::vector<std::string> inputs);

  // Blocks until the engine has consumed everything queued so far.
  void WaitIdle();
  // Runs `fn` on the engine thread between batches and returns its result,
  // or an error when the engine has not answered within `timeout` (`fn` may
  // still run later: it must capture nothing that dies before the Service).
  Result<std::string> OnEngine(std::function<std::string(engine::Engine&)> fn,
                               std::chrono::seconds timeout = std::chrono::seconds(30));
  // The exchange journal (every POSTed exchange, in engine order).
  const std::string& journal_path() const;
  const RecoveryReport& recovery() const;
  policy::DecisionState& decisions();
  store::Store& audit();

  struct Impl;  // defined in service.cc

 private:
  explicit Service(std::unique_ptr<Impl> impl);
  // Shared with the input reader: a reader blocked on stdin cannot be
  // joined, so it is detached and keeps what it uses alive.
  std::shared_ptr<Impl> impl_;
};

}  // namespace moat::serve
