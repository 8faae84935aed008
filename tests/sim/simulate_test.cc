#include "moat/sim/simulate.h"

#include <gtest/gtest.h>
#include <simdjson.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "moat/core/time.h"
#include "moat/sim/corpora.h"

namespace moat::sim {
namespace {

namespace fs = std::filesystem;

std::string Corpora() { return std::string(MOAT_SHARED_DIR) + "/corpora"; }

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> out;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string::npos) end = text.size();
    out.push_back(text.substr(pos, end - pos));
    pos = end + 1;
  }
  return out;
}

class SimTest : public ::testing::Test {
 protected:
  static std::string Dir(const std::string& name) {
    return (fs::temp_directory_path() / ("moat_sim_test_" + std::to_string(::getpid()) + "_" + name)).string();
  }
  static SimSummary Run(const std::string& scenario, double scale, uint64_t seed, const std::string& out) {
    SimOptions o;
    o.scenario = scenario;
    o.scale = scale;
    o.seed = seed;
    o.days = 3;
    o.corpora_dir = Corpora();
    o.out_dir = out;
    auto r = Simulate(o);
    EXPECT_TRUE(r.ok()) << r.status().message();
    return r.ok() ? r.value() : SimSummary{};
  }
};

TEST_F(SimTest, SameSeedSameBytesDifferentSeedDifferentBytes) {
  const std::string a = Dir("det_a"), b = Dir("det_b"), c = Dir("det_c");
  Run("seed", 0.05, 7, a);
  Run("seed", 0.05, 7, b);
  Run("seed", 0.05, 8, c);
  const std::string la = ReadAll(a + "/log.jsonl");
  ASSERT_FALSE(la.empty());
  EXPECT_EQ(la, ReadAll(b + "/log.jsonl"));
  EXPECT_EQ(ReadAll(a + "/truth.jsonl"), ReadAll(b + "/truth.jsonl"));
  EXPECT_NE(la, ReadAll(c + "/log.jsonl"));
  for (const auto& d : {a, b, c}) fs::remove_all(d);
}

struct Parsed {
  std::map<std::string, std::string> label, population;  // from truth
  std::map<std::string, uint64_t> lines_per_account;
  std::map<std::string, std::set<std::string>> payments_by_org;
  std::map<std::string, std::set<std::string>> payments_by_account;
  std::map<std::string, std::set<std::string>> accounts_by_payment;
  std::map<std::string, std::set<std::string>> first_prompt_accounts;  // benign chat turn 0
  uint64_t first_prompts = 0;
};

// Validates every line against spec/exchange-log.md and collects facts.
void ParseAndValidate(const std::string& dir, Parsed& p) {
  for (const auto& line : Lines(ReadAll(dir + "/truth.jsonl"))) {
    simdjson::dom::parser parser;
    simdjson::dom::element e;
    ASSERT_FALSE(parser.parse(line).get(e)) << line;
    std::string_view id, label, pop;
    ASSERT_FALSE(e["account_id"].get(id));
    ASSERT_FALSE(e["label"].get(label));
    ASSERT_FALSE(e["population"].get(pop));
    ASSERT_EQ(p.label.count(std::string(id)), 0u) << "account twice in truth: " << id;
    p.label[std::string(id)] = std::string(label);
    p.population[std::string(id)] = std::string(pop);
    EXPECT_EQ(label == "benign", pop != "extractor") << line;
  }
  simdjson::dom::parser parser;
  EventTime newest = 0;
  uint64_t n = 0;
  const std::vector<std::string> strings = {"request_id", "org_id", "api_key_id", "ip", "country", "user_agent",
                                            "tls_fingerprint", "payment_fingerprint", "email_domain", "model",
                                            "conversation_id", "system_prompt", "prompt"};
  const std::vector<std::string> ints = {"asn", "turn", "input_tokens", "output_tokens", "reasoning_tokens", "max_tokens", "status"};
  for (const auto& line : Lines(ReadAll(dir + "/log.jsonl"))) {
    ++n;
    simdjson::dom::element e;
    ASSERT_FALSE(parser.parse(line).get(e)) << "line " << n << " is not JSON";
    std::string_view ts, account, created;
    ASSERT_FALSE(e["ts"].get(ts)) << line;
    ASSERT_FALSE(e["account_id"].get(account)) << line;
    const auto t = ParseRfc3339(ts);
    ASSERT_TRUE(t.has_value()) << ts;
    if (!e["account_created"].get(created)) {
      const auto c = ParseRfc3339(created);
      ASSERT_TRUE(c.has_value()) << created;
      EXPECT_LE(*c, *t) << "account used before it was created: " << line.substr(0, 200);
    }
    // Lateness bound of the spec: never more than 5 minutes older than the newest line.
    EXPECT_GE(*t, newest - 5 * kMicrosPerMinute) << "line " << n;
    newest = std::max(newest, *t);
    for (const auto& k : strings) {
      auto f = e[k];
      if (f.error() == simdjson::NO_SUCH_FIELD) continue;
      ASSERT_TRUE(f.is_string()) << k << " in " << line.substr(0, 200);
    }
    for (const auto& k : ints) {
      auto f = e[k];
      if (f.error() == simdjson::NO_SUCH_FIELD) continue;
      ASSERT_TRUE(f.is_int64()) << k;
    }
    auto temp = e["temperature"];
    if (temp.error() != simdjson::NO_SUCH_FIELD) {
      ASSERT_TRUE(temp.is_number());
    }
    int64_t in = 0, out = 0, reasoning = 0;
    if (!e["input_tokens"].get(in) && !e["output_tokens"].get(out)) {
      EXPECT_GE(in, 0);
      EXPECT_GE(out, 0);
      if (!e["reasoning_tokens"].get(reasoning)) {
        EXPECT_LE(reasoning, out);
      }
    }
    const std::string acct(account);
    ++p.lines_per_account[acct];
    std::string_view org, pay;
    if (!e["payment_fingerprint"].get(pay)) {
      p.payments_by_account[acct].insert(std::string(pay));
      p.accounts_by_payment[std::string(pay)].insert(acct);
      if (!e["org_id"].get(org) && p.population[acct] == "small-team") p.payments_by_org[std::string(org)].insert(std::string(pay));
    }
    const std::string& pop = p.population[acct];
    int64_t turn = -1;
    std::string_view prompt;
    if ((pop == "light-chat" || pop == "heavy-chat" || pop == "small-team") && !e["turn"].get(turn) && turn == 0 &&
        !e["prompt"].get(prompt) && prompt.size() >= 40) {
      p.first_prompt_accounts[std::string(prompt)].insert(acct);
      ++p.first_prompts;
    }
  }
  EXPECT_GT(n, 0u);
}

TEST_F(SimTest, SeedLogIsValidOrderedAndMatchesTruth) {
  const std::string dir = Dir("seed");
  const SimSummary s = Run("seed", 0.1, 1, dir);
  Parsed p;
  ParseAndValidate(dir, p);
  // Every account in the log appears exactly once in truth, and vice versa.
  EXPECT_EQ(p.lines_per_account.size(), p.label.size());
  for (const auto& [acct, n] : p.lines_per_account) EXPECT_EQ(p.label.count(acct), 1u) << acct;
  for (const auto& [acct, label] : p.label) EXPECT_EQ(p.lines_per_account.count(acct), 1u) << acct;
  EXPECT_EQ(s.accounts, p.label.size());
  // Every population and campaign is present.
  std::set<std::string> pops, labels;
  for (const auto& [acct, pop] : p.population) pops.insert(pop);
  for (const auto& [acct, label] : p.label) labels.insert(label);
  for (const char* pop : {"light-chat", "heavy-chat", "small-team", "app-builder", "enterprise-batch", "eval-researcher",
                          "llm-judge", "extractor"})
    EXPECT_EQ(pops.count(pop), 1u) << pop;
  for (const char* label : {"benign", "hydra", "cot-harvest", "censorship-rewrite", "trace-pullers"})
    EXPECT_EQ(labels.count(label), 1u) << label;
  // Small teams share one payment instrument per org.
  EXPECT_FALSE(p.payments_by_org.empty());
  for (const auto& [org, pays] : p.payments_by_org) EXPECT_EQ(pays.size(), 1u) << org;
  // Hydra reuses cards across many accounts.
  size_t max_hydra_card = 0;
  for (const auto& [pay, accts] : p.accounts_by_payment) {
    size_t hydra = 0;
    for (const auto& a : accts) hydra += p.label[a] == "hydra";
    max_hydra_card = std::max(max_hydra_card, hydra);
  }
  EXPECT_GE(max_hydra_card, 5u);
  fs::remove_all(dir);
}

TEST_F(SimTest, BenignHasNoCampaignAndLowVerbatimRepetition) {
  const std::string dir = Dir("benign");
  Run("benign", 0.2, 3, dir);
  Parsed p;
  ParseAndValidate(dir, p);
  for (const auto& [acct, label] : p.label) ASSERT_EQ(label, "benign") << acct;
  // Opening prompts of unrelated chat users: how many are shared verbatim
  // with another account. Shared "act as" prompts from the awesome-prompts
  // list do get pasted verbatim in real traffic, so the bound is not zero.
  uint64_t shared = 0;
  for (const auto& [prompt, accts] : p.first_prompt_accounts)
    if (accts.size() > 1) shared += accts.size();
  ASSERT_GT(p.first_prompts, 500u);
  const double share = static_cast<double>(shared) / static_cast<double>(p.first_prompts);
  RecordProperty("shared_first_prompt_share", std::to_string(share));
  EXPECT_LT(share, 0.15);
  fs::remove_all(dir);
}

TEST_F(SimTest, EvasiveCampaignsUseUniquePaymentInstruments) {
  for (const std::string scenario : {"evasive-lowslow", "evasive-blend"}) {
    const std::string dir = Dir(scenario);
    const SimSummary s = Run(scenario, 0.1, 5, dir);
    Parsed p;
    ParseAndValidate(dir, p);
    const std::string campaign = scenario;
    uint64_t campaign_accounts = 0;
    std::set<std::string> seen;
    for (const auto& [acct, label] : p.label) {
      EXPECT_TRUE(label == "benign" || label == campaign) << label;
      if (label != campaign) continue;
      ++campaign_accounts;
      ASSERT_EQ(p.payments_by_account[acct].size(), 1u);
      const std::string& pay = *p.payments_by_account[acct].begin();
      EXPECT_TRUE(seen.insert(pay).second) << "card reused in " << scenario;
      EXPECT_EQ(p.accounts_by_payment[pay].size(), 1u);
    }
    EXPECT_GE(campaign_accounts, 4u) << scenario;
    EXPECT_EQ(s.accounts_by_label.at(campaign), campaign_accounts);
    fs::remove_all(dir);
  }
}

TEST_F(SimTest, MissingCorporaIsAnErrorNamingThePath) {
  SimOptions o;
  o.corpora_dir = "/nonexistent/corpora";
  o.out_dir = Dir("missing");
  auto r = Simulate(o);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("/nonexistent/corpora"), std::string::npos) << r.status().message();
  o.scenario = "nope";
  o.corpora_dir = Corpora();
  r = Simulate(o);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("nope"), std::string::npos);
}

TEST(SimCorpora, MissingFileIsNamed) {
  // A corpora folder with one file missing: copy nothing, point at an empty dir.
  const std::string dir = (fs::temp_directory_path() / ("moat_sim_empty_" + std::to_string(::getpid()))).string();
  fs::create_directories(dir);
  auto r = LoadCorpora(dir);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find(dir + "/arena-hard-v0.1/question.jsonl"), std::string::npos) << r.status().message();
  fs::remove_all(dir);
}

TEST(SimCorpora, PythonDictLiteralParser) {
  std::vector<std::pair<double, double>> out;
  ASSERT_TRUE(ParseNumberDictLiteral("{45: 0.5, 46: 2e-05, 0.25: 1}", out));
  ASSERT_EQ(out.size(), 3u);
  EXPECT_EQ(out[1].first, 46);
  EXPECT_DOUBLE_EQ(out[1].second, 2e-05);
  EXPECT_DOUBLE_EQ(out[2].first, 0.25);
  out.clear();
  EXPECT_TRUE(ParseNumberDictLiteral("{}", out));
  EXPECT_FALSE(ParseNumberDictLiteral("{1: __import__('os')}", out));
  EXPECT_FALSE(ParseNumberDictLiteral("[1, 2]", out));
  EXPECT_FALSE(ParseNumberDictLiteral("{1: 2", out));
}

TEST(SimCorpora, LoadsRealCorpora) {
  auto r = LoadCorpora(Corpora());
  ASSERT_TRUE(r.ok()) << r.status().message();
  const auto& c = r.value();
  EXPECT_EQ(c.arena.size(), 500u);
  EXPECT_EQ(c.nq.size(), 3610u);
  EXPECT_EQ(c.gsm8k_test.size(), 1319u);
  EXPECT_EQ(c.bbh.size(), 27u);
  EXPECT_EQ(c.mmlu_subjects.size(), 57u);
  EXPECT_EQ(c.judge.size(), 8u);
  EXPECT_GT(c.hh_human.size(), 2000u);
  EXPECT_GT(c.servegen.size(), 10u);
  EXPECT_GT(c.servegen_reason_ratio.Mean(), 0.2);
  EXPECT_LT(c.servegen_reason_ratio.Mean(), 1.0);
}

}  // namespace
}  // namespace moat::sim
