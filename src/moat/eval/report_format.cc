// FormatTable and ToJson for EvalReport.
#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>

#include "moat/core/json_writer.h"
#include "moat/core/time.h"
#include "moat/eval/evaluate.h"

namespace moat::eval {
namespace {

constexpr int kRateDecimals = 9;     // JSON: enough for 1 in 10^8 benign accounts
constexpr int kSecondsDecimals = 3;  // JSON: milliseconds, the precision of the log's ts
constexpr size_t kMaxImpureCampaignsShown = 10;

std::string Fixed(double v, int decimals) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return buf;
}

std::string RateText(const Ratio& r) {
  const auto rate = r.rate();
  return rate ? Fixed(*rate, 4) : std::string("n/a");
}

// "0.9931  (1437/1447)"; tables use a single space.
std::string RatioText(const Ratio& r, std::string_view gap = "  ") {
  std::string s = RateText(r);
  s.append(gap);
  s.push_back('(');
  s.append(std::to_string(r.count)).push_back('/');
  s.append(std::to_string(r.total)).push_back(')');
  return s;
}

// Coarse, human durations: 45s, 12m30s, 3h05m, 2d04h.
std::string DurationText(std::optional<double> seconds) {
  if (!seconds) return "-";
  const double v = *seconds;
  const char* sign = v < 0 ? "-" : "";
  const auto s = static_cast<int64_t>(std::llround(std::fabs(v)));
  char buf[48];
  if (s < 60) {
    std::snprintf(buf, sizeof buf, "%s%llds", sign, static_cast<long long>(s));
  } else if (s < 3600) {
    std::snprintf(buf, sizeof buf, "%s%lldm%02llds", sign, static_cast<long long>(s / 60),
                  static_cast<long long>(s % 60));
  } else if (s < 86400) {
    std::snprintf(buf, sizeof buf, "%s%lldh%02lldm", sign, static_cast<long long>(s / 3600),
                  static_cast<long long>(s % 3600 / 60));
  } else {
    std::snprintf(buf, sizeof buf, "%s%lldd%02lldh", sign, static_cast<long long>(s / 86400),
                  static_cast<long long>(s % 86400 / 3600));
  }
  return buf;
}

std::string TimeText(std::optional<EventTime> t) { return t ? FormatRfc3339(*t) : std::string("-"); }

// Columns: the first left-aligned, the rest right-aligned (they are numbers).
class TextTable {
 public:
  explicit TextTable(std::vector<std::string> header) { rows_.push_back(std::move(header)); }
  void Add(std::vector<std::string> row) { rows_.push_back(std::move(row)); }
  void AppendTo(std::string& out, std::string_view indent) const {
    std::vector<size_t> width;
    for (const auto& row : rows_) {
      width.resize(std::max(width.size(), row.size()), 0);
      for (size_t i = 0; i < row.size(); ++i) width[i] = std::max(width[i], row[i].size());
    }
    for (const auto& row : rows_) {
      std::string line(indent);
      for (size_t i = 0; i < row.size(); ++i) {
        const std::string pad(width[i] - row[i].size(), ' ');
        if (i > 0) line += "  ";
        line += i == 0 ? row[i] + pad : pad + row[i];
      }
      while (!line.empty() && line.back() == ' ') line.pop_back();
      out += line;
      out += '\n';
    }
  }

 private:
  std::vector<std::vector<std::string>> rows_;
};

// "  label   value   note" rows with the value and note columns aligned.
class Headline {
 public:
  void Add(std::string label, std::string value, std::string note) {
    rows_.push_back({std::move(label), std::move(value), std::move(note)});
  }
  void AppendTo(std::string& out) const {
    size_t label_w = 0;
    size_t value_w = 0;
    for (const auto& r : rows_) {
      label_w = std::max(label_w, r[0].size());
      value_w = std::max(value_w, r[1].size());
    }
    for (const auto& r : rows_) {
      out.append("  ").append(r[0]).append(label_w - r[0].size() + 3, ' ');
      out.append(r[1]).append(value_w - r[1].size() + 3, ' ').append(r[2]).push_back('\n');
    }
  }

 private:
  std::vector<std::array<std::string, 3>> rows_;
};

void Warn(std::string& out, uint64_t n, const std::string& what) {
  if (n == 0) return;
  out += "  ! " + std::to_string(n) + " " + what + "\n";
}

// JSON helpers.
void RatioJson(JsonWriter& w, std::string_view key, const Ratio& r) {
  w.Key(key);
  w.BeginObject();
  w.Key("rate");
  if (const auto rate = r.rate()) w.Double(*rate, kRateDecimals); else w.Null();
  w.Key("count");
  w.Uint(r.count);
  w.Key("total");
  w.Uint(r.total);
  w.EndObject();
}

void UintJson(JsonWriter& w, std::string_view key, uint64_t v) {
  w.Key(key);
  w.Uint(v);
}

void TimeJson(JsonWriter& w, std::string_view key, std::optional<EventTime> t) {
  w.Key(key);
  if (t) w.String(FormatRfc3339(*t)); else w.Null();
}

void SecondsJson(JsonWriter& w, std::string_view key, std::optional<double> s) {
  w.Key(key);
  if (s) w.Double(*s, kSecondsDecimals); else w.Null();
}

}  // namespace

std::string FormatTable(const EvalReport& r) {
  std::string out;
  out += "moat eval: " + std::to_string(r.extractor_accounts) + " extractor accounts in " +
         std::to_string(r.true_campaigns) + " campaigns, " + std::to_string(r.benign_accounts) +
         " benign accounts, " + std::to_string(r.exchanges) + " exchanges (" +
         std::to_string(r.extractor_exchanges) + " by extractors)\n";
  out += "log: " + TimeText(r.log.first_ts) + " .. " + TimeText(r.log.last_ts) + "  (files " +
         std::to_string(r.log.files) + ", lines " + std::to_string(r.log.lines) + ", bad " +
         std::to_string(r.log.bad_lines) + ", duplicates " + std::to_string(r.log.duplicates) + ")\n\n";

  out += "headline\n";
  Headline h;
  h.Add("recall", RatioText(r.recall), "extractor accounts at extraction");
  h.Add("false-positive rate", RatioText(r.false_positive_rate), "benign accounts at extraction");
  h.Add("review load", RatioText(r.review_load), "benign accounts at suspicious");
  h.Add("leakage", RatioText(r.leakage), "extractor exchanges before their account's first_flagged_ts");
  h.Add("extractors suspicious", RatioText(r.extractor_suspicious), "extractor accounts at suspicious");
  h.Add("grouping", std::to_string(r.campaigns_meeting_grouping_target) + "/" + std::to_string(r.true_campaigns),
        "true campaigns whose largest campaign_id holds >= 90% of their accounts");
  h.Add("purity", std::to_string(r.predicted_campaigns_with_benign) + "/" + std::to_string(r.predicted_campaigns),
        "predicted campaigns holding benign accounts (" +
            std::to_string(r.benign_accounts_in_predicted_campaigns) + " benign accounts in all)");
  h.AppendTo(out);

  out += "\nscan contract\n";
  const std::string before = out;
  const ScanChecks& s = r.scan;
  Warn(out, s.truth_accounts_missing_from_scan,
       "truth accounts missing from accounts.jsonl (" + std::to_string(s.truth_extractors_missing_from_scan) +
           " extractor, " + std::to_string(s.truth_benign_missing_from_scan) +
           " benign; counted as not flagged)");
  Warn(out, s.scan_accounts_missing_from_truth, "scan accounts missing from truth (ignored)");
  Warn(out, r.log.accounts_missing_from_scan, "log accounts missing from accounts.jsonl");
  Warn(out, r.log.accounts_missing_from_truth,
       "log accounts missing from truth (" + std::to_string(r.log.exchanges_missing_from_truth) +
           " exchanges, ignored)");
  Warn(out, s.extraction_without_first_flagged_ts,
       "accounts at extraction with null first_flagged_ts (counted as leaking every exchange)");
  Warn(out, s.first_flagged_ts_without_extraction, "accounts with first_flagged_ts but a final verdict below extraction");
  Warn(out, s.exchange_count_mismatches, "accounts whose `exchanges` differs from the log");
  Warn(out, s.campaign_membership_mismatches, "campaign memberships where campaigns.jsonl and accounts.jsonl disagree");
  Warn(out, r.log.bad_lines, "bad log lines (not exchanges)");
  for (const BadLineCount& b : r.log.bad_lines_by_reason) {
    out += "      " + b.reason + ": " + std::to_string(b.count) + "\n";
  }
  if (out == before) out += "  all checks pass\n";

  out += "\ncampaigns\n";
  TextTable campaigns({"campaign", "accounts", "exchanges", "recall", "susp", "leakage", "median ttf",
                       "to 1st flag", "ids", "largest id", "share", "unlinked", "missing"});
  for (const CampaignEval& c : r.campaigns) {
    campaigns.Add({c.label, std::to_string(c.accounts), std::to_string(c.exchanges), RatioText(c.recall, " "),
                   std::to_string(c.suspicious_accounts), RatioText(c.leakage, " "), DurationText(c.median_time_to_flag_s),
                   DurationText(c.time_to_first_flag_s), std::to_string(c.distinct_campaign_ids),
                   c.largest_campaign_id.empty() ? std::string("-") : c.largest_campaign_id,
                   RateText(c.largest_campaign_id_share) + (c.grouping_target_met ? "" : " !"),
                   std::to_string(c.unlinked_accounts), std::to_string(c.accounts_missing_from_scan)});
  }
  campaigns.AppendTo(out, "  ");
  out += "  median ttf: first_flagged_ts minus the account's first exchange (median over flagged accounts)\n"
         "  to 1st flag: the campaign's first exchange to its first flagged account\n"
         "  ids: distinct campaign_ids; share: of its accounts in the largest one (! below 0.90)\n"
         "  unlinked: null campaign_id; missing: no line in accounts.jsonl\n";

  out += "\nfalse positives by population (benign accounts)\n";
  TextTable pops({"population", "accounts", "fp", "fp rate", "review", "review rate"});
  for (const PopulationEval& p : r.populations) {
    pops.Add({p.population, std::to_string(p.accounts), std::to_string(p.false_positives.count),
              RateText(p.false_positives), std::to_string(p.review.count), RateText(p.review)});
  }
  pops.AppendTo(out, "  ");

  std::vector<const PredictedCampaignEval*> impure;
  for (const PredictedCampaignEval& p : r.predicted) {
    if (p.benign_accounts > 0) impure.push_back(&p);
  }
  if (!impure.empty()) {
    std::stable_sort(impure.begin(), impure.end(), [](const auto* a, const auto* b) {
      return a->benign_accounts > b->benign_accounts;
    });
    out += "\npredicted campaigns holding benign accounts";
    if (impure.size() > kMaxImpureCampaignsShown) {
      out += " (" + std::to_string(kMaxImpureCampaignsShown) + " of " + std::to_string(impure.size()) + ")";
      impure.resize(kMaxImpureCampaignsShown);
    }
    out += "\n";
    TextTable t({"campaign_id", "accounts", "benign", "benign share", "dominant label"});
    for (const auto* p : impure) {
      t.Add({p->campaign_id, std::to_string(p->accounts), std::to_string(p->benign_accounts),
             p->benign_share() ? Fixed(*p->benign_share(), 4) : std::string("n/a"),
             p->dominant_label.empty() ? std::string("-")
                                       : p->dominant_label + " (" + std::to_string(p->dominant_label_accounts) + ")"});
    }
    t.AppendTo(out, "  ");
  }
  return out;
}

std::string ToJson(const EvalReport& r) {
  std::string out;
  JsonWriter w(out);
  w.BeginObject();
  w.Key("counts");
  w.BeginObject();
  UintJson(w, "truth_accounts", r.truth_accounts);
  UintJson(w, "extractor_accounts", r.extractor_accounts);
  UintJson(w, "benign_accounts", r.benign_accounts);
  UintJson(w, "true_campaigns", r.true_campaigns);
  UintJson(w, "exchanges", r.exchanges);
  UintJson(w, "extractor_exchanges", r.extractor_exchanges);
  UintJson(w, "scan_accounts", r.scan.accounts);
  UintJson(w, "truth_accounts_missing_from_scan", r.scan.truth_accounts_missing_from_scan);
  UintJson(w, "scan_accounts_missing_from_truth", r.scan.scan_accounts_missing_from_truth);
  UintJson(w, "predicted_campaigns", r.predicted_campaigns);
  w.EndObject();

  RatioJson(w, "recall", r.recall);
  RatioJson(w, "false_positive_rate", r.false_positive_rate);
  RatioJson(w, "review_load", r.review_load);
  RatioJson(w, "leakage", r.leakage);
  RatioJson(w, "extractor_suspicious", r.extractor_suspicious);
  UintJson(w, "campaigns_meeting_grouping_target", r.campaigns_meeting_grouping_target);
  w.Key("grouping_target");
  w.Double(kGroupingTarget, 2);

  w.Key("purity");
  w.BeginObject();
  UintJson(w, "predicted_campaigns", r.predicted_campaigns);
  UintJson(w, "predicted_campaigns_with_benign", r.predicted_campaigns_with_benign);
  UintJson(w, "benign_accounts_in_predicted_campaigns", r.benign_accounts_in_predicted_campaigns);
  w.EndObject();

  const ScanChecks& s = r.scan;
  w.Key("scan");
  w.BeginObject();
  UintJson(w, "accounts", s.accounts);
  UintJson(w, "verdict_extraction", s.verdict_extraction);
  UintJson(w, "verdict_suspicious", s.verdict_suspicious);
  UintJson(w, "verdict_benign", s.verdict_benign);
  UintJson(w, "truth_accounts_missing_from_scan", s.truth_accounts_missing_from_scan);
  UintJson(w, "truth_extractors_missing_from_scan", s.truth_extractors_missing_from_scan);
  UintJson(w, "truth_benign_missing_from_scan", s.truth_benign_missing_from_scan);
  UintJson(w, "scan_accounts_missing_from_truth", s.scan_accounts_missing_from_truth);
  UintJson(w, "extraction_without_first_flagged_ts", s.extraction_without_first_flagged_ts);
  UintJson(w, "first_flagged_ts_without_extraction", s.first_flagged_ts_without_extraction);
  UintJson(w, "exchange_count_mismatches", s.exchange_count_mismatches);
  UintJson(w, "campaign_membership_mismatches", s.campaign_membership_mismatches);
  w.EndObject();

  const LogSummary& l = r.log;
  w.Key("log");
  w.BeginObject();
  UintJson(w, "files", l.files);
  UintJson(w, "lines", l.lines);
  UintJson(w, "bad_lines", l.bad_lines);
  w.Key("bad_lines_by_reason");
  w.BeginObject();
  for (const BadLineCount& b : l.bad_lines_by_reason) UintJson(w, b.reason, b.count);
  w.EndObject();
  UintJson(w, "duplicates", l.duplicates);
  UintJson(w, "late", l.late);
  UintJson(w, "exchanges", l.exchanges);
  TimeJson(w, "first_ts", l.first_ts);
  TimeJson(w, "last_ts", l.last_ts);
  UintJson(w, "accounts", l.accounts);
  UintJson(w, "accounts_missing_from_truth", l.accounts_missing_from_truth);
  UintJson(w, "exchanges_missing_from_truth", l.exchanges_missing_from_truth);
  UintJson(w, "accounts_missing_from_scan", l.accounts_missing_from_scan);
  w.EndObject();

  w.Key("campaigns");
  w.BeginArray();
  for (const CampaignEval& c : r.campaigns) {
    w.BeginObject();
    w.Key("label");
    w.String(c.label);
    UintJson(w, "accounts", c.accounts);
    UintJson(w, "accounts_missing_from_scan", c.accounts_missing_from_scan);
    UintJson(w, "exchanges", c.exchanges);
    RatioJson(w, "recall", c.recall);
    UintJson(w, "suspicious_accounts", c.suspicious_accounts);
    RatioJson(w, "leakage", c.leakage);
    SecondsJson(w, "median_time_to_flag_s", c.median_time_to_flag_s);
    UintJson(w, "time_to_flag_accounts", c.time_to_flag_accounts);
    TimeJson(w, "first_exchange_ts", c.first_exchange_ts);
    TimeJson(w, "first_flagged_ts", c.first_flagged_ts);
    SecondsJson(w, "time_to_first_flag_s", c.time_to_first_flag_s);
    UintJson(w, "distinct_campaign_ids", c.distinct_campaign_ids);
    w.Key("largest_campaign_id");
    if (c.largest_campaign_id.empty()) w.Null(); else w.String(c.largest_campaign_id);
    RatioJson(w, "largest_campaign_id_share", c.largest_campaign_id_share);
    w.Key("grouping_target_met");
    w.Bool(c.grouping_target_met);
    UintJson(w, "unlinked_accounts", c.unlinked_accounts);
    w.EndObject();
  }
  w.EndArray();

  w.Key("populations");
  w.BeginArray();
  for (const PopulationEval& p : r.populations) {
    w.BeginObject();
    w.Key("population");
    w.String(p.population);
    UintJson(w, "accounts", p.accounts);
    RatioJson(w, "false_positives", p.false_positives);
    RatioJson(w, "review", p.review);
    w.EndObject();
  }
  w.EndArray();

  w.Key("predicted_campaigns");
  w.BeginArray();
  for (const PredictedCampaignEval& p : r.predicted) {
    w.BeginObject();
    w.Key("campaign_id");
    w.String(p.campaign_id);
    UintJson(w, "accounts", p.accounts);
    UintJson(w, "benign_accounts", p.benign_accounts);
    UintJson(w, "unknown_accounts", p.unknown_accounts);
    w.Key("benign_share");
    if (const auto share = p.benign_share()) w.Double(*share, kRateDecimals); else w.Null();
    w.Key("dominant_label");
    if (p.dominant_label.empty()) w.Null(); else w.String(p.dominant_label);
    UintJson(w, "dominant_label_accounts", p.dominant_label_accounts);
    w.EndObject();
  }
  w.EndArray();
  w.EndObject();
  return out;
}

}  // namespace moat::eval
