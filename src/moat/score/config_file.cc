#include "moat/score/config_file.h"

#include <cmath>
#include <cstdio>
#include <functional>
#include <string_view>
#include <variant>
#include <vector>

#include <toml++/toml.h>

#include "moat/core/text_file.h"

namespace moat::score {
namespace {

// One named setting: where it lives in DetectorConfig and what it means.
// Ticks are written in minutes.
struct Minutes {
  EventTime* p;
};

struct Setting {
  const char* section;
  const char* key;
  std::variant<double*, uint32_t*, int64_t*, Minutes, std::array<double, features::kLinkKinds>*> ref;
  const char* doc;
};

// The single list of settings; loading and writing both walk it.
std::vector<Setting> Settings(DetectorConfig& c) {
  return {
      // state
      {"state", "high_max_tokens", &c.state.high_max_tokens, "max_tokens at or above this asks for long output"},
      {"state", "near_max_fraction", &c.state.near_max_fraction, "output_tokens >= this * max_tokens: ran to the limit"},
      {"state", "template_repeat", &c.state.template_repeat, "uses of one prompt opening/ending before it is a linkable template"},
      {"state", "content_first", &c.state.content_first, "content analysis (lexicons, template miner) on each account's first this many prompts ..."},
      {"state", "content_sample_every", &c.state.content_sample_every, "... then on a deterministic 1-in-this sample (by request id hash): content shares are estimates"},
      // ticks
      {"ticks", "score_tick_minutes", Minutes{&c.score_tick}, "touched accounts are re-scored at every multiple of this (event time)"},
      {"ticks", "link_tick_minutes", Minutes{&c.link_tick}, "campaigns are re-linked at every multiple of this (event time)"},
      // verdicts
      {"verdict", "suspicious", &c.suspicious, "score at or above: verdict suspicious (send to a person)"},
      {"verdict", "extraction", &c.extraction, "score at or above: verdict extraction (policy may act); sticky once reached"},
      {"verdict", "min_exchanges", &c.min_exchanges, "no extraction verdict on fewer exchanges than this"},
      // link
      {"link", "link_threshold", &c.link_threshold, "raw score (raising signals, before mitigations) an account needs to be offered to the linker"},
      {"link", "kind_weight", &c.link.kind_weight,
       "strength of one shared value per kind [payment, email_domain, org, subnet, tls_fingerprint, system_prompt, template, lockstep_activity and prompt_set (per MinHash slot of 16)], scaled by the share of its holders that are candidates"},
      {"link", "min_edge", &c.link.min_edge, "two accounts link when the strengths of the values they share add up to this"},
      {"link", "hub_holders", &c.link.hub_holders, "a value with more candidate holders than this links its holders through itself (a hub) instead of pair by pair"},
      {"link", "min_core_degree", &c.link.min_core_degree, "in groups of 3+, an account needs this many linked neighbours (dense core) ..."},
      {"link", "strong_edge", &c.link.strong_edge, "... or share one single value at least this strong with a neighbour, to stay in the group"},
      {"link", "min_core_share", &c.link.min_core_share, "and linked neighbours >= this share of the group (bystanders touch few members)"},
      // campaign
      {"campaign", "weight", &c.campaign_weight, "campaign_member reason weight = weight * campaign strength"},
      {"campaign", "full_size", &c.campaign_full_size, "size factor of a campaign is log2(size)/log2(full_size), capped at 1"},
      {"campaign", "intent_lo", &c.campaign_intent_lo, "members' mean raw score at which campaign intent starts"},
      {"campaign", "intent_hi", &c.campaign_intent_hi, "members' mean raw score at which campaign intent is full"},
      {"campaign", "org_damp", &c.campaign_org_damp, "strength is multiplied by 1 - org_damp * share of members under an organisation"},
      {"campaign", "min_strength", &c.campaign_min_strength, "a linked group is reported as a campaign only at this strength"},
      {"campaign", "min_exchanges", &c.campaign_min_exchanges, "campaign members may reach extraction from this many exchanges (instead of verdict.min_exchanges)"},
      // partner
      {"partner", "weight", &c.partner_weight, "partner_indicator reason weight = weight * indicator confidence * partner trust"},
      {"partner", "cap", &c.partner_cap, "partner evidence is capped here (must be below verdict.extraction)"},
      {"partner", "min_own", &c.partner_min_own, "below this own + campaign score, partner evidence cannot lift the score past cap"},
      {"partner", "min_exchanges", &c.partner_min_exchanges, "with partner evidence an account may reach extraction from this many exchanges"},
      // signals
      {"signals", "high_volume_weight", &c.high_volume_weight, "high_volume: requests per active day"},
      {"signals", "high_volume_lo", &c.high_volume_lo, ""},
      {"signals", "high_volume_hi", &c.high_volume_hi, ""},
      {"signals", "output_ratio_weight", &c.output_ratio_weight, "output_harvesting: output / input tokens"},
      {"signals", "output_ratio_lo", &c.output_ratio_lo, ""},
      {"signals", "output_ratio_hi", &c.output_ratio_hi, ""},
      {"signals", "max_output_weight", &c.max_output_weight, "max_output: share of requests with high or exhausted max_tokens"},
      {"signals", "max_output_lo", &c.max_output_lo, ""},
      {"signals", "max_output_hi", &c.max_output_hi, ""},
      {"signals", "elicitation_weight", &c.elicitation_weight, "reasoning_elicitation: share of prompts asking for step-by-step reasoning"},
      {"signals", "elicitation_lo", &c.elicitation_lo, ""},
      {"signals", "elicitation_hi", &c.elicitation_hi, ""},
      {"signals", "reasoning_harvest_weight", &c.reasoning_harvest_weight, "reasoning_harvest: reasoning / output tokens"},
      {"signals", "reasoning_harvest_lo", &c.reasoning_harvest_lo, ""},
      {"signals", "reasoning_harvest_hi", &c.reasoning_harvest_hi, ""},
      {"signals", "single_turn_weight", &c.single_turn_weight, "single_turn: share of one-off single-turn requests"},
      {"signals", "single_turn_lo", &c.single_turn_lo, ""},
      {"signals", "single_turn_hi", &c.single_turn_hi, ""},
      {"signals", "machine_timing_weight", &c.machine_timing_weight, "machine_timing: full at log-gap sd <= lo, none at >= hi"},
      {"signals", "machine_timing_lo", &c.machine_timing_lo, ""},
      {"signals", "machine_timing_hi", &c.machine_timing_hi, ""},
      {"signals", "machine_timing_min_gaps", &c.machine_timing_min_gaps, ""},
      {"signals", "always_on_weight", &c.always_on_weight, "always_on: hours of the day with traffic"},
      {"signals", "always_on_hours_lo", &c.always_on_hours_lo, ""},
      {"signals", "always_on_hours_hi", &c.always_on_hours_hi, ""},
      {"signals", "always_on_min_span_hours", &c.always_on_min_span_hours, ""},
      {"signals", "new_account_weight", &c.new_account_weight, "new_account: account age at first request (hours)"},
      {"signals", "new_account_full_hours", &c.new_account_full_hours, ""},
      {"signals", "new_account_zero_hours", &c.new_account_zero_hours, ""},
      {"signals", "templated_weight", &c.templated_weight, "templated_prompts: share of sampled prompts in the top mined template"},
      {"signals", "templated_lo", &c.templated_lo, ""},
      {"signals", "templated_hi", &c.templated_hi, ""},
      {"signals", "content_min_prompts", &c.content_min_prompts, "content signals (output_request, task_breadth, topic_breadth) need this many analysed prompts"},
      {"signals", "output_request_weight", &c.output_request_weight, "output_request: share of sampled prompts asking for long or verbatim output"},
      {"signals", "output_request_lo", &c.output_request_lo, ""},
      {"signals", "output_request_hi", &c.output_request_hi, ""},
      {"signals", "task_breadth_weight", &c.task_breadth_weight, "task_breadth: distinct task types (of 11) over sampled prompts"},
      {"signals", "task_breadth_lo", &c.task_breadth_lo, ""},
      {"signals", "task_breadth_hi", &c.task_breadth_hi, ""},
      {"signals", "topic_breadth_weight", &c.topic_breadth_weight, "topic_breadth: distinct topics (of 28) over sampled prompts"},
      {"signals", "topic_breadth_lo", &c.topic_breadth_lo, ""},
      {"signals", "topic_breadth_hi", &c.topic_breadth_hi, ""},
      {"signals", "client_mismatch_weight", &c.client_mismatch_weight, "client_mismatch: user agent and TLS fingerprint disagree"},
      {"signals", "proxy_rotation_weight", &c.proxy_rotation_weight, "proxy_rotation: many addresses or networks per request"},
      {"signals", "proxy_ips_lo", &c.proxy_ips_lo, ""},
      {"signals", "proxy_ips_hi", &c.proxy_ips_hi, ""},
      {"signals", "proxy_ip_share_lo", &c.proxy_ip_share_lo, ""},
      {"signals", "proxy_ip_share_hi", &c.proxy_ip_share_hi, ""},
      {"signals", "proxy_asns_lo", &c.proxy_asns_lo, ""},
      {"signals", "proxy_asns_hi", &c.proxy_asns_hi, ""},
      // mitigations
      {"mitigations", "evaluation_run_weight", &c.evaluation_run_weight, "evaluation_run: temperature-0 share under an organisation"},
      {"mitigations", "evaluation_temp0_lo", &c.evaluation_temp0_lo, ""},
      {"mitigations", "evaluation_temp0_hi", &c.evaluation_temp0_hi, ""},
      {"mitigations", "evaluation_min_org_share", &c.evaluation_min_org_share, ""},
      {"mitigations", "burst_weight", &c.burst_weight, "burst_then_silence: active hours / span, full at lo"},
      {"mitigations", "burst_min_span_hours", &c.burst_min_span_hours, ""},
      {"mitigations", "burst_active_fraction_lo", &c.burst_active_fraction_lo, ""},
      {"mitigations", "burst_active_fraction_hi", &c.burst_active_fraction_hi, ""},
      {"mitigations", "office_hours_weight", &c.office_hours_weight, "office_hours: share of traffic in the busiest 10-hour daily window"},
      {"mitigations", "office_hours_share_lo", &c.office_hours_share_lo, ""},
      {"mitigations", "office_hours_share_hi", &c.office_hours_share_hi, ""},
      {"mitigations", "office_hours_min_days", &c.office_hours_min_days, ""},
      {"mitigations", "multi_turn_weight", &c.multi_turn_weight, "multi_turn: share of follow-up turns"},
      {"mitigations", "multi_turn_lo", &c.multi_turn_lo, ""},
      {"mitigations", "multi_turn_hi", &c.multi_turn_hi, ""},
      {"mitigations", "established_weight", &c.established_weight, "established_account: account older than established_days at first request"},
      {"mitigations", "established_days", &c.established_days, ""},
  };
}

std::string Num(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.10g", v);
  std::string s = buf;
  if (s.find_first_of(".eEn") == std::string::npos) s += ".0";  // TOML float
  return s;
}

Status Bad(const std::string& origin, const std::string& key, const std::string& what) {
  return Status::Error(origin + ": " + key + ": " + what);
}

}  // namespace

Status ParseDetectorConfig(std::string_view text, const std::string& origin, DetectorConfig& cfg) {
  toml::table doc;
  try {
    doc = toml::parse(text, origin);
  } catch (const toml::parse_error& e) {
    const auto& src = e.source();
    return Status::Error(origin + ":" + std::to_string(src.begin.line) + ": " + std::string(e.description()));
  }
  DetectorConfig c = cfg;
  std::vector<Setting> fields = Settings(c);
  for (auto&& [section_key, section_node] : doc) {
    const std::string section(section_key.str());
    const toml::table* tbl = section_node.as_table();
    if (tbl == nullptr) return Bad(origin, section, "expected a [section] table");
    for (auto&& [k, node] : *tbl) {
      const std::string key(k.str());
      const std::string name = section + "." + key;
      const Setting* f = nullptr;
      for (const Setting& cand : fields)
        if (section == cand.section && key == cand.key) f = &cand;
      if (f == nullptr) return Bad(origin, name, "unknown setting");
      if (auto* d = std::get_if<double*>(&f->ref)) {
        const auto v = node.value<double>();
        if (!v || !std::isfinite(*v)) return Bad(origin, name, "expected a number");
        **d = *v;
      } else if (auto* u = std::get_if<uint32_t*>(&f->ref)) {
        const auto v = node.value<int64_t>();
        if (!v || *v < 0 || *v > int64_t{UINT32_MAX}) return Bad(origin, name, "expected a non-negative integer");
        **u = static_cast<uint32_t>(*v);
      } else if (auto* i = std::get_if<int64_t*>(&f->ref)) {
        const auto v = node.value<int64_t>();
        if (!v || *v <= 0) return Bad(origin, name, "expected a positive integer");
        **i = *v;
      } else if (auto* t = std::get_if<Minutes>(&f->ref)) {
        const auto v = node.value<double>();
        if (!v || !(*v > 0)) return Bad(origin, name, "expected a positive number of minutes");
        *t->p = static_cast<EventTime>(std::llround(*v * double(kMicrosPerMinute)));
      } else if (auto* a = std::get_if<std::array<double, features::kLinkKinds>*>(&f->ref)) {
        const toml::array* arr = node.as_array();
        if (arr == nullptr || arr->size() != features::kLinkKinds)
          return Bad(origin, name, "expected an array of " + std::to_string(features::kLinkKinds) + " numbers");
        for (size_t i = 0; i < arr->size(); ++i) {
          const auto v = (*arr)[i].value<double>();
          if (!v || *v < 0) return Bad(origin, name, "expected non-negative numbers");
          (**a)[i] = *v;
        }
      }
    }
  }
  if (!(c.score_tick > 0 && c.link_tick >= c.score_tick))
    return Status::Error(origin + ": ticks: link_tick_minutes must be >= score_tick_minutes > 0");
  if (!(c.suspicious <= c.extraction)) return Status::Error(origin + ": verdict: suspicious must be <= extraction");
  if (!(c.partner_cap < c.extraction))
    return Status::Error(origin + ": partner: cap must be below verdict.extraction (partner evidence alone never decides)");
  cfg = c;
  return Status::Ok();
}

Status LoadDetectorConfig(const std::string& path, DetectorConfig& cfg) {
  auto text = ReadTextFile(path, "config");
  if (!text.ok()) return text.status();
  return ParseDetectorConfig(text.value(), path, cfg);
}

std::string DetectorConfigToml(const DetectorConfig& cfg) {
  DetectorConfig c = cfg;
  std::string out =
      "# moat detector configuration: every weight and threshold, one line of\n"
      "# documentation each. Signals: weight * ramp(measure, lo, hi);\n"
      "# score = (1 - prod(1 - raising)) * prod(1 - mitigations).\n";
  std::string section;
  for (const Setting& f : Settings(c)) {
    if (section != f.section) {
      section = f.section;
      out += "\n[" + section + "]\n";
    }
    if (f.doc[0] != '\0') out += std::string("# ") + f.doc + "\n";
    out += std::string(f.key) + " = ";
    if (auto* d = std::get_if<double*>(&f.ref)) {
      out += Num(**d);
    } else if (auto* u = std::get_if<uint32_t*>(&f.ref)) {
      out += std::to_string(**u);
    } else if (auto* i = std::get_if<int64_t*>(&f.ref)) {
      out += std::to_string(**i);
    } else if (auto* t = std::get_if<Minutes>(&f.ref)) {
      out += Num(double(*t->p) / double(kMicrosPerMinute));
    } else if (auto* a = std::get_if<std::array<double, features::kLinkKinds>*>(&f.ref)) {
      out += "[";
      for (size_t i = 0; i < (**a).size(); ++i) out += (i ? ", " : "") + Num((**a)[i]);
      out += "]";
    }
    out += "\n";
  }
  return out;
}

}  // namespace moat::score
