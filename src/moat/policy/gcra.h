// Generic cell rate algorithm (GCRA): a token bucket kept as one number, the
// theoretical arrival time of the next unit. Internal to policy.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <span>

#include "moat/core/exchange.h"

namespace moat::policy {

struct Gcra {
  int64_t tat_ns = 0;  // theoretical arrival time, event time in nanoseconds
};

// One limiter charged by one request: `cost` units at `interval_ns` each,
// with `tolerance_ns` (burst x interval) of credit on an idle limiter.
struct GcraStep {
  Gcra* gcra = nullptr;
  double interval_ns = 0;  // 0: no limit
  double tolerance_ns = 0;
  double cost = 0;

  // `per_minute` requests, bursts of `burst` (0: a sixth of a minute's worth, at least 1).
  static GcraStep Requests(Gcra& g, double per_minute, double burst) {
    if (per_minute <= 0) return {};
    const double b = burst > 0 ? burst : std::max(1.0, per_minute / 6);
    const double t = 60e9 / per_minute;
    return {&g, t, b * t, 1};
  }
  // `per_minute` output tokens; a request costing more than the burst is
  // charged the burst, so one large request can always pass an idle limiter.
  static GcraStep Tokens(Gcra& g, double per_minute, double burst, double tokens) {
    if (per_minute <= 0 || tokens <= 0) return {};
    const double b = burst > 0 ? burst : std::max(1.0, per_minute / 6);
    const double t = 60e9 / per_minute;
    return {&g, t, b * t, std::min(tokens, b)};
  }
};

// Admits the request if every limiter has room, charging all of them; else
// charges none and returns how long (ns) until a retry would pass.
inline int64_t GcraAdmit(std::span<const GcraStep> steps, EventTime now_us) {
  const int64_t now = now_us * 1000;
  int64_t wait = 0;
  int64_t next[4] = {};
  for (size_t i = 0; i < steps.size(); ++i) {
    const GcraStep& s = steps[i];
    if (s.gcra == nullptr) continue;
    next[i] = std::max(s.gcra->tat_ns, now) + std::llround(s.cost * s.interval_ns);
    const int64_t over = next[i] - now - std::llround(s.tolerance_ns);
    wait = std::max(wait, over);
  }
  if (wait > 0) return wait;
  for (size_t i = 0; i < steps.size(); ++i)
    if (steps[i].gcra != nullptr) steps[i].gcra->tat_ns = next[i];
  return 0;
}

}  // namespace moat::policy
