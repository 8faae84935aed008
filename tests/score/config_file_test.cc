#include "moat/score/config_file.h"

#include <gtest/gtest.h>

namespace moat::score {
namespace {

TEST(ConfigFileTest, WrittenConfigLoadsBackToTheSameSettings) {
  DetectorConfig a;
  a.extraction = 0.8;
  a.link.kind_weight[3] = 0.33;
  a.link_tick = 2 * kMicrosPerHour;
  a.state.high_max_tokens = 8000;
  const std::string text = DetectorConfigToml(a);
  DetectorConfig b;
  ASSERT_TRUE(ParseDetectorConfig(text, "test.toml", b).ok());
  EXPECT_EQ(DetectorConfigToml(b), text);
  EXPECT_DOUBLE_EQ(b.extraction, 0.8);
  EXPECT_DOUBLE_EQ(b.link.kind_weight[3], 0.33);
  EXPECT_EQ(b.link_tick, 2 * kMicrosPerHour);
  EXPECT_EQ(b.state.high_max_tokens, 8000);
}

TEST(ConfigFileTest, PartialFileKeepsDefaults) {
  DetectorConfig c;
  ASSERT_TRUE(ParseDetectorConfig("[verdict]\nsuspicious = 0.4\n", "p.toml", c).ok());
  EXPECT_DOUBLE_EQ(c.suspicious, 0.4);
  EXPECT_DOUBLE_EQ(c.extraction, DetectorConfig{}.extraction);
}

TEST(ConfigFileTest, UnknownKeysAndBadValuesAreNamedErrors) {
  DetectorConfig c;
  const Status unknown = ParseDetectorConfig("[verdict]\nextractoin = 0.9\n", "x.toml", c);
  ASSERT_FALSE(unknown.ok());
  EXPECT_NE(unknown.message().find("verdict.extractoin"), std::string::npos);
  EXPECT_FALSE(ParseDetectorConfig("[verdict]\nmin_exchanges = -3\n", "x.toml", c).ok());
  EXPECT_FALSE(ParseDetectorConfig("[link]\nkind_weight = [1.0]\n", "x.toml", c).ok());
  EXPECT_FALSE(ParseDetectorConfig("[verdict]\nsuspicious = 0.9\nextraction = 0.5\n", "x.toml", c).ok());
  EXPECT_FALSE(ParseDetectorConfig("not toml [", "x.toml", c).ok());
  EXPECT_DOUBLE_EQ(c.extraction, DetectorConfig{}.extraction);  // untouched on error
}

}  // namespace
}  // namespace moat::score
