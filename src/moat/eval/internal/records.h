// Strict readers for the small evaluation inputs: truth.jsonl and the scan's
// accounts.jsonl / campaigns.jsonl. Any malformed line is an error naming the
// file and line, because a verdict file that does not meet its contract makes
// every measure meaningless.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "moat/core/exchange.h"
#include "moat/core/status.h"

namespace moat::eval::internal {

enum class Verdict : uint8_t { kNone, kBenign, kSuspicious, kExtraction };

struct TruthRecord {
  std::string_view account_id;
  std::string_view label;
  std::string_view population;  // empty when the line has none
};

struct AccountVerdictRecord {
  std::string_view account_id;
  Verdict verdict = Verdict::kNone;
  std::optional<std::string_view> campaign_id;
  std::optional<EventTime> first_flagged_ts;
  std::optional<int64_t> exchanges;
};

struct CampaignRecord {
  std::string_view campaign_id;
  std::vector<std::string_view> accounts;
};

// Each calls `on_record` once per non-blank line; views are valid only during
// the call. A non-ok Status from the callback stops the read and is returned.
Status ReadTruth(const std::string& path, const std::function<Status(const TruthRecord&, uint64_t line)>& on_record);
Status ReadAccountVerdicts(const std::string& path,
                           const std::function<Status(const AccountVerdictRecord&, uint64_t line)>& on_record);
Status ReadCampaigns(const std::string& path,
                     const std::function<Status(const CampaignRecord&, uint64_t line)>& on_record);

}  // namespace moat::eval::internal
