#include "moat/text/pattern_set.h"

#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "moat/text/lexicons.h"
#include "moat/text/normalize.h"

namespace moat::text {
namespace {

TEST(PatternSet, PhrasesWordListsAndRegexes) {
  const std::vector<PatternSpec> specs = {
      {0, "step by step", PatternSyntax::kPhrase},
      {1, "summari*, tl;dr", PatternSyntax::kWordList},
      {2, R"(\bat\s+least\s+\d+\s+words\b)", PatternSyntax::kRegex},
      {63, "c++", PatternSyntax::kPhrase},
  };
  Result<PatternSet> set = PatternSet::Compile(specs);
  ASSERT_TRUE(set.ok()) << set.status().message();
  const PatternSet& p = set.value();
  EXPECT_EQ(p.Scan("Solve it STEP-BY-STEP please"), 1u);
  EXPECT_EQ(p.Scan("step\n  by   step"), 1u);
  EXPECT_EQ(p.Scan("footstep by stepping"), 0u);  // word boundaries
  EXPECT_EQ(p.Scan("Summarise this; tl;dr"), 2u);
  EXPECT_EQ(p.Scan("write at least 500 words"), 4u);
  EXPECT_EQ(p.Scan("write at least five words"), 0u);
  EXPECT_EQ(p.Scan("in C++ or c++17"), uint64_t{1} << 63);
  EXPECT_EQ(p.Scan(""), 0u);
}

TEST(PatternSet, CompileErrorNamesThePattern) {
  const std::vector<PatternSpec> specs = {{0, "fine", PatternSyntax::kPhrase},
                                          {5, "(unclosed", PatternSyntax::kRegex}};
  Result<PatternSet> set = PatternSet::Compile(specs);
  ASSERT_FALSE(set.ok());
  EXPECT_NE(set.status().message().find("(unclosed"), std::string::npos) << set.status().message();
  EXPECT_NE(set.status().message().find("#1"), std::string::npos);
  EXPECT_FALSE(PatternSet::Compile(std::vector<PatternSpec>{{300, "x"}}).ok());
  EXPECT_FALSE(PatternSet::Compile(std::vector<PatternSpec>{}).ok());
  EXPECT_FALSE(PatternSet::Compile(std::vector<PatternSpec>{{1, " , ", PatternSyntax::kWordList}}).ok());
}

TEST(PatternSet, LongTextScansHeadAndTailOnly) {
  Result<PatternSet> set = PatternSet::Compile(std::vector<PatternSpec>{
      {0, "opening phrase"}, {1, "middle phrase"}, {2, "closing phrase"}});
  ASSERT_TRUE(set.ok());
  std::string text = "opening phrase ";
  text += std::string(1 << 20, 'x');
  text += " middle phrase ";
  text += std::string(1 << 20, 'y');
  text += " closing phrase";
  EXPECT_EQ(set.value().Scan(text), 0b101u);
  // Invalid UTF-8 is just bytes.
  EXPECT_EQ(set.value().Scan("\xFF\xFE opening phrase \xC3"), 1u);
}

TEST(PatternSet, SharedAcrossThreads) {
  Result<PatternSet> a = PatternSet::Compile(std::vector<PatternSpec>{{0, "alpha"}});
  Result<PatternSet> b = PatternSet::Compile(std::vector<PatternSpec>{{1, "beta*, gamma, delta", PatternSyntax::kWordList}});
  ASSERT_TRUE(a.ok() && b.ok());
  std::vector<std::thread> threads;
  std::vector<int> ok(4, 0);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 2000; ++i) {
        ok[t] += a.value().Scan("alpha beta") == 1u && b.value().Scan("alpha betamax") == 2u;
      }
    });
  }
  for (auto& th : threads) th.join();
  for (int v : ok) EXPECT_EQ(v, 2000);
}

TEST(ScanForm, WordBoundariesBecomeSpaces) {
  std::string f;
  ToScanForm("Solve it STEP-BY-STEP, please!", f);
  EXPECT_EQ(f, "\x01 solve it step by step , please ! ");
  ToScanForm("x^2 + 37 - 5 = tl;dr c++17 my_var", f);
  EXPECT_EQ(f, "\x01 x ^ 0 + 0 - 0 = tl ; dr c + + 0 my var ");
  ToScanForm("a-b  -c", f, /*at_start=*/false);
  EXPECT_EQ(f, " a b c ");  // only a '-' between whitespace is a minus sign
  ToScanForm("", f);
  EXPECT_EQ(f, "\x01 ");
  ToScanForm("caf\xC3\xA9\xE2\x80\x94ok \xE4\xBD\xA0\xE5\xA5\xBD", f, false);  // café—ok 你好
  EXPECT_EQ(f, " caf\xC3\xA9 \xE2\x80\x94 ok \xE4\xBD\xA0 \xE5\xA5\xBD ");
  EXPECT_EQ(PatternSet::ToScanLiterals({0, "summari*, step {by|after} step, c++, tl;dr", PatternSyntax::kWordList}),
            (std::vector<std::string>{" summari", " step by step ", " step after step ", " c + + ", " tl ; dr "}));
}

TEST(PatternSet, ScanFormSetKeepsWordBoundaries) {
  const std::vector<PatternSpec> specs = {
      {0, "step by step", PatternSyntax::kPhrase},
      {1, "summari*, tl;dr", PatternSyntax::kWordList},
      {2, " at least 0 words ", PatternSyntax::kRegex},
      {3, "\x01 {what|how}", PatternSyntax::kWordList},
      {63, "c++", PatternSyntax::kPhrase},
  };
  Result<PatternSet> set = PatternSet::Compile(specs, PatternSetOptions{.scan_form = true});
  ASSERT_TRUE(set.ok()) << set.status().message();
  const PatternSet& p = set.value();
  EXPECT_EQ(p.Scan("Solve it STEP-BY-STEP please"), 1u);
  EXPECT_EQ(p.Scan("step\n  by   step_by_step"), 1u);
  EXPECT_EQ(p.Scan("(step by step)"), 1u);
  EXPECT_EQ(p.Scan("footstep by stepping"), 0u);  // word boundaries
  EXPECT_EQ(p.Scan("step by steps"), 0u);
  EXPECT_EQ(p.Scan("step by\xC3\xA9step"), 0u);  // a non-ASCII letter is part of the word
  EXPECT_EQ(p.Scan("\xE2\x80\x9Cstep by step\xE2\x80\x9D"), 1u);  // curly quotes are boundaries
  EXPECT_EQ(p.Scan("Summarise this; tl;dr"), 2u);
  EXPECT_EQ(p.Scan("presummarise"), 0u);
  EXPECT_EQ(p.Scan("write at least 500 words"), 4u);
  EXPECT_EQ(p.Scan("write at least five words"), 0u);
  EXPECT_EQ(p.Scan("What now"), 8u);
  EXPECT_EQ(p.Scan("so what now"), 0u);  // only the first word
  EXPECT_EQ(p.Scan("in C++ or c++17"), uint64_t{1} << 63);
  EXPECT_EQ(p.Scan("abc++"), 0u);
  EXPECT_EQ(p.Scan(""), 0u);
  // The tail of a long text is not its start.
  std::string text = "x ";
  text += std::string(1 << 16, 'y');
  text += " what step by step";
  EXPECT_EQ(p.Scan(text), 1u);
}

TEST(Lexicons, AnalyzeNormalizedAgreesWithAnalyze) {
  const char* const prompts[] = {
      "You are an expert tutor. Answer the following question and show your reasoning step by step: why?",
      "Write at least 2000 words, do NOT summarize. Generate 50 diverse instructions for training.",
      "Pick one.\nA) cat\nB) dog\nC) fish",
      "What is 17 * 23? Then x^2 - 4 = 0; def f(x): return x  </think>",
      "CAF\xC3\x89 \xEF\xBC\xB3\xEF\xBD\x94\xEF\xBD\x85\xEF\xBD\x90 by step, \xE2\x80\x9Cchain-of-thought\xE2\x80\x9D",
  };
  for (const char* p : prompts) {
    const PromptFeatures a = Analyze(p);
    const PromptFeatures b = AnalyzeNormalized(Normalize(p));
    const PromptFeatures c = AnalyzeNormalized(Normalize(p, {.keep_digits = true}));
    EXPECT_EQ(a.reasoning_mask, b.reasoning_mask) << p;
    EXPECT_EQ(a.output_mask, b.output_mask) << p;
    EXPECT_EQ(a.task_mask, b.task_mask) << p;
    EXPECT_EQ(a.topic_mask, b.topic_mask) << p;
    EXPECT_EQ(b.reasoning_mask, c.reasoning_mask) << p;
    EXPECT_EQ(b.task_mask, c.task_mask) << p;
  }
  // Full-width "Ｓｔｅｐ by step" is step by step once normalised.
  EXPECT_NE(Analyze(prompts[4]).reasoning_mask & 1, 0u);
}

TEST(Lexicons, DefaultsCompileAndNameTheirBits) {
  const Lexicons& lex = DefaultLexicons();
  EXPECT_GT(lex.entries().size(), 60u);
  EXPECT_EQ(lex.Name(LexiconKind::kReasoning, 0), "step_by_step");
  EXPECT_EQ(lex.Name(LexiconKind::kTask, static_cast<uint32_t>(TaskType::kCode)), "code");
  EXPECT_EQ(lex.Name(LexiconKind::kTopic, static_cast<uint32_t>(Topic::kChemistry)), "chemistry");
  // Every task and topic has an entry.
  for (uint32_t t = 0; t < static_cast<uint32_t>(TaskType::kCount); ++t) EXPECT_FALSE(lex.Name(LexiconKind::kTask, t).empty());
  for (uint32_t t = 0; t < static_cast<uint32_t>(Topic::kCount); ++t) EXPECT_FALSE(lex.Name(LexiconKind::kTopic, t).empty());
}

uint32_t Bit(LexiconKind kind, std::string_view name) {
  for (const LexiconEntry& e : DefaultLexicons().entries()) {
    if (e.kind == kind && e.name == name) return e.bit;
  }
  ADD_FAILURE() << "no entry " << name;
  return 0;
}

bool Reasoning(std::string_view text, std::string_view name) {
  return (Analyze(text).reasoning_mask >> Bit(LexiconKind::kReasoning, name)) & 1;
}
bool Output(std::string_view text, std::string_view name) {
  return (Analyze(text).output_mask >> Bit(LexiconKind::kOutput, name)) & 1;
}
bool HasTask(std::string_view text, TaskType t) { return (Analyze(text).task_mask >> static_cast<int>(t)) & 1; }
bool HasTopic(std::string_view text, Topic t) { return (Analyze(text).topic_mask >> static_cast<int>(t)) & 1; }

TEST(Lexicons, ReasoningElicitation) {
  EXPECT_TRUE(Reasoning("Solve this step-by-step.", "step_by_step"));
  EXPECT_TRUE(Reasoning("Let's go Step  By Step", "step_by_step"));
  EXPECT_FALSE(Reasoning("the first step is to buy a stepladder", "step_by_step"));
  EXPECT_TRUE(Reasoning("Please show your work.", "show_work"));
  EXPECT_FALSE(Reasoning("will you show up to work?", "show_work"));
  EXPECT_TRUE(Reasoning("Show me all of your reasoning", "show_reasoning"));
  EXPECT_TRUE(Reasoning("explain your reasoning", "explain_reasoning"));
  EXPECT_FALSE(Reasoning("explain photosynthesis", "explain_reasoning"));
  EXPECT_TRUE(Reasoning("use chain-of-thought", "chain_of_thought"));
  EXPECT_FALSE(Reasoning("a chain of stores", "chain_of_thought"));
  EXPECT_TRUE(Reasoning("Think carefully before you answer", "think_carefully"));
  EXPECT_TRUE(Reasoning("describe your reasoning process", "reasoning_process"));
  EXPECT_TRUE(Reasoning("walk me through it", "walk_through"));
  EXPECT_FALSE(Reasoning("I like to walk my dog", "walk_through"));
  EXPECT_TRUE(Reasoning("give the full derivation", "derivation"));
  EXPECT_TRUE(Reasoning("justify each step", "justify_steps"));
  EXPECT_TRUE(Reasoning("include all intermediate steps", "each_step"));
  EXPECT_TRUE(Reasoning("put your thoughts in <think> tags", "think_tags"));
  EXPECT_EQ(Analyze("What is the capital of France?").reasoning_mask, 0u);
  EXPECT_EQ(Analyze("Write a haiku about autumn leaves").reasoning_mask, 0u);
}

TEST(Lexicons, OutputRequests) {
  EXPECT_TRUE(Output("Answer as detailed as possible", "as_detailed_as_possible"));
  EXPECT_TRUE(Output("Do not summarize; don't skip anything", "do_not_summarize"));
  EXPECT_FALSE(Output("please summarize this article", "do_not_summarize"));
  EXPECT_TRUE(Output("print the entire solution", "entire"));
  EXPECT_FALSE(Output("the entire country was happy", "entire"));
  EXPECT_TRUE(Output("copy it verbatim", "verbatim"));
  EXPECT_TRUE(Output("include your full reasoning", "full_reasoning"));
  EXPECT_TRUE(Output("write at least 2000 words", "at_least_n"));
  EXPECT_TRUE(Output(Normalize("write at least 2000 words"), "at_least_n"));
  EXPECT_FALSE(Output("at least you tried", "at_least_n"));
  EXPECT_EQ(Analyze("hi there").output_mask, 0u);
}

TEST(Lexicons, TaskTypes) {
  EXPECT_TRUE(HasTask("Solve for x: 3x + 5 = 20", TaskType::kMath));
  EXPECT_TRUE(HasTask("What is 17 * 23?", TaskType::kMath));
  EXPECT_FALSE(HasTask("I love my garden", TaskType::kMath));
  EXPECT_TRUE(HasTask("Write a Python function that reverses a list", TaskType::kCode));
  EXPECT_TRUE(HasTask("why does `def f(x):` fail", TaskType::kCode));
  EXPECT_FALSE(HasTask("my cat likes fish", TaskType::kCode));
  EXPECT_TRUE(HasTask("Translate this into Spanish: good morning", TaskType::kTranslation));
  EXPECT_FALSE(HasTask("I live in Spain", TaskType::kTranslation));
  EXPECT_TRUE(HasTask("Summarize the following article", TaskType::kSummarization));
  EXPECT_TRUE(HasTask("Classify the sentiment of this review", TaskType::kExtraction));
  EXPECT_TRUE(HasTask("Write a short story about a dragon", TaskType::kCreativeWriting));
  EXPECT_TRUE(HasTask("What is the tallest mountain?", TaskType::kQuestionAnswering));
  EXPECT_FALSE(HasTask("The tallest mountain is tall.", TaskType::kQuestionAnswering));
  EXPECT_TRUE(HasTask("Paraphrase this paragraph", TaskType::kRewriting));
  EXPECT_TRUE(HasTask("Which of the following is a mammal?", TaskType::kMultipleChoice));
  EXPECT_TRUE(HasTask("Pick one.\nA) cat\nB) dog\nC) fish", TaskType::kMultipleChoice));
  EXPECT_TRUE(HasTask("Generate 50 diverse instructions for training", TaskType::kDataGeneration));
  EXPECT_TRUE(HasTask("create a list of questions about history", TaskType::kDataGeneration));
  EXPECT_FALSE(HasTask("generate a password", TaskType::kDataGeneration));
  EXPECT_TRUE(HasTask("You are a pirate captain. Stay in character.", TaskType::kRolePlay));
  EXPECT_TRUE(HasTask("Act as a Linux terminal", TaskType::kRolePlay));
}

TEST(Lexicons, TopicsForBreadth) {
  EXPECT_TRUE(HasTopic("Explain quantum entanglement", Topic::kPhysics));
  EXPECT_TRUE(HasTopic("balance this chemical reaction", Topic::kChemistry));
  EXPECT_TRUE(HasTopic("how does photosynthesis work", Topic::kBiology));
  EXPECT_TRUE(HasTopic("what are the symptoms of diabetes", Topic::kMedicine));
  EXPECT_TRUE(HasTopic("is this contract legally binding", Topic::kLaw));
  EXPECT_TRUE(HasTopic("should I refinance my mortgage", Topic::kFinance));
  EXPECT_TRUE(HasTopic("causes of the french revolution in the 18th century", Topic::kHistory));
  EXPECT_TRUE(HasTopic("what is the capital of Peru", Topic::kGeography));
  EXPECT_TRUE(HasTopic("describe Kant's ethics", Topic::kPhilosophy));
  EXPECT_TRUE(HasTopic("find the derivative of x^2", Topic::kMathematics));
  const PromptFeatures f = Analyze("hello, how are you today?");
  EXPECT_EQ(f.topic_mask, 0u);
  // Breadth: distinct topics over a mixed batch.
  uint32_t topics = 0;
  for (const char* p : {"quantum physics", "chemical bonds", "stock portfolio", "roman empire", "vegan recipe"}) {
    topics |= Analyze(p).topic_mask;
  }
  EXPECT_GE(__builtin_popcount(topics), 5);
}

TEST(Lexicons, LongPromptHandled) {
  std::string p = "Explain step by step. ";
  for (int i = 0; i < 100000; ++i) p += "lorem ipsum ";
  p += "Write at least 3000 words.";
  const PromptFeatures f = Analyze(p);
  EXPECT_TRUE((f.reasoning_mask >> Bit(LexiconKind::kReasoning, "step_by_step")) & 1);
  EXPECT_TRUE((f.output_mask >> Bit(LexiconKind::kOutput, "at_least_n")) & 1);
}

TEST(Lexicons, WordBoundariesHold) {
  EXPECT_TRUE(Reasoning("first, think about it", "think_first"));
  EXPECT_TRUE(Reasoning("Before answering think.", "think_first"));
  EXPECT_FALSE(Reasoning("thirst, think", "think_first"));
  EXPECT_TRUE(Reasoning("put it in < / thinking > tags", "think_tags"));
  EXPECT_FALSE(Reasoning("stepbystep", "each_step"));
  EXPECT_TRUE(Output("Don't truncate anything", "do_not_summarize"));
  EXPECT_TRUE(Output("never leave anything out", "do_not_summarize"));
  EXPECT_FALSE(Output("dont summit", "do_not_summarize"));
  EXPECT_TRUE(Output("no fewer than 12paragraphs", "at_least_n"));
  EXPECT_FALSE(Output("at least 12 wordsmiths", "at_least_n"));
  EXPECT_TRUE(HasTask("compute 1/2", TaskType::kMath));
  EXPECT_TRUE(HasTask("what is 7 - 5", TaskType::kMath));
  EXPECT_FALSE(HasTask("call 555-1234", TaskType::kMath));
  EXPECT_TRUE(HasTask("```python\nprint(1)\n```", TaskType::kCode));
  EXPECT_TRUE(HasTask("#include<stdio.h>", TaskType::kCode));
  EXPECT_TRUE(HasTask("function my_func(a, b)", TaskType::kCode));
  EXPECT_TRUE(HasTask("translating poems", TaskType::kTranslation));
  EXPECT_FALSE(HasTask("in Englishman's terms", TaskType::kTranslation));
  EXPECT_TRUE(HasTask("  how tall is it", TaskType::kQuestionAnswering));
  EXPECT_TRUE(HasTask("Question: tall?", TaskType::kQuestionAnswering));
  EXPECT_FALSE(HasTask("showhow it works", TaskType::kQuestionAnswering));
  EXPECT_TRUE(HasTask("(a) red (b) blue", TaskType::kMultipleChoice));
  EXPECT_FALSE(HasTask("plan a) later", TaskType::kMultipleChoice));
  EXPECT_TRUE(HasTask("write 10 short funny test cases", TaskType::kDataGeneration));
  EXPECT_FALSE(HasTask("write 10 very short and funny test cases", TaskType::kDataGeneration));
  EXPECT_TRUE(HasTopic("the Roman Empire", Topic::kHistory));
  EXPECT_FALSE(HasTopic("romanesque", Topic::kHistory));
  EXPECT_TRUE(HasTopic("stars and starships", Topic::kAstronomy));
  EXPECT_FALSE(HasTopic("mustard", Topic::kAstronomy));
}

}  // namespace
}  // namespace moat::text
