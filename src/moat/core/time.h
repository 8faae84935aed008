// RFC 3339 timestamps <-> EventTime (microseconds since the epoch, UTC).
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "moat/core/exchange.h"

namespace moat {

inline constexpr EventTime kMicrosPerSecond = 1'000'000;
inline constexpr EventTime kMicrosPerMinute = 60 * kMicrosPerSecond;
inline constexpr EventTime kMicrosPerHour = 60 * kMicrosPerMinute;
inline constexpr EventTime kMicrosPerDay = 24 * kMicrosPerHour;

// Accepts `YYYY-MM-DDTHH:MM:SS[.frac](Z|+hh:mm|-hh:mm)`, 't'/'z'/' ' too, as
// RFC 3339 allows. Fractions beyond microseconds are truncated. Returns
// nullopt for anything else, including out-of-range fields.
std::optional<EventTime> ParseRfc3339(std::string_view text);

// `2026-02-03T14:05:07.123Z` (always milliseconds, always Z).
std::string FormatRfc3339(EventTime t);
void AppendRfc3339(EventTime t, std::string& out);

// Days since 1970-01-01 for a civil date (proleptic Gregorian), and back.
int64_t DaysFromCivil(int64_t y, unsigned m, unsigned d);

}  // namespace moat
