// eval: judges a scan (DIR/accounts.jsonl, DIR/campaigns.jsonl) against the
// simulator's truth.jsonl and the exchange logs it was run on, computing the
// measures of spec/verdicts.md. Evaluation only: nothing here may ever feed
// back into detection, and the detector never reads truth.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "moat/core/exchange.h"
#include "moat/core/status.h"
#include "moat/ingest/ingest.h"

namespace moat::eval {

struct EvalInputs {
  std::vector<std::string> logs;  // exchange logs, .jsonl / .jsonl.gz / .jsonl.zst
  std::string truth;              // truth.jsonl
  std::string scan_dir;           // holds accounts.jsonl and campaigns.jsonl
  // How the logs are read: must match the scan's (e.g. its allowed lateness,
  // which bounds duplicate detection) for the exchange counts to agree.
  ingest::IngestOptions ingest;
};

// count / total; rate() is nullopt when total is 0 (shown as n/a and null).
struct Ratio {
  uint64_t count = 0;
  uint64_t total = 0;
  std::optional<double> rate() const {
    if (total == 0) return std::nullopt;
    return static_cast<double>(count) / static_cast<double>(total);
  }
};

// One kind of bad log line (ingest's OutcomeCode) and how many there were.
struct BadLineCount {
  std::string reason;
  uint64_t count = 0;
};

// What the log reading saw. The logs are read by moat::ingest::ReadAll, as the
// scan reads them, so bad lines and duplicates are decided by the same rules.
struct LogSummary {
  uint64_t files = 0;
  uint64_t lines = 0;
  uint64_t bad_lines = 0;
  std::vector<BadLineCount> bad_lines_by_reason;  // non-zero reasons, in OutcomeCode order
  uint64_t duplicates = 0;  // same request_id within the lateness window: not exchanges
  uint64_t late = 0;        // older than the lateness window when read: still exchanges
  uint64_t exchanges = 0;
  std::optional<EventTime> first_ts;  // time coverage: earliest and latest ts
  std::optional<EventTime> last_ts;
  uint64_t accounts = 0;                   // distinct accounts with exchanges
  uint64_t accounts_missing_from_truth = 0;
  uint64_t exchanges_missing_from_truth = 0;  // exchanges of those accounts
  uint64_t accounts_missing_from_scan = 0;   // scan contract breach
};

// Contract checks on the scan. Every non-zero count here is a breach worth a look.
struct ScanChecks {
  uint64_t accounts = 0;                       // lines of accounts.jsonl
  uint64_t verdict_extraction = 0;
  uint64_t verdict_suspicious = 0;
  uint64_t verdict_benign = 0;
  uint64_t truth_accounts_missing_from_scan = 0;  // breach: every account needs a verdict
  uint64_t truth_extractors_missing_from_scan = 0;
  uint64_t truth_benign_missing_from_scan = 0;
  uint64_t scan_accounts_missing_from_truth = 0;
  // verdict `extraction` with null first_flagged_ts: counted as leaking everything.
  uint64_t extraction_without_first_flagged_ts = 0;
  // first_flagged_ts set but final verdict is not `extraction` (flag later lifted).
  uint64_t first_flagged_ts_without_extraction = 0;
  // accounts.jsonl `exchanges` differs from the count in the given logs.
  uint64_t exchange_count_mismatches = 0;
  // campaigns.jsonl and accounts.jsonl disagree on an account's campaign_id.
  uint64_t campaign_membership_mismatches = 0;
};

// One true campaign (truth label other than `benign`).
struct CampaignEval {
  std::string label;
  uint64_t accounts = 0;
  uint64_t accounts_missing_from_scan = 0;
  uint64_t exchanges = 0;
  Ratio recall;                 // accounts with verdict extraction / accounts
  uint64_t suspicious_accounts = 0;
  Ratio leakage;                // exchanges before the account's flag / exchanges
  // Median over accounts with first_flagged_ts and at least one exchange of
  // (first_flagged_ts - that account's first exchange ts), in seconds.
  std::optional<double> median_time_to_flag_s;
  uint64_t time_to_flag_accounts = 0;
  std::optional<EventTime> first_exchange_ts;   // the campaign's first exchange
  std::optional<EventTime> first_flagged_ts;    // its earliest flagged account
  std::optional<double> time_to_first_flag_s;   // difference of the two
  // Grouping by predicted campaign_id.
  uint64_t distinct_campaign_ids = 0;
  std::string largest_campaign_id;              // empty when no account is linked
  Ratio largest_campaign_id_share;              // its accounts / the campaign's accounts
  bool grouping_target_met = false;             // share >= kGroupingTarget
  uint64_t unlinked_accounts = 0;               // in the scan with null campaign_id
};

inline constexpr double kGroupingTarget = 0.9;

// One predicted campaign (a campaign_id of the scan).
struct PredictedCampaignEval {
  std::string campaign_id;
  uint64_t accounts = 0;
  uint64_t benign_accounts = 0;
  uint64_t unknown_accounts = 0;   // not in truth
  std::string dominant_label;      // most common truth label among its accounts
  uint64_t dominant_label_accounts = 0;
  std::optional<double> benign_share() const {
    return Ratio{benign_accounts, accounts}.rate();
  }
};

// Benign accounts of one truth `population`.
struct PopulationEval {
  std::string population;
  uint64_t accounts = 0;
  Ratio false_positives;  // verdict extraction
  Ratio review;           // verdict suspicious
};

struct EvalReport {
  // Truth.
  uint64_t truth_accounts = 0;
  uint64_t extractor_accounts = 0;
  uint64_t benign_accounts = 0;
  uint64_t true_campaigns = 0;
  // Exchanges of truth accounts in the logs.
  uint64_t exchanges = 0;
  uint64_t extractor_exchanges = 0;

  LogSummary log;
  ScanChecks scan;

  // Headline measures.
  Ratio recall;                 // extractors at extraction / extractors
  Ratio extractor_suspicious;   // extractors at suspicious / extractors
  Ratio false_positive_rate;    // benign at extraction / benign
  Ratio review_load;            // benign at suspicious / benign
  Ratio leakage;                // extractor exchanges before flag / extractor exchanges
  uint64_t campaigns_meeting_grouping_target = 0;

  // Purity of the predicted campaigns.
  uint64_t predicted_campaigns = 0;
  uint64_t predicted_campaigns_with_benign = 0;
  uint64_t benign_accounts_in_predicted_campaigns = 0;

  std::vector<CampaignEval> campaigns;                    // sorted by label
  std::vector<PopulationEval> populations;                // sorted by population
  std::vector<PredictedCampaignEval> predicted;           // sorted by campaign_id
};

// Reads the truth, then the scan, then streams the logs once. Fails on a
// missing or malformed truth/verdict file or an unreadable log; bad log lines
// are counted, not fatal.
Result<EvalReport> Evaluate(const EvalInputs& inputs);

// A terminal report for a trust-and-safety engineer.
std::string FormatTable(const EvalReport& report);

// One JSON object on one line (no trailing newline), stable snake_case keys.
std::string ToJson(const EvalReport& report);

}  // namespace moat::eval
