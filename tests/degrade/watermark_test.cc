// The lexical watermark: what marking may change, what it must keep, and
// that detection is honest on unmarked text and sure on marked text.
#include <cmath>

#include <gtest/gtest.h>

#include "moat/degrade/detector.h"
#include "moat/degrade/stats.h"
#include "test_util.h"

namespace moat::degrade {
namespace {

using testing::LongAnswer;
using testing::Synonyms;

WatermarkKey TestKey(const char* id, uint8_t fill) { return WatermarkKey(id, std::string(32, static_cast<char>(fill)), true); }

std::string Mark(std::string_view text, const WatermarkKey& key, MarkStats* stats = nullptr) {
  std::string out;
  Watermarker(Synonyms()).Mark(text, key, out, stats);
  return out;
}

Detection Detect(std::string_view text, std::vector<const WatermarkKey*> keys) {
  const Watermarker marker(Synonyms());
  Detector d(marker, std::move(keys));
  d.Add(text);
  return d.Finish();
}

TEST(SynonymTable, RepositoryFileIsValidAndSetsShareAPartOfSpeech) {
  const SynonymTable& t = Synonyms();
  EXPECT_GT(t.size(), 100u);
  for (size_t i = 0; i < t.size(); ++i) {
    const SynonymSet& s = t.set(static_cast<uint32_t>(i));
    ASSERT_GE(s.words.size(), 2u);
    ASSERT_LE(s.words.size(), kMaxSetSize);
    for (uint32_t m = 0; m < s.words.size(); ++m) {
      const WordRef* ref = t.Find(s.words[m]);
      ASSERT_NE(ref, nullptr);
      EXPECT_EQ(ref->set, i);
      EXPECT_EQ(ref->member, m);
    }
  }
}

TEST(SynonymTable, RejectsBadLinesNamingTheLine) {
  const auto dup = SynonymTable::Parse("ADJ\tbig,large\nADJ\thuge,big\n", "syn.tsv");
  ASSERT_FALSE(dup.ok());
  EXPECT_NE(dup.status().message().find("syn.tsv:2"), std::string::npos);
  EXPECT_NE(dup.status().message().find("'big'"), std::string::npos);
  EXPECT_FALSE(SynonymTable::Parse("XYZ\tbig,large\n", "s").ok());
  EXPECT_FALSE(SynonymTable::Parse("ADJ\tbig\n", "s").ok());
  EXPECT_FALSE(SynonymTable::Parse("ADJ\tBig,large\n", "s").ok());
  EXPECT_FALSE(SynonymTable::Parse("ADJ\ta,b,c,d,e\n", "s").ok());
  EXPECT_FALSE(SynonymTable::Parse("# only a comment\n", "s").ok());
  EXPECT_TRUE(SynonymTable::Parse("# c\n\nADJ\tbig,large\r\n", "s").ok());
}

TEST(KeyRing, ParsesRotationAndRejectsBadKeys) {
  const std::string hex(64, 'a');
  auto ring = KeyRing::Parse("{\"id\":\"old\",\"secret\":\"" + hex + "\",\"active\":true}\n"
                             "{\"id\":\"leaked\",\"secret\":\"" + hex + "\",\"active\":false}\n"
                             "{\"id\":\"new\",\"secret\":\"" + std::string(32, 'b') + "\"}\n",
                             "keys.jsonl");
  ASSERT_TRUE(ring.ok()) << ring.status().message();
  EXPECT_EQ(ring.value().keys().size(), 3u);
  ASSERT_EQ(ring.value().Active().size(), 2u);
  EXPECT_EQ(ring.value().MarkingKey()->id(), "new");

  const auto short_secret = KeyRing::Parse("{\"id\":\"k\",\"secret\":\"abcd\"}", "keys.jsonl");
  ASSERT_FALSE(short_secret.ok());
  EXPECT_NE(short_secret.status().message().find("keys.jsonl:1"), std::string::npos);
  EXPECT_FALSE(KeyRing::Parse("{\"id\":\"k\",\"secret\":\"" + std::string(31, 'a') + "z\"}", "k").ok());
  EXPECT_FALSE(KeyRing::Parse("{\"id\":\"k\",\"secret\":\"" + hex + "\",\"active\":1}", "k").ok());
  EXPECT_FALSE(KeyRing::Parse("{\"id\":\"k\",\"secret\":\"" + hex + "\"}\n{\"id\":\"k\",\"secret\":\"" + hex + "\"}",
                              "k").ok());
  EXPECT_FALSE(KeyRing::Parse("not json", "k").ok());
  // A fresh key line parses back.
  EXPECT_TRUE(KeyRing::Parse(NewKeyLine("fresh"), "k").ok());
}

TEST(Watermark, ChangesOnlyLettersOfSetWordsAndKeepsTheirPartOfSpeech) {
  const WatermarkKey key = TestKey("k", 1);
  const std::string in = LongAnswer();
  MarkStats stats;
  const std::string out = Mark(in, key, &stats);
  ASSERT_NE(out, in);
  EXPECT_GT(stats.changed, 0u);
  EXPECT_LE(stats.changed, stats.eligible);
  // Same non-letter bytes in the same order: spacing, punctuation, digits.
  std::string skeleton_in, skeleton_out;
  for (char c : in)
    if (!std::isalpha(static_cast<unsigned char>(c))) skeleton_in.push_back(c);
  for (char c : out)
    if (!std::isalpha(static_cast<unsigned char>(c))) skeleton_out.push_back(c);
  EXPECT_EQ(skeleton_in, skeleton_out);
  for (unsigned char c : out) EXPECT_LT(c, 0x80) << "marking must not add non-ASCII (invisible) characters";
  // Word by word: every change is within one synonym set, case shape kept.
  WordScanner a(in), b(out);
  WordSpan wa, wb;
  size_t words = 0, changed = 0;
  while (a.Next(wa)) {
    ASSERT_TRUE(b.Next(wb));
    ++words;
    const std::string x(in.substr(wa.begin, wa.end - wa.begin)), y(out.substr(wb.begin, wb.end - wb.begin));
    if (x == y) continue;
    ++changed;
    std::string lx = x, ly = y;
    for (auto& c : lx) c = static_cast<char>(std::tolower(c));
    for (auto& c : ly) c = static_cast<char>(std::tolower(c));
    const WordRef* rx = Synonyms().Find(lx);
    const WordRef* ry = Synonyms().Find(ly);
    ASSERT_NE(rx, nullptr) << x;
    ASSERT_NE(ry, nullptr) << y;
    EXPECT_EQ(rx->set, ry->set) << x << " -> " << y;
    EXPECT_EQ(std::isupper(static_cast<unsigned char>(x[0])) != 0, std::isupper(static_cast<unsigned char>(y[0])) != 0);
  }
  EXPECT_FALSE(b.Next(wb));
  EXPECT_EQ(changed, stats.changed);
  EXPECT_EQ(words, stats.words);
}

TEST(Watermark, LeavesCodeUrlsNumbersAndGluedWordsAlone) {
  const WatermarkKey key = TestKey("k", 2);
  const std::string protected_text =
      "```\nbuy = large + big\nmaybe()\n```\n"
      "Run `buy --large` now. See https://example.com/big/maybe?buy=large and www.large.org/buy.\n"
      "big_value large-scale 5big big5 buy.py kids@example.com $large <think>big</think> caf\xc3\xa9" "big\n";
  std::vector<SlotObservation> obs;
  Watermarker(Synonyms()).Observe(protected_text, obs);
  EXPECT_TRUE(obs.empty()) << obs.size() << " eligible words in protected text";
  for (uint8_t fill = 1; fill < 20; ++fill) EXPECT_EQ(Mark(protected_text, TestKey("k", fill)), protected_text);
}

TEST(Watermark, KeepsCaseShapeAndArticleAgreement) {
  // Across many keys: "Big"/"BIG" keep their shape, and after "a"/"an" only
  // a member with the same kind of first letter may appear.
  size_t title_changes = 0;
  for (uint8_t fill = 1; fill < 60; ++fill) {
    const WatermarkKey key = TestKey("k", fill);
    const std::string out = Mark("Big dogs. BIG dogs. It is an extra cost and a useful tool.", key);
    EXPECT_TRUE(out.rfind("Big dogs", 0) == 0 || out.rfind("Large dogs", 0) == 0) << out;
    EXPECT_TRUE(out.find(" BIG dogs") != std::string::npos || out.find(" LARGE dogs") != std::string::npos) << out;
    EXPECT_TRUE(out.find("an extra cost") != std::string::npos || out.find("an additional cost") != std::string::npos)
        << out;
    EXPECT_NE(out.find("a useful tool"), std::string::npos) << "'a helpful' is not allowed after 'a useful'";
    title_changes += out.rfind("Large", 0) == 0;
  }
  EXPECT_GT(title_changes, 0u);
}

TEST(Watermark, NeverChangesMoreThanItsShareOfWords) {
  // LongAnswer is far denser in synonym-set words than real answers.
  const std::string text = LongAnswer();
  for (uint8_t fill = 1; fill < 30; ++fill) {
    MarkStats stats;
    Mark(text, TestKey("k", fill), &stats);
    EXPECT_LE(stats.changed, kMaxChangedShare * stats.words);
    EXPECT_GT(stats.changed, 0u);
  }
}

TEST(Watermark, MarkingIsIdempotentOnOrdinaryText) {
  // Sentences of LongAnswer diluted with neutral ones, as in real answers:
  // marking marked text changes nothing more.
  const std::string text = testing::DilutedAnswer();
  const WatermarkKey key = TestKey("k", 3);
  MarkStats stats;
  const std::string once = Mark(text, key, &stats);
  EXPECT_LT(stats.changed, kMaxChangedShare * stats.words);
  EXPECT_EQ(Mark(once, key), once);
}

TEST(Detector, FindsTheMarkOnlyWithTheRightKey) {
  const WatermarkKey key = TestKey("marker", 4), other = TestKey("other", 5);
  const std::string marked = Mark(testing::DilutedAnswer(), key);
  const Detection hit = Detect(marked, {&key});
  EXPECT_GE(hit.slots, 25u);
  EXPECT_EQ(hit.per_key[0].counts.hits, hit.slots);
  EXPECT_LT(hit.p_value, 1e-6);
  EXPECT_GT(Detect(marked, {&other}).p_value, 1e-3);
  // Rotation: a ring holding the old key still finds text it marked, and
  // the Sidak correction costs at most a factor of the key count.
  const Detection ring = Detect(marked, {&other, &key});
  EXPECT_EQ(ring.per_key[ring.best].key_id, "marker");
  EXPECT_LE(ring.p_value, 2 * hit.p_value * 1.0000001);
}

TEST(Detector, RepeatedTextAddsNoEvidence) {
  const WatermarkKey key = TestKey("marker", 6);
  const std::string marked = Mark(testing::DilutedAnswer(), key);
  const Detection once = Detect(marked, {&key});
  std::string repeated;
  for (int i = 0; i < 20; ++i) repeated += marked + "\n";
  const Detection many = Detect(repeated, {&key});
  // The only new slot is the first word of a copy after the last of the one before.
  EXPECT_LE(many.slots, once.slots + 1);
  EXPECT_EQ(many.occurrences, 20 * once.occurrences);
  EXPECT_GE(many.p_value, once.p_value / kMaxSetSize);
}

TEST(Detector, ServedRestrictionKeepsOnlyTheServedSlots) {
  const WatermarkKey key = TestKey("marker", 7);
  const std::string marked = Mark(testing::DilutedAnswer(), key);
  const Watermarker marker(Synonyms());
  Detector all(marker, {&key}), served(marker, {&key}), elsewhere(marker, {&key});
  served.RestrictTo(ServedSlots(marker, {marked}));
  elsewhere.RestrictTo(ServedSlots(marker, {"Maybe the children bought a large car."}));
  for (Detector* d : {&all, &served, &elsewhere}) d->Add(marked);
  EXPECT_EQ(served.Finish().slots, all.Finish().slots);
  EXPECT_LE(elsewhere.Finish().slots, 4u);  // at most the served text's own four slots
  EXPECT_GT(elsewhere.Finish().slots, 0u);
}

TEST(Detector, UnmarkedTextGivesUniformPValuesOverKeys) {
  // Null: the text is fixed, the key is random. Randomized p-values must be
  // uniform and exact ones must not fall below alpha more often than alpha.
  const std::string text = LongAnswer();
  const Watermarker marker(Synonyms());
  std::vector<double> p;
  size_t below = 0;
  for (uint64_t seed = 1; seed <= 2000; ++seed) {
    const KeyRing ring = ExperimentKeys(seed, 1);
    Detector d(marker, ring.Active());
    d.Add(text);
    const Detection r = d.Finish(static_cast<double>(seed % 1000) / 1000 + 0.0005);
    p.push_back(r.p_randomized);
    below += r.p_value < 0.05;
  }
  const KsResult ks = KsUniform(p);
  EXPECT_GT(ks.p_value, 0.001) << "D=" << ks.d;
  EXPECT_LE(below, 2000 * 0.05 * 1.3);
}

TEST(Stats, UpperTailMatchesBruteForce) {
  // Poisson-binomial by direct convolution for small counts.
  for (const std::array<uint64_t, 5> slots : {std::array<uint64_t, 5>{0, 0, 7, 0, 0}, {0, 0, 5, 4, 3},
                                              {0, 0, 0, 6, 0}, {0, 0, 2, 0, 9}}) {
    std::vector<double> pmf{1.0};
    for (int k = 2; k <= 4; ++k)
      for (uint64_t i = 0; i < slots[k]; ++i) {
        std::vector<double> next(pmf.size() + 1, 0.0);
        for (size_t j = 0; j < pmf.size(); ++j) {
          next[j] += pmf[j] * (1 - 1.0 / k);
          next[j + 1] += pmf[j] / k;
        }
        pmf = next;
      }
    double tail = 0;
    for (size_t h = pmf.size(); h-- > 0;) {
      tail += pmf[h];
      EXPECT_NEAR(UpperTail(slots, h), tail, 1e-12) << "h=" << h;
    }
  }
  EXPECT_NEAR(UpperTail({0, 0, 1000, 0, 0}, 1000), std::pow(0.5, 1000), 1e-310);
}

TEST(Stats, SidakAndKs) {
  EXPECT_DOUBLE_EQ(SidakCorrect(0.01, 1), 0.01);
  EXPECT_NEAR(SidakCorrect(0.01, 2), 1 - 0.99 * 0.99, 1e-15);
  EXPECT_DOUBLE_EQ(SidakCorrect(1.0, 3), 1.0);
  std::vector<double> grid;
  for (int i = 0; i < 1000; ++i) grid.push_back((i + 0.5) / 1000);
  EXPECT_LT(KsUniform(grid).d, 0.001);
  EXPECT_GT(KsUniform(grid).p_value, 0.99);
  std::vector<double> skewed;
  for (int i = 0; i < 1000; ++i) skewed.push_back(std::pow((i + 0.5) / 1000, 2));
  EXPECT_LT(KsUniform(skewed).p_value, 1e-6);
}

}  // namespace
}  // namespace moat::degrade
