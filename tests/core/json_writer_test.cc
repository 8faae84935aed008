#include "moat/core/json_writer.h"

#include <gtest/gtest.h>

namespace moat {
namespace {

std::string Quote(std::string_view s) {
  std::string out;
  AppendJsonString(s, out);
  return out;
}

TEST(JsonString, EscapesControlAndQuotes) {
  EXPECT_EQ(Quote("a\"b\\c\n\t\x01"), R"("a\"b\\c\n\t\u0001")");
}

TEST(JsonString, KeepsValidUtf8) {
  EXPECT_EQ(Quote("héllo ✓ 𝄞"), "\"héllo ✓ 𝄞\"");
}

TEST(JsonString, InvalidBytesBecomeSurrogateEscapes) {
  EXPECT_EQ(Quote("a\xff" "b"), R"("a\udcffb")");
  EXPECT_EQ(Quote("\xc3"), R"("\udcc3")");           // truncated sequence
  EXPECT_EQ(Quote("\xed\xa0\x80"), R"("\udced\udca0\udc80")");  // encoded surrogate
  EXPECT_EQ(Quote("\xc0\xaf"), R"("\udcc0\udcaf")");  // overlong
}

TEST(JsonString, Utf8Validation) {
  EXPECT_TRUE(IsValidUtf8("plain ascii"));
  EXPECT_TRUE(IsValidUtf8("日本語"));
  EXPECT_FALSE(IsValidUtf8("\xf5\x80\x80\x80"));
  EXPECT_FALSE(IsValidUtf8("\x80"));
}

TEST(JsonWriter, BuildsNestedObject) {
  std::string out;
  JsonWriter w(out);
  w.BeginObject();
  w.Key("a");
  w.Int(-3);
  w.Key("b");
  w.BeginArray();
  w.Double(0.5);
  w.Double(2.0);
  w.Null();
  w.EndArray();
  w.Key("c");
  w.String("x");
  w.Key("d");
  w.BeginObject();
  w.Key("e");
  w.Bool(true);
  w.EndObject();
  w.EndObject();
  EXPECT_EQ(out, R"({"a":-3,"b":[0.5,2,null],"c":"x","d":{"e":true}})");
}

TEST(JsonWriter, DoubleTrimsAndRounds) {
  std::string out;
  JsonWriter w(out);
  w.BeginArray();
  w.Double(0.123456789, 3);
  w.Double(-0.0001, 2);
  w.Double(1.0 / 0.0);
  w.EndArray();
  EXPECT_EQ(out, "[0.123,0,null]");
}

// Regression: fixed notation of 1e300 overflowed the buffer and wrote garbage.
TEST(JsonWriter, HugeDoubleFallsBackToShortestForm) {
  std::string out;
  JsonWriter w(out);
  w.Double(1e300, 4);
  EXPECT_EQ(out, "1e+300");
}

}  // namespace
}  // namespace moat
