#include "moat/eval/internal/records.h"

#include <simdjson.h>

#include "moat/core/time.h"
#include "moat/ingest/source.h"

namespace moat::eval::internal {
namespace {

namespace dom = simdjson::dom;

static_assert(ingest::kLinePadding >= simdjson::SIMDJSON_PADDING);

bool IsBlank(std::string_view line) {
  return line.find_first_not_of(" \t\r") == std::string_view::npos;
}

Status LineError(const std::string& path, uint64_t line, std::string_view what) {
  return Status::Error(path + ":" + std::to_string(line) + ": " + std::string(what));
}

// Parses each non-blank line of `path` as one JSON object and hands it on.
Status ForEachObject(const std::string& path,
                     const std::function<Status(dom::object, uint64_t)>& on_object) {
  auto opened = ingest::LineSource::Open(path);
  if (!opened.ok()) return opened.status();
  ingest::LineSource& source = *opened.value();
  dom::parser parser;
  ingest::SourceLine line;
  while (source.Next(line)) {
    if (line.too_long) return LineError(path, line.number, "line too long");
    if (IsBlank(line.text)) continue;
    dom::element doc;
    // The source leaves padding after every line, so no copy is needed.
    if (const auto err = parser.parse(line.text.data(), line.text.size(), false).get(doc)) {
      return LineError(path, line.number, std::string("not JSON: ") + simdjson::error_message(err));
    }
    dom::object obj;
    if (doc.get(obj)) return LineError(path, line.number, "not a JSON object");
    if (Status s = on_object(obj, line.number); !s.ok()) return s;
  }
  if (!source.error().empty()) return Status::Error(source.error());
  return Status::Ok();
}

// "\"key\" what", built by appends: gcc 12 warns falsely (-Wrestrict) on the
// equivalent chain of operator+.
Status FieldError(const std::string& path, uint64_t line, std::string_view key, std::string_view what) {
  std::string msg = "\"";
  msg.append(key);
  msg.append("\" ");
  msg.append(what);
  return LineError(path, line, msg);
}

// Required string field.
Status GetString(dom::object obj, std::string_view key, const std::string& path, uint64_t line,
                 std::string_view& out) {
  dom::element e;
  if (obj.at_key(key).get(e)) return LineError(path, line, "missing \"" + std::string(key) + "\"");
  if (e.get_string().get(out)) return FieldError(path, line, key, "is not a string");
  if (out.empty()) return FieldError(path, line, key, "is empty");
  return Status::Ok();
}

// Optional string field: absent and null both give nullopt.
Status GetOptionalString(dom::object obj, std::string_view key, const std::string& path, uint64_t line,
                         std::optional<std::string_view>& out) {
  out.reset();
  dom::element e;
  if (obj.at_key(key).get(e) || e.is_null()) return Status::Ok();
  std::string_view s;
  if (e.get_string().get(s)) {
    return FieldError(path, line, key, "is neither a string nor null");
  }
  out = s;
  return Status::Ok();
}

std::optional<Verdict> ParseVerdict(std::string_view v) {
  if (v == "extraction") return Verdict::kExtraction;
  if (v == "suspicious") return Verdict::kSuspicious;
  if (v == "benign") return Verdict::kBenign;
  return std::nullopt;
}

}  // namespace

Status ReadTruth(const std::string& path,
                 const std::function<Status(const TruthRecord&, uint64_t)>& on_record) {
  TruthRecord rec;
  return ForEachObject(path, [&](dom::object obj, uint64_t line) -> Status {
    if (Status s = GetString(obj, "account_id", path, line, rec.account_id); !s.ok()) return s;
    if (Status s = GetString(obj, "label", path, line, rec.label); !s.ok()) return s;
    std::optional<std::string_view> population;
    if (Status s = GetOptionalString(obj, "population", path, line, population); !s.ok()) return s;
    rec.population = population.value_or(std::string_view());
    return on_record(rec, line);
  });
}

Status ReadAccountVerdicts(const std::string& path,
                           const std::function<Status(const AccountVerdictRecord&, uint64_t)>& on_record) {
  AccountVerdictRecord rec;
  return ForEachObject(path, [&](dom::object obj, uint64_t line) -> Status {
    if (Status s = GetString(obj, "account_id", path, line, rec.account_id); !s.ok()) return s;
    std::string_view verdict;
    if (Status s = GetString(obj, "verdict", path, line, verdict); !s.ok()) return s;
    const auto parsed = ParseVerdict(verdict);
    if (!parsed) {
      return LineError(path, line,
                       "unknown verdict \"" + std::string(verdict) +
                           "\" (expected extraction, suspicious or benign)");
    }
    rec.verdict = *parsed;
    if (Status s = GetOptionalString(obj, "campaign_id", path, line, rec.campaign_id); !s.ok()) return s;
    if (rec.campaign_id && rec.campaign_id->empty()) return LineError(path, line, "\"campaign_id\" is empty");
    std::optional<std::string_view> flagged;
    if (Status s = GetOptionalString(obj, "first_flagged_ts", path, line, flagged); !s.ok()) return s;
    rec.first_flagged_ts.reset();
    if (flagged) {
      rec.first_flagged_ts = ParseRfc3339(*flagged);
      if (!rec.first_flagged_ts) {
        return LineError(path, line, "\"first_flagged_ts\" is not RFC 3339: \"" + std::string(*flagged) + "\"");
      }
    }
    rec.exchanges.reset();
    dom::element e;
    if (!obj.at_key("exchanges").get(e) && !e.is_null()) {
      int64_t n = 0;
      if (e.get_int64().get(n) || n < 0) {
        return LineError(path, line, "\"exchanges\" is not a non-negative integer");
      }
      rec.exchanges = n;
    }
    return on_record(rec, line);
  });
}

Status ReadCampaigns(const std::string& path,
                     const std::function<Status(const CampaignRecord&, uint64_t)>& on_record) {
  CampaignRecord rec;
  return ForEachObject(path, [&](dom::object obj, uint64_t line) -> Status {
    if (Status s = GetString(obj, "campaign_id", path, line, rec.campaign_id); !s.ok()) return s;
    dom::element e;
    dom::array accounts;
    if (obj.at_key("accounts").get(e)) return LineError(path, line, "missing \"accounts\"");
    if (e.get_array().get(accounts)) return LineError(path, line, "\"accounts\" is not an array");
    rec.accounts.clear();
    for (dom::element a : accounts) {
      std::string_view id;
      if (a.get_string().get(id) || id.empty()) {
        return LineError(path, line, "\"accounts\" holds something other than a non-empty string");
      }
      rec.accounts.push_back(id);
    }
    return on_record(rec, line);
  });
}

}  // namespace moat::eval::internal
