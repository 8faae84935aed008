// End to end on a small simulated world: scan, export, and check that the
// bundle validates against the STIX 2.1 JSON schemas and carries none of the
// input's prompts, addresses, account ids or e-mail domains.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "moat/engine/engine.h"
#include "moat/ingest/ingest.h"
#include "moat/intel/bundle.h"
#include "moat/intel/matcher.h"
#include "small_world.h"

namespace moat::intel {
namespace {

namespace fs = std::filesystem;

struct World {
  testing::SmallWorld base;
  std::string scan, bundle;
  CoalitionKey key = KeyFromPassphrase("world-k1", "world test");
  size_t indicators = 0;
};

// The shared small world, scanned and exported once for every test here.
const World& TheWorld() {
  static const World w = [] {
    World w;
    w.base = testing::TheSmallWorld("intel_world");
    const std::string& log = w.base.log;
    w.scan = w.base.dir + "/scan";
    fs::create_directories(w.scan);
    engine::Engine engine{score::DetectorConfig{}};
    ingest::Quarantine discard;
    const auto report = ingest::ReadAll({log}, ingest::IngestOptions{}, discard, engine);
    EXPECT_TRUE(report.errors.empty());
    engine.Finish();
    EXPECT_TRUE(engine.WriteVerdicts(w.scan).ok());
    ExportOptions o;
    o.producer = "provider-a";
    o.max_per_kind = 8;  // the schema validator takes ~50 ms per object
    auto collected = Collect(w.scan, {log}, w.key, o);
    EXPECT_TRUE(collected.ok()) << collected.status().message();
    if (!collected.ok()) return w;
    for (const auto& c : collected.value().campaigns) w.indicators += c.indicators.size();
    const std::string bundle = BuildBundle(collected.value().campaigns, w.key, o);
    const Status guard = CheckBundle(bundle, collected.value().raw);
    EXPECT_TRUE(guard.ok()) << guard.message();
    w.bundle = w.base.dir + "/bundle.json";
    std::ofstream(w.bundle) << bundle;
    return w;
  }();
  return w;
}

std::string Slurp(const std::string& path) {
  std::ifstream in(path);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

TEST(IntelWorld, ExportsIndicatorsOfTheCampaigns) {
  const World& w = TheWorld();
  EXPECT_GT(w.indicators, 0u);
  const std::string b = Slurp(w.bundle);
  EXPECT_NE(b.find("\"type\":\"campaign\""), std::string::npos);
  EXPECT_NE(b.find("\"type\":\"indicator\""), std::string::npos);
  // Indicators reference the extension-definition published beside the bundle.
  const std::string env = ExtensionDefinitionEnvelope();
  const size_t at = env.find("extension-definition--");
  const std::string ext_id = env.substr(at, env.find('"', at) - at);
  EXPECT_NE(b.find("\"" + ext_id + "\":{\"extension_type\":\"property-extension\""), std::string::npos);
}

TEST(IntelWorld, BundleValidatesAgainstStixSchemas) {
  const World& w = TheWorld();
  const std::string tool = MOAT_SHARED_DIR "/tools/stix_validate.py";
  if (!fs::exists(tool)) GTEST_SKIP() << "no " << tool;
  // The tool runs under its own interpreter line (Debian's python3 with
  // python3-jsonschema), whatever python3 comes first on PATH.
  if (std::system("/usr/bin/python3 -c 'import jsonschema' 2>/dev/null") != 0) GTEST_SKIP() << "no python3-jsonschema";
  const std::string cmd = tool + " " + w.bundle + " > " + w.base.dir + "/validate.txt 2>&1";
  const int rc = std::system(cmd.c_str());
  EXPECT_EQ(rc, 0) << Slurp(w.base.dir + "/validate.txt");
}

TEST(IntelWorld, BundleHoldsNoRawValueOfTheInput) {
  const World& w = TheWorld();
  ASSERT_GT(w.base.accounts.size(), 100u);
  const std::string b = Slurp(w.bundle);
  for (const std::string& v : w.base.raw) ASSERT_EQ(b.find(v), std::string::npos) << "leaked: " << v;
  EXPECT_EQ(b.find('@'), std::string::npos);
}

TEST(IntelWorld, OwnTrafficMatchesOwnIndicators) {
  const World& w = TheWorld();
  auto parsed = ParseIndicators(Slurp(w.bundle));
  ASSERT_TRUE(parsed.ok()) << parsed.status().message();
  ASSERT_FALSE(parsed.value().empty());
  IndicatorMatcher m({w.key}, parsed.value());
  PartnerEvidenceSource src(m);
  class Feed : public ExchangeSink {
   public:
    explicit Feed(PartnerEvidenceSource& s) : s_(s) {}
    void Consume(std::span<const Exchange> batch) override {
      for (const Exchange& x : batch) s_.Observe(x);
    }
    PartnerEvidenceSource& s_;
  } feed(src);
  ingest::Quarantine discard;
  (void)ingest::ReadAll({w.base.log}, ingest::IngestOptions{}, discard, feed);
  EXPECT_GE(src.matched_accounts(), 3u);
}

}  // namespace
}  // namespace moat::intel
