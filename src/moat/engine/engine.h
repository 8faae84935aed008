// Wires the detector: per-exchange stage-1 updates, event-time ticks that
// re-score touched accounts and periodically re-link campaigns, and the
// verdict files of spec/verdicts.md. Holds no detection algorithm itself.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "moat/core/exchange_sink.h"
#include "moat/core/interner.h"
#include "moat/core/status.h"
#include "moat/features/account_state.h"
#include "moat/link/linker.h"
#include "moat/score/detector_config.h"
#include "moat/score/scorer.h"
#include "moat/text/minhash.h"

namespace moat::engine {

using score::DetectorConfig;

struct EngineStats {
  uint64_t exchanges = 0;
  uint64_t late_exchanges = 0;  // ts before a tick already run
  uint32_t accounts = 0;
  uint32_t campaigns = 0;
  uint32_t extraction = 0;
  uint32_t suspicious = 0;
  uint32_t benign = 0;
  uint64_t score_ticks = 0;
  uint64_t link_runs = 0;
  size_t state_bytes_per_account = 0;  // fixed stage-1 + verdict state per account
};

// One account's verdict, as written to accounts.jsonl.
struct AccountVerdict {
  std::string_view account_id;
  score::Verdict verdict = score::Verdict::kBenign;
  double score = 0;
  std::optional<EventTime> first_flagged_ts;
  std::optional<std::string> campaign_id;
  uint32_t exchanges = 0;
};

// An account whose verdict or campaign changed at a tick: what a live
// deployment (decision cache, audit store) needs to act, pushed rather than
// polled so the request path never scans the engine.
struct VerdictUpdate {
  std::string_view account_id;
  score::Verdict verdict = score::Verdict::kBenign;
  score::Verdict previous = score::Verdict::kBenign;
  double score = 0;
  EventTime at = 0;                  // the tick's event time
  std::string campaign_id;           // empty when not in a campaign; stable while the campaign lives
  uint32_t campaign_size = 0;
  std::vector<score::Reason> reasons;  // strongest first, as in accounts.jsonl
};
using VerdictListener = std::function<void(std::span<const VerdictUpdate>)>;

// Evidence from outside the stream (intel's partner indicator matcher). The
// engine shows it every exchange it applies and asks it for the account's
// evidence each time it scores the account, passing the score without it
// (the source uses that to learn whether its partners are right).
class ExternalEvidence {
 public:
  virtual ~ExternalEvidence() = default;
  virtual void Observe(const Exchange& x) = 0;
  virtual score::PartnerEvidence Evidence(std::string_view account_id, const score::ScoreResult& without,
                                          uint32_t exchanges) = 0;
};

class Engine : public ExchangeSink {
 public:
  explicit Engine(DetectorConfig cfg);

  // Batches in event-time order (late lines allowed; they are applied, and
  // only ever to ticks not yet run).
  void Consume(std::span<const Exchange> batch) override;
  // Runs the pending tick (score + link) on everything consumed. Idempotent;
  // Consume after Finish is not allowed.
  void Finish();

  // Writes out_dir/accounts.jsonl and out_dir/campaigns.jsonl (verdicts.md).
  // Accounts in first-seen order; campaigns ordered by first_seen.
  Status WriteVerdicts(const std::string& out_dir) const;
  // The same content as strings (one JSON object per line).
  std::string AccountsJsonl() const;
  std::string CampaignsJsonl() const;

  std::vector<AccountVerdict> Verdicts() const;
  // Called after each tick with the accounts whose verdict or campaign
  // changed, on the thread that calls Consume/Finish.
  void SetVerdictListener(VerdictListener listener) { listener_ = std::move(listener); }
  // Optional, not owned; set before the first Consume.
  void SetExternalEvidence(ExternalEvidence* source) { external_ = source; }
  // One account's accounts.jsonl line (without the newline), or nullopt.
  std::optional<std::string> AccountJson(std::string_view account_id) const;
  EngineStats stats() const;
  const DetectorConfig& config() const { return cfg_; }

 private:
  struct Runtime {
    score::ScoreResult result;
    double peak_score = 0;  // highest score since first flagged
    EventTime first_flagged = 0;
    bool flagged = false;
    bool touched = false;
    int32_t campaign = -1;  // index into components_
    // What listeners last saw (only maintained when a listener is set).
    score::Verdict published_verdict = score::Verdict::kBenign;
    uint32_t published_campaign = 0;  // campaign key, 0 none
    bool pending = false;
  };

  void Apply(const Exchange& x);
  void Tick(EventTime t, bool force_link);
  void Publish(EventTime t);
  void AppendAccountJson(uint32_t a, const std::vector<int32_t>& rank, std::string& out) const;
  void ScoreAccount(uint32_t a, EventTime t);
  void Relink(EventTime t);
  void RefreshSketchValues();
  score::CampaignContext Context(uint32_t a) const;
  std::vector<int32_t> CampaignOrder() const;  // component index -> output rank, -1 none

  DetectorConfig cfg_;
  Interner accounts_;
  features::KeyExtractor keys_;
  features::ExchangeKeys scratch_;
  link::Linker linker_;
  std::vector<features::AccountState> states_;
  std::vector<Runtime> runtime_;
  std::vector<uint32_t> touched_;
  std::vector<uint32_t> sketch_dirty_;  // accounts whose wake-up or prompt sketch changed since the last link run
  text::MinHasher sketch_hasher_;
  std::vector<link::Component> components_;
  std::vector<uint32_t> component_key_;  // stable campaign key: 1 + smallest member id
  std::vector<double> component_mean_;
  std::vector<double> component_strength_;
  bool started_ = false;
  bool finished_ = false;
  bool dirty_link_ = false;  // exchanges since the last link run
  EventTime next_score_tick_ = 0;
  EventTime next_link_tick_ = 0;
  EventTime last_tick_ = INT64_MIN;
  EngineStats stats_;
  VerdictListener listener_;
  ExternalEvidence* external_ = nullptr;
  std::unordered_map<uint32_t, score::PartnerEvidence> partner_;  // accounts with partner evidence
  const score::PartnerEvidence* Partner(uint32_t a) const;
  std::vector<uint32_t> pending_;  // accounts re-scored since the last Publish
};

}  // namespace moat::engine
