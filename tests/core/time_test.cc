#include "moat/core/time.h"

#include <gtest/gtest.h>

namespace moat {
namespace {

TEST(Rfc3339, ParsesUtcWithMillis) {
  auto t = ParseRfc3339("2026-02-03T14:05:07.123Z");
  ASSERT_TRUE(t.has_value());
  EXPECT_EQ(FormatRfc3339(*t), "2026-02-03T14:05:07.123Z");
  EXPECT_EQ(*t % kMicrosPerSecond, 123000);
}

TEST(Rfc3339, EpochAndOffsets) {
  EXPECT_EQ(ParseRfc3339("1970-01-01T00:00:00Z"), 0);
  EXPECT_EQ(ParseRfc3339("1970-01-01T01:00:00+01:00"), 0);
  EXPECT_EQ(ParseRfc3339("1969-12-31T23:00:00-01:00"), 0);
  EXPECT_EQ(ParseRfc3339("1970-01-01t00:00:01.5z"), 1'500'000);
  EXPECT_EQ(FormatRfc3339(-1), "1969-12-31T23:59:59.999Z");
}

TEST(Rfc3339, RejectsMalformed) {
  for (const char* bad : {"", "2026-02-03", "2026-02-03T14:05:07", "2026-13-01T00:00:00Z",
                          "2026-02-30T00:00:00Z", "2026-02-03T24:00:00Z", "2026-02-03T14:05:07.Z",
                          "2026-02-03T14:05:07Zjunk", "2026-02-03T14:05:07+0100", "yesterday"}) {
    EXPECT_FALSE(ParseRfc3339(bad).has_value()) << bad;
  }
}

TEST(Rfc3339, LeapYears) {
  EXPECT_TRUE(ParseRfc3339("2024-02-29T00:00:00Z").has_value());
  EXPECT_FALSE(ParseRfc3339("2025-02-29T00:00:00Z").has_value());
  EXPECT_TRUE(ParseRfc3339("2000-02-29T00:00:00Z").has_value());
  EXPECT_FALSE(ParseRfc3339("1900-02-29T00:00:00Z").has_value());
}

TEST(Rfc3339, RoundTripsEveryDayOfSeveralYears) {
  EventTime t = *ParseRfc3339("2023-01-01T12:34:56.789Z");
  for (int i = 0; i < 3 * 366; ++i, t += kMicrosPerDay) {
    auto back = ParseRfc3339(FormatRfc3339(t));
    ASSERT_TRUE(back.has_value());
    EXPECT_EQ(*back, t);
  }
}

}  // namespace
}  // namespace moat
