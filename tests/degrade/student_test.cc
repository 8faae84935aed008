// The radioactivity student: a Kneser-Ney trigram model must reproduce what
// it was trained on, deterministically, and carry a watermark it saw.
#include <gtest/gtest.h>

#include "moat/degrade/detector.h"
#include "moat/degrade/ngram_lm.h"
#include "test_util.h"

namespace moat::degrade {
namespace {

TEST(TrigramLm, SamplesAreDeterministicAndUseTheTrainingVocabulary) {
  const std::vector<std::string_view> docs = {"the cat sat on the mat.", "the dog sat on the log.",
                                              "a cat and a dog."};
  TrigramLm lm;
  lm.Train(docs);
  EXPECT_EQ(lm.training_tokens(), 20u);
  uint64_t s1 = 42, s2 = 42;
  for (int i = 0; i < 20; ++i) {
    const std::string a = lm.Sample(s1, 50), b = lm.Sample(s2, 50);
    EXPECT_EQ(a, b);
    WordScanner scan(a);
    WordSpan w;
    while (scan.Next(w)) {
      const std::string word = a.substr(w.begin, w.end - w.begin);
      EXPECT_TRUE(word == "the" || word == "cat" || word == "sat" || word == "on" || word == "mat" ||
                  word == "dog" || word == "log" || word == "a" || word == "and")
          << word;
    }
  }
}

TEST(TrigramLm, LearnsDeterministicContinuations) {
  // Only one continuation ever follows "<s> <s>" and "alpha beta": the
  // discounted mass dominates back-off, so most samples start that way.
  std::vector<std::string> texts(50, "alpha beta gamma delta.");
  std::vector<std::string_view> docs(texts.begin(), texts.end());
  TrigramLm lm;
  lm.Train(docs);
  uint64_t state = 1;
  int exact = 0;
  for (int i = 0; i < 200; ++i) exact += lm.Sample(state, 20) == "alpha beta gamma delta.";
  EXPECT_GT(exact, 150);
}

TEST(TrigramLm, StudentOfMarkedTextCarriesTheMark) {
  // Train on marked copies of varied sentences; the student's samples must
  // show the key's choices, an unrelated key's must not.
  const WatermarkKey key("teacher", std::string(32, '\x11'), true);
  const WatermarkKey other("other", std::string(32, '\x22'), true);
  const Watermarker marker(testing::Synonyms());
  const std::string base = testing::DilutedAnswer();
  std::vector<std::string> marked;
  for (int i = 0; i < 30; ++i) {
    std::string m;
    marker.Mark(base, key, m);
    marked.push_back(std::move(m));
  }
  std::vector<std::string_view> docs(marked.begin(), marked.end());
  TrigramLm lm;
  lm.Train(docs);
  Detector with_key(marker, {&key}), with_other(marker, {&other});
  uint64_t state = 9;
  for (int i = 0; i < 50; ++i) {
    const std::string s = lm.Sample(state, 300);
    with_key.Add(s);
    with_other.Add(s);
  }
  EXPECT_LT(with_key.Finish().p_value, 1e-6);
  EXPECT_GT(with_other.Finish().p_value, 1e-3);
}

}  // namespace
}  // namespace moat::degrade
