#include "moat/eval/evaluate.h"

#include <algorithm>
#include <limits>
#include <span>

#include <boost/unordered/unordered_flat_map.hpp>
#include <boost/unordered/unordered_flat_set.hpp>

#include "moat/core/check.h"
#include "moat/core/exchange_sink.h"
#include "moat/core/interner.h"
#include "moat/core/time.h"
#include "moat/eval/internal/records.h"
#include "moat/ingest/quarantine.h"

namespace moat::eval {
namespace {

using internal::Verdict;

constexpr int32_t kNoIndex = -1;
constexpr std::string_view kBenignLabel = "benign";
constexpr std::string_view kNoPopulation = "(none)";

// Everything eval knows about one account, indexed by its interned id.
struct AccountState {
  int32_t label = kNoIndex;       // truth label; kNoIndex = not in truth
  int32_t population = kNoIndex;
  Verdict verdict = Verdict::kNone;  // kNone = not in the scan
  int32_t campaign = kNoIndex;    // predicted campaign_id
  bool has_flag = false;
  bool campaign_confirmed = false;   // campaigns.jsonl lists it under `campaign`
  EventTime flag_ts = 0;
  int64_t reported_exchanges = -1;
  uint64_t exchanges = 0;
  uint64_t before_flag = 0;
  EventTime first_ts = std::numeric_limits<EventTime>::max();
};

double Seconds(EventTime micros) { return static_cast<double>(micros) / kMicrosPerSecond; }

double Median(std::vector<EventTime>& v) {
  MOAT_CHECK(!v.empty());
  const size_t mid = v.size() / 2;
  std::nth_element(v.begin(), v.begin() + mid, v.end());
  const EventTime upper = v[mid];
  if (v.size() % 2 == 1) return Seconds(upper);
  const EventTime lower = *std::max_element(v.begin(), v.begin() + mid);
  return (Seconds(lower) + Seconds(upper)) / 2.0;
}

// Also the sink of the log reading: counts, per account, what ingest passes on.
class Evaluator final : private ExchangeSink {
 public:
  Result<EvalReport> Run(const EvalInputs& inputs);

 private:
  uint32_t Account(std::string_view id) {
    const uint32_t n = accounts_.Intern(id);
    if (n == states_.size()) states_.emplace_back();
    return n;
  }
  Status ReadTruth(const std::string& path);
  Status ReadScan(const std::string& dir);
  Status ReadLogs(const std::vector<std::string>& logs, const ingest::IngestOptions& options);
  void Consume(std::span<const Exchange> batch) override;
  void Compute();

  Interner accounts_;
  Interner labels_;
  Interner populations_;
  Interner campaigns_;  // predicted campaign ids
  std::vector<AccountState> states_;
  int32_t benign_label_ = kNoIndex;
  EventTime first_ts_ = std::numeric_limits<EventTime>::max();  // over exchanges passed on
  EventTime last_ts_ = std::numeric_limits<EventTime>::min();
  EvalReport report_;
};

Status Evaluator::ReadTruth(const std::string& path) {
  return internal::ReadTruth(path, [&](const internal::TruthRecord& rec, uint64_t line) -> Status {
    AccountState& s = states_[Account(rec.account_id)];
    if (s.label != kNoIndex) {
      return Status::Error(path + ":" + std::to_string(line) + ": account \"" +
                           std::string(rec.account_id) + "\" appears twice");
    }
    s.label = static_cast<int32_t>(labels_.Intern(rec.label));
    s.population = static_cast<int32_t>(
        populations_.Intern(rec.population.empty() ? kNoPopulation : rec.population));
    return Status::Ok();
  });
}

Status Evaluator::ReadScan(const std::string& dir) {
  const std::string accounts_path = dir + "/accounts.jsonl";
  const std::string campaigns_path = dir + "/campaigns.jsonl";
  Status st = internal::ReadAccountVerdicts(
      accounts_path, [&](const internal::AccountVerdictRecord& rec, uint64_t line) -> Status {
        AccountState& s = states_[Account(rec.account_id)];
        if (s.verdict != Verdict::kNone) {
          return Status::Error(accounts_path + ":" + std::to_string(line) + ": account \"" +
                               std::string(rec.account_id) + "\" appears twice");
        }
        s.verdict = rec.verdict;
        if (rec.campaign_id) s.campaign = static_cast<int32_t>(campaigns_.Intern(*rec.campaign_id));
        s.has_flag = rec.first_flagged_ts.has_value();
        s.flag_ts = rec.first_flagged_ts.value_or(0);
        s.reported_exchanges = rec.exchanges.value_or(-1);
        return Status::Ok();
      });
  if (!st.ok()) return st;
  boost::unordered_flat_set<uint32_t> listed;
  return internal::ReadCampaigns(
      campaigns_path, [&](const internal::CampaignRecord& rec, uint64_t line) -> Status {
        const uint32_t c = campaigns_.Intern(rec.campaign_id);
        if (!listed.insert(c).second) {
          return Status::Error(campaigns_path + ":" + std::to_string(line) + ": campaign \"" +
                               std::string(rec.campaign_id) + "\" appears twice");
        }
        for (std::string_view id : rec.accounts) {
          const uint32_t a = accounts_.Find(id);
          if (a == Interner::kNone || states_[a].campaign != static_cast<int32_t>(c)) {
            ++report_.scan.campaign_membership_mismatches;
          } else {
            states_[a].campaign_confirmed = true;
          }
        }
        return Status::Ok();
      });
}

// The logs go through ingest exactly as in `moat scan` (same bad-line rules,
// same de-duplication), so every count here is of the exchanges the scan saw.
Status Evaluator::ReadLogs(const std::vector<std::string>& logs, const ingest::IngestOptions& options) {
  ingest::Quarantine count_only;
  const ingest::IngestReport ingested = ingest::ReadAll(logs, options, count_only, *this);
  if (!ingested.errors.empty()) {
    std::string message = ingested.errors.front().message;
    for (size_t i = 1; i < ingested.errors.size(); ++i) message += "; " + ingested.errors[i].message;
    return Status::Error(std::move(message));
  }
  const ingest::IngestStats& st = ingested.stats;
  LogSummary& log = report_.log;
  log.files = logs.size();
  log.lines = st.lines;
  log.bad_lines = st.rejected_total;
  for (size_t i = 0; i < ingest::kOutcomeCount; ++i) {
    const auto outcome = static_cast<ingest::LineOutcome>(i);
    if (outcome == ingest::LineOutcome::kAccepted || st.by_outcome[i] == 0) continue;
    log.bad_lines_by_reason.push_back({std::string(ingest::OutcomeCode(outcome)), st.by_outcome[i]});
  }
  log.duplicates = st.duplicates;
  log.late = st.late;
  if (log.exchanges > 0) {
    log.first_ts = first_ts_;
    log.last_ts = last_ts_;
  }
  return Status::Ok();
}

void Evaluator::Consume(std::span<const Exchange> batch) {
  report_.log.exchanges += batch.size();
  for (const Exchange& e : batch) {
    first_ts_ = std::min(first_ts_, e.ts);
    last_ts_ = std::max(last_ts_, e.ts);
    AccountState& s = states_[Account(e.account_id)];
    ++s.exchanges;
    s.first_ts = std::min(s.first_ts, e.ts);
    if (!s.has_flag || e.ts < s.flag_ts) ++s.before_flag;
  }
}

void Evaluator::Compute() {
  EvalReport& r = report_;
  const auto label_of = [&](int32_t label) { return std::string(labels_.Name(label)); };
  if (const uint32_t b = labels_.Find(kBenignLabel); b != Interner::kNone) benign_label_ = static_cast<int32_t>(b);

  // Per true label (benign included; it is skipped when emitting campaigns).
  struct LabelAcc {
    CampaignEval eval;
    std::vector<EventTime> time_to_flag;
    EventTime first_exchange = std::numeric_limits<EventTime>::max();
    EventTime first_flag = std::numeric_limits<EventTime>::max();
  };
  std::vector<LabelAcc> by_label(labels_.size());
  std::vector<PopulationEval> by_population(populations_.size());
  std::vector<PredictedCampaignEval> predicted(campaigns_.size());
  // (label or kNoIndex, predicted campaign) -> accounts
  boost::unordered_flat_map<uint64_t, uint64_t> label_campaign;
  const auto pair_key = [](int32_t label, int32_t campaign) {
    return (static_cast<uint64_t>(static_cast<uint32_t>(label)) << 32) | static_cast<uint32_t>(campaign);
  };

  for (const AccountState& s : states_) {
    const bool in_truth = s.label != kNoIndex;
    const bool in_scan = s.verdict != Verdict::kNone;
    const bool in_log = s.exchanges > 0;
    const bool benign = in_truth && s.label == benign_label_;
    const bool extractor = in_truth && !benign;

    if (in_log) {
      ++r.log.accounts;
      if (!in_truth) {
        ++r.log.accounts_missing_from_truth;
        r.log.exchanges_missing_from_truth += s.exchanges;
      }
      if (!in_scan) ++r.log.accounts_missing_from_scan;
    }
    if (in_scan) {
      ++r.scan.accounts;
      if (s.verdict == Verdict::kExtraction) ++r.scan.verdict_extraction;
      if (s.verdict == Verdict::kSuspicious) ++r.scan.verdict_suspicious;
      if (s.verdict == Verdict::kBenign) ++r.scan.verdict_benign;
      if (!in_truth) ++r.scan.scan_accounts_missing_from_truth;
      if (s.verdict == Verdict::kExtraction && !s.has_flag) ++r.scan.extraction_without_first_flagged_ts;
      if (s.verdict != Verdict::kExtraction && s.has_flag) ++r.scan.first_flagged_ts_without_extraction;
      if (s.reported_exchanges >= 0 && static_cast<uint64_t>(s.reported_exchanges) != s.exchanges) {
        ++r.scan.exchange_count_mismatches;
      }
      if (s.campaign != kNoIndex && !s.campaign_confirmed) ++r.scan.campaign_membership_mismatches;
    } else if (in_truth) {
      ++r.scan.truth_accounts_missing_from_scan;
      ++(extractor ? r.scan.truth_extractors_missing_from_scan : r.scan.truth_benign_missing_from_scan);
    }
    if (s.campaign != kNoIndex) {
      PredictedCampaignEval& p = predicted[s.campaign];
      ++p.accounts;
      if (benign) ++p.benign_accounts;
      if (!in_truth) ++p.unknown_accounts;
      ++label_campaign[pair_key(s.label, s.campaign)];
    }
    if (!in_truth) continue;

    ++r.truth_accounts;
    r.exchanges += s.exchanges;
    const bool flagged = s.verdict == Verdict::kExtraction;
    const bool suspicious = s.verdict == Verdict::kSuspicious;
    if (benign) {
      ++r.benign_accounts;
      PopulationEval& pop = by_population[s.population];
      ++pop.accounts;
      pop.false_positives.count += flagged;
      pop.review.count += suspicious;
      r.false_positive_rate.count += flagged;
      r.review_load.count += suspicious;
      continue;
    }

    ++r.extractor_accounts;
    r.extractor_exchanges += s.exchanges;
    r.recall.count += flagged;
    r.extractor_suspicious.count += suspicious;
    r.leakage.count += s.before_flag;

    LabelAcc& acc = by_label[s.label];
    CampaignEval& c = acc.eval;
    ++c.accounts;
    c.accounts_missing_from_scan += !in_scan;
    c.exchanges += s.exchanges;
    c.recall.count += flagged;
    c.suspicious_accounts += suspicious;
    c.leakage.count += s.before_flag;
    if (in_scan && s.campaign == kNoIndex) ++c.unlinked_accounts;
    if (in_log) acc.first_exchange = std::min(acc.first_exchange, s.first_ts);
    if (s.has_flag) {
      acc.first_flag = std::min(acc.first_flag, s.flag_ts);
      if (in_log) acc.time_to_flag.push_back(s.flag_ts - s.first_ts);
    }
  }

  r.recall.total = r.extractor_suspicious.total = r.extractor_accounts;
  r.false_positive_rate.total = r.review_load.total = r.benign_accounts;
  r.leakage.total = r.extractor_exchanges;

  // Grouping and dominant labels from the (label, campaign) counts.
  for (const auto& [key, n] : label_campaign) {
    const auto label = static_cast<int32_t>(static_cast<uint32_t>(key >> 32));
    const auto campaign = static_cast<uint32_t>(key);
    PredictedCampaignEval& p = predicted[campaign];
    if (label != kNoIndex &&
        (n > p.dominant_label_accounts ||
         (n == p.dominant_label_accounts && labels_.Name(label) < p.dominant_label))) {
      p.dominant_label_accounts = n;
      p.dominant_label = label_of(label);
    }
    if (label == kNoIndex || label == benign_label_) continue;
    CampaignEval& c = by_label[label].eval;
    ++c.distinct_campaign_ids;
    const std::string_view name = campaigns_.Name(campaign);
    if (n > c.largest_campaign_id_share.count ||
        (n == c.largest_campaign_id_share.count && name < c.largest_campaign_id)) {
      c.largest_campaign_id_share.count = n;
      c.largest_campaign_id = std::string(name);
    }
  }

  for (size_t l = 0; l < by_label.size(); ++l) {
    if (static_cast<int32_t>(l) == benign_label_) continue;
    LabelAcc& acc = by_label[l];
    CampaignEval& c = acc.eval;
    if (c.accounts == 0) continue;
    c.label = label_of(static_cast<int32_t>(l));
    c.recall.total = c.accounts;
    c.leakage.total = c.exchanges;
    c.largest_campaign_id_share.total = c.accounts;
    c.grouping_target_met = c.largest_campaign_id_share.rate().value_or(0.0) >= kGroupingTarget;
    r.campaigns_meeting_grouping_target += c.grouping_target_met;
    c.time_to_flag_accounts = acc.time_to_flag.size();
    if (!acc.time_to_flag.empty()) c.median_time_to_flag_s = Median(acc.time_to_flag);
    if (acc.first_exchange != std::numeric_limits<EventTime>::max()) c.first_exchange_ts = acc.first_exchange;
    if (acc.first_flag != std::numeric_limits<EventTime>::max()) c.first_flagged_ts = acc.first_flag;
    if (c.first_exchange_ts && c.first_flagged_ts) {
      c.time_to_first_flag_s = Seconds(*c.first_flagged_ts - *c.first_exchange_ts);
    }
    r.campaigns.push_back(std::move(c));
  }
  r.true_campaigns = r.campaigns.size();
  std::sort(r.campaigns.begin(), r.campaigns.end(),
            [](const CampaignEval& a, const CampaignEval& b) { return a.label < b.label; });

  for (size_t p = 0; p < by_population.size(); ++p) {
    PopulationEval& pop = by_population[p];
    if (pop.accounts == 0) continue;
    pop.population = std::string(populations_.Name(static_cast<uint32_t>(p)));
    pop.false_positives.total = pop.review.total = pop.accounts;
    r.populations.push_back(std::move(pop));
  }
  std::sort(r.populations.begin(), r.populations.end(),
            [](const PopulationEval& a, const PopulationEval& b) { return a.population < b.population; });

  for (size_t c = 0; c < predicted.size(); ++c) {
    PredictedCampaignEval& p = predicted[c];
    p.campaign_id = std::string(campaigns_.Name(static_cast<uint32_t>(c)));
    if (p.benign_accounts > 0) ++r.predicted_campaigns_with_benign;
    r.benign_accounts_in_predicted_campaigns += p.benign_accounts;
    r.predicted.push_back(std::move(p));
  }
  r.predicted_campaigns = r.predicted.size();
  std::sort(r.predicted.begin(), r.predicted.end(),
            [](const PredictedCampaignEval& a, const PredictedCampaignEval& b) {
              return a.campaign_id < b.campaign_id;
            });
}

Result<EvalReport> Evaluator::Run(const EvalInputs& inputs) {
  if (inputs.logs.empty()) return Status::Error("eval: no exchange log given");
  // Truth and scan first: first_flagged_ts must be known before the single pass over the logs.
  if (Status s = ReadTruth(inputs.truth); !s.ok()) return s;
  if (Status s = ReadScan(inputs.scan_dir); !s.ok()) return s;
  if (Status s = ReadLogs(inputs.logs, inputs.ingest); !s.ok()) return s;
  Compute();
  return std::move(report_);
}

}  // namespace

Result<EvalReport> Evaluate(const EvalInputs& inputs) {
  Evaluator evaluator;
  return evaluator.Run(inputs);
}

}  // namespace moat::eval
