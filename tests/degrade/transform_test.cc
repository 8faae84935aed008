// Reasoning withholding and the response transform: the final answer stays
// byte-identical, everything outside the rewritten strings is untouched.
#include <gtest/gtest.h>
#include <simdjson.h>

#include <fstream>
#include <sstream>

#include "moat/degrade/reasoning.h"
#include "moat/degrade/transform.h"
#include "test_util.h"

namespace moat::degrade {
namespace {

const std::string kTrace =
    "The user wants the total number of clips. In April she sold 48 clips. In May she sold half as many, "
    "so 48 / 2 = 24 clips. Adding them gives 48 + 24 = 72. Let me double-check: 24 + 48 = 72. So the "
    "answer is 72.";

Transformer MakeTransformer() {
  std::vector<WatermarkKey> keys;
  keys.emplace_back("test", std::string(32, '\x07'), true);
  auto t = Transformer::Create(testing::Synonyms(), KeyRing(std::move(keys)));
  return std::move(t).value();
}

std::string Field(std::string_view json, std::initializer_list<std::string_view> path) {
  simdjson::dom::parser parser;
  simdjson::dom::element e = parser.parse(json.data(), json.size()).value();
  for (std::string_view p : path) {
    if (!p.empty() && std::isdigit(static_cast<unsigned char>(p[0]))) e = e.at(std::stoul(std::string(p))).value();
    else e = e[p].value();
  }
  return std::string(e.get_string().value());
}

TEST(Reasoning, SummaryIsShortAndKeepsEnds) {
  const std::string s = SummarizeReasoning(kTrace);
  EXPECT_LT(s.size(), kTrace.size() / 2);
  EXPECT_EQ(s, "The user wants the total number of clips. So the answer is 72.");
  EXPECT_EQ(SummarizeReasoning("   "), "");
  std::string long_sentence;
  for (int i = 0; i < 60; ++i) long_sentence += "word ";
  EXPECT_LT(SummarizeReasoning(long_sentence).size(), long_sentence.size() / 2);
}

TEST(Reasoning, ThinkTagsKeepTheFinalAnswerByteIdentical) {
  const std::string answer = "\n\n**Answer:** Natalia sold 72 clips.\n  (48 + 24)\xe2\x9c\x93\n";
  for (const std::string open : {"<think>", "<thinking>", "<reasoning>"}) {
    const std::string close = "</" + open.substr(1);
    const std::string text = "Intro line.\n" + open + "\n" + kTrace + "\n" + close + answer;
    std::string out;
    ASSERT_TRUE(WithholdReasoningInText(text, out)) << open;
    EXPECT_EQ(out.substr(out.size() - answer.size()), answer);
    EXPECT_EQ(out.rfind("Intro line.\n" + open + "\n", 0), 0u);
    EXPECT_NE(out.find("\n" + close), std::string::npos);
    EXPECT_LT(out.size(), text.size());
  }
  std::string out = "untouched";
  EXPECT_FALSE(WithholdReasoningInText("No reasoning here. Final answer: 72", out));
  EXPECT_EQ(out, "untouched");
  ASSERT_TRUE(WithholdReasoningInText("<think>" + kTrace, out));  // unclosed: runs to the end
  EXPECT_EQ(out, "<think>The user wants the total number of clips. So the answer is 72.");
}

TEST(Reasoning, LabelledSectionKeepsTheFinalAnswerByteIdentical) {
  const std::string answer = "Final answer: 72 clips.\nThanks!";
  const std::string text = "Reasoning: " + kTrace + "\n" + answer;
  std::string out;
  ASSERT_TRUE(WithholdReasoningInText(text, out));
  EXPECT_EQ(out, "Reasoning: The user wants the total number of clips. So the answer is 72.\n" + answer);
  EXPECT_FALSE(WithholdReasoningInText("Reasoning: " + kTrace, out)) << "no answer line: end unknown";
}

TEST(Transform, AnthropicThinkingBlockWithheldTextByteIdentical) {
  const Transformer t = MakeTransformer();
  const std::string text = "Natalia sold 72 clips.\\nMaybe the kids will buy a large box \\u00e9.";
  const std::string in = R"({"id":"msg_1","content":[{"type":"thinking","thinking":")" + kTrace +
                         R"(","signature":"sig"},{"type":"text","text":")" + text +
                         R"("}],"usage":{"output_tokens":1.50}})";
  TransformStats stats;
  const auto out = t.Transform(in, Mode::kWithholdReasoning, &stats);
  ASSERT_TRUE(out.ok()) << out.status().message();
  EXPECT_EQ(stats.reasoning_fields, 1u);
  EXPECT_EQ(Field(out.value(), {"content", "0", "thinking"}), SummarizeReasoning(kTrace));
  // The answer string is not rewritten at all: same escapes, same bytes.
  EXPECT_NE(out.value().find(R"("text":")" + text + R"(")"), std::string::npos);
  EXPECT_NE(out.value().find(R"("usage":{"output_tokens":1.50}})"), std::string::npos);
}

TEST(Transform, OpenAiChatReasoningContentAndThinkTags) {
  const Transformer t = MakeTransformer();
  const std::string in = R"({"choices":[{"index":0,"message":{"role":"assistant","reasoning_content":")" + kTrace +
                         R"(","content":"<think>)" + kTrace + R"(</think>The answer is 72."}}]})";
  const auto out = t.Transform(in, Mode::kWithholdReasoning);
  ASSERT_TRUE(out.ok()) << out.status().message();
  EXPECT_EQ(Field(out.value(), {"choices", "0", "message", "reasoning_content"}), SummarizeReasoning(kTrace));
  EXPECT_EQ(Field(out.value(), {"choices", "0", "message", "content"}),
            "<think>" + SummarizeReasoning(kTrace) + "</think>The answer is 72.");
}

TEST(Transform, ResponsesApiReasoningItems) {
  const Transformer t = MakeTransformer();
  const std::string in =
      R"({"object":"response","output":[{"type":"reasoning","summary":[{"type":"summary_text","text":"Adds clips."}],)"
      R"("content":[{"type":"reasoning_text","text":")" + kTrace + R"("}]},)"
      R"({"type":"message","role":"assistant","content":[{"type":"output_text","text":"72 clips."}]}],)"
      R"("reasoning":{"effort":"high"}})";
  const auto out = t.Transform(in, Mode::kWithholdReasoning);
  ASSERT_TRUE(out.ok()) << out.status().message();
  EXPECT_EQ(Field(out.value(), {"output", "0", "content", "0", "text"}), SummarizeReasoning(kTrace));
  EXPECT_EQ(Field(out.value(), {"output", "0", "summary", "0", "text"}), "Adds clips.");
  EXPECT_EQ(Field(out.value(), {"output", "1", "content", "0", "text"}), "72 clips.");
  EXPECT_NE(out.value().find(R"("reasoning":{"effort":"high"}})"), std::string::npos);
}

TEST(Transform, WatermarkModesMarkAnswersAndReasoning) {
  const Transformer t = MakeTransformer();
  const std::string answer = testing::DilutedAnswer();
  std::string in = R"({"content":[{"type":"thinking","thinking":")" + kTrace + R"("},{"type":"text","text":")" +
                   answer + R"("}]})";
  const auto marked = t.Transform(in, Mode::kWatermark);
  ASSERT_TRUE(marked.ok());
  std::string expected;
  t.marker().Mark(answer, *t.keys()->MarkingKey(), expected);
  EXPECT_EQ(Field(marked.value(), {"content", "1", "text"}), expected);
  const auto both = t.Transform(in, Mode::kWithholdAndWatermark);
  ASSERT_TRUE(both.ok());
  EXPECT_EQ(Field(both.value(), {"content", "1", "text"}), expected);
  EXPECT_LT(Field(both.value(), {"content", "0", "thinking"}).size(), kTrace.size() / 2);
}

TEST(Transform, LeavesToolInputsAndEchoedPromptsAlone) {
  const Transformer t = MakeTransformer();
  const std::string answer = testing::DilutedAnswer();
  const std::string in = R"({"content":[{"type":"tool_use","id":"t1","name":"write","input":{"content":")" + answer +
                         R"(","text":")" + answer + R"("}}],"messages":[{"role":"user","content":")" + answer +
                         R"("}],"choices":[{"message":{"role":"assistant","tool_calls":[{"function":{"arguments":"{}"}}],)"
                         R"("content":")" + answer + R"("}}]})";
  const auto out = t.Transform(in, Mode::kWatermark);
  ASSERT_TRUE(out.ok()) << out.status().message();
  EXPECT_EQ(Field(out.value(), {"content", "0", "input", "content"}), answer);
  EXPECT_EQ(Field(out.value(), {"content", "0", "input", "text"}), answer);
  EXPECT_EQ(Field(out.value(), {"messages", "0", "content"}), answer);
  EXPECT_NE(Field(out.value(), {"choices", "0", "message", "content"}), answer);
}

TEST(Transform, EveryTruncationIsAnErrorOrValidJson) {
  // Property: a cut-off response never crashes the transform; whatever it
  // returns parses as JSON.
  const Transformer t = MakeTransformer();
  const std::string in = R"({"content":[{"type":"thinking","thinking":"A \"quoted\" step. Then \u00e9 more."},)"
                         R"({"type":"text","text":"Maybe the kids buy a large box.\n"}],"n":[1,2.5,null]})";
  simdjson::dom::parser parser;
  for (size_t n = 0; n <= in.size(); ++n) {
    const auto out = t.Transform(std::string_view(in).substr(0, n), Mode::kWithholdAndWatermark);
    if (out.ok()) {
      EXPECT_FALSE(parser.parse(out.value()).error()) << "cut at " << n << ": " << out.value();
    }
  }
}

TEST(Transform, ErrorsNameTheProblem) {
  const Transformer t = MakeTransformer();
  EXPECT_FALSE(t.Transform("not json", Mode::kWithholdReasoning).ok());
  EXPECT_FALSE(t.Transform("[1,2]", Mode::kWithholdReasoning).ok());
  EXPECT_FALSE(t.Transform(R"({"content":"x")", Mode::kWithholdReasoning).ok());
  EXPECT_FALSE(t.Transform(R"({"content":"x"} trailing)", Mode::kWithholdReasoning).ok());
  EXPECT_FALSE(t.Transform(R"({"content":"x"}{"content":"y"})", Mode::kWithholdReasoning).ok());
  EXPECT_TRUE(t.Transform("{\"content\":\"x\"}\n  ", Mode::kWithholdReasoning).ok());
  auto no_keys = Transformer::Create(testing::Synonyms(), std::nullopt);
  ASSERT_TRUE(no_keys.ok());
  const auto r = no_keys.value().Transform(R"({"content":"x"})", Mode::kWatermark);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("key"), std::string::npos);
  EXPECT_TRUE(no_keys.value().Transform(R"({"content":"x"})", Mode::kWithholdReasoning).ok());
  EXPECT_FALSE(ParseMode("scramble").ok());
  for (Mode m : {Mode::kWithholdReasoning, Mode::kWatermark, Mode::kWithholdAndWatermark})
    EXPECT_EQ(ParseMode(ModeName(m)).value(), m);
}

// Golden cases: tests/degrade/fixtures/NAME.in.json transformed with
// fixtures/keys.jsonl in the mode named by NAME's prefix must equal
// NAME.out.json byte for byte.
TEST(Transform, GoldenFixtures) {
  const std::string dir = std::string(MOAT_SOURCE_DIR) + "/tests/degrade/fixtures/";
  auto t = Transformer::Load(std::string(MOAT_SOURCE_DIR) + "/data/watermark/synonyms.tsv", dir + "keys.jsonl");
  ASSERT_TRUE(t.ok()) << t.status().message();
  const auto read = [](const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  };
  for (const auto& [name, mode] : {std::pair{"anthropic", Mode::kWithholdAndWatermark},
                                   std::pair{"openai_chat", Mode::kWithholdAndWatermark},
                                   std::pair{"openai_responses", Mode::kWithholdReasoning}}) {
    const std::string in = read(dir + name + ".in.json");
    ASSERT_FALSE(in.empty()) << name;
    const auto out = t.value().Transform(in, mode);
    ASSERT_TRUE(out.ok()) << name << ": " << out.status().message();
    EXPECT_EQ(out.value(), read(dir + name + ".out.json")) << name;
  }
}

}  // namespace
}  // namespace moat::degrade
