#include "moat/text/normalize.h"

#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace moat::text {
namespace {

std::vector<std::string> Words(std::string_view s) {
  std::vector<std::string> out;
  for (std::string_view w : Tokens(s)) out.emplace_back(w);
  return out;
}

TEST(Normalize, AsciiLowercasesAndCollapsesWhitespace) {
  EXPECT_EQ(Normalize("  Hello,\t\tWORLD \n\r  again  "), "hello, world again");
  EXPECT_EQ(Normalize(""), "");
  EXPECT_EQ(Normalize(" \t\n "), "");
}

TEST(Normalize, DigitRunsBecomeOneZero) {
  EXPECT_EQ(Normalize("Solve 37+5"), Normalize("Solve 2+91"));
  EXPECT_EQ(Normalize("Solve 37+5"), "solve 0+0");
  EXPECT_EQ(Normalize("pi is 3.14159"), "pi is 0.0");
  EXPECT_EQ(Normalize("1 2  3"), "0 0 0");
  EXPECT_EQ(Normalize("Solve 37+5", {.keep_digits = true}), "solve 37+5");
}

TEST(Normalize, AccentsCaseFoldAndCompose) {
  EXPECT_EQ(Normalize("CAFÉ Crème"), "café crème");
  // Decomposed e + combining acute composes (NFKC) and matches the composed form.
  EXPECT_EQ(Normalize("Cafe\xCC\x81"), Normalize("Caf\xC3\xA9"));
  EXPECT_EQ(Normalize("STRASSE"), "strasse");
  EXPECT_EQ(Normalize("Straße"), "strasse");  // full case folding
}

TEST(Normalize, FullWidthAndCompatibilityForms) {
  // Full-width letters and digits, ideographic space, ligature.
  EXPECT_EQ(Normalize("\xEF\xBC\xB3\xEF\xBD\x8F\xEF\xBD\x8C\xEF\xBD\x96\xEF\xBD\x85\xE3\x80\x80\xEF\xBC\x93\xEF\xBC\x97"),
            "solve 0");
  EXPECT_EQ(Normalize("\xEF\xAC\x81nd"), "find");  // "ﬁ" ligature
  EXPECT_EQ(Normalize("a\xC2\xA0\xC2\xA0" "b"), "a b");  // no-break spaces
  EXPECT_EQ(Normalize("ab\xE2\x80\x8B" "cd"), "abcd");  // zero-width space is ignorable
  EXPECT_EQ(Normalize("\xD9\xA3\xD9\xA4 apples"), "0 apples");  // Arabic-Indic digits
}

TEST(Normalize, InvalidUtf8IsCopiedNotFatal) {
  const std::string bad = std::string("AB\xFF") + "C\xC3" + " D\xE2\x82";
  const std::string out = Normalize(bad);
  EXPECT_EQ(out, std::string("ab\xFF") + "c\xC3" + " d\xE2\x82");
  // Valid stretches around bad bytes are still normalised.
  EXPECT_EQ(Normalize(std::string("\xFF") + "CAFÉ"), std::string("\xFF") + "café");
  // Every byte value alone and in pairs: no crash.
  for (int a = 0; a < 256; ++a) {
    for (int b = 0; b < 256; b += 7) {
      std::string s{static_cast<char>(a), static_cast<char>(b), static_cast<char>(a)};
      (void)Normalize(s);
      (void)Words(s);
    }
  }
}

TEST(Normalize, ReusesOutput) {
  std::string out = "previous content";
  Normalize("New", out);
  EXPECT_EQ(out, "new");
}

TEST(Tokenizer, AsciiWordsAndPunctuation) {
  EXPECT_EQ(Words("hello, world! it's 0 o'clock"),
            (std::vector<std::string>{"hello", "world", "it", "s", "0", "o", "clock"}));
  EXPECT_TRUE(Words("").empty());
  EXPECT_TRUE(Words(" ,.;!? ").empty());
  EXPECT_EQ(Words("a"), (std::vector<std::string>{"a"}));
}

TEST(Tokenizer, NonAsciiWords) {
  EXPECT_EQ(Words("café crème—brûlée"), (std::vector<std::string>{"café", "crème", "brûlée"}));
  EXPECT_EQ(Words("привет мир"), (std::vector<std::string>{"привет", "мир"}));
  // Han characters are words of their own.
  EXPECT_EQ(Words("你好 world"), (std::vector<std::string>{"你", "好", "world"}));
  // « » are punctuation.
  EXPECT_EQ(Words("«bonjour»"), (std::vector<std::string>{"bonjour"}));
}

TEST(Tokenizer, CallbackIteratorAndClassAgree) {
  const std::string text = "the quick, brown fox — jumps 0 times";
  std::vector<std::string> a;
  ForEachToken(text, [&](std::string_view w) { a.emplace_back(w); });
  EXPECT_EQ(a, Words(text));
  EXPECT_EQ(a.size(), 7u);
}

}  // namespace
}  // namespace moat::text
