#include "moat/features/account_state.h"

#include <algorithm>
#include <cmath>

#include <xxhash.h>

#include "moat/core/time.h"
#include "moat/text/minhash.h"
#include "moat/text/normalize.h"

namespace moat::features {
namespace {

constexpr size_t kContentHead = 1024;
constexpr size_t kContentTail = 512;

// Cuts back to the start of a UTF-8 character.
size_t CharStart(std::string_view s, size_t pos) {
  while (pos > 0 && pos < s.size() && (static_cast<unsigned char>(s[pos]) & 0xC0) == 0x80) --pos;
  return pos;
}

// The prompt itself when short; otherwise its first kContentHead and last
// kContentTail bytes (on character boundaries) joined by a space.
std::string_view ContentView(std::string_view prompt, std::string& scratch) {
  if (prompt.size() <= kContentHead + kContentTail) return prompt;
  const size_t head = CharStart(prompt, kContentHead);
  const size_t tail = CharStart(prompt, prompt.size() - kContentTail);
  scratch.assign(prompt.data(), head);
  scratch.push_back(' ');
  scratch.append(prompt.data() + tail, prompt.size() - tail);
  return scratch;
}

uint64_t Hash(std::string_view s, uint64_t seed) { return XXH3_64bits_withSeed(s.data(), s.size(), seed); }

// Distinct seeds per kind so equal strings of different kinds never collide
// into one id space by accident (ids are per kind anyway).
constexpr std::array<uint64_t, kLinkKinds> kSeeds = {11, 12, 13, 14, 15, 16, 17, 18, 19};

int64_t FloorDiv(int64_t a, int64_t b) { return a / b - ((a % b != 0) && ((a < 0) != (b < 0))); }

uint32_t Mix32(uint32_t a, uint32_t b) {
  uint64_t h = (uint64_t{a} << 32 | b) * 0x9e3779b97f4a7c15ULL;
  return static_cast<uint32_t>(h >> 32);
}

}  // namespace

const char* LinkKindName(LinkKind k) {
  switch (k) {
    case LinkKind::kPayment: return "payment";
    case LinkKind::kEmailDomain: return "email_domain";
    case LinkKind::kOrg: return "org";
    case LinkKind::kSubnet: return "subnet";
    case LinkKind::kTlsFingerprint: return "tls_fingerprint";
    case LinkKind::kSystemPrompt: return "system_prompt";
    case LinkKind::kTemplate: return "template";
    case LinkKind::kLockstep: return "lockstep_activity";
    case LinkKind::kPromptSet: return "prompt_set";
  }
  return "?";
}

uint64_t SubnetKey(std::string_view ip) {
  if (ip.find(':') == std::string_view::npos) {
    uint32_t parts[4] = {0, 0, 0, 0};
    int k = 0;
    int digits = 0;
    for (char c : ip) {
      if (c >= '0' && c <= '9') {
        parts[k] = parts[k] * 10 + static_cast<uint32_t>(c - '0');
        if (++digits > 3 || parts[k] > 255) return 0;
      } else if (c == '.' && digits > 0 && k < 3) {
        ++k;
        digits = 0;
      } else {
        return 0;
      }
    }
    if (k != 3 || digits == 0) return 0;
    return (uint64_t{4} << 56) | (parts[0] << 16) | (parts[1] << 8) | parts[2];
  }
  // IPv6: the first three 16-bit groups; "::" before them means zeros.
  uint64_t groups[3] = {0, 0, 0};
  int k = 0;
  int digits = 0;
  for (size_t i = 0; i < ip.size() && k < 3; ++i) {
    const char c = ip[i];
    int v = -1;
    if (c >= '0' && c <= '9') v = c - '0';
    else if (c >= 'a' && c <= 'f') v = c - 'a' + 10;
    else if (c >= 'A' && c <= 'F') v = c - 'A' + 10;
    if (v >= 0) {
      if (++digits > 4) return 0;
      groups[k] = groups[k] * 16 + static_cast<uint64_t>(v);
    } else if (c == ':') {
      if (i + 1 < ip.size() && ip[i + 1] == ':') break;  // rest of the /48 is zeros
      ++k;
      digits = 0;
    } else {
      break;  // zone id or embedded IPv4 past the /48
    }
  }
  return (uint64_t{6} << 56) | (groups[0] << 32) | (groups[1] << 16) | groups[2];
}

bool KeyExtractor::SampleContent(const Exchange& x, uint32_t prompts_seen, const StateConfig& cfg) {
  if (!x.Has(Field::kPrompt)) return false;
  if (prompts_seen < cfg.content_first) return true;
  if (cfg.content_sample_every <= 1) return true;
  const std::string_view key = x.request_id.empty() ? std::string_view(x.prompt) : std::string_view(x.request_id);
  return Hash(key, 23) % cfg.content_sample_every == 0;
}

void KeyExtractor::Extract(const Exchange& x, ExchangeKeys& keys, bool analyse_content) {
  keys.link.fill(kNoValue);
  auto put = [&](LinkKind kind, Field f, const std::string& s) {
    if (x.Has(f) && !s.empty()) {
      const int i = static_cast<int>(kind);
      keys.link[i] = link_[i].Intern(Hash(s, kSeeds[i]));
    }
  };
  put(LinkKind::kPayment, Field::kPaymentFingerprint, x.payment_fingerprint);
  put(LinkKind::kEmailDomain, Field::kEmailDomain, x.email_domain);
  put(LinkKind::kOrg, Field::kOrgId, x.org_id);
  put(LinkKind::kTlsFingerprint, Field::kTlsFingerprint, x.tls_fingerprint);
  put(LinkKind::kSystemPrompt, Field::kSystemPrompt, x.system_prompt);
  keys.ip_hash = 0;
  if (x.Has(Field::kIp) && !x.ip.empty()) {
    keys.ip_hash = Hash(x.ip, 21);
    if (const uint64_t subnet = SubnetKey(x.ip); subnet != 0) {
      const int i = static_cast<int>(LinkKind::kSubnet);
      keys.link[i] = link_[i].Intern(subnet);
    }
  }
  keys.user_agent = x.Has(Field::kUserAgent) ? user_agents_.Intern(Hash(x.user_agent, 22)) : kNoValue;
  keys.analysed = false;
  if (x.Has(Field::kPrompt)) {
    keys.prompt = ScanPrompt(x.prompt);
    if (analyse_content) {
      // Once, for both consumers, on at most the prompt's head and tail: the
      // cues (wrappers, instructions, task words) sit there, and normalising
      // a few-shot prompt of several KB whole costs more than the rest of
      // the exchange.
      text::Normalize(ContentView(x.prompt, content_scratch_), normalized_);
      keys.content = text::AnalyzeNormalized(normalized_);
      keys.template_cluster = miner_.Add(normalized_).cluster_id;
      keys.analysed = true;
    }
  }
}

uint32_t AccountState::Update(const Exchange& x, const ExchangeKeys& keys, const StateConfig& cfg,
                              uint64_t* new_template) {
  if (new_template != nullptr) *new_template = 0;
  const EventTime ts = x.ts;
  if (exchanges == 0 || ts - last_ts >= cfg.wakeup_gap) {
    const int64_t bucket = FloorDiv(ts, cfg.wakeup_bucket);
    const uint64_t h = XXH3_64bits_withSeed(&bucket, sizeof bucket, kSeeds[static_cast<int>(LinkKind::kLockstep)]);
    sketches_changed |= text::MinHasher::AddHashed(h, wakeups);
    ++n_wakeups;
  }
  if (exchanges == 0) {
    first_ts = last_ts = ts;
  } else if (ts >= last_ts) {
    const double dt = std::max(static_cast<double>(ts - last_ts) / 1e6, 1e-3);
    log_gap.Add(std::log(dt));
    last_ts = ts;
  } else if (ts < first_ts) {
    first_ts = ts;  // a late line older than anything seen for this account
  }
  ++exchanges;

  const int64_t hour = FloorDiv(ts, kMicrosPerHour);
  ++hour_of_day[static_cast<size_t>(((hour % 24) + 24) % 24)];
  if (hour > last_hour) {
    ++active_hours;
    last_hour = hour;
  }
  const int64_t day = FloorDiv(ts, kMicrosPerDay);
  if (day > last_day) {
    ++active_days;
    last_day = day;
  }

  if (x.Has(Field::kAccountCreated) && account_created == 0) account_created = x.account_created;
  if (x.Has(Field::kOrgId)) ++n_org;

  if (x.Has(Field::kOutputTokens)) {
    ++n_tokens;
    output_tokens += static_cast<uint64_t>(std::max<int64_t>(x.output_tokens, 0));
    if (x.Has(Field::kInputTokens)) input_tokens += static_cast<uint64_t>(std::max<int64_t>(x.input_tokens, 0));
  }
  if (x.Has(Field::kReasoningTokens) && x.reasoning_tokens > 0) {
    ++n_reasoning;
    reasoning_tokens += static_cast<uint64_t>(x.reasoning_tokens);
  }
  if (x.Has(Field::kMaxTokens) && x.max_tokens > 0) {
    ++n_max_tokens;
    if (x.max_tokens >= cfg.high_max_tokens) ++n_high_max_tokens;
    if (x.Has(Field::kOutputTokens) &&
        static_cast<double>(x.output_tokens) >= cfg.near_max_fraction * static_cast<double>(x.max_tokens))
      ++n_near_max;
    max_tokens_values.Add(static_cast<uint32_t>(std::min<int64_t>(x.max_tokens, UINT32_MAX)));
  }
  if (x.Has(Field::kTemperature)) {
    ++n_temperature;
    const double t = std::clamp(x.temperature, 0.0, 100.0);
    if (t == 0.0) ++n_temperature_zero;
    temperatures.Add(static_cast<uint32_t>(std::lround(t * 1000.0)));
  }

  if (x.Has(Field::kTurn)) {
    ++n_turn_known;
    if (x.turn == 0) ++n_turn0;
    if (x.turn == 1) ++n_turn1;
    if (x.turn >= 1) ++n_followup;
  }

  if (x.Has(Field::kPrompt)) {
    ++n_prompts;
    if (keys.analysed) {
      ++n_analysed;
      if (keys.content.reasoning_mask != 0) ++n_elicit;
      if (keys.content.output_mask != 0) ++n_output_request;
      task_mask |= keys.content.task_mask;
      topic_mask |= keys.content.topic_mask;
      mined_templates.Add(keys.template_cluster);
    }
    // Space-saving counts can overestimate a newcomer, so a signature is only
    // offered as a template on the exact repeat count, at most once each.
    const uint32_t pc = prefixes.Add(keys.prompt.prefix_hash);
    const uint32_t sc = suffixes.Add(keys.prompt.suffix_hash);
    const uint64_t prompt_key = keys.prompt.prefix_hash ^ std::rotl(keys.prompt.suffix_hash, 29);
    sketches_changed |= text::MinHasher::AddHashed(
        XXH3_64bits_withSeed(&prompt_key, sizeof prompt_key, kSeeds[static_cast<int>(LinkKind::kPromptSet)]), prompt_set);
    if (new_template != nullptr) {
      // Prefix and suffix signatures live in one value space (seeded apart).
      if (pc == cfg.template_repeat) *new_template = keys.prompt.prefix_hash;
      else if (sc == cfg.template_repeat) *new_template = keys.prompt.suffix_hash;
    }
  }

  if (keys.ip_hash != 0) ips.Add(keys.ip_hash);
  if (x.Has(Field::kAsn)) asns.Add(static_cast<uint32_t>(x.asn));
  const uint32_t tls = keys.link[static_cast<int>(LinkKind::kTlsFingerprint)];
  if (keys.user_agent != kNoValue) user_agents.Add(keys.user_agent);
  if (tls != kNoValue) tls_fingerprints.Add(tls);
  if (keys.user_agent != kNoValue || tls != kNoValue) client_pairs.Add(Mix32(keys.user_agent, tls));

  uint32_t fresh = 0;
  for (int k = 0; k < kLinkKinds; ++k) {
    if (keys.link[k] != kNoValue && attrs[k].Add(keys.link[k])) fresh |= 1u << k;
  }
  return fresh;
}

double AccountState::TemplateShare() const {
  if (n_analysed == 0) return 0.0;
  return double(mined_templates.MaxCount()) / n_analysed;
}

double AccountState::SingleTurnShare() const {
  if (n_turn_known == 0) return 0.0;
  const double singles = n_turn0 > n_turn1 ? double(n_turn0 - n_turn1) : 0.0;
  return singles / n_turn_known;
}

double AccountState::OutputInputRatio() const {
  if (n_tokens == 0) return 0.0;
  return double(output_tokens) / double(std::max<uint64_t>(input_tokens, 1));
}

double AccountState::ReasoningTokenShare() const {
  return output_tokens ? double(reasoning_tokens) / double(output_tokens) : 0.0;
}

int AccountState::ActiveHoursOfDay() const {
  int k = 0;
  for (uint32_t c : hour_of_day) k += c > 0;
  return k;
}

double AccountState::BusiestWindowShare(int width) const {
  if (exchanges == 0) return 0.0;
  uint64_t total = 0;
  for (uint32_t c : hour_of_day) total += c;
  if (total == 0) return 0.0;
  uint64_t sum = 0;
  for (int i = 0; i < width; ++i) sum += hour_of_day[i % 24];
  uint64_t best = sum;
  for (int start = 1; start < 24; ++start) {  // slide the window round the clock
    sum += hour_of_day[(start + width - 1) % 24];
    sum -= hour_of_day[start - 1];
    best = std::max(best, sum);
  }
  return double(best) / double(total);
}

}  // namespace moat::features
