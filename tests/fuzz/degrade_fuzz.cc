// Property fuzzer for what degrade rewrites: model responses and answer
// text. Never crashes; a response either fails with an error or comes back
// as JSON; marking splits text into the same units before and after, keeps
// every byte between them, swaps only within a set, marks again to the same
// text where the 8% cap did not bind, and the detector then reads back every
// slot as a hit.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include <simdjson.h>

#include "moat/degrade/detector.h"
#include "moat/degrade/transform.h"
#include "fuzz_check.h"


namespace {

using namespace moat::degrade;

const SynonymTable& Table() {
  static const SynonymTable table = [] {
    auto t = SynonymTable::Load(DefaultSynonymsPath());
    FUZZ_CHECK(t.ok());
    return std::move(t).value();
  }();
  return table;
}

void CheckMarking(const std::string& text) {
  static const WatermarkKey key("fuzz", std::string(32, '\x5a'), true);
  const Watermarker marker(Table());
  std::string marked;
  MarkStats stats;
  marker.Mark(text, key, marked, &stats);
  FUZZ_CHECK(stats.changed <= stats.eligible);
  FUZZ_CHECK(stats.changed <= 0.08 * static_cast<double>(stats.words));
  std::vector<OwnedUnit> a, b;
  marker.Units(text, a);
  marker.Units(marked, b);
  if (stats.capped != 0) return;  // past the cap later contexts may differ, by design
  FUZZ_CHECK(a.size() == b.size());
  size_t in_at = 0, out_at = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    FUZZ_CHECK(text.compare(in_at, a[i].begin - in_at, marked, out_at, b[i].begin - out_at) == 0);
    in_at = a[i].end;
    out_at = b[i].end;
    if (a[i].lower != b[i].lower) FUZZ_CHECK(a[i].set >= 0 && a[i].set == b[i].set);
  }
  FUZZ_CHECK(text.compare(in_at, std::string::npos, marked, out_at, std::string::npos) == 0);
  std::string again;
  marker.Mark(marked, key, again);
  FUZZ_CHECK(again == marked);
  Detector detector(marker, {&key});
  detector.Add(marked);
  const Detection d = detector.Finish();
  FUZZ_CHECK(d.per_key[0].counts.hits == d.slots);
}

void CheckTransform(const std::string& body) {
  static const Transformer transformer = [] {
    std::vector<WatermarkKey> keys;
    keys.emplace_back("fuzz", std::string(32, '\x5a'), true);
    auto t = Transformer::Create(Table(), KeyRing(std::move(keys)));
    FUZZ_CHECK(t.ok());
    return std::move(t).value();
  }();
  for (Mode mode : {Mode::kWithholdReasoning, Mode::kWatermark, Mode::kWithholdAndWatermark}) {
    auto out = transformer.Transform(body, mode);
    if (!out.ok()) continue;
    simdjson::dom::parser parser;
    simdjson::dom::element e;
    FUZZ_CHECK(!parser.parse(out.value()).get(e));
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string input(reinterpret_cast<const char*>(data), size);
  CheckMarking(input);
  CheckTransform(input);
  return 0;
}
