#include "moat/text/template_miner.h"

#include <map>
#include <random>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "moat/text/normalize.h"

namespace moat::text {
namespace {

const std::vector<std::string> kVocabulary = {
    "apple", "river", "theory", "market", "engine", "planet", "garden", "violin", "protein", "ocean",
    "castle", "winter", "signal", "forest", "copper", "window", "letter", "harbor", "pencil", "doctor",
    "silver", "bridge", "camera", "desert", "rocket", "ladder", "mirror", "island", "jacket", "candle",
    "tunnel", "pepper", "falcon", "meadow", "basket", "helmet", "velvet", "orchid", "glacier", "lantern"};
const std::vector<std::string> kOpeners = {
    "what", "how", "why", "can", "explain", "describe", "tell", "write", "is", "does", "give", "list",
    "compare", "should", "help", "summarize", "translate", "who", "where", "when"};

std::string Question(std::mt19937_64& rng) {
  std::string q = kOpeners[rng() % kOpeners.size()];
  const int words = 4 + static_cast<int>(rng() % 30);
  for (int i = 0; i < words; ++i) {
    q += " ";
    if (rng() % 10 == 0) q += std::to_string(rng() % 1000);
    else q += kVocabulary[rng() % kVocabulary.size()];
  }
  return q + "?";
}

const std::vector<std::pair<std::string, std::string>> kWrappers = {
    {"You are an expert tutor. Answer the following question carefully and show your reasoning step by step:",
     "Finally, state the answer on its own line prefixed with ANSWER."},
    {"Question:", "Think through the problem in detail before answering, then give a complete and thorough "
                  "explanation of every step you took."},
    {"I am building a study guide for my class. Please respond to this prompt in great detail:",
     "Format the response in markdown with headings."},
};

TEST(TemplateMiner, WrappersAroundVariedQuestionsFormFewClusters) {
  TemplateMiner miner(TemplateMinerOptions{.seed = 17});
  std::mt19937_64 rng(3);
  std::map<size_t, std::set<uint32_t>> ids_by_wrapper;
  std::map<size_t, std::set<uint64_t>> sigs_by_wrapper;
  std::map<size_t, std::map<uint32_t, int>> counts;
  std::string norm;
  for (int i = 0; i < 200; ++i) {
    const size_t w = rng() % kWrappers.size();
    Normalize(kWrappers[w].first + " " + Question(rng) + " " + kWrappers[w].second, norm);
    const TemplateMatch m = miner.Add(norm);
    ids_by_wrapper[w].insert(m.cluster_id);
    sigs_by_wrapper[w].insert(m.signature);
    ++counts[w][m.cluster_id];
  }
  std::set<uint32_t> all;
  for (auto& [w, ids] : ids_by_wrapper) {
    EXPECT_LE(ids.size(), 2u) << "wrapper " << w;
    // The dominant cluster holds nearly all of the wrapper's prompts.
    int top = 0, total = 0;
    for (auto& [id, n] : counts[w]) {
      top = std::max(top, n);
      total += n;
    }
    EXPECT_GE(top, total * 9 / 10) << "wrapper " << w;
    EXPECT_EQ(sigs_by_wrapper[w].size(), 1u);
    all.insert(ids.begin(), ids.end());
  }
  EXPECT_LE(miner.cluster_count(), 6u);
  // Stable ids: adding more of the same maps to the same clusters.
  for (int i = 0; i < 50; ++i) {
    const size_t w = rng() % kWrappers.size();
    Normalize(kWrappers[w].first + " " + Question(rng) + " " + kWrappers[w].second, norm);
    EXPECT_TRUE(ids_by_wrapper[w].count(miner.Add(norm).cluster_id)) << norm;
  }
  // Signatures differ across wrappers.
  EXPECT_NE(*sigs_by_wrapper[0].begin(), *sigs_by_wrapper[1].begin());
  EXPECT_NE(*sigs_by_wrapper[0].begin(), *sigs_by_wrapper[2].begin());
}

TEST(TemplateMiner, OrganicPromptsSpreadAcrossManyClusters) {
  TemplateMiner miner;
  std::mt19937_64 rng(4);
  std::set<uint32_t> ids;
  std::string norm;
  for (int i = 0; i < 500; ++i) {
    std::string p;
    const int words = 3 + static_cast<int>(rng() % 25);
    for (int j = 0; j < words; ++j) {
      if (j) p += " ";
      p += (j < 2 && rng() % 2) ? kOpeners[rng() % kOpeners.size()] : kVocabulary[rng() % kVocabulary.size()];
    }
    Normalize(p, norm);
    ids.insert(miner.Add(norm).cluster_id);
  }
  EXPECT_GE(ids.size(), 400u);
}

TEST(TemplateMiner, NumbersDoNotSplitTemplates) {
  TemplateMiner miner;
  const uint32_t a = miner.Add(Normalize("Solve 37 + 5 and give the answer")).cluster_id;
  const uint32_t b = miner.Add(Normalize("Solve 2 + 91 and give the answer")).cluster_id;
  const uint32_t c = miner.Add(Normalize("0 0 0")).cluster_id;
  const uint32_t d = miner.Add(Normalize("1 2 3")).cluster_id;
  EXPECT_EQ(a, b);
  EXPECT_EQ(c, d);
  EXPECT_NE(a, c);
}

TEST(TemplateMiner, SignatureStableAsTemplateGeneralises) {
  TemplateMiner miner;
  const TemplateMatch first = miner.Add("please answer the question about rivers and be brief");
  EXPECT_TRUE(first.created);
  const TemplateMatch second = miner.Add("please answer the question about planets and be brief");
  EXPECT_FALSE(second.created);
  EXPECT_EQ(first.cluster_id, second.cluster_id);
  EXPECT_EQ(first.signature, second.signature);
  uint64_t members = 0;
  uint32_t constant = 0;
  ASSERT_TRUE(miner.Describe(first.cluster_id, &members, &constant));
  EXPECT_EQ(members, 2u);
  EXPECT_EQ(constant, 8u);  // 9 words; "rivers" / "planets" became a wildcard
  // A separate miner with the same seed agrees on the signature.
  TemplateMiner other;
  EXPECT_EQ(other.Add("please answer the question about comets and be brief").signature, first.signature);
  TemplateMiner keyed(TemplateMinerOptions{.seed = 99});
  EXPECT_NE(keyed.Add("please answer the question about rivers and be brief").signature, first.signature);
}

TEST(TemplateMiner, EmptyAndTinyTexts) {
  TemplateMiner miner;
  const uint32_t e1 = miner.Add("").cluster_id;
  EXPECT_EQ(miner.Add("").cluster_id, e1);
  const uint32_t h = miner.Add("hello").cluster_id;
  EXPECT_EQ(miner.Add("hello").cluster_id, h);
  EXPECT_NE(h, e1);
  EXPECT_NE(miner.Add("goodbye").cluster_id, h);
}

TEST(TemplateMiner, MemoryBoundRespectedWithLruEviction) {
  TemplateMiner miner(TemplateMinerOptions{.max_clusters = 100});
  std::mt19937_64 rng(8);
  const std::string hot = "you are a helpful assistant answer with full reasoning about";
  uint32_t hot_id = 0;
  std::set<uint32_t> seen;
  for (int i = 0; i < 20000; ++i) {
    std::string p = kVocabulary[rng() % kVocabulary.size()] + " " + kVocabulary[rng() % kVocabulary.size()] + " x" +
                    std::to_string(rng()) + "y " + kVocabulary[rng() % kVocabulary.size()];
    for (char& c : p) c = (c >= '0' && c <= '9') ? static_cast<char>('a' + (c - '0')) : c;  // no digits
    seen.insert(miner.Add(p).cluster_id);
    if (i % 10 == 0) {
      const uint32_t id = miner.Add(hot + " " + kVocabulary[rng() % kVocabulary.size()]).cluster_id;
      if (hot_id == 0) hot_id = id;
      EXPECT_EQ(id, hot_id);  // a hot template survives the churn
    }
    ASSERT_LE(miner.cluster_count(), 100u);
  }
  EXPECT_GT(miner.stats().evicted, 1000u);
  EXPECT_GT(seen.size(), 1000u);  // evicted ids are retired, never reused
  EXPECT_LT(miner.MemoryBytes(), 100u * 1024);
}

TEST(TemplateMiner, LongPromptsMineHeadAndTail) {
  TemplateMiner miner;
  std::mt19937_64 rng(6);
  std::set<uint32_t> ids;
  for (int i = 0; i < 20; ++i) {
    std::string body;
    const int words = 2000 + static_cast<int>(rng() % 3000);
    for (int j = 0; j < words; ++j) body += kVocabulary[rng() % kVocabulary.size()] + " ";
    ids.insert(miner.Add("summarize the following document in detail without omitting anything " + body +
                         " end of document now write the full summary with every section")
                   .cluster_id);
  }
  EXPECT_EQ(ids.size(), 1u);
}

}  // namespace
}  // namespace moat::text
