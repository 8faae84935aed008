#include "moat/sim/simulate.h"

#include <algorithm>
#include <cmath>
#include <cctype>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <queue>
#include <unordered_set>

#include "moat/core/exchange_json.h"
#include "moat/core/json_writer.h"
#include "moat/core/time.h"
#include "moat/sim/corpora.h"
#include "moat/sim/rng.h"
#include "moat/sim/world.h"

namespace moat::sim {
namespace {

using world::Family;

constexpr EventTime kNever = INT64_MAX;
constexpr EventTime kSec = kMicrosPerSecond;
constexpr EventTime kMaxDelay = 4 * kMicrosPerMinute;  // spec allows 5 minutes

enum class Pop {
  kLightChat,
  kHeavyChat,
  kSmallTeam,
  kAppBuilder,
  kEnterpriseBatch,
  kEvalResearcher,
  kLlmJudge,
  kHydra,
  kCotHarvest,
  kCensorship,
  kTracePullers,
  kLowSlow,
  kBlend,
};

const char* PopulationName(Pop p) {
  switch (p) {
    case Pop::kLightChat: return "light-chat";
    case Pop::kHeavyChat: return "heavy-chat";
    case Pop::kSmallTeam: return "small-team";
    case Pop::kAppBuilder: return "app-builder";
    case Pop::kEnterpriseBatch: return "enterprise-batch";
    case Pop::kEvalResearcher: return "eval-researcher";
    case Pop::kLlmJudge: return "llm-judge";
    default: return "extractor";
  }
}

const char* LabelName(Pop p) {
  switch (p) {
    case Pop::kHydra: return "hydra";
    case Pop::kCotHarvest: return "cot-harvest";
    case Pop::kCensorship: return "censorship-rewrite";
    case Pop::kTracePullers: return "trace-pullers";
    case Pop::kLowSlow: return "evasive-lowslow";
    case Pop::kBlend: return "evasive-blend";
    default: return "benign";
  }
}

// ---------------------------------------------------------------- text utils

int64_t Tokens(const std::string& s) { return s.empty() ? 0 : static_cast<int64_t>(s.size() + 3) / 4; }

void ReplaceAll(std::string& s, const std::string& from, const std::string& to) {
  size_t pos = 0;
  while ((pos = s.find(from, pos)) != std::string::npos) {
    s.replace(pos, from.size(), to);
    pos += to.size();
  }
}

std::string Truncate(const std::string& s, size_t n) {
  if (s.size() <= n) return s;
  size_t cut = s.rfind(' ', n);
  if (cut == std::string::npos || cut < n / 2) cut = n;
  return s.substr(0, cut);
}

bool IsAlpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

// A human's edits: casing, typos, greetings and sign-offs. Strength 0..1.
std::string Humanize(std::string s, Rng& rng, double strength = 1.0) {
  static const std::vector<std::string> kPrefix = {
      "hey ", "hi, ", "Can you help me? ", "quick question: ", "pls ", "I need help. ", "ok so ", "Question: ",
      "hello! ", "hey, quick one - ", "So, ", "Help: ", "Hi there. ", "I was wondering: ", "please help, ",
      "for a project i'm doing: ", "my friend asked me this and i don't know: ", "random q: ", "Hello, ", "yo "};
  static const std::vector<std::string> kSuffix = {
      " thanks", " thx", "?", " please", " (be concise)", " explain simply", "\n\nthanks in advance", " asap",
      " in detail please", " :)", "??", " - keep it short", " ty", "\nI'm a beginner btw", " with examples",
      " in simple words", ". Be brief.", " step by step pls", "\n\nAnswer in bullet points.", " no fluff"};
  if (rng.Chance(0.25 * strength) && !s.empty() && IsAlpha(s[0])) s[0] = static_cast<char>(std::tolower(s[0]));
  if (rng.Chance(0.08 * strength))
    for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  const int typos = rng.Chance(0.45 * strength) ? static_cast<int>(rng.Int(1, 3)) : 0;
  for (int t = 0; t < typos && s.size() > 6; ++t) {
    const size_t i = 1 + rng.Below(s.size() - 3);
    if (!IsAlpha(s[i]) || !IsAlpha(s[i + 1])) continue;
    switch (rng.Below(3)) {
      case 0: std::swap(s[i], s[i + 1]); break;
      case 1: s.erase(i, 1); break;
      default: s.insert(i, 1, s[i]); break;
    }
  }
  if (rng.Chance(0.35 * strength)) s = rng.Pick(kPrefix) + s;
  if (rng.Chance(0.35 * strength)) s += rng.Pick(kSuffix);
  if (rng.Chance(0.1 * strength) && !s.empty() && s.back() != '?' && s.back() != '.') s += rng.Chance(0.5) ? "?" : ".";
  return s;
}

// Real people wrap a question in their own situation; this is what keeps
// organic prompts from repeating verbatim across unrelated accounts.
std::string Personalize(const std::string& text, Rng& rng) {
  static const std::vector<std::string> kRole = {
      "a student", "a nurse", "a software engineer", "a teacher", "a small business owner", "a data analyst",
      "a marketing manager", "a retired engineer", "a PhD student", "a high school student", "a freelance designer",
      "a paralegal", "an accountant", "a product manager", "a chef", "a journalist", "a researcher", "a game developer",
      "a parent of two", "a junior dev", "an electrician", "a translator", "a pharmacist", "an intern"};
  static const std::vector<std::string> kProject = {
      "my thesis", "a side project", "a work presentation", "my startup", "a blog post", "a class assignment",
      "my team's wiki", "a client report", "a hackathon", "my YouTube channel", "a grant proposal", "my online store",
      "a podcast episode", "a school project", "interview prep", "a newsletter", "my book club", "a job application"};
  static const std::vector<std::string> kSituation = {
      "new to this", "in a hurry", "not a native English speaker", "preparing for an exam", "trying to learn this properly",
      "a bit confused", "coming back to this after years", "arguing about this with a friend"};
  static const std::vector<std::string> kWho = {"my mom", "a friend", "my boss", "my kid", "a coworker", "my sister", "a client"};
  std::string ctx;
  switch (rng.Below(6)) {
    case 0: ctx = "I'm " + rng.Pick(kRole) + "."; break;
    case 1: ctx = "Background: I'm " + rng.Pick(kRole) + " working on " + rng.Pick(kProject) + "."; break;
    case 2: ctx = "This is for " + rng.Pick(kProject) + "."; break;
    case 3: ctx = "For context, I'm " + rng.Pick(kSituation) + "."; break;
    case 4: ctx = "(asking for " + rng.Pick(kWho) + ")"; break;
    default: ctx = "I'm " + rng.Pick(kRole) + " and " + rng.Pick(kSituation) + ".";
  }
  if (rng.Chance(0.5)) return ctx + (rng.Chance(0.5) ? " " : "\n\n") + text;
  return text + (rng.Chance(0.5) ? " " : "\n\n") + ctx;
}

std::string Keyword(const std::string& s, Rng& rng) {
  std::vector<std::string> words;
  std::string w;
  for (char c : s) {
    if (IsAlpha(c)) {
      w.push_back(static_cast<char>(std::tolower(c)));
    } else {
      if (w.size() >= 6) words.push_back(w);
      w.clear();
    }
  }
  if (w.size() >= 6) words.push_back(w);
  if (words.empty()) return "that";
  return words[rng.Below(words.size())];
}

std::string FormatMc(const McQuestion& q, bool with_answer) {
  std::string s = q.question;
  for (int k = 0; k < 4; ++k) {
    s += "\n";
    s.push_back(static_cast<char>('A' + k));
    s += ". " + q.options[k];
  }
  s += "\nAnswer:";
  if (with_answer) {
    s += " ";
    s.push_back(q.answer);
  }
  return s;
}

std::string Ipv4(uint32_t v) {
  char buf[20];
  std::snprintf(buf, sizeof buf, "%u.%u.%u.%u", v >> 24, (v >> 16) & 255, (v >> 8) & 255, v & 255);
  return buf;
}

// ------------------------------------------------------------------- network

struct Addr {
  std::string ip;
  int64_t asn = 0;
  std::string cc;
};
using Pool = std::vector<Addr>;

// A random host address inside a range, avoiding .0 and .255.
Addr HostIn(const world::Range& r, Rng& rng, bool v6 = false) {
  Addr a;
  a.asn = r.asn;
  a.cc = r.cc;
  if (v6 && r.v6) {
    a.ip = std::string(r.v6) + rng.Hex(4) + ":" + rng.Hex(4) + ":" + rng.Hex(4) + ":" + rng.Hex(4) + ":" + rng.Hex(4);
    // Strip leading zeros is not needed for validity; keep fixed width.
    return a;
  }
  const uint32_t span = r.v4_bits >= 32 ? 1u : (1u << (32 - r.v4_bits));
  uint32_t v = r.v4 + static_cast<uint32_t>(rng.Below(span));
  if ((v & 255) == 0) v += 1;
  if ((v & 255) == 255) v -= 1;
  a.ip = Ipv4(v);
  return a;
}

// A /24 inside a range, returned as its base address.
uint32_t Subnet24(const world::Range& r, Rng& rng) {
  const uint32_t span = r.v4_bits >= 24 ? 1u : (1u << (24 - r.v4_bits));
  return (r.v4 & 0xffffff00u) + (static_cast<uint32_t>(rng.Below(span)) << 8);
}

Addr HostIn24(uint32_t base, const world::Range& r, Rng& rng, int lo = 2, int hi = 253) {
  Addr a;
  a.asn = r.asn;
  a.cc = r.cc;
  a.ip = Ipv4(base + static_cast<uint32_t>(rng.Int(lo, hi)));
  return a;
}

struct Net {
  std::vector<Addr> own;          // home, office, cloud or lab addresses
  const Pool* shared = nullptr;   // carrier-NAT pool or proxy pool
  double shared_share = 0.0;      // chance a session uses the shared pool
  bool rotate_per_request = false;
  double own_change = 0.05;       // chance per session to move to another own address
  size_t cur_own = 0;
  const Addr* cur = nullptr;
};

// ---------------------------------------------------------------- schedules

// Hourly activity by local hour.
constexpr double kHumanCurve[24] = {0.3,  0.15, 0.08, 0.05, 0.05, 0.08, 0.2,  0.45, 0.75, 0.95, 1.0,  1.0,
                                    0.9,  0.95, 1.0,  0.95, 0.9,  0.85, 0.8,  0.85, 0.9,  0.85, 0.7,  0.5};
constexpr double kOfficeCurve[24] = {0, 0, 0, 0, 0, 0, 0, 0.05, 0.5, 1.0, 1.0, 1.0,
                                     0.6, 0.9, 1.0, 1.0, 0.9, 0.6, 0.2, 0.05, 0, 0, 0, 0};
constexpr double kLateCurve[24] = {0.8, 0.7, 0.5, 0.3, 0.2, 0.15, 0.2, 0.3, 0.5, 0.7, 0.8, 0.9,
                                   0.9, 0.9, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 0.9};

int LocalHour(EventTime t, int tz_min) {
  const EventTime local = t + static_cast<EventTime>(tz_min) * kMicrosPerMinute;
  return static_cast<int>(((local % kMicrosPerDay) + kMicrosPerDay) % kMicrosPerDay / kMicrosPerHour);
}
// 0 = Sunday.
int LocalWeekday(EventTime t, int tz_min) {
  const EventTime local = t + static_cast<EventTime>(tz_min) * kMicrosPerMinute;
  const int64_t days = local >= 0 ? local / kMicrosPerDay : (local - kMicrosPerDay + 1) / kMicrosPerDay;
  return static_cast<int>(((days + 4) % 7 + 7) % 7);
}

enum class SchedKind { kHuman, kJobs, kPeriodic, kDiurnalStream, kServeGen };

struct Job {
  EventTime start;
  int64_t items;
  double gap_s;     // mean gap
  double gap_cv;    // 0 = metronome
  int kind;         // content-specific (suite, template)
  int64_t param;    // content-specific (offset, pairs)
};

struct Schedule {
  SchedKind kind = SchedKind::kHuman;
  // kHuman: sessions of conversations of turns.
  const double* curve = kHumanCurve;
  double sessions_per_day = 1.0;
  double weekend = 0.7;
  double convs_mean = 1.4, turns_mean = 2.5;
  int max_turns = 12;
  double think_median_s = 45, conv_gap_median_s = 240;
  int clock_tz = 0;        // timezone of the session clock
  Rng clock{1};            // session clock: own, or shared by a cohort
  EventTime clock_t = 0;
  double session_jitter_s = 0;
  double session_skip = 0;
  int convs_left = 0, turns_left = 0;
  // kJobs
  std::vector<Job> jobs;
  size_t job = 0;
  int64_t item = 0;
  // streams
  double period_s = 600, period_jitter = 0.05;
  double rate_peak = 0.01;  // req/s at the curve's peak
  const ServeGenClient* sg = nullptr;
  double sg_mult = 1.0;
  const Empirical* gaps = nullptr;  // normalised trace gaps for diurnal streams
  double gaps_mean = 1.0;
  int64_t budget = -1;  // stop after this many exchanges (-1: no limit)
  EventTime active_from = 0;
};

// ------------------------------------------------------------------ actors

struct Identity {
  std::string account_id, org_id, payment, email;
  std::vector<std::string> keys;
  EventTime created = 0;
  int tz = 0;
  int client = 7;
  std::string tls_override;
};

struct Actor {
  Pop pop;
  uint32_t index;
  Identity id;
  Net net;
  Schedule s;
  Rng rng{1};
  EventTime next = kNever;
  uint64_t emitted = 0;
  // per-event context set by the schedule
  bool new_session = false, new_conv = false;
  int turn = 0;
  // content state
  std::vector<int> models;       // model indexes, first preferred
  std::vector<double> model_w;
  double temperature = 1.0;
  bool send_temperature = true;
  int64_t max_tokens = 0;       // 0: model maximum when set_max; otherwise not sent
  bool send_max_tokens = false;
  bool max_is_model_max = false;
  std::string system_prompt;
  std::string conversation_id;
  int64_t history_tokens = 0;
  int cur_model = 0;
  int variant = 0;               // content template / archetype
  int64_t cursor = 0;            // position in a task list
  int64_t stride = 1;
  int64_t lane = 0;               // index inside its campaign
  int conv_source = 0;
  size_t conv_ref = 0;
  std::string conv_first;
  std::string brand, domain;
  double p429 = 0.004;
  double harvest_share = 0.0;    // blend: share of harvesting prompts
  std::vector<int> job_models;
};

// ---------------------------------------------------------------- the world

struct Shared {
  const Corpora* c;
  EventTime start, end;
  std::vector<Pool> mobile_pools;   // per country: carrier-NAT addresses
  Pool hydra_proxies, resi_proxies, lowslow_proxies, censor_proxies;
  std::vector<uint32_t> shared_cloud24;  // /24s where several apps are tenants
  std::vector<const world::Range*> shared_cloud24_range;
  std::vector<std::string> blend_cover;  // evasive-blend's fixed pool of cover prompts
  std::vector<size_t> reasoning_task_order;
  Empirical conv_out, code_out, mooncake_out, mooncake_in;
  std::vector<const ServeGenClient*> busy_clients;
};

// ---------------------------------------------------------------- schedules

EventTime NextSessionClock(Actor& a, const Shared& w, EventTime after) {
  Schedule& s = a.s;
  double cmax = 0;
  for (int h = 0; h < 24; ++h) cmax = std::max(cmax, s.curve[h]);
  double cmean = 0;
  for (int h = 0; h < 24; ++h) cmean += s.curve[h] / 24.0;
  const double rate_max = s.sessions_per_day / (cmean / cmax) / 86400.0;  // per second at peak
  for (int guard = 0; guard < 100000; ++guard) {
    s.clock_t += static_cast<EventTime>(s.clock.Exponential(1.0 / rate_max) * kSec);
    if (s.clock_t >= w.end) return kNever;
    const int h = LocalHour(s.clock_t, s.clock_tz);
    const int wd = LocalWeekday(s.clock_t, s.clock_tz);
    const double f = s.curve[h] / cmax * ((wd == 0 || wd == 6) ? s.weekend : 1.0);
    if (!s.clock.Chance(f)) continue;
    if (s.clock_t < after) continue;
    if (s.session_skip > 0 && a.rng.Chance(s.session_skip)) continue;
    EventTime t = s.clock_t;
    if (s.session_jitter_s > 0) t += static_cast<EventTime>(std::fabs(a.rng.Normal(0, s.session_jitter_s)) * kSec);
    return std::max(t, after);
  }
  return kNever;
}

void ClampTurns(Actor& a) {
  a.s.turns_left = static_cast<int>(std::min<int64_t>(a.rng.Geometric1(a.s.turns_mean), a.s.max_turns)) - 1;
}

// Advances the actor to its next event time and sets the event context.
void Advance(Actor& a, const Shared& w) {
  Schedule& s = a.s;
  const EventTime now = a.next;
  a.new_session = a.new_conv = false;
  if (s.budget >= 0 && static_cast<int64_t>(a.emitted) >= s.budget) {
    a.next = kNever;
    return;
  }
  EventTime t = kNever;
  switch (s.kind) {
    case SchedKind::kHuman: {
      if (s.turns_left > 0) {
        --s.turns_left;
        ++a.turn;
        t = now + static_cast<EventTime>(a.rng.LogNormal(s.think_median_s, 0.8) * kSec) + kSec;
      } else if (s.convs_left > 0) {
        --s.convs_left;
        a.new_conv = true;
        a.turn = 0;
        ClampTurns(a);
        t = now + static_cast<EventTime>(a.rng.LogNormal(s.conv_gap_median_s, 0.9) * kSec) + kSec;
      } else {
        const EventTime after = std::max(now + 10 * kMicrosPerMinute, s.active_from);
        t = NextSessionClock(a, w, after);
        a.new_session = a.new_conv = true;
        a.turn = 0;
        s.convs_left = static_cast<int>(a.rng.Geometric1(s.convs_mean)) - 1;
        ClampTurns(a);
      }
      break;
    }
    case SchedKind::kJobs: {
      if (s.job < s.jobs.size() && s.item + 1 < s.jobs[s.job].items) {
        ++s.item;
        const Job& j = s.jobs[s.job];
        double g = j.gap_cv <= 0 ? j.gap_s : a.rng.Gamma(1.0 / (j.gap_cv * j.gap_cv), j.gap_s * j.gap_cv * j.gap_cv);
        t = now + std::max<EventTime>(static_cast<EventTime>(g * kSec), 20000);
      } else {
        ++s.job;
        s.item = 0;
        while (s.job < s.jobs.size() && s.jobs[s.job].start < now) ++s.job;
        t = s.job < s.jobs.size() ? s.jobs[s.job].start : kNever;
        a.new_session = true;
      }
      break;
    }
    case SchedKind::kPeriodic: {
      t = std::max(now, s.active_from) + static_cast<EventTime>(s.period_s * std::max(0.2, 1.0 + a.rng.Normal(0, s.period_jitter)) * kSec);
      break;
    }
    case SchedKind::kDiurnalStream: {
      double cmax = 0;
      for (int h = 0; h < 24; ++h) cmax = std::max(cmax, s.curve[h]);
      t = std::max(now, s.active_from);
      for (int guard = 0; guard < 1000000; ++guard) {
        const double g = s.gaps ? s.gaps->Sample(a.rng) / s.gaps_mean : a.rng.Exponential(1.0);
        t += static_cast<EventTime>(g / s.rate_peak * kSec) + 1000;
        if (t >= w.end) break;
        const int wd = LocalWeekday(t, a.id.tz);
        if (a.rng.Chance(s.curve[LocalHour(t, a.id.tz)] / cmax * ((wd == 0 || wd == 6) ? s.weekend : 1.0))) break;
      }
      break;
    }
    case SchedKind::kServeGen: {
      t = std::max(now, s.active_from);
      for (int guard = 0; guard < 2000; ++guard) {
        const int64_t day_s = ((t - w.start) / kSec) % 86400;
        const int win = static_cast<int>(day_s / 600);
        const double rate = s.sg->rate[win] * s.sg_mult;
        if (rate <= 1e-9) {  // idle window: jump to the next one
          t += (600 - day_s % 600) * kSec;
          continue;
        }
        const double cv = std::clamp(s.sg->cv[win] > 0 ? s.sg->cv[win] : 1.0, 0.3, 4.0);
        const double shape = 1.0 / (cv * cv);
        const double gap = a.rng.Gamma(shape, 1.0 / (rate * shape));
        const EventTime cand = t + static_cast<EventTime>(gap * kSec) + 1000;
        const int64_t cand_day_s = ((cand - w.start) / kSec) % 86400;
        if (cand_day_s / 600 != win && gap > 600) {  // rate may change: re-draw in the next window
          t += (600 - day_s % 600) * kSec;
          continue;
        }
        t = cand;
        break;
      }
      break;
    }
  }
  if (t >= w.end) t = kNever;
  a.next = t;
}

// ------------------------------------------------------------------ content

int64_t SampleOutput(const Empirical& e, Rng& rng, double mult = 1.0) {
  return std::max<int64_t>(1, static_cast<int64_t>(e.Sample(rng) * mult));
}

const std::vector<std::string> kFollowUps = {
    "can you make it shorter?", "explain that again but simpler", "what about {kw}?", "give me an example of {kw}",
    "thanks! now rewrite it in a more formal tone", "why is that?", "are you sure? double check please", "continue",
    "ok and how would I do that in python", "can you put that in a table", "translate that to {lang}",
    "that didn't work, I get an error when I try it", "more detail on the second point please",
    "what's the difference between that and {kw}?", "can you give me 3 alternatives", "summarize this in 2 sentences",
    "hmm I meant {kw} specifically", "write it as an email to my boss", "is there a cheaper way to do it?",
    "and what are the risks of {kw}?", "now make it funnier", "ok. what would you recommend for a beginner?"};
const std::vector<std::string> kLangs = {"Spanish", "German", "French", "Hindi", "Japanese", "Portuguese", "Korean"};

// Organic first prompt for a human: arena, NQ, awesome prompts, HH human turn.
std::string OrganicPrompt(Actor& a, const Corpora& c, int source, size_t ref) {
  switch (source) {
    case 0: return Humanize(c.arena[ref % c.arena.size()], a.rng, 0.6);
    case 1: {
      std::string q = c.nq[ref % c.nq.size()];
      if (a.rng.Chance(0.3)) q[0] = static_cast<char>(std::toupper(q[0]));
      return Humanize(q, a.rng, 1.2);
    }
    case 2: {
      const auto& [act, prompt] = c.acp[ref % c.acp.size()];
      std::string p = prompt;
      if (a.rng.Chance(0.5)) p = Humanize(p, a.rng, 0.8);
      return p;
    }
    default: return Humanize(c.hh_human[ref % c.hh_human.size()][0], a.rng, 0.7);
  }
}

std::string FollowUp(Actor& a, const Corpora& c) {
  if (a.conv_source == 3) {
    const auto& d = c.hh_human[a.conv_ref % c.hh_human.size()];
    if (static_cast<size_t>(a.turn) < d.size()) return Humanize(d[a.turn], a.rng, 0.5);
  }
  std::string f = a.rng.Pick(kFollowUps);
  ReplaceAll(f, "{kw}", Keyword(a.conv_first, a.rng));
  ReplaceAll(f, "{lang}", a.rng.Pick(kLangs));
  return Humanize(f, a.rng, 0.8);
}

// Chat users: conversation with first prompt and follow-ups.
void ChatPrompt(Actor& a, const Corpora& c, const std::vector<double>& source_w, std::string& prompt) {
  if (a.new_conv || a.turn == 0) {
    a.conv_source = static_cast<int>(a.rng.Weighted(source_w));
    const size_t sizes[] = {c.arena.size(), c.nq.size(), c.acp.size(), c.hh_human.size(), c.user_tasks.size()};
    a.conv_ref = a.rng.Below(sizes[a.conv_source]);
    if (a.conv_source == 4) {  // work task with its input, user-oriented set
      const SeedTask& t = c.user_tasks[a.conv_ref];
      prompt = Humanize(t.instruction, a.rng, 0.5);
      if (!t.input.empty()) prompt += (a.rng.Chance(0.5) ? "\n\n" : "\n") + t.input;
    } else {
      prompt = OrganicPrompt(a, c, a.conv_source, a.conv_ref);
    }
    if (prompt.size() >= 30 && a.rng.Chance(0.6)) prompt = Personalize(prompt, a.rng);
    a.conv_first = prompt;
  } else {
    prompt = FollowUp(a, c);
  }
}

const std::vector<std::string> kCotWrappers = {
    "{q}\n\nThink step by step and show your full reasoning.",
    "Solve the following problem. Show your complete chain of thought before giving the answer.\n\n{q}",
    "{q}\nLet's work this out in a step by step way to be sure we have the right answer.",
    "Problem: {q}\n\nExplain your reasoning in detail, step by step, then give the final answer.",
    "Please reason carefully and write out every single step.\n{q}",
    "{q}\n\nWalk through your thought process step-by-step. Don't skip any steps, and justify each one.",
    "Question: {q}\nBefore answering, lay out your full reasoning as a numbered list of steps.",
    "{q}\n\nShow all intermediate calculations and your reasoning, then state 'Final answer:' on its own line.",
};

// A reasoning task (GSM8K, BBH input, MMLU) by global index.
std::string ReasoningTask(const Corpora& c, size_t i) {
  const size_t n1 = c.gsm8k_train.size(), n2 = c.bbh.size() * 40, n3 = c.mmlu_val.size();
  i %= (n1 + n2 + n3);
  if (i < n1) return c.gsm8k_train[i];
  i -= n1;
  if (i < n2) {
    const BbhTask& t = c.bbh[i % c.bbh.size()];
    return t.inputs[(i / c.bbh.size()) % t.inputs.size()];
  }
  return FormatMc(c.mmlu_val[i - n2], false);
}

std::string FillSlots(std::string tpl, const std::string& q) {
  ReplaceAll(tpl, "{q}", q);
  return tpl;
}

// Hydra's handful of instruction templates over broad coverage.
std::string HydraPrompt(Actor& a, const Corpora& c) {
  Rng& r = a.rng;
  const int t = static_cast<int>(r.Weighted({0.25, 0.25, 0.1, 0.2, 0.12, 0.08}));
  const bool seed = r.Chance(0.4);
  const SeedTask& task = seed ? c.seed_tasks[r.Below(c.seed_tasks.size())] : c.user_tasks[r.Below(c.user_tasks.size())];
  const std::string& subject = r.Pick(c.mmlu_subjects);
  switch (t) {
    case 0:
      return task.instruction + (task.input.empty() ? "" : "\n" + task.input) + "\n\nProvide a thorough, high-quality answer of at least " +
             std::to_string(r.Int(3, 12) * 50) + " words.";
    case 1:
      return "Below is an instruction that describes a task" +
             std::string(task.input.empty() ? "" : ", paired with an input that provides further context") +
             ". Write a response that appropriately completes the request.\n\n### Instruction:\n" + task.instruction +
             (task.input.empty() ? "" : "\n\n### Input:\n" + task.input) + "\n\n### Response:";
    case 2: {
      std::string p = c.alpaca_prompt;
      const std::string n = std::to_string(r.Pick(std::vector<int>{10, 15, 20, 25, 30}));
      ReplaceAll(p, "20 diverse", n + " diverse");
      ReplaceAll(p, "List of 20 tasks", "List of " + n + " tasks");
      for (int k = 1; k <= 3; ++k) {
        const SeedTask& ex = c.seed_tasks[r.Below(c.seed_tasks.size())];
        p += "\n###\n" + std::to_string(k) + ". Instruction: " + ex.instruction + "\n" + std::to_string(k) +
             ". Input:\n" + (ex.input.empty() ? "<noinput>" : ex.input) + "\n" + std::to_string(k) + ". Output:\n" + ex.output;
      }
      return p + "\n###\n4. Instruction:";
    }
    case 3: {
      const McQuestion& q = c.mmlu_val[r.Below(c.mmlu_val.size())];
      return "You are an expert in " + q.subject + ". Write a detailed textbook section (about " + std::to_string(r.Int(6, 20) * 100) +
             " words) that explains the concept behind the following question, with " + std::to_string(r.Int(2, 5)) +
             " worked examples, then answer it with a full explanation.\n\n" + FormatMc(q, false);
    }
    case 4:
      return "Generate " + std::to_string(r.Int(5, 25)) + " diverse question-answer pairs about " + subject + " at " +
             r.Pick(std::vector<std::string>{"high school", "undergraduate", "graduate", "expert", "introductory"}) +
             " level. For each, give the question, a detailed step-by-step answer, and the final answer.";
    default:
      return "Task " + std::to_string(r.Int(10000, 99999)) + ": " + task.instruction + (task.input.empty() ? "" : " " + task.input) +
             "\nRespond in English with Markdown headings. Be exhaustive.";
  }
}

// evasive-lowslow: every wrapper is assembled from paraphrase slots, so no two
// prompts share a template verbatim, but the skeleton (opener, task,
// reasoning request, format) is the same across the campaign.
std::string ParaphrasedHarvest(Actor& a, const Corpora& c, const std::string& task) {
  static const std::vector<std::string> kOpen = {
      "", "", "Hi! ", "Hey, ", "Hello. ", "Could you help me with something? ", "I'm studying for an exam. ",
      "Working through some practice problems. ", "My tutor gave me this one. ", "Stuck on this: ", "Quick one: ",
      "I'd love your help. "};
  static const std::vector<std::string> kAsk = {
      "Can you walk me through how to solve it", "Could you explain how you'd approach this",
      "How would you work this out", "Please go through it with me", "Mind showing me how to get the answer",
      "Would you break this down for me", "Help me understand how to solve it", "Could you take me through it",
      "How do I solve this", "What's the right way to think about this"};
  static const std::vector<std::string> kHow = {
      ", one step at a time?", " step by step?", ", showing each step of your thinking?", ", explaining your reasoning as you go?",
      " - every step, please.", ", laying out your reasoning in order?", " and explain why each step follows?",
      ", thinking it through carefully?", ", including the parts you'd double-check?", " with your full line of reasoning?"};
  static const std::vector<std::string> kTail = {
      "", "", " Thanks!", " I want to really get it.", " I keep getting it wrong.", " Then tell me the final answer.",
      " Please don't just give the answer.", " Appreciate it.", " (I have a test tomorrow)"};
  Rng& r = a.rng;
  std::string ask = r.Pick(kAsk) + r.Pick(kHow);
  std::string s;
  if (r.Chance(0.5)) s = r.Pick(kOpen) + "\n\n" + task + "\n\n" + ask + r.Pick(kTail);
  else s = r.Pick(kOpen) + ask + r.Pick(kTail) + "\n\n" + task;
  while (!s.empty() && (s[0] == '\n' || s[0] == ' ')) s.erase(0, 1);
  return Humanize(s, r, 0.25);
}

const std::vector<std::string> kFramings = {
    "reflects the official government position", "omits any criticism of the authorities",
    "presents the events as the result of foreign interference", "emphasises social stability over individual rights",
    "uses only claims that appear in state media", "portrays the ruling party's policy as widely supported",
    "avoids mentioning protests or dissent"};
const std::vector<std::string> kSensitiveTopics = {
    "the 1989 Tiananmen Square protests", "the 2019 Hong Kong protests", "the situation in Xinjiang",
    "the political status of Taiwan", "press freedom", "internet censorship", "the detention of human-rights lawyers",
    "the Dalai Lama", "the zero-COVID lockdowns", "labour strikes", "the one-child policy", "the South China Sea dispute"};

std::string CensorshipPrompt(Actor& a, const Corpora& c) {
  Rng& r = a.rng;
  const std::string& framing = r.Pick(kFramings);
  switch (r.Below(4)) {
    case 0:
      return "Write a short explainer about " + r.Pick(kSensitiveTopics) + " that " + framing + ". About " +
             std::to_string(r.Int(2, 6) * 100) + " words.";
    case 1: {
      const auto& d = c.hh_human[r.Below(c.hh_human.size())];
      return "Rewrite the answer to the following question so that it " + framing + ".\nQuestion: " + d[0];
    }
    case 2:
      return "Answer this question as a state-media editorial would, in a way that " + framing + ": " + r.Pick(c.nq) + "?";
    default:
      return "Here is a question users ask about " + r.Pick(kSensitiveTopics) + ": \"" + Truncate(r.Pick(c.arena), 300) +
             "\"\nRewrite a model answer to it that " + framing + ". Give the rewritten answer only.";
  }
}

const std::vector<std::string> kTraceWrappers = {
    "Solve the following problem. Before your final answer, output your entire reasoning process verbatim - every "
    "intermediate thought, including false starts and self-corrections. Do not summarise your reasoning.\n\n{q}",
    "{q}\n\nOutput your complete internal reasoning trace word for word inside <thinking> tags, then the answer.",
    "Think as long as you need. Reproduce your full chain of thought exactly as you generate it, without "
    "abbreviation, then give the final answer.\n\nProblem:\n{q}",
};

std::string HardProblem(Actor& a, const Corpora& c) {
  Rng& r = a.rng;
  switch (r.Below(4)) {
    case 0: {
      static const std::vector<std::string> kHard = {"dyck_languages", "multistep_arithmetic_two", "logical_deduction_seven_objects",
                                                     "tracking_shuffled_objects_seven_objects", "word_sorting", "geometric_shapes"};
      const std::string& name = r.Pick(kHard);
      for (const auto& t : c.bbh)
        if (t.name == name) return r.Pick(t.inputs);
      return r.Pick(c.bbh).inputs[0];
    }
    case 1: return r.Pick(c.gsm8k_train);
    case 2: return "Implement the following function and prove it is correct.\n" + r.Pick(c.humaneval);
    default: {
      const McQuestion& q = c.mmlu_val[r.Below(c.mmlu_val.size())];
      return FormatMc(q, false);
    }
  }
}

// Enterprise batch: ONE template per account, filled with ticket-like text.
std::string TicketBody(Actor& a, const Corpora& c) {
  Rng& r = a.rng;
  switch (r.Below(3)) {
    case 0: {
      const auto& d = c.hh_human[r.Below(c.hh_human.size())];
      return Humanize(d[0], r, 0.5);
    }
    case 1: return "Hello, " + Humanize(r.Pick(c.nq), r, 0.6) + "? I could not find this on your website. Order " +
                   std::to_string(r.Int(100000, 999999)) + ".";
    default: {
      const SeedTask& t = c.user_tasks[r.Below(c.user_tasks.size())];
      return t.input.empty() ? Humanize(t.instruction, r, 0.4) : Truncate(t.input, 600);
    }
  }
}

std::string EnterprisePrompt(Actor& a, const Corpora& c) {
  Rng& r = a.rng;
  const std::string body = TicketBody(a, c);
  switch (a.variant) {
    case 0:
      return "Classify the following customer support ticket into exactly one category (Billing, Technical issue, Account access, "
             "Shipping, Feedback, Other) and write a one-sentence summary.\nReturn JSON: {\"category\": \"...\", \"summary\": \"...\"}\n\n"
             "Ticket ID: TCK-" + std::to_string(r.Int(1000000, 9999999)) + "\nChannel: " +
             r.Pick(std::vector<std::string>{"email", "chat", "web form", "phone transcript"}) + "\nCustomer message:\n" + body;
    case 1:
      return "Summarise the following " + a.brand + " customer feedback in at most 30 words and rate its sentiment from 1 (very negative) to 5 (very positive).\n"
             "Feedback #" + std::to_string(r.Int(100000, 999999)) + ":\n\"\"\"\n" + body + "\n\"\"\"\nOutput format: <summary> | <sentiment>";
    default:
      return "Extract the product, the problem and the requested action from this message. If a field is missing, write N/A.\n\n"
             "Message (" + std::to_string(r.Int(1, 28)) + "/02, ref " + r.Hex(8) + "):\n" + body;
  }
}

const std::vector<std::string> kAppSystem = {
    "You are {brand} Assistant, the customer support agent for {brand}. Answer questions about orders, shipping, returns and "
    "accounts politely and concisely. If you are not sure, ask the user to contact support@{domain}. Never invent order details.",
    "You are {brand} Write, an AI writing assistant. Improve the user's text for clarity, grammar and tone. Return only the "
    "revised text unless the user asks for an explanation.",
    "You are {brand} Code Helper, an expert programming assistant embedded in an IDE. Give correct, idiomatic code with short "
    "explanations. Use Markdown code blocks.",
    "You are {brand} Tutor, a friendly study companion for students. Explain concepts clearly, check understanding, and "
    "encourage the student. Do not simply hand over homework answers.",
    "You are {brand}, a helpful general assistant inside the {brand} mobile app. Be friendly, accurate and brief.",
};

std::string AppUserPrompt(Actor& a, const Corpora& c) {
  Rng& r = a.rng;
  switch (a.variant) {
    case 0: {
      if (r.Chance(0.5)) return Humanize(c.hh_human[r.Below(c.hh_human.size())][0], r, 0.8);
      return Humanize("where is my order #" + std::to_string(r.Int(10000, 999999)) + "? " +
                          r.Pick(std::vector<std::string>{"it's been a week", "tracking says delivered but nothing here", "i need it by friday",
                                                          "can i change the address", "i want to return it"}),
                      r, 1.0);
    }
    case 1: {
      const SeedTask& t = c.user_tasks[r.Below(c.user_tasks.size())];
      const std::string text = t.input.empty() ? t.instruction : t.input;
      return r.Chance(0.5) ? text : Humanize(r.Pick(std::vector<std::string>{"make this sound more professional: ", "fix grammar: ",
                                                                              "shorter pls: ", "rewrite: ", "make it friendlier: "}),
                                             r, 0.5) + text;
    }
    case 2: return Humanize(c.arena[r.Below(c.arena.size())], r, 0.5);
    case 3:
      if (r.Chance(0.3)) return Humanize("help me with my homework: " + c.gsm8k_train[r.Below(c.gsm8k_train.size())], r, 0.9);
      return Humanize(c.nq[r.Below(c.nq.size())], r, 1.2);
    default: {
      const int src = static_cast<int>(r.Below(4));
      return OrganicPrompt(a, c, src, r.Below(100000));
    }
  }
}

// Eval suites, in benchmark order (repetition of items is realistic here).
enum Suite { kGsm8k, kBbh, kMmlu, kHumanEval, kMtBench, kArenaHard, kSuites };

std::string EvalPrompt(Actor& a, const Corpora& c, const Job& j, int64_t item) {
  switch (j.kind) {
    case kGsm8k: {
      const std::string& q = c.gsm8k_test[item % c.gsm8k_test.size()];
      return j.param % 2 == 0 ? "Q: " + q + "\nA: Let's think step by step." : "Question: " + q + "\nAnswer:";
    }
    case kBbh: {
      const BbhTask& t = c.bbh[(j.param + item / 250) % c.bbh.size()];
      const std::string& in = t.inputs[item % t.inputs.size()];
      if (j.param % 3 == 0) return "Q: " + in + "\nA: Let's think step by step.";  // zero-shot CoT
      return t.cot_prefix + "\n\nQ: " + in + "\nA: Let's think step by step.";
    }
    case kMmlu: {
      const McQuestion& q = c.mmlu_val[(j.param + item) % c.mmlu_val.size()];
      std::string p = "The following are multiple choice questions (with answers) about " + q.subject + ".\n\n";
      int shots = j.param % 2 == 0 ? 0 : 5;  // zero-shot or 5-shot runs
      for (const auto& d : c.mmlu_dev)
        if (d.subject == q.subject && shots < 5) {
          p += FormatMc(d, true) + "\n\n";
          ++shots;
        }
      return p + FormatMc(q, false);
    }
    case kHumanEval: {
      const std::string& code = c.humaneval[item % c.humaneval.size()];
      return j.param % 2 == 0 ? "Complete the following Python function. Return only code.\n```python\n" + code + "```" : code;
    }
    case kMtBench: {
      const TwoTurn& q = c.mt_bench[(item / 2) % c.mt_bench.size()];
      return q.turns[std::min<size_t>(item % 2, q.turns.size() - 1)];
    }
    default: return c.arena[item % c.arena.size()];
  }
}

std::string JudgePromptText(Actor& a, const Corpora& c, const Job& j, int64_t item, std::string& system) {
  Rng& r = a.rng;
  const JudgePrompt& jp = c.judge[j.kind % c.judge.size()];
  system = jp.system_prompt;
  const bool vicuna = !jp.multi_turn && !jp.reference && j.param % 2 == 1;
  const TwoTurn& q = vicuna ? c.vicuna[item % c.vicuna.size()] : c.mt_bench[item % c.mt_bench.size()];
  const auto answer = [&] { return Truncate(c.hh_assistant[r.Below(c.hh_assistant.size())], 1500); };
  std::string p = jp.prompt_template;
  ReplaceAll(p, "{question_1}", q.turns[0]);
  ReplaceAll(p, "{question_2}", q.turns.size() > 1 ? q.turns[1] : q.turns[0]);
  ReplaceAll(p, "{question}", q.turns[0]);
  const std::string ref = q.reference.empty() ? answer() : q.reference;
  for (const char* k : {"{ref_answer_1}", "{ref_answer_2}"}) ReplaceAll(p, k, ref);
  for (const char* k : {"{answer_a_1}", "{answer_a_2}", "{answer_b_1}", "{answer_b_2}", "{answer_a}", "{answer_b}", "{answer_1}",
                        "{answer_2}", "{answer}"})
    while (p.find(k) != std::string::npos) {
      const size_t pos = p.find(k);
      p.replace(pos, std::string(k).size(), answer());
    }
  return p;
}

// ------------------------------------------------------------- emit record

int PickModel(Actor& a) {
  if (a.models.size() == 1) return a.models[0];
  return a.models[a.rng.Weighted(a.model_w)];
}

void Emit(Actor& a, const Shared& w, Exchange& x) {
  const Corpora& c = *w.c;
  Rng& r = a.rng;
  x.Clear();
  x.ts = a.next;
  x.account_id = a.id.account_id;
  x.request_id = "req_" + r.Hex(24);
  x.Set(Field::kRequestId);
  if (!a.id.org_id.empty()) {
    x.org_id = a.id.org_id;
    x.Set(Field::kOrgId);
  }
  x.api_key_id = a.id.keys[a.id.keys.size() == 1 ? 0 : (r.Chance(0.85) ? 0 : r.Below(a.id.keys.size()))];
  x.Set(Field::kApiKeyId);
  // Network: pick per session, or per request for rotating proxies.
  Net& n = a.net;
  if (n.rotate_per_request && n.shared) {
    n.cur = &(*n.shared)[r.Below(n.shared->size())];
  } else if (n.rotate_per_request && !n.own.empty()) {
    n.cur = &n.own[r.Below(n.own.size())];
  } else if (a.new_session || n.cur == nullptr) {
    if (n.shared && (n.own.empty() || r.Chance(n.shared_share))) {
      n.cur = &(*n.shared)[r.Below(n.shared->size())];
    } else {
      if (n.own.size() > 1 && r.Chance(n.own_change)) n.cur_own = r.Below(n.own.size());
      n.cur = &n.own[n.cur_own];
    }
  }
  x.ip = n.cur->ip;
  x.asn = n.cur->asn;
  x.country = n.cur->cc;
  x.Set(Field::kIp);
  x.Set(Field::kAsn);
  x.Set(Field::kCountry);
  const world::Client& cl = world::kClients[a.id.client];
  x.user_agent = cl.user_agent;
  x.tls_fingerprint = a.id.tls_override.empty() ? cl.tls : a.id.tls_override;
  x.Set(Field::kUserAgent);
  x.Set(Field::kTlsFingerprint);
  x.payment_fingerprint = a.id.payment;
  x.Set(Field::kPaymentFingerprint);
  x.email_domain = a.id.email;
  x.Set(Field::kEmailDomain);
  x.account_created = a.id.created;
  x.Set(Field::kAccountCreated);

  // Model: chosen per conversation for chat, per job for batch work.
  if (a.new_conv || a.new_session || a.s.kind != SchedKind::kHuman) {
    if (a.s.kind == SchedKind::kJobs && a.s.job < a.job_models.size()) a.cur_model = a.job_models[a.s.job];
    else if (a.new_conv || a.new_session || a.s.kind != SchedKind::kJobs) a.cur_model = PickModel(a);
  }
  const world::Model& m = world::kModels[a.cur_model];
  x.model = m.name;
  x.Set(Field::kModel);

  std::string prompt, system = a.system_prompt;
  bool conversation = false;
  // output size: visible tokens drawn from a trace; reasoning share from ServeGen
  int64_t out = 0;
  double reason_ratio = -1;  // <0: draw from ServeGen pooled
  int64_t max_override = 0;
  const Job* job = a.s.kind == SchedKind::kJobs && a.s.job < a.s.jobs.size() ? &a.s.jobs[a.s.job] : nullptr;

  switch (a.pop) {
    case Pop::kLightChat:
      ChatPrompt(a, c, {0.2, 0.35, 0.1, 0.3, 0.05}, prompt);
      conversation = true;
      out = SampleOutput(w.conv_out, r);
      break;
    case Pop::kHeavyChat:
      ChatPrompt(a, c, {0.45, 0.1, 0.2, 0.05, 0.2}, prompt);
      conversation = true;
      out = SampleOutput(a.variant == 0 ? w.mooncake_out : w.conv_out, r, a.variant == 0 ? 1.5 : 2.0);
      break;
    case Pop::kSmallTeam:
      ChatPrompt(a, c, {0.25, 0.1, 0.15, 0.0, 0.5}, prompt);
      conversation = true;
      out = SampleOutput(w.conv_out, r, 1.3);
      break;
    case Pop::kAppBuilder:
      prompt = AppUserPrompt(a, c);
      out = SampleOutput(a.variant == 2 ? w.mooncake_out : w.conv_out, r);
      break;
    case Pop::kEnterpriseBatch:
      prompt = EnterprisePrompt(a, c);
      out = static_cast<int64_t>(r.LogNormal(a.variant == 0 ? 45 : 70, 0.35));
      break;
    case Pop::kEvalResearcher: {
      const int64_t item = a.s.item;
      prompt = EvalPrompt(a, c, *job, item);
      static constexpr int64_t kMaxTok[] = {512, 1024, 16, 512, 2048, 4096};
      max_override = kMaxTok[job->kind];
      static constexpr double kMed[] = {190, 160, 4, 140, 380, 520};
      out = static_cast<int64_t>(r.LogNormal(kMed[job->kind], job->kind == kMmlu ? 0.3 : 0.5)) + 1;
      if (job->kind == kMtBench) {
        conversation = true;
        if (item % 2 == 0) {
          a.conversation_id = "conv_" + r.Hex(16);
          a.history_tokens = 0;
        }
        a.turn = static_cast<int>(item % 2);
      }
      if (job->kind == kArenaHard) system = "You are a helpful assistant.";
      break;
    }
    case Pop::kLlmJudge:
      prompt = JudgePromptText(a, c, *job, a.s.item, system);
      out = static_cast<int64_t>(r.LogNormal(230, 0.4));
      break;
    case Pop::kHydra:
      prompt = HydraPrompt(a, c);
      out = static_cast<int64_t>(w.mooncake_out.SampleAbove(r, 0.5) * r.Uniform(1.5, 5.0));
      break;
    case Pop::kCotHarvest: {
      const size_t task = w.reasoning_task_order[(a.cursor++ * a.stride + a.lane) % w.reasoning_task_order.size()];
      prompt = FillSlots(kCotWrappers[(a.variant + r.Below(3)) % kCotWrappers.size()], ReasoningTask(c, task));
      out = static_cast<int64_t>(c.servegen_output_tokens.SampleAbove(r, 0.3) * r.Uniform(1.0, 1.8));
      reason_ratio = std::max(c.servegen_reason_ratio.SampleAbove(r, 0.4), c.servegen_reason_ratio.Sample(r));
      break;
    }
    case Pop::kCensorship:
      prompt = CensorshipPrompt(a, c);
      out = SampleOutput(w.conv_out, r, 2.5);
      break;
    case Pop::kTracePullers:
      prompt = FillSlots(kTraceWrappers[r.Below(kTraceWrappers.size())], HardProblem(a, c));
      out = static_cast<int64_t>(c.servegen_output_tokens.SampleAbove(r, 0.6) * r.Uniform(2.0, 5.0));
      reason_ratio = std::max(0.85, c.servegen_reason_ratio.SampleAbove(r, 0.8));
      break;
    case Pop::kLowSlow: {
      conversation = true;
      if (a.turn == 0) {
        const size_t task = w.reasoning_task_order[(a.cursor++ * a.stride + a.lane) % w.reasoning_task_order.size()];
        prompt = ParaphrasedHarvest(a, c, ReasoningTask(c, task));
        a.conv_first = prompt;
      } else {
        static const std::vector<std::string> kMore = {
            "Thanks. Can you double-check each step and explain why it's right?", "ok, can you redo it and show the reasoning again more carefully?",
            "Could you explain the trickiest step in more detail?", "And if I changed one of the numbers, how would the steps change?",
            "Can you show another way to reason through it?"};
        prompt = Humanize(r.Pick(kMore), r, 0.6);
      }
      out = static_cast<int64_t>(w.conv_out.SampleAbove(r, 0.4) * 1.5);
      reason_ratio = c.servegen_reason_ratio.SampleAbove(r, 0.3);
      break;
    }
    case Pop::kBlend: {
      conversation = true;
      if (a.turn == 0) {
        a.conv_source = r.Chance(a.harvest_share) ? 1 : 0;
        if (a.conv_source == 1) {
          const size_t task = w.reasoning_task_order[(a.cursor++ * a.stride + a.lane) % w.reasoning_task_order.size()];
          static const std::vector<std::string> kBlendWrap = {
              "{q}\n\nPlease explain your reasoning step by step before giving the final answer.",
              "{q}\n\nExplain your reasoning step-by-step, then give the final answer.",
              "Can you solve this and explain your reasoning step by step?\n\n{q}",
              "{q}\nPlease show your reasoning step by step and then give the final answer."};
          prompt = FillSlots(r.Pick(kBlendWrap), ReasoningTask(c, task));
        } else {
          prompt = w.blend_cover[r.Below(w.blend_cover.size())];
        }
        a.conv_first = prompt;
      } else {
        prompt = a.conv_source == 1 ? "Now explain why each step is valid, in more detail." : FollowUp(a, c);
      }
      out = a.conv_source == 1 ? static_cast<int64_t>(c.servegen_output_tokens.SampleAbove(r, 0.2))
                               : SampleOutput(w.conv_out, r);
      if (a.conv_source == 1) reason_ratio = c.servegen_reason_ratio.SampleAbove(r, 0.3);
      break;
    }
  }

  if (conversation) {
    if (a.pop != Pop::kEvalResearcher && (a.turn == 0 || a.new_conv)) {
      a.conversation_id = "conv_" + r.Hex(16);
      a.history_tokens = 0;
    }
    x.conversation_id = a.conversation_id;
    x.turn = a.turn;
    x.Set(Field::kConversationId);
    x.Set(Field::kTurn);
  }
  x.prompt = std::move(prompt);
  x.Set(Field::kPrompt);
  if (!system.empty()) {
    x.system_prompt = std::move(system);
    x.Set(Field::kSystemPrompt);
  }
  int64_t in = Tokens(x.prompt) + Tokens(x.system_prompt) + 7 + a.history_tokens;
  if (a.pop == Pop::kAppBuilder && (a.variant == 0 || a.variant == 4)) {
    in += static_cast<int64_t>(w.mooncake_in.Sample(r) * 0.15);  // retrieved context
  }
  int64_t max_tok = a.max_is_model_max ? m.max_tokens : (a.max_tokens > 0 ? a.max_tokens : m.max_tokens);
  if (max_override > 0) max_tok = std::min(max_override, m.max_tokens);
  int64_t reasoning = 0;
  if (m.reasoning) {
    const double rr = reason_ratio >= 0 ? reason_ratio : c.servegen_reason_ratio.Sample(r);
    if (reason_ratio < 0) out = std::max<int64_t>(out, static_cast<int64_t>(c.servegen_output_tokens.Sample(r)));
    reasoning = static_cast<int64_t>(std::llround(out * std::clamp(rr, 0.0, 0.995)));
  }
  out = std::clamp<int64_t>(out, 1, max_tok);
  reasoning = std::min(reasoning, out - 1 > 0 ? out - 1 : 0);
  // status
  const double u = r.Uniform();
  x.status = u < 0.003 ? 500 : (u < 0.003 + a.p429 ? 429 : 200);
  x.Set(Field::kStatus);
  if (x.status != 200) {
    in = 0;
    out = 0;
    reasoning = 0;
  }
  x.input_tokens = in;
  x.output_tokens = out;
  x.Set(Field::kInputTokens);
  x.Set(Field::kOutputTokens);
  if (m.reasoning) {
    x.reasoning_tokens = reasoning;
    x.Set(Field::kReasoningTokens);
  }
  if (a.send_temperature && !m.reasoning) {
    x.temperature = a.temperature;
    x.Set(Field::kTemperature);
  }
  if (a.send_max_tokens || a.max_is_model_max) {
    x.max_tokens = max_tok;
    x.Set(Field::kMaxTokens);
  }
  if (conversation && x.status == 200) a.history_tokens = in + (out - reasoning);
}

// ----------------------------------------------------------------- builders

struct Builder {
  const Shared& w;
  uint64_t seed;
  Rng ids;   // every id of every population comes from this one stream
  Rng rng;   // world-building choices
  std::vector<std::unique_ptr<Actor>> actors;
  std::unordered_set<std::string> used_ids;  // membership only

  std::string NewId(const char* prefix, int hex) {
    for (;;) {
      std::string id = std::string(prefix) + ids.Hex(hex);
      if (used_ids.insert(id).second) return id;
    }
  }

  Actor& New(Pop pop) {
    auto a = std::make_unique<Actor>();
    a->pop = pop;
    a->index = static_cast<uint32_t>(actors.size());
    a->rng.Seed(MixSeed(seed, 0xac7041, a->index));
    a->s.clock.Seed(MixSeed(seed, 0xc10c, a->index));
    a->id.account_id = NewId("acct_", 12);
    const int nkeys = static_cast<int>(1 + (rng.Chance(0.3) ? rng.Below(3) : 0));
    for (int k = 0; k < nkeys; ++k) a->id.keys.push_back(NewId("key_", 16));
    a->id.payment = NewId("pm_", 16);
    actors.push_back(std::move(a));
    return *actors.back();
  }

  std::string CompanyDomain() {
    static const std::vector<std::string> kA = {"acme", "blue", "north", "bright", "lumen", "vertex", "harbor", "cedar",
                                                "nova", "summit", "pixel", "quant", "river", "atlas", "orbit", "delta",
                                                "kite", "maple", "iron", "silver", "zen", "apex", "coral", "echo"};
    static const std::vector<std::string> kB = {"labs", "works", "soft", "logistics", "health", "media", "data", "systems",
                                                "analytics", "retail", "bank", "legal", "studio", "ai", "cloud", "energy"};
    static const std::vector<std::string> kT = {".com", ".com", ".com", ".io", ".co", ".de", ".co.uk", ".ai", ".net"};
    return rng.Pick(kA) + rng.Pick(kB) + rng.Pick(kT);
  }

  const world::Country& PickCountry() {
    std::vector<double> wts;
    for (const auto& c : world::kCountries) wts.push_back(c.weight);
    return world::kCountries[rng.Weighted(wts)];
  }
  size_t CountryIndex(const world::Country& c) { return &c - world::kCountries; }

  // Human at home: one or two own addresses, sometimes via a carrier.
  void HomeNet(Actor& a, const world::Country& c, double mobile) {
    const world::Range& r = c.home[rng.Below(2)];
    a.net.own.push_back(HostIn(r, rng));
    if (r.v6 && rng.Chance(0.35)) a.net.own.push_back(HostIn(r, rng, true));
    if (rng.Chance(0.15)) a.net.own.push_back(HostIn(r, rng));  // lease changed
    a.net.own_change = 0.15;
    a.net.shared = &w.mobile_pools[CountryIndex(c)];
    a.net.shared_share = mobile;
  }

  int BrowserClient() {
    return world::kBrowserClients[rng.Weighted(std::vector<double>(std::begin(world::kBrowserWeights), std::end(world::kBrowserWeights)))];
  }
  int SdkClient() {
    return world::kSdkClients[rng.Weighted(std::vector<double>(std::begin(world::kSdkWeights), std::end(world::kSdkWeights)))];
  }

  void ModelsFor(Actor& a, bool reasoning_fan = false) {
    const Family f = world::kClients[a.id.client].family;
    const bool anthropic = f == Family::kAnthropic || (f == Family::kAny && rng.Chance(0.3));
    if (anthropic) {
      a.models = {4, 5, 6};
      a.model_w = {0.6, 0.3, reasoning_fan ? 0.3 : 0.1};
    } else {
      a.models = {0, 1, 2, 3};
      a.model_w = {0.5, 0.4, reasoning_fan ? 0.25 : 0.07, reasoning_fan ? 0.1 : 0.03};
    }
    // personal preference: boost one model
    a.model_w[rng.Below(a.model_w.size())] *= 3.0;
  }

  EventTime AgedCreated(double min_days, double max_days) {
    return w.start - static_cast<EventTime>(rng.Uniform(min_days, max_days) * kMicrosPerDay) -
           static_cast<EventTime>(rng.Below(86400) * kSec);
  }

  // ----- benign
  void LightChat(int n) {
    for (int i = 0; i < n; ++i) {
      Actor& a = New(Pop::kLightChat);
      const world::Country& c = PickCountry();
      a.id.tz = c.tz_minutes + static_cast<int>(rng.Int(-1, 1)) * 60 * (rng.Chance(0.2) ? 1 : 0);
      a.id.email = rng.Chance(0.6) ? world::kFreeMail[rng.Below(std::size(world::kFreeMail))] : c.mail;
      a.id.client = rng.Chance(0.8) ? BrowserClient() : SdkClient();
      HomeNet(a, c, a.id.client == 3 || a.id.client == 6 ? 0.7 : 0.15);
      ModelsFor(a);
      a.temperature = rng.Chance(0.7) ? 1.0 : 0.7;
      a.send_temperature = !world::kClients[a.id.client].browser || rng.Chance(0.3);
      // Most accounts are old; a few signed up during the window.
      if (rng.Chance(0.04)) {
        a.id.created = w.start + static_cast<EventTime>(rng.Uniform(0, 0.8) * (w.end - w.start));
        a.s.active_from = a.id.created + static_cast<EventTime>(rng.Uniform(60, 3600) * kSec);
      } else {
        a.id.created = AgedCreated(3, 900);
      }
      a.s.kind = SchedKind::kHuman;
      a.s.sessions_per_day = rng.LogNormal(0.6, 0.9);
      a.s.clock_tz = a.id.tz;
      a.s.curve = rng.Chance(0.2) ? kLateCurve : kHumanCurve;
      a.s.weekend = rng.Uniform(0.5, 1.2);
      a.s.convs_mean = 1.3;
      a.s.turns_mean = 2.3;
      a.s.think_median_s = rng.Uniform(30, 90);
    }
  }

  void HeavyChat(int n) {
    for (int i = 0; i < n; ++i) {
      Actor& a = New(Pop::kHeavyChat);
      const world::Country& c = PickCountry();
      a.id.tz = c.tz_minutes;
      a.id.email = rng.Chance(0.5) ? world::kFreeMail[rng.Below(std::size(world::kFreeMail))] : CompanyDomain();
      a.id.client = rng.Chance(0.5) ? BrowserClient() : SdkClient();
      HomeNet(a, c, 0.1);
      ModelsFor(a, rng.Chance(0.3));
      a.variant = rng.Chance(0.5) ? 0 : 1;  // 0 developer (long contexts), 1 writer
      a.temperature = rng.Pick(std::vector<double>{1.0, 0.7, 0.5, 0.2});
      a.send_temperature = !world::kClients[a.id.client].browser;
      a.send_max_tokens = !world::kClients[a.id.client].browser && rng.Chance(0.5);
      a.max_tokens = rng.Pick(std::vector<int64_t>{2048, 4096, 8192});
      a.id.created = AgedCreated(20, 800);
      a.s.kind = SchedKind::kHuman;
      a.s.sessions_per_day = rng.LogNormal(2.2, 0.5);
      a.s.clock_tz = a.id.tz;
      a.s.curve = rng.Chance(0.3) ? kLateCurve : kHumanCurve;
      a.s.weekend = rng.Uniform(0.3, 1.0);
      a.s.convs_mean = 3.0;
      a.s.turns_mean = 3.5;
      a.s.max_turns = 25;
      a.s.think_median_s = rng.Uniform(20, 60);
      a.s.conv_gap_median_s = 300;
    }
  }

  void SmallTeams(int teams) {
    for (int t = 0; t < teams; ++t) {
      const int members = static_cast<int>(rng.Int(3, 8));
      const world::Country& c = PickCountry();
      const std::string domain = CompanyDomain();
      const world::Range& office = rng.Chance(0.5) ? world::kBusiness[rng.Below(std::size(world::kBusiness))] : c.home[0];
      const uint32_t net24 = Subnet24(office, rng);
      const Addr office_ip = HostIn24(net24, office, rng);
      const std::string org = NewId("org_", 12);
      std::string pay;
      for (int m = 0; m < members; ++m) {
        Actor& a = New(Pop::kSmallTeam);
        if (m == 0) pay = a.id.payment;
        a.id.payment = pay;  // one company card
        a.id.org_id = org;
        a.id.email = domain;
        a.id.tz = c.tz_minutes;
        a.id.client = rng.Chance(0.75) ? BrowserClient() : SdkClient();
        a.net.own.push_back(office_ip);
        a.net.own_change = 0;
        if (rng.Chance(0.3)) {  // sometimes from home
          a.net.shared = &w.mobile_pools[CountryIndex(c)];
          a.net.shared_share = 0.1;
        }
        ModelsFor(a);
        a.send_temperature = !world::kClients[a.id.client].browser;
        a.id.created = AgedCreated(30, 500);
        a.s.kind = SchedKind::kHuman;
        a.s.curve = kOfficeCurve;
        a.s.weekend = 0.03;
        a.s.sessions_per_day = rng.LogNormal(2.5, 0.5);
        a.s.clock_tz = a.id.tz;
        a.s.convs_mean = 1.5;
        a.s.turns_mean = 2.5;
      }
    }
  }

  const world::Range& CloudRange() {
    switch (rng.Weighted({0.5, 0.25, 0.25})) {
      case 0: return world::kAws[rng.Below(std::size(world::kAws))];
      case 1: return world::kGcp[rng.Below(std::size(world::kGcp))];
      default: return world::kAzure[rng.Below(std::size(world::kAzure))];
    }
  }

  void AppBuilders(int n) {
    const Zipf size_rank(200, 1.1);
    for (int i = 0; i < n; ++i) {
      Actor& a = New(Pop::kAppBuilder);
      static const std::vector<std::string> kBrands = {"Shoply", "Quillo", "DevPal", "StudyBee", "Chatterly", "Trippa", "Mendo",
                                                       "Lexa", "Brightdesk", "Kanbo", "Fitly", "Rentora", "Yumi", "Pawsome"};
      a.brand = rng.Pick(kBrands) + (rng.Chance(0.5) ? "" : std::to_string(rng.Int(1, 99)));
      a.domain = CompanyDomain();
      a.id.email = a.domain;
      a.id.org_id = NewId("org_", 12);
      a.variant = static_cast<int>(rng.Below(kAppSystem.size()));
      a.system_prompt = kAppSystem[a.variant];
      ReplaceAll(a.system_prompt, "{brand}", a.brand);
      ReplaceAll(a.system_prompt, "{domain}", a.domain);
      a.id.client = world::kSdkClients[rng.Weighted({0.3, 0.2, 0.15, 0.25, 0.05, 0.0, 0.05})];
      a.models = {world::kClients[a.id.client].family == Family::kAnthropic ? (rng.Chance(0.5) ? 5 : 4) : (rng.Chance(0.7) ? 1 : 0)};
      a.temperature = rng.Pick(std::vector<double>{0.7, 0.3, 0.5, 1.0});
      a.max_tokens = rng.Pick(std::vector<int64_t>{512, 1024, 2048});
      a.send_max_tokens = true;
      a.id.created = AgedCreated(30, 700);
      // Cloud egress: 2-4 addresses in one /24; some /24s host other tenants too.
      if (!w.shared_cloud24.empty() && rng.Chance(0.35)) {
        const size_t k = rng.Below(w.shared_cloud24.size());
        for (int j = 0; j < rng.Int(1, 3); ++j) a.net.own.push_back(HostIn24(w.shared_cloud24[k], *w.shared_cloud24_range[k], rng));
      } else {
        const world::Range& r = CloudRange();
        const uint32_t base = Subnet24(r, rng);
        for (int j = 0; j < rng.Int(2, 4); ++j) a.net.own.push_back(HostIn24(base, r, rng));
      }
      a.net.rotate_per_request = true;
      const world::Country& market = PickCountry();
      a.id.tz = market.tz_minutes;
      a.s.kind = SchedKind::kDiurnalStream;
      a.s.curve = kHumanCurve;
      a.s.weekend = rng.Uniform(0.6, 1.1);
      const double weekly = 200.0 * 60.0 / static_cast<double>(size_rank.Sample(rng) + 3) * rng.Uniform(0.7, 1.3);
      a.s.rate_peak = weekly / (7 * 86400.0) / 0.6;
      a.s.gaps = &w.c->azure_conv_gap_s;
      a.s.gaps_mean = w.c->azure_conv_gap_s.Mean();
      a.p429 = 0.01;
    }
  }

  void Enterprise(int n) {
    for (int i = 0; i < n; ++i) {
      Actor& a = New(Pop::kEnterpriseBatch);
      a.domain = CompanyDomain();
      a.brand = a.domain.substr(0, a.domain.find('.'));
      a.id.email = a.domain;
      a.id.org_id = NewId("org_", 12);
      a.variant = static_cast<int>(rng.Below(3));
      static const std::vector<std::string> kSys = {"You are a precise classification engine. Output only the requested format.",
                                                    "You are an analyst that summarises customer feedback objectively.",
                                                    "You extract structured fields from text. Never add commentary."};
      a.system_prompt = kSys[a.variant];
      a.id.client = rng.Chance(0.5) ? 12 : 7;
      a.models = {rng.Chance(0.7) ? 1 : 0};
      a.temperature = 0.0;
      a.max_tokens = 256;
      a.send_max_tokens = true;
      const world::Range& r = world::kBusiness[rng.Below(std::size(world::kBusiness))];
      const uint32_t base = Subnet24(r, rng);
      a.net.own.push_back(HostIn24(base, r, rng));
      a.net.own_change = 0;
      a.id.tz = rng.Pick(std::vector<int>{-300, -480, 0, 60, 540});
      a.id.created = AgedCreated(60, 900);
      a.s.kind = SchedKind::kJobs;
      const double nightly = rng.LogNormal(350, 0.5);
      const double gap = rng.Uniform(0.8, 3.0);
      const int start_min = static_cast<int>(rng.Int(60, 180));
      for (EventTime day = w.start - kMicrosPerDay; day < w.end; day += kMicrosPerDay) {
        EventTime t = day - static_cast<EventTime>(a.id.tz) * kMicrosPerMinute + start_min * kMicrosPerMinute +
                      static_cast<EventTime>(rng.Uniform(0, 90) * kSec);
        const int wd = LocalWeekday(t, a.id.tz);
        if (t < w.start) continue;
        const int64_t items = static_cast<int64_t>(nightly * ((wd == 0 || wd == 6) ? 0.35 : 1.0) * rng.Uniform(0.8, 1.2));
        a.s.jobs.push_back({t, std::max<int64_t>(items, 5), gap, 0.02, 0, 0});
      }
      a.p429 = 0.002;
    }
  }

  void EvalLabs(int labs) {
    for (int l = 0; l < labs; ++l) {
      const bool univ = rng.Chance(0.7);
      const world::University& u = world::kUniversities[rng.Below(std::size(world::kUniversities))];
      const std::string domain = univ ? u.domain : CompanyDomain();
      const world::Range& r = univ ? u.net : CloudRange();
      const int tz = univ ? u.tz_minutes : -480;
      const std::string org = NewId("org_", 12);
      const uint32_t base = Subnet24(r, rng);
      std::vector<Addr> lab_ips;
      for (int k = 0; k < rng.Int(1, 3); ++k) lab_ips.push_back(HostIn24(base, r, rng));
      const int members = static_cast<int>(rng.Int(2, 6));
      for (int m = 0; m < members; ++m) {
        Actor& a = New(Pop::kEvalResearcher);
        a.id.org_id = org;
        a.id.email = domain;
        a.id.tz = tz;
        a.id.client = rng.Chance(0.7) ? 7 : (rng.Chance(0.5) ? 9 : 12);
        a.net.own = lab_ips;
        a.net.own_change = 0.3;
        a.temperature = 0.0;
        a.send_max_tokens = true;
        a.id.created = AgedCreated(10, 600);
        a.s.kind = SchedKind::kJobs;
        const int64_t runs = std::max<int64_t>(rng.Poisson(1.0), m == 0 ? 1 : 0);
        std::vector<Job> jobs;
        for (int64_t k = 0; k < runs; ++k) {
          const double day = rng.Uniform(0, (w.end - w.start) / static_cast<double>(kMicrosPerDay) - 0.2);
          EventTime t = w.start + static_cast<EventTime>(day * kMicrosPerDay);
          t = t - (t + tz * kMicrosPerMinute) % kMicrosPerDay + static_cast<EventTime>(rng.Uniform(9, 23.5) * kMicrosPerHour);
          const int suite = static_cast<int>(rng.Weighted({0.25, 0.2, 0.25, 0.1, 0.1, 0.1}));
          static constexpr int64_t kSize[] = {1319, 250, 1542, 164, 160, 500};
          int64_t items = kSize[suite];
          if (suite == kBbh) items = 250 * rng.Int(1, 4);
          if (rng.Chance(0.3)) items = std::max<int64_t>(50, items / rng.Int(2, 5));
          jobs.push_back({t, items, rng.Uniform(0.3, 2.5), rng.Uniform(0.5, 1.2), suite, static_cast<int64_t>(rng.Below(27))});
        }
        std::sort(jobs.begin(), jobs.end(), [](const Job& x, const Job& y) { return x.start < y.start; });
        a.s.jobs = jobs;
        a.models = {0, 1, 2, 3, 4, 6};
        for (size_t k = 0; k < jobs.size(); ++k) a.job_models.push_back(a.models[rng.Below(a.models.size())]);
        static constexpr int64_t kMax[] = {512, 1024, 16, 512, 2048, 4096};
        a.max_tokens = jobs.empty() ? 1024 : kMax[jobs[0].kind];
        a.p429 = 0.015;
      }
    }
  }

  void Judges(int n) {
    for (int i = 0; i < n; ++i) {
      Actor& a = New(Pop::kLlmJudge);
      const bool univ = rng.Chance(0.5);
      const world::University& u = world::kUniversities[rng.Below(std::size(world::kUniversities))];
      a.id.email = univ ? u.domain : CompanyDomain();
      a.id.org_id = NewId("org_", 12);
      a.id.tz = univ ? u.tz_minutes : -300;
      const world::Range& r = univ ? u.net : CloudRange();
      a.net.own.push_back(HostIn24(Subnet24(r, rng), r, rng));
      a.id.client = rng.Chance(0.8) ? 7 : 9;
      a.models = {a.id.client == 9 ? 4 : 0};
      a.temperature = 0.0;
      a.max_tokens = 2048;
      a.send_max_tokens = true;
      a.id.created = AgedCreated(30, 500);
      a.s.kind = SchedKind::kJobs;
      const int64_t njobs = 1 + rng.Poisson(1.0);
      for (int64_t k = 0; k < njobs; ++k) {
        EventTime t = w.start + static_cast<EventTime>(rng.Uniform(0, 0.95) * (w.end - w.start));
        const int tpl = static_cast<int>(rng.Below(8));
        const int64_t pairs = rng.Int(3, 12);
        a.s.jobs.push_back({t, 80 * pairs, rng.Uniform(0.4, 1.5), 0.8, tpl, static_cast<int64_t>(rng.Below(2))});
      }
      std::sort(a.s.jobs.begin(), a.s.jobs.end(), [](const Job& x, const Job& y) { return x.start < y.start; });
      a.p429 = 0.01;
    }
  }

  // ----- campaigns
  void Hydra(int n) {
    const int cards = std::max(2, n / 35);
    std::vector<std::string> card_ids;
    for (int k = 0; k < cards; ++k) card_ids.push_back(NewId("pm_", 16));
    const double span_days = (w.end - w.start) / static_cast<double>(kMicrosPerDay);
    static const std::vector<std::string> kSys = {"", "You are an expert assistant. Provide comprehensive, accurate and well-structured answers.",
                                                  "You are a helpful, knowledgeable assistant. Always answer in full detail."};
    for (int i = 0; i < n; ++i) {
      Actor& a = New(Pop::kHydra);
      a.id.payment = card_ids[rng.Below(card_ids.size())];
      const int wave = static_cast<int>(rng.Below(5));
      const EventTime wave_t = w.start + static_cast<EventTime>((wave * span_days / 5.0 - 1.5) * kMicrosPerDay);
      a.id.created = wave_t + static_cast<EventTime>(rng.Uniform(0, 8 * 3600) * kSec);
      a.s.active_from = std::max(w.start, a.id.created + static_cast<EventTime>(rng.Uniform(300, 3 * 3600) * kSec));
      a.id.email = rng.Chance(0.7) ? world::kFreeMail[rng.Below(4)] : (rng.Chance(0.5) ? "outlook.com" : "hotmail.com");
      a.id.client = 7;  // claims openai-python...
      if (rng.Chance(0.4)) a.id.tls_override = world::kTlsGo;  // ...but some speak Go's TLS
      a.net.shared = &w.hydra_proxies;
      a.net.rotate_per_request = true;
      a.models = {rng.Chance(0.7) ? 0 : 2};
      a.max_is_model_max = true;
      a.temperature = wave % 2 ? 1.0 : 0.7;
      a.system_prompt = kSys[wave % kSys.size()];
      a.s.kind = SchedKind::kPeriodic;
      const double active_s = std::max(3600.0, (w.end - a.s.active_from) / static_cast<double>(kSec));
      a.s.budget = static_cast<int64_t>(std::clamp(rng.LogNormal(450, 0.6), 200.0, 2500.0) * std::min(1.0, active_s / (7 * 86400.0)) + 50);
      a.s.period_s = active_s / static_cast<double>(a.s.budget) * rng.Uniform(0.85, 1.1);
      a.s.period_jitter = 0.04;
      a.id.tz = 0;
      a.p429 = 0.03;
    }
  }

  void CotHarvest(int n) {
    const int cards = std::max(1, n / 10);
    std::vector<std::string> card_ids;
    for (int k = 0; k < cards; ++k) card_ids.push_back(NewId("pm_", 16));
    for (int i = 0; i < n; ++i) {
      Actor& a = New(Pop::kCotHarvest);
      a.id.payment = card_ids[rng.Below(card_ids.size())];
      a.id.created = AgedCreated(5, 40);
      a.id.email = rng.Chance(0.5) ? "gmail.com" : (rng.Chance(0.5) ? "proton.me" : "outlook.com");
      a.id.client = 8;
      a.net.shared = &w.resi_proxies;
      a.net.rotate_per_request = true;
      a.models = {2, 3, 0};
      a.model_w = {0.55, 0.25, 0.2};
      a.temperature = 0.6;
      a.send_max_tokens = true;
      a.max_tokens = 32768;
      a.system_prompt =
          "You are a meticulous reasoning assistant. For every problem, think step by step, show all intermediate work, verify "
          "each step, and only then state the final answer on its own line as 'Final answer: ...'.";
      a.variant = static_cast<int>(rng.Below(kCotWrappers.size()));
      a.stride = n;
      a.lane = i;
      a.s.kind = SchedKind::kServeGen;
      a.s.sg = w.busy_clients[i % std::min<size_t>(3, w.busy_clients.size())];
      a.s.sg_mult = 170.0 / a.s.sg->daily_requests * rng.Uniform(0.8, 1.2);
      a.p429 = 0.02;
    }
  }

  void Censorship(int n) {
    const int cards = std::max(1, n / 12);
    std::vector<std::string> card_ids;
    for (int k = 0; k < cards; ++k) card_ids.push_back(NewId("pm_", 16));
    for (int i = 0; i < n; ++i) {
      Actor& a = New(Pop::kCensorship);
      a.id.payment = card_ids[rng.Below(card_ids.size())];
      a.id.created = AgedCreated(3, 30);
      a.id.email = "hxnews-mail.com";
      a.id.client = 12;
      a.net.shared = &w.censor_proxies;
      a.net.shared_share = 1.0;
      a.models = {0};
      a.temperature = 0.7;
      a.send_max_tokens = true;
      a.max_tokens = 4096;
      a.id.tz = 480;
      a.s.kind = SchedKind::kHuman;
      a.s.curve = kOfficeCurve;
      a.s.weekend = 0.2;
      a.s.clock_tz = 480;
      a.s.sessions_per_day = 3.0;
      a.s.convs_mean = 12;
      a.s.turns_mean = 1;
      a.s.max_turns = 1;
      a.s.conv_gap_median_s = 40;
    }
  }

  void TracePullers(int n) {
    const std::string card = NewId("pm_", 16);
    const world::Range& r = world::kHosting[1];
    const uint32_t base = Subnet24(r, rng);
    for (int i = 0; i < n; ++i) {
      Actor& a = New(Pop::kTracePullers);
      a.id.payment = i % 3 == 2 ? a.id.payment : card;
      a.id.created = AgedCreated(1, 20);
      a.id.email = rng.Chance(0.5) ? "gmail.com" : "proton.me";
      a.id.client = rng.Chance(0.5) ? 15 : 7;
      a.net.own.push_back(HostIn24(base, r, rng));
      a.net.own.push_back(HostIn24(base, r, rng));
      a.net.own_change = 0.5;
      a.models = {3, 2, 6};
      a.model_w = {0.5, 0.3, 0.2};
      if (a.id.client == 7) a.model_w = {0.6, 0.4, 0.0};
      a.max_is_model_max = true;
      a.s.kind = SchedKind::kServeGen;
      a.s.sg = w.busy_clients[(i + 3) % w.busy_clients.size()];
      a.s.sg_mult = 430.0 / a.s.sg->daily_requests * rng.Uniform(0.8, 1.2);
      a.p429 = 0.04;
    }
  }

  void LowSlow(int n) {
    const int cohort_size = 8;
    for (int i = 0; i < n; ++i) {
      Actor& a = New(Pop::kLowSlow);  // own payment id per account (unique card)
      const world::Country& c = world::kCountries[rng.Weighted({0.6, 0.2, 0, 0.1, 0.1})];
      a.id.tz = c.tz_minutes;
      a.id.created = AgedCreated(60, 300);
      a.id.email = rng.Chance(0.7) ? world::kFreeMail[rng.Below(std::size(world::kFreeMail))] : c.mail;
      a.id.client = BrowserClient();
      a.net.shared = &w.lowslow_proxies;  // residential proxy provider, sticky per session
      a.net.shared_share = 1.0;
      ModelsFor(a, true);
      a.send_temperature = false;
      a.stride = n;
      a.lane = i;
      a.s.kind = SchedKind::kHuman;
      // The operator's scheduler wakes a cohort of accounts together.
      const int cohort = i / cohort_size;
      a.s.clock.Seed(MixSeed(seed, 0x10715, cohort));
      a.s.clock_tz = -300;
      a.s.session_jitter_s = 600;
      a.s.session_skip = 0.35;
      a.s.sessions_per_day = 3.5;
      a.s.curve = kHumanCurve;
      a.s.weekend = 0.8;
      a.s.convs_mean = 1.6;
      a.s.turns_mean = 1.4;
      a.s.max_turns = 3;
      a.s.think_median_s = 70;
    }
  }

  void Blend(int n) {
    for (int i = 0; i < n; ++i) {
      Actor& a = New(Pop::kBlend);
      const world::Country& c = PickCountry();
      a.id.tz = c.tz_minutes;
      a.id.created = AgedCreated(20, 250);
      a.id.email = world::kFreeMail[rng.Below(std::size(world::kFreeMail))];
      a.id.client = 8;  // one popular SDK, consistently, with its real TLS stack
      HomeNet(a, c, 0.5);
      a.models = {0, 2, 3};
      a.model_w = {0.4, 0.45, 0.15};
      a.temperature = 1.0;
      a.send_temperature = false;
      a.harvest_share = rng.Uniform(0.4, 0.6);
      a.stride = n;
      a.lane = i;
      a.s.kind = SchedKind::kHuman;
      a.s.clock_tz = a.id.tz;
      a.s.curve = kLateCurve;
      a.s.weekend = 1.0;
      a.s.sessions_per_day = rng.Uniform(4, 7);
      a.s.convs_mean = 3.0;
      a.s.turns_mean = 1.8;
      a.s.max_turns = 4;
      a.s.think_median_s = 35;
    }
  }
};

// ------------------------------------------------------------------- output

class LineWriter {
 public:
  ~LineWriter() {
    if (f_) std::fclose(f_);
  }
  Status Open(const std::string& path) {
    path_ = path;
    f_ = std::fopen(path.c_str(), "wb");
    if (!f_) return Status::Error("sim: cannot open " + path + " for writing");
    return Status::Ok();
  }
  void Write(const std::string& line) {
    buf_ += line;
    buf_.push_back('\n');
    if (buf_.size() > (1 << 20)) Flush();
  }
  void Flush() {
    if (!buf_.empty() && std::fwrite(buf_.data(), 1, buf_.size(), f_) != buf_.size()) failed_ = true;
    buf_.clear();
  }
  Status Close() {
    Flush();
    const bool bad = std::fclose(f_) != 0 || failed_;
    f_ = nullptr;
    if (bad) return Status::Error("sim: write failed for " + path_);
    return Status::Ok();
  }

 private:
  std::string path_, buf_;
  std::FILE* f_ = nullptr;
  bool failed_ = false;
};

struct Counts {
  int light, heavy, teams, apps, enterprise, labs, judges, hydra, cot, censor, trace, lowslow, blend;
};

int Scaled(double base, double scale, int min) { return std::max(min, static_cast<int>(std::llround(base * scale))); }

}  // namespace

std::vector<std::string> ScenarioNames() { return {"seed", "benign", "evasive-lowslow", "evasive-blend", "evasive-all"}; }

Result<SimSummary> Simulate(const SimOptions& o) {
  const auto names = ScenarioNames();
  if (std::find(names.begin(), names.end(), o.scenario) == names.end()) {
    std::string all;
    for (const auto& n : names) all += (all.empty() ? "" : ", ") + n;
    return Status::Error("sim: unknown scenario '" + o.scenario + "' (known: " + all + ")");
  }
  if (!(o.scale > 0) || o.scale > 1000) return Status::Error("sim: scale must be in (0, 1000]");
  if (!(o.extractor_scale >= 0) || o.extractor_scale > 1000)
    return Status::Error("sim: extractor scale must be in [0, 1000]");
  if (o.days < 1 || o.days > 366) return Status::Error("sim: days must be in [1, 366]");
  if (o.out_dir.empty()) return Status::Error("sim: out_dir is empty");
  auto corpora = LoadCorpora(o.corpora_dir);
  if (!corpora.ok()) return corpora.status();
  const Corpora& c = corpora.value();
  std::error_code ec;
  std::filesystem::create_directories(o.out_dir, ec);
  if (ec) return Status::Error("sim: cannot create " + o.out_dir + ": " + ec.message());

  Shared w;
  w.c = &c;
  w.start = o.start;
  w.end = o.start + static_cast<EventTime>(o.days) * kMicrosPerDay;
  Rng wr(MixSeed(o.seed, 0x3041d));
  // Trace-derived distributions.
  {
    std::vector<double> v;
    const auto fill = [&](Empirical& e) {
      std::sort(v.begin(), v.end());
      for (double x : v) e.Add(x);
      v.clear();
    };
    for (const auto& [ctx, gen] : c.azure_conv_tokens) v.push_back(std::max(1, gen));
    fill(w.conv_out);
    for (const auto& [ctx, gen] : c.azure_code_tokens) v.push_back(std::max(1, gen));
    fill(w.code_out);
    for (const auto& [in, out] : c.mooncake_tokens) v.push_back(std::max(1, out));
    fill(w.mooncake_out);
    for (const auto& [in, out] : c.mooncake_tokens) v.push_back(in);
    fill(w.mooncake_in);
    std::vector<const ServeGenClient*> clients;
    for (const auto& cl : c.servegen) clients.push_back(&cl);
    std::stable_sort(clients.begin(), clients.end(),
                     [](const ServeGenClient* x, const ServeGenClient* y) { return x->daily_requests > y->daily_requests; });
    clients.resize(std::min<size_t>(clients.size(), 8));
    w.busy_clients = clients;
  }
  // Carrier-NAT pools: a few dozen public addresses shared by all mobile users.
  for (const auto& country : world::kCountries) {
    Pool p;
    const uint32_t base = Subnet24(country.mobile, wr);
    for (int k = 0; k < 48; ++k) p.push_back(HostIn24(base, country.mobile, wr, 1, 254));
    if (country.mobile.v6)
      for (int k = 0; k < 16; ++k) p.push_back(HostIn(country.mobile, wr, true));
    w.mobile_pools.push_back(std::move(p));
  }
  // Hydra's datacenter proxy pool: a few hosting ASNs, a dozen /24s, rotating.
  for (int s = 0; s < 12; ++s) {
    const world::Range& r = world::kHosting[std::vector<int>{4, 5, 6, 7, 0}[s % 5]];
    const uint32_t base = Subnet24(r, wr);
    for (int k = 0; k < 30; ++k) w.hydra_proxies.push_back(HostIn24(base, r, wr));
  }
  // Residential proxy exits (cot-harvest): many addresses over residential ASNs.
  for (int k = 0; k < 3000; ++k) {
    const world::Country& cc = world::kCountries[wr.Below(std::size(world::kCountries))];
    w.resi_proxies.push_back(HostIn(cc.home[wr.Below(2)], wr));
  }
  // evasive-lowslow's residential provider: residential ASNs but the exits
  // cluster in a limited set of /24s the provider leases.
  for (int s = 0; s < 40; ++s) {
    const world::Country& cc = world::kCountries[std::vector<int>{0, 0, 1, 3, 4}[s % 5]];
    const world::Range& r = cc.home[wr.Below(2)];
    const uint32_t base = Subnet24(r, wr);
    for (int k = 0; k < 12; ++k) w.lowslow_proxies.push_back(HostIn24(base, r, wr));
  }
  for (int k = 0; k < 40; ++k) {
    const world::Range& r = world::kHosting[std::vector<int>{9, 10, 6, 5}[k % 4]];
    w.censor_proxies.push_back(HostIn(r, wr));
  }
  for (int k = 0; k < 6; ++k) {
    const world::Range& r = k % 2 ? world::kAws[0] : world::kGcp[0];
    w.shared_cloud24.push_back(Subnet24(r, wr));
    w.shared_cloud24_range.push_back(&r);
  }
  // A global shuffled order of reasoning tasks; campaign accounts take
  // disjoint strides of it (broad coverage, no repeats across accounts).
  {
    const size_t total = c.gsm8k_train.size() + c.bbh.size() * 40 + c.mmlu_val.size();
    w.reasoning_task_order.resize(total);
    for (size_t i = 0; i < total; ++i) w.reasoning_task_order[i] = i;
    for (size_t i = total - 1; i > 0; --i) std::swap(w.reasoning_task_order[i], w.reasoning_task_order[wr.Below(i + 1)]);
  }
  // evasive-blend's cover pool: organic-looking prompts reused across its accounts.
  {
    Actor tmp;
    tmp.rng.Seed(MixSeed(o.seed, 0xb1e4d));
    for (int k = 0; k < 400; ++k) {
      const int src = static_cast<int>(tmp.rng.Below(4));
      w.blend_cover.push_back(OrganicPrompt(tmp, c, src, tmp.rng.Below(100000)));
    }
  }

  const bool benign_only = o.scenario == "benign";
  const bool seed = o.scenario == "seed";
  const bool lowslow = o.scenario == "evasive-lowslow" || o.scenario == "evasive-all";
  const bool blend = o.scenario == "evasive-blend" || o.scenario == "evasive-all";
  const double k = o.scale;
  Builder b{w, o.seed, Rng(MixSeed(o.seed, 0x1d5)), Rng(MixSeed(o.seed, 0xb01d)), {}, {}};
  b.LightChat(Scaled(3000, k, 5));
  b.HeavyChat(Scaled(300, k, 1));
  b.SmallTeams(Scaled(40, k, 1));
  b.AppBuilders(Scaled(50, k, 1));
  b.Enterprise(Scaled(12, k, 1));
  b.EvalLabs(Scaled(15, k, 1));
  b.Judges(Scaled(12, k, 1));
  const double ke = o.extractor_scale > 0 ? o.extractor_scale : k;
  if (seed) {
    b.Hydra(Scaled(350, ke, 5));
    b.CotHarvest(Scaled(40, ke, 2));
    b.Censorship(Scaled(60, ke, 2));
    b.TracePullers(Scaled(6, ke, 1));
  }
  if (lowslow) b.LowSlow(Scaled(150, ke, 4));
  if (blend) b.Blend(Scaled(200, ke, 4));
  (void)benign_only;

  // First event of every actor, then merge by time with a heap.
  using Item = std::pair<EventTime, uint32_t>;
  std::priority_queue<Item, std::vector<Item>, std::greater<Item>> heap;
  for (auto& ap : b.actors) {
    Actor& a = *ap;
    a.next = 0;
    a.s.clock_t = w.start - kMicrosPerDay / 2;
    if (a.s.kind == SchedKind::kHuman) {
      a.next = w.start;
      a.s.convs_left = a.s.turns_left = 0;
      Advance(a, w);
    } else if (a.s.kind == SchedKind::kJobs) {
      a.s.job = 0;
      a.s.item = 0;
      a.next = a.s.jobs.empty() ? kNever : a.s.jobs[0].start;
      a.new_session = true;
    } else {
      // Streams start at a random phase inside their first period.
      a.next = std::max(w.start, a.s.active_from);
      Advance(a, w);
      a.new_session = true;
    }
    if (a.next < w.end) heap.push({a.next, a.index});
  }

  LineWriter log, truth;
  if (Status s = log.Open(o.out_dir + "/log.jsonl"); !s.ok()) return s;
  if (Status s = truth.Open(o.out_dir + "/truth.jsonl"); !s.ok()) return s;
  // Mild disorder: ~1% of lines are held back up to kMaxDelay.
  struct Delayed {
    EventTime release;
    uint64_t seq;
    std::string line;
    bool operator>(const Delayed& d) const { return release != d.release ? release > d.release : seq > d.seq; }
  };
  std::priority_queue<Delayed, std::vector<Delayed>, std::greater<Delayed>> delayed;
  Rng disorder(MixSeed(o.seed, 0xd150));
  SimSummary sum;
  Exchange x;
  std::string line;
  uint64_t seq = 0;
  while (!heap.empty()) {
    const auto [t, idx] = heap.top();
    heap.pop();
    Actor& a = *b.actors[idx];
    Emit(a, w, x);
    ++a.emitted;
    line.clear();
    AppendExchangeJson(x, line);
    while (!delayed.empty() && delayed.top().release <= t) {
      log.Write(delayed.top().line);
      delayed.pop();
    }
    if (disorder.Chance(0.01)) {
      delayed.push({t + static_cast<EventTime>(disorder.Uniform(5, kMaxDelay / kSec) * kSec), seq++, line});
      ++sum.delayed_lines;
    } else {
      log.Write(line);
    }
    ++sum.exchanges;
    ++sum.exchanges_by_population[PopulationName(a.pop)];
    ++sum.exchanges_by_label[LabelName(a.pop)];
    Advance(a, w);
    if (a.next < w.end) heap.push({a.next, a.index});
  }
  while (!delayed.empty()) {
    log.Write(delayed.top().line);
    delayed.pop();
  }
  if (Status s = log.Close(); !s.ok()) return s;

  // Truth: accounts that sent at least one exchange, in id order.
  std::vector<const Actor*> active;
  for (const auto& ap : b.actors)
    if (ap->emitted > 0) active.push_back(ap.get());
  std::sort(active.begin(), active.end(), [](const Actor* x, const Actor* y) { return x->id.account_id < y->id.account_id; });
  for (const Actor* a : active) {
    line.clear();
    JsonWriter jw(line);
    jw.BeginObject();
    jw.Key("account_id");
    jw.String(a->id.account_id);
    jw.Key("label");
    jw.String(LabelName(a->pop));
    jw.Key("population");
    jw.String(PopulationName(a->pop));
    jw.EndObject();
    truth.Write(line);
    ++sum.accounts;
    ++sum.accounts_by_population[PopulationName(a->pop)];
    ++sum.accounts_by_label[LabelName(a->pop)];
  }
  if (Status s = truth.Close(); !s.ok()) return s;
  return sum;
}

}  // namespace moat::sim
