#include "moat/policy/policy.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <set>

#include <toml++/toml.h>
#include <xxhash.h>

#include "moat/core/json_writer.h"
#include "moat/core/text_file.h"
#include "moat/core/time.h"

namespace moat::policy {
namespace {

constexpr std::array<std::string_view, kActions> kActionNames = {"allow",     "throttle", "degrade",
                                                                 "challenge", "suspend",  "block"};
constexpr std::array<std::string_view, 5> kBlockTargetNames = {"account", "address", "subnet", "asn", "payment"};

std::array<std::string_view, score::kSignals> MakeReasonCodes() {
  std::array<std::string_view, score::kSignals> codes{};
  for (int i = 0; i < score::kSignals; ++i) codes[i] = score::SignalCode(static_cast<score::Signal>(i));
  return codes;
}
const std::array<std::string_view, score::kSignals> kReasonCodes = MakeReasonCodes();

std::string Join(std::span<const std::string_view> names) {
  std::string out;
  for (std::string_view n : names) {
    if (!out.empty()) out += ", ";
    out += n;
  }
  return out;
}

// Every error names the file, the line and column of the offending node.
struct ParseError {
  std::string message;
};

std::string Where(const std::string& origin, const toml::source_region& src) {
  return origin + ":" + std::to_string(src.begin.line) + ":" + std::to_string(src.begin.column);
}

}  // namespace

const char* ActionName(Action a) { return kActionNames[static_cast<size_t>(a)].data(); }

std::optional<Action> ParseAction(std::string_view name) {
  for (size_t i = 0; i < kActionNames.size(); ++i)
    if (kActionNames[i] == name) return static_cast<Action>(i);
  return std::nullopt;
}

const char* BlockTargetName(BlockTarget t) { return kBlockTargetNames[static_cast<size_t>(t)].data(); }

std::optional<BlockTarget> ParseBlockTarget(std::string_view name) {
  for (size_t i = 0; i < kBlockTargetNames.size(); ++i)
    if (kBlockTargetNames[i] == name) return static_cast<BlockTarget>(i);
  return std::nullopt;
}

std::span<const std::string_view> ReasonCodes() { return kReasonCodes; }

std::optional<score::Signal> ParseReasonCode(std::string_view code) {
  for (int i = 0; i < score::kSignals; ++i)
    if (kReasonCodes[i] == code) return static_cast<score::Signal>(i);
  return std::nullopt;
}

uint64_t HashKey(std::string_view s) {
  if (s.empty()) return 0;
  const uint64_t h = XXH3_64bits(s.data(), s.size());
  return h == 0 ? 1 : h;  // 0 means "none"
}

const char* DecisionSourceName(DecisionSource s) {
  switch (s) {
    case DecisionSource::kDefault: return "default";
    case DecisionSource::kRule: return "rule";
    case DecisionSource::kCampaign: return "campaign";
    case DecisionSource::kBlockList: return "block_list";
    case DecisionSource::kOverride: return "override";
  }
  return "default";
}

// Walks the parsed document; throws ParseError (caught in Parse, never
// leaves this file) so each check stays one line.
class PolicyParser {
 public:
  PolicyParser(std::string origin) : origin_(std::move(origin)) {}

  std::shared_ptr<Policy> Build(const toml::table& doc) {
    auto p = std::make_shared<Policy>();
    p->origin_ = origin_;
    for (auto&& [k, node] : doc) {
      const std::string_view key = k.str();
      if (key == "version") {
        const auto v = node.value<int64_t>();
        if (!v || *v != 1) Fail(node.source(), "version: only version 1 is known");
      } else if (key == "settings") {
        Settings(Table(node, "settings"), *p);
      } else if (key == "allowlist") {
        Allowlist(Table(node, "allowlist"), *p);
      } else if (key == "rule") {
        const toml::array* rules = node.as_array();
        if (rules == nullptr || !rules->is_array_of_tables()) Fail(node.source(), "rule: expected [[rule]] tables");
        for (const toml::node& r : *rules) p->rules_.push_back(ParseRule(*r.as_table()));
      } else {
        Fail(k.source(), "unknown key '" + std::string(key) + "' (expected version, settings, allowlist, rule)");
      }
    }
    std::set<std::string> names;
    for (const Rule& r : p->rules_)
      if (!names.insert(r.name).second)
        throw ParseError{origin_ + ":" + std::to_string(r.line) + ":1: rule '" + r.name + "': duplicate rule name"};
    return p;
  }

 private:
  [[noreturn]] void Fail(const toml::source_region& src, const std::string& what) const {
    throw ParseError{Where(origin_, src) + ": " + what};
  }

  const toml::table& Table(const toml::node& node, const std::string& name) const {
    const toml::table* t = node.as_table();
    if (t == nullptr) Fail(node.source(), name + ": expected a table");
    return *t;
  }

  double Number(const toml::node& node, const std::string& name, double lo, double hi) const {
    const auto v = node.value<double>();
    if (!v || !std::isfinite(*v) || *v < lo || *v > hi)
      Fail(node.source(), name + ": expected a number in [" + Num(lo) + ", " + Num(hi) + "]");
    return *v;
  }

  int64_t Integer(const toml::node& node, const std::string& name, int64_t lo, int64_t hi) const {
    const auto v = node.is_integer() ? node.value<int64_t>() : std::nullopt;
    if (!v || *v < lo || *v > hi)
      Fail(node.source(), name + ": expected an integer in [" + std::to_string(lo) + ", " + std::to_string(hi) + "]");
    return *v;
  }

  bool Bool(const toml::node& node, const std::string& name) const {
    const auto v = node.value<bool>();
    if (!v) Fail(node.source(), name + ": expected true or false");
    return *v;
  }

  std::string String(const toml::node& node, const std::string& name) const {
    const auto v = node.value<std::string>();
    if (!v || v->empty()) Fail(node.source(), name + ": expected a non-empty string");
    return *v;
  }

  // A string or an array of strings; each element reported at its own place.
  // An empty list is an error where it would silently match everything.
  template <typename F>
  void Strings(const toml::node& node, const std::string& name, F&& each, bool allow_empty = false) const {
    if (node.is_string()) {
      each(node, String(node, name));
      return;
    }
    const toml::array* arr = node.as_array();
    if (arr == nullptr) Fail(node.source(), name + ": expected a string or an array of strings");
    if (arr->empty() && !allow_empty) Fail(node.source(), name + ": expected at least one value");
    for (const toml::node& e : *arr) each(e, String(e, name));
  }

  uint32_t Reasons(const toml::node& node, const std::string& name) const {
    uint32_t mask = 0;
    Strings(node, name, [&](const toml::node& e, const std::string& code) {
      const auto s = ParseReasonCode(code);
      if (!s) Fail(e.source(), name + ": unknown reason code '" + code + "' (known: " + Join(ReasonCodes()) + ")");
      mask |= 1u << static_cast<int>(*s);
    });
    return mask;
  }

  static std::string Num(double v) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%g", v);
    return buf;
  }

  EventTime Minutes(const toml::node& node, const std::string& name) const {
    return static_cast<EventTime>(std::llround(Number(node, name, 0, 1e9) * double(kMicrosPerMinute)));
  }

  // Throttle keys shared by rules and the allow-list; false when `key` is not one.
  bool ThrottleKey(std::string_view key, const toml::node& node, const std::string& name, ThrottleSpec& t,
                   bool campaign_keys) const {
    if (key == "requests_per_minute") {
      t.requests_per_minute = Number(node, name, 0, 1e9);
    } else if (key == "output_tokens_per_minute") {
      t.output_tokens_per_minute = Number(node, name, 0, 1e12);
    } else if (key == "burst_requests") {
      t.burst_requests = Number(node, name, 1, 1e9);
    } else if (key == "burst_tokens") {
      t.burst_tokens = Number(node, name, 1, 1e12);
    } else if (campaign_keys && key == "campaign_requests_per_minute") {
      t.campaign_requests_per_minute = Number(node, name, 0, 1e9);
    } else if (campaign_keys && key == "campaign_output_tokens_per_minute") {
      t.campaign_output_tokens_per_minute = Number(node, name, 0, 1e12);
    } else {
      return false;
    }
    return true;
  }

  void Settings(const toml::table& t, Policy& p) const {
    for (auto&& [k, node] : t) {
      const std::string key(k.str());
      const std::string name = "settings." + key;
      if (key == "reason_min_weight") {
        p.reason_min_weight_ = Number(node, name, 0, 1);
      } else if (key == "subnet_v4_prefix") {
        p.subnet_v4_prefix_ = static_cast<int>(Integer(node, name, 8, 32));
      } else if (key == "subnet_v6_prefix") {
        p.subnet_v6_prefix_ = static_cast<int>(Integer(node, name, 16, 128));
      } else if (key == "infrastructure_block_minutes") {
        p.infra_duration_ = Minutes(node, name);
      } else if (key == "infrastructure_targets") {
        p.infra_payment_ = p.infra_subnet_ = false;
        Strings(node, name, [&](const toml::node& e, const std::string& s) {
          if (s == "payment") p.infra_payment_ = true;
          else if (s == "subnet") p.infra_subnet_ = true;
          else Fail(e.source(), name + ": unknown target '" + s + "' (expected payment, subnet)");
        }, true);
      } else {
        Fail(k.source(), "unknown setting '" + name + "'");
      }
    }
  }

  void Allowlist(const toml::table& t, Policy& p) const {
    for (auto&& [k, node] : t) {
      const std::string key(k.str());
      const std::string name = "allowlist." + key;
      if (key == "orgs") {
        Strings(node, name, [&](const toml::node&, const std::string& s) { p.allow_orgs_.push_back(s); }, true);
      } else if (key == "accounts") {
        Strings(node, name, [&](const toml::node&, const std::string& s) { p.allow_accounts_.push_back(s); }, true);
      } else if (!ThrottleKey(key, node, name, p.allow_throttle_, false)) {
        Fail(k.source(), "unknown key '" + name + "'");
      }
    }
    for (const std::string& o : p.allow_orgs_) p.allow_org_hashes_.push_back(HashKey(o));
    std::sort(p.allow_org_hashes_.begin(), p.allow_org_hashes_.end());
    std::sort(p.allow_accounts_.begin(), p.allow_accounts_.end());
  }

  Rule ParseRule(const toml::table& t) const {
    Rule r;
    r.line = static_cast<int>(t.source().begin.line);
    if (const toml::node* n = t.get("name")) r.name = String(*n, "rule.name");
    if (r.name.empty()) Fail(t.source(), "rule: missing name");
    const std::string pre = "rule '" + r.name + "': ";
    const toml::node* action_node = t.get("action");
    if (action_node == nullptr) Fail(t.source(), pre + "missing action");
    {
      const std::string a = String(*action_node, pre + "action");
      const auto act = ParseAction(a);
      if (!act) Fail(action_node->source(), pre + "unknown action '" + a + "' (known: " + Join(kActionNames) + ")");
      r.action = *act;
    }
    const toml::node* throttle_key = nullptr;  // first throttle key, for the error if the action is not throttle
    const toml::node* block_key = nullptr;
    for (auto&& [k, node] : t) {
      const std::string key(k.str());
      const std::string name = pre + key;
      if (key == "name" || key == "action") continue;
      if (key == "verdict") {
        Strings(node, name, [&](const toml::node& e, const std::string& v) {
          int bit = -1;
          for (int i = 0; i < 3; ++i)
            if (v == score::VerdictName(static_cast<score::Verdict>(i))) bit = i;
          if (bit < 0) Fail(e.source(), name + ": unknown verdict '" + v + "' (known: benign, suspicious, extraction)");
          r.verdicts |= uint8_t(1u << bit);
        });
      } else if (key == "min_score") {
        r.min_score = Number(node, name, 0, 1);
      } else if (key == "max_score") {
        r.max_score = Number(node, name, 0, 1);
      } else if (key == "reasons_any") {
        r.reasons_any = Reasons(node, name);
      } else if (key == "reasons_all") {
        r.reasons_all = Reasons(node, name);
      } else if (key == "in_campaign") {
        r.in_campaign = Bool(node, name);
      } else if (key == "min_campaign_size") {
        r.min_campaign_size = static_cast<uint32_t>(Integer(node, name, 0, UINT32_MAX));
      } else if (key == "max_campaign_size") {
        r.max_campaign_size = static_cast<uint32_t>(Integer(node, name, 0, UINT32_MAX));
      } else if (key == "orgs") {
        Strings(node, name, [&](const toml::node&, const std::string& s) { r.orgs.push_back(s); });
      } else if (key == "models") {
        Strings(node, name, [&](const toml::node&, const std::string& s) { r.models.push_back(s); });
      } else if (key == "allowlisted") {
        r.allowlisted = Bool(node, name);
      } else if (key == "indicator_match") {
        r.indicator_match = Bool(node, name);
      } else if (key == "degrade_mode") {
        if (r.action != Action::kDegrade) Fail(k.source(), name + ": only for action \"degrade\"");
        r.degrade_mode = String(node, name);
      } else if (key == "block") {
        const std::string v = String(node, name);
        const auto target = ParseBlockTarget(v);
        if (!target || *target == BlockTarget::kPayment)
          Fail(node.source(), name + ": unknown block target '" + v + "' (known: account, address, subnet, asn)");
        r.block_target = *target;
        block_key = &node;
      } else if (key == "duration_minutes") {
        r.duration = Minutes(node, name);
      } else if (key == "campaign_wide") {
        r.campaign_wide = Bool(node, name);
      } else if (key == "block_infrastructure") {
        r.block_infrastructure = Bool(node, name);
      } else if (key == "review") {
        r.review = Bool(node, name);
      } else if (ThrottleKey(key, node, name, r.throttle, true)) {
        if (throttle_key == nullptr) throttle_key = &node;
      } else {
        Fail(k.source(), pre + "unknown key '" + key + "'");
      }
    }
    if (r.action == Action::kDegrade && r.degrade_mode.empty())
      Fail(t.source(), pre + "action \"degrade\" needs degrade_mode");
    if (r.action == Action::kThrottle && r.throttle.empty())
      Fail(t.source(), pre + "action \"throttle\" needs requests_per_minute, output_tokens_per_minute or a campaign_ rate");
    if (r.action != Action::kThrottle && throttle_key != nullptr)
      Fail(throttle_key->source(), pre + "throttle limits are only for action \"throttle\"");
    if (r.action == Action::kBlock && block_key == nullptr)
      Fail(t.source(), pre + "action \"block\" needs block = \"account\" | \"address\" | \"subnet\" | \"asn\"");
    if (r.action != Action::kBlock && block_key != nullptr)
      Fail(block_key->source(), pre + "block is only for action \"block\"");
    if (r.block_infrastructure && !r.campaign_wide)
      Fail(t.source(), pre + "block_infrastructure needs campaign_wide = true");
    if (r.min_score && r.max_score && *r.min_score >= *r.max_score)
      Fail(t.source(), pre + "min_score must be below max_score");
    if (r.min_campaign_size > r.max_campaign_size)
      Fail(t.source(), pre + "min_campaign_size must be <= max_campaign_size");
    for (const std::string& o : r.orgs) r.org_hashes.push_back(HashKey(o));
    for (const std::string& m : r.models) r.model_hashes.push_back(HashKey(m));
    return r;
  }

  std::string origin_;
};

Result<std::shared_ptr<const Policy>> Policy::Parse(std::string_view text, const std::string& origin) {
  toml::table doc;
  try {
    doc = toml::parse(text, origin);
  } catch (const toml::parse_error& e) {
    return Status::Error(Where(origin, e.source()) + ": " + std::string(e.description()));
  }
  try {
    return std::shared_ptr<const Policy>(PolicyParser(origin).Build(doc));
  } catch (const ParseError& e) {
    return Status::Error(e.message);
  }
}

Result<std::shared_ptr<const Policy>> Policy::Load(const std::string& path) {
  auto text = ReadTextFile(path, "policy");
  if (!text.ok()) return text.status();
  return Parse(text.value(), path);
}

std::shared_ptr<const Policy> Policy::AllowAll() {
  auto p = std::make_shared<Policy>();
  p->origin_ = "(allow all)";
  return p;
}

const Rule* Policy::Match(const MatchInput& in) const {
  const uint32_t verdict_bit = 1u << static_cast<int>(in.verdict);
  for (const Rule& r : rules_) {
    if (r.verdicts != 0 && (r.verdicts & verdict_bit) == 0) continue;
    if (r.min_score && in.score < *r.min_score) continue;
    if (r.max_score && in.score >= *r.max_score) continue;
    if (r.reasons_any != 0 && (in.reasons & r.reasons_any) == 0) continue;
    if ((in.reasons & r.reasons_all) != r.reasons_all) continue;
    if (r.in_campaign && *r.in_campaign != in.in_campaign) continue;
    if (r.min_campaign_size > 0 && (!in.in_campaign || in.campaign_size < r.min_campaign_size)) continue;
    if (in.campaign_size > r.max_campaign_size) continue;
    if (r.allowlisted && *r.allowlisted != in.allowlisted) continue;
    if (r.indicator_match && *r.indicator_match != in.indicator_match) continue;
    if (!r.org_hashes.empty() &&
        std::find(r.org_hashes.begin(), r.org_hashes.end(), in.org_hash) == r.org_hashes.end())
      continue;
    if (!r.model_hashes.empty() &&
        std::find(r.model_hashes.begin(), r.model_hashes.end(), in.model_hash) == r.model_hashes.end())
      continue;
    return &r;
  }
  return nullptr;
}

bool Policy::IsAllowlistedOrg(uint64_t org_hash) const {
  return org_hash != 0 && std::binary_search(allow_org_hashes_.begin(), allow_org_hashes_.end(), org_hash);
}

bool Policy::IsAllowlistedAccount(std::string_view account_id) const {
  return !allow_accounts_.empty() && std::binary_search(allow_accounts_.begin(), allow_accounts_.end(), account_id);
}

void AppendDecisionJson(const Decision& d, std::string& out) {
  JsonWriter w(out);
  w.BeginObject();
  w.Key("action");
  w.String(ActionName(d.action));
  w.Key("admit");
  w.Bool(d.admit);
  w.Key("rule");
  w.String(d.rule);
  w.Key("reasons");
  w.BeginArray();
  for (score::Signal s : d.Reasons()) w.String(score::SignalCode(s));
  w.EndArray();
  w.Key("retry_after_ms");
  w.Int(d.retry_after_ms);
  w.Key("degrade_mode");
  if (d.degrade_mode.empty()) w.Null(); else w.String(d.degrade_mode);
  w.Key("review");
  w.Bool(d.review);
  w.Key("source");
  w.String(DecisionSourceName(d.source));
  if (d.block_target) {
    w.Key("block");
    w.String(BlockTargetName(*d.block_target));
  }
  w.Key("verdict");
  w.String(score::VerdictName(d.verdict));
  w.Key("score");
  w.Double(d.score, 4);
  w.Key("campaign_id");
  if (d.campaign_id.empty()) w.Null(); else w.String(d.campaign_id);
  w.EndObject();
}

std::string EvidenceJson(const ActionChange& c) {
  std::string out;
  JsonWriter w(out);
  w.BeginObject();
  w.Key("verdict");
  w.String(score::VerdictName(c.verdict));
  w.Key("score");
  w.Double(c.score, 4);
  w.Key("reasons");
  w.BeginArray();
  for (score::Signal s : c.reasons) w.String(score::SignalCode(s));
  w.EndArray();
  w.Key("campaign_id");
  if (c.campaign_id.empty()) w.Null(); else w.String(c.campaign_id);
  w.Key("campaign_size");
  w.Uint(c.campaign_size);
  w.Key("source");
  w.String(DecisionSourceName(c.source));
  w.EndObject();
  return out;
}

}  // namespace moat::policy
