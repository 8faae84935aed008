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

TEST(SynonymTable, RefusesGuardsThatMarkingCouldFlip) {
  // A guard naming "big" but not "large": marking the next word could flip it.
  const auto partial = SynonymTable::Parse("ADJ\tbig,large\nADV\tso,thus\tafter=big\n", "syn.tsv");
  ASSERT_FALSE(partial.ok());
  EXPECT_NE(partial.status().message().find("syn.tsv:2"), std::string::npos) << partial.status().message();
  EXPECT_TRUE(SynonymTable::Parse("ADJ\tbig,large\nADV\tso,thus\tafter=big|large\n", "s").ok());
  // "it is" before "is not" must not be able to swallow the "is".
  const auto overlap = SynonymTable::Parse("AUX\tit is,it's\nAUX\tis not,isn't\n", "syn.tsv");
  ASSERT_FALSE(overlap.ok());
  EXPECT_NE(overlap.status().message().find("after!=not"), std::string::npos) << overlap.status().message();
  EXPECT_TRUE(SynonymTable::Parse("AUX\tit is,it's\tafter!=not\nAUX\tis not,isn't\n", "s").ok());
  // A one-word member inside a phrase where both could fit.
  EXPECT_FALSE(SynonymTable::Parse("ADJ\ttotal,combined\nADV\taltogether,in total\n", "s").ok());
  EXPECT_TRUE(SynonymTable::Parse("ADJ\ttotal,combined\tafter=cost\nADV\taltogether,in total\tafter=END\n", "s").ok());
  // Bad guard syntax, unknown class or token, bad member shapes.
  EXPECT_FALSE(SynonymTable::Parse("ADV\tso,thus\tafter~big\n", "s").ok());
  EXPECT_FALSE(SynonymTable::Parse("ADV\tso,thus\tafter=@nope\n", "s").ok());
  EXPECT_FALSE(SynonymTable::Parse("ADV\tso,thus\tafter=Big\n", "s").ok());
  EXPECT_FALSE(SynonymTable::Parse("AUX\tdo  not,don't\n", "s").ok());
  EXPECT_FALSE(SynonymTable::Parse("AUX\tdo not x,don't\n", "s").ok());
  EXPECT_FALSE(SynonymTable::Parse("ADV\tso[before=START,thus\n", "s").ok());
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

// Text around every kind of member: words, two-word phrases, contractions
// with straight and curly apostrophes, guarded words in and out of place.
std::string MixedAnswer() {
  std::string text = testing::DilutedAnswer();
  for (const char* s :
       {"I don't think it is hard, and you are right that it's simple.", "So he needs 5 more pencils.",
        "They will need to buy 3 boxes per day.", "The total cost is $40 in total.",
        "We can\xE2\x80\x99t stop now: there is no time, but I\xE2\x80\x99m sure we'll find the answer.",
        "Do not worry; she has 4 apples left.", "Then she ate 2 and had to wait about 3 hours, twice a week."})
    text += std::string(s) + " The report lists the figures by month of the year in one table. One row shows one month. ";
  return text;
}

TEST(Watermark, ChangesOnlyLettersOfSetWordsAndKeepsTheirPartOfSpeech) {
  const Watermarker marker(Synonyms());
  size_t phrase_or_contraction_changes = 0;
  for (uint8_t fill = 1; fill < 40; ++fill) {
    const WatermarkKey key = TestKey("k", fill);
    const std::string in = MixedAnswer();
    MarkStats stats;
    const std::string out = Mark(in, key, &stats);
    ASSERT_NE(out, in);
    EXPECT_GT(stats.changed, 0u);
    EXPECT_LE(stats.changed, stats.eligible);
    // Unit by unit: the text splits the same way before and after, every
    // change stays within one synonym set, and the case of the first
    // letter is kept.
    std::vector<OwnedUnit> a, b;
    marker.Units(in, a);
    marker.Units(out, b);
    ASSERT_EQ(a.size(), b.size());
    size_t changed = 0, copied_in = 0, copied_out = 0;
    std::string between_in, between_out;
    for (size_t i = 0; i < a.size(); ++i) {
      between_in += in.substr(copied_in, a[i].begin - copied_in);
      between_out += out.substr(copied_out, b[i].begin - copied_out);
      copied_in = a[i].end;
      copied_out = b[i].end;
      if (a[i].lower == b[i].lower) {
        EXPECT_EQ(in.substr(a[i].begin, a[i].end - a[i].begin), out.substr(b[i].begin, b[i].end - b[i].begin));
        continue;
      }
      ++changed;
      ASSERT_GE(a[i].set, 0) << a[i].lower;
      EXPECT_EQ(a[i].set, b[i].set) << a[i].lower << " -> " << b[i].lower;
      EXPECT_EQ(std::isupper(static_cast<unsigned char>(in[a[i].begin])) != 0,
                std::isupper(static_cast<unsigned char>(out[b[i].begin])) != 0);
      phrase_or_contraction_changes += a[i].lower.find_first_of(" '") != std::string::npos;
    }
    // Everything between the units (spacing, punctuation, digits) is kept.
    EXPECT_EQ(between_in + in.substr(copied_in), between_out + out.substr(copied_out));
    EXPECT_EQ(changed, stats.changed);
    // No invisible or new non-ASCII characters: the only multibyte text is
    // the curly apostrophe the input already uses.
    size_t curly_in = 0, curly_out = 0;
    for (size_t at = in.find("\xE2\x80\x99"); at != std::string::npos; at = in.find("\xE2\x80\x99", at + 1)) ++curly_in;
    for (size_t at = out.find("\xE2\x80\x99"); at != std::string::npos; at = out.find("\xE2\x80\x99", at + 1)) ++curly_out;
    size_t non_ascii_out = 0;
    for (unsigned char c : out) non_ascii_out += c >= 0x80;
    EXPECT_EQ(non_ascii_out, 3 * curly_out);
    EXPECT_LE(curly_out, curly_in + 8);
  }
  EXPECT_GT(phrase_or_contraction_changes, 0u);
}

TEST(Watermark, ContractionsAndPhrasesSwapOnlyWhereTheyRead) {
  const Watermarker marker(Synonyms());
  const auto eligible = [&](std::string_view text) {
    std::vector<SlotObservation> obs;
    marker.Observe(text, obs);
    std::vector<std::string> sets;
    for (const SlotObservation& o : obs) sets.push_back(Synonyms().set(o.set).words.front());
    return sets;
  };
  EXPECT_EQ(eligible("Yes, I don't like it."), (std::vector<std::string>{"do not"}));
  EXPECT_EQ(eligible("Yes, I don\xE2\x80\x99t like it."), (std::vector<std::string>{"do not"}));
  // An inverted question would read "Do not you": not eligible.
  EXPECT_TRUE(eligible("Don't you like it?").empty());
  // "it's" before "been" means "it has"; at a clause end "it's" cannot stand.
  EXPECT_TRUE(eligible("Well it's been long.").empty());
  EXPECT_TRUE(eligible("I know what it is.").empty());
  EXPECT_EQ(eligible("Well it is long."), (std::vector<std::string>{"it is"}));
  // "it is not" reads as "it" + "is not", never "it is" + "not".
  EXPECT_EQ(eligible("Well it is not long."), (std::vector<std::string>{"is not"}));
  // "so" only at the start of a clause, before a subject; "may" only lower-case.
  EXPECT_EQ(eligible("Fine. So he left."), (std::vector<std::string>{"therefore"}));
  EXPECT_TRUE(eligible("I think so.").empty());
  EXPECT_TRUE(eligible("Fine. In May we met.").empty());
  // Units: "per" only after an amount; "a"/"an" by the next word's sound.
  EXPECT_EQ(eligible("It costs $5 per hour."), (std::vector<std::string>{"per"}));
  EXPECT_TRUE(eligible("As per your request.").empty());

  // Shape and apostrophe style survive in both directions.
  size_t expanded = 0, contracted = 0;
  for (uint8_t fill = 1; fill < 40; ++fill) {
    const WatermarkKey key = TestKey("k", fill);
    // Long enough that the 8% cap allows these changes.
    const std::string a = Mark("Well, DON\xE2\x80\x99T panic. You\xE2\x80\x99re fine, we are told. The report lists the figures "
                               "for each month of the year in one table, and the last row shows the year.",
                               key);
    EXPECT_TRUE(a.find("DON\xE2\x80\x99T panic") != std::string::npos || a.find("DO NOT panic") != std::string::npos) << a;
    EXPECT_TRUE(a.find("You\xE2\x80\x99re fine") != std::string::npos || a.find("You are fine") != std::string::npos) << a;
    EXPECT_TRUE(a.find("we are told") != std::string::npos || a.find("we\xE2\x80\x99re told") != std::string::npos) << a;
    EXPECT_EQ(a.find("we're"), std::string::npos) << "a new contraction uses the text's own apostrophe: " << a;
    expanded += a.find("DO NOT") != std::string::npos;
    contracted += a.find("we\xE2\x80\x99re") != std::string::npos;
  }
  EXPECT_GT(expanded, 0u);
  EXPECT_GT(contracted, 0u);
}

TEST(Watermark, MarkedTextReadsBackAsTheSameSlots) {
  // The marker decides before later words change, the detector after; with
  // phrases, contractions and guards both must still see the same slots.
  const Watermarker marker(Synonyms());
  for (uint8_t fill = 1; fill < 40; ++fill) {
    const WatermarkKey key = TestKey("k", fill);
    const std::string text = MixedAnswer();
    MarkStats stats;
    const std::string once = Mark(text, key, &stats);
    ASSERT_EQ(stats.capped, 0u) << "the 8% cap bound: this test needs text as sparse as real answers";
    const std::string twice = Mark(once, key);
    if (twice != once) {
      size_t at = 0;
      while (at < once.size() && once[at] == twice[at]) ++at;
      ADD_FAILURE() << "marking marked text changed it at: ..." << once.substr(at < 60 ? 0 : at - 60, 120);
    }
    const Detection d = Detect(once, {&key});
    EXPECT_EQ(d.per_key[0].counts.hits, d.slots);
  }
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

TEST(Detector, ReferenceCorrectedTestIsHonestAndFindsTheMark) {
  // Null: text and reference fixed, key random; the reference-corrected
  // p-value must not fall below alpha more often than alpha.
  const Watermarker marker(Synonyms());
  const std::string text = MixedAnswer(), reference = LongAnswer() + " " + testing::DilutedAnswer();
  ReferenceCounts counts(marker);
  counts.Add(reference);
  size_t below = 0;
  for (uint64_t seed = 1; seed <= 1000; ++seed) {
    const KeyRing ring = ExperimentKeys(seed, 1);
    Detector d(marker, ring.Active());
    d.UseReference(&counts);
    d.Add(text);
    const Detection r = d.Finish();
    ASSERT_TRUE(r.has_reference);
    below += r.reference_p < 0.05;
  }
  EXPECT_LE(below, 1000 * 0.05 * 1.4);
  EXPECT_GE(below, 1000 * 0.05 * 0.5);
  // Marked text against the unmarked reference.
  const WatermarkKey key = TestKey("marker", 9);
  ReferenceCounts unmarked(marker);
  unmarked.Add(text);
  Detector d(marker, {&key});
  d.UseReference(&unmarked);
  d.Add(Mark(text, key));
  EXPECT_LT(d.Finish().reference_p, 1e-4);
  Detector plain(marker, {&key});
  plain.Add(text);
  EXPECT_FALSE(plain.Finish().has_reference);
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
