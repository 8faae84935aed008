// moat serve's routes end to end over loopback HTTP: decide and ext_authz
// contracts, ingest with per-line errors, admin auth and overrides, policy
// reload, metrics format, and a restart that resumes from the journal.
#include "moat/serve/service.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>

#include "moat/serve/http_client.h"
#include "moat/serve/http_server.h"
#include "moat/serve/journal.h"

namespace moat::serve {
namespace {

namespace fs = std::filesystem;
using Headers = std::vector<std::pair<std::string, std::string>>;

constexpr char kToken[] = "test-admin-token-0123456789";

std::string Line(const std::string& account, const std::string& ts, const std::string& rid) {
  return R"({"ts":")" + ts + R"(","account_id":")" + account + R"(","request_id":")" + rid +
         R"(","ip":"10.0.0.1","model":"m1","prompt":"hello there","output_tokens":10})";
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

class ServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("moat_serve_test_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    policy_path_ = (dir_ / "policy.toml").string();
    std::ofstream(policy_path_) << "";
  }
  void TearDown() override {
    Stop();
    fs::remove_all(dir_);
  }

  void Start(ClockMode clock = ClockMode::kEvent) {
    ServiceOptions o;
    o.data_dir = (dir_ / "data").string();
    o.policy_path = policy_path_;
    o.admin_token = kToken;
    o.clock = clock;
    auto s = Service::Open(o);
    ASSERT_TRUE(s.ok()) << s.status().message();
    service_ = std::move(s).value();
    server_ = std::make_unique<HttpServer>(ServerOptions{});
    service_->Mount(*server_);
    ASSERT_TRUE(server_->Start().ok());
    auto c = HttpClient::Connect({"127.0.0.1", server_->port()});
    ASSERT_TRUE(c.ok()) << c.status().message();
    client_ = std::move(c).value();
  }
  void Stop() {
    client_.reset();
    if (server_) server_->Stop();
    server_.reset();
    service_.reset();
  }

  ClientResponse Call(const std::string& method, const std::string& target, const std::string& body = "",
                      const Headers& headers = {}) {
    auto r = client_->Call(method, target, body, headers);
    EXPECT_TRUE(r.ok()) << r.status().message();
    return r.ok() ? std::move(r).value() : ClientResponse{};
  }
  ClientResponse Admin(const std::string& method, const std::string& target, const std::string& body = "") {
    return Call(method, target, body, {{"Authorization", std::string("Bearer ") + kToken}});
  }

  fs::path dir_;
  std::string policy_path_;
  std::unique_ptr<Service> service_;
  std::unique_ptr<HttpServer> server_;
  std::unique_ptr<HttpClient> client_;
};

TEST_F(ServiceTest, DecideAnswersTheContract) {
  Start();
  auto r = Call("POST", "/v1/decide",
                R"({"account_id":"acct_new","api_key_id":"k","ip":"1.2.3.4","org_id":"o","model":"m","extra":{"x":[1]}})");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.Header("content-type"), "application/json");
  for (const char* key : {"\"action\":\"allow\"", "\"rule\":", "\"reasons\":[", "\"retry_after_ms\":0",
                          "\"degrade_mode\":"}) {
    EXPECT_NE(r.body.find(key), std::string::npos) << key << " in " << r.body;
  }
}

TEST_F(ServiceTest, DecideRejectsBadBodiesNamingWhat) {
  Start();
  auto bad = Call("POST", "/v1/decide", R"({"account_id": "a",)");
  EXPECT_EQ(bad.status, 400);
  EXPECT_NE(bad.body.find("bad_json"), std::string::npos);
  auto not_object = Call("POST", "/v1/decide", "[1,2]");
  EXPECT_EQ(not_object.status, 400);
  auto missing = Call("POST", "/v1/decide", R"({"ip":"1.2.3.4"})");
  EXPECT_EQ(missing.status, 400);
  EXPECT_NE(missing.body.find("account_id"), std::string::npos);
  auto wrong = Call("POST", "/v1/decide", R"({"account_id":"a","asn":"x"})");
  EXPECT_EQ(wrong.status, 400);
  EXPECT_NE(wrong.body.find("'asn' must be an integer"), std::string::npos);
  auto bad_ts = Call("POST", "/v1/decide", R"({"account_id":"a","ts":"yesterday"})");
  EXPECT_EQ(bad_ts.status, 400);
  EXPECT_NE(bad_ts.body.find("'ts'"), std::string::npos);
  // The connection survives every one of them.
  EXPECT_EQ(Call("GET", "/healthz").status, 200);
}

TEST_F(ServiceTest, ExtAuthzAllowsWithHeadersAndDeniesWithoutAccount) {
  Start();
  auto ok = Call("POST", "/ext_authz/v1/chat/completions", "",
                 {{"x-account-id", "acct_1"}, {"x-forwarded-for", "1.2.3.4, 10.0.0.1"}});
  EXPECT_EQ(ok.status, 200);
  EXPECT_EQ(ok.Header("x-moat-action"), "allow");
  EXPECT_FALSE(ok.Header("x-moat-rule").empty());
  auto get = Call("GET", "/ext_authz/v1/models", "", {{"x-account-id", "acct_1"}});
  EXPECT_EQ(get.status, 200);
  auto anon = Call("POST", "/ext_authz/v1/chat/completions");
  EXPECT_EQ(anon.status, 403);
  EXPECT_NE(anon.body.find("missing_account"), std::string::npos);
}

TEST_F(ServiceTest, ExtAuthzTakesTheAddressTheEdgeAppended) {
  Start();
  policy::BlockInfo b;
  b.target = policy::BlockTarget::kAddress;
  b.value = "198.51.100.7";
  b.why = "test";
  service_->decisions().AddBlock(b);
  // The client may put anything first; Envoy appends what it saw last.
  auto blocked = Call("GET", "/ext_authz/v1/x", "",
                      {{"x-account-id", "acct_5"}, {"x-forwarded-for", "203.0.113.1, 198.51.100.7"}});
  EXPECT_EQ(blocked.status, 403);
  EXPECT_EQ(blocked.Header("x-moat-action"), "block");
  auto spoofed = Call("GET", "/ext_authz/v1/x", "",
                      {{"x-account-id", "acct_5"}, {"x-forwarded-for", "198.51.100.7, 203.0.113.1"}});
  EXPECT_EQ(spoofed.status, 200);
}

TEST_F(ServiceTest, OverrideTakesEffectOnTheNextRequest) {
  Start();
  EXPECT_EQ(Call("POST", "/v1/decide", R"({"account_id":"acct_9"})").body.find("\"action\":\"allow\"") !=
                std::string::npos,
            true);
  auto o = Admin("POST", "/admin/v1/overrides",
                 R"({"account_id":"acct_9","action":"block","analyst":"ana","reason":"confirmed farm"})");
  ASSERT_EQ(o.status, 201) << o.body;
  auto d = Call("POST", "/v1/decide", R"({"account_id":"acct_9"})");
  EXPECT_NE(d.body.find("\"action\":\"block\""), std::string::npos) << d.body;
  EXPECT_NE(d.body.find("\"admit\":false"), std::string::npos) << d.body;
  auto authz = Call("GET", "/ext_authz/x", "", {{"x-account-id", "acct_9"}});
  EXPECT_EQ(authz.status, 403);
  EXPECT_EQ(authz.Header("x-moat-action"), "block");
  EXPECT_NE(authz.body.find("\"action\":\"block\""), std::string::npos);

  // A throttle override: the second request inside the minute is refused with Retry-After.
  ASSERT_EQ(Admin("POST", "/admin/v1/overrides",
                  R"({"account_id":"acct_9","action":"throttle","requests_per_minute":1,"analyst":"ana"})")
                .status,
            201);
  const Headers h = {{"x-account-id", "acct_9"}};
  EXPECT_EQ(Call("GET", "/ext_authz/x", "", h).status, 200);
  auto again = Call("GET", "/ext_authz/x", "", h);
  EXPECT_EQ(again.status, 429);
  EXPECT_FALSE(again.Header("retry-after").empty());

  // Cleared: allowed again, and the audit store holds every override.
  ASSERT_EQ(Admin("POST", "/admin/v1/overrides", R"({"account_id":"acct_9","action":"clear","analyst":"ana"})")
                .status,
            201);
  EXPECT_EQ(Call("GET", "/ext_authz/x", "", {{"x-account-id", "acct_9"}}).status, 200);
  auto history = service_->audit().OverridesOfAccount("acct_9");
  ASSERT_TRUE(history.ok());
  EXPECT_EQ(history.value().size(), 3u);
}

TEST_F(ServiceTest, AdminNeedsTheBearerToken) {
  Start();
  auto none = Call("GET", "/admin/v1/campaigns");
  EXPECT_EQ(none.status, 401);
  EXPECT_FALSE(none.Header("www-authenticate").empty());
  EXPECT_EQ(Call("GET", "/admin/v1/campaigns", "", {{"Authorization", "Bearer wrong-token-0123456789"}}).status,
            401);
  EXPECT_EQ(Call("POST", "/admin/v1/overrides", R"({"account_id":"a","action":"block","analyst":"x"})").status,
            401);
  EXPECT_EQ(Admin("GET", "/admin/v1/campaigns").status, 200);
}

TEST_F(ServiceTest, AppealsAreRecordedAndListed) {
  Start();
  auto a = Admin("POST", "/admin/v1/appeals",
                 R"({"account_id":"acct_2","text":"we are a university lab","submitted_by":"prof"})");
  ASSERT_EQ(a.status, 201) << a.body;
  auto list = Admin("GET", "/admin/v1/appeals?status=open");
  EXPECT_EQ(list.status, 200);
  EXPECT_NE(list.body.find("university lab"), std::string::npos);
  const std::string id = a.body.substr(a.body.find(':') + 1, a.body.find(',') - a.body.find(':') - 1);
  auto moved = Admin("POST", "/admin/v1/appeals/" + id, R"({"status":"granted","actor":"ana"})");
  EXPECT_EQ(moved.status, 201) << moved.body;
  EXPECT_EQ(Admin("POST", "/admin/v1/appeals/999999", R"({"status":"granted"})").status, 404);
  EXPECT_EQ(Admin("POST", "/admin/v1/appeals", R"({"text":"x"})").status, 400);
}

TEST_F(ServiceTest, IngestReportsAndQuarantinesBadLines) {
  Start();
  const std::string body = Line("acct_1", "2026-01-01T00:00:00Z", "r1") + "\n{not json\n" +
                           Line("acct_2", "2026-01-01T00:00:01Z", "r2") + "\n" +
                           R"({"account_id":"x"})" + "\n";
  auto r = Call("POST", "/v1/exchanges", body, {{"Content-Type", "application/x-ndjson"}});
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_NE(r.body.find("\"accepted\":2"), std::string::npos) << r.body;
  EXPECT_NE(r.body.find("\"rejected\":2"), std::string::npos);
  EXPECT_NE(r.body.find(R"({"line":2,"reason":"invalid_json")"), std::string::npos) << r.body;
  EXPECT_NE(r.body.find(R"("line":4,"reason":"missing_ts")"), std::string::npos) << r.body;
  const std::string q = ReadFile((dir_ / "data" / "quarantine.jsonl").string());
  EXPECT_NE(q.find("{not json"), std::string::npos);
  EXPECT_NE(q.find("\"line\":4"), std::string::npos);
  // Nothing good: 400, still reported per line.
  auto all_bad = Call("POST", "/v1/exchanges", "nope\n");
  EXPECT_EQ(all_bad.status, 400);
  EXPECT_NE(all_bad.body.find("invalid_json"), std::string::npos);
  service_->WaitIdle();
  EXPECT_NE(Admin("GET", "/admin/v1/accounts/acct_2").body.find("\"engine\":{"), std::string::npos);
  EXPECT_EQ(Admin("GET", "/admin/v1/accounts/nobody").status, 404);
}

TEST_F(ServiceTest, MetricsAreInPrometheusTextFormat) {
  Start();
  Call("POST", "/v1/decide", R"({"account_id":"a"})");
  Call("GET", "/nope");
  Call("POST", "/v1/exchanges", Line("a", "2026-01-01T00:00:00Z", "r1") + "\nbad\n");
  service_->WaitIdle();
  auto m = Call("GET", "/metrics");
  EXPECT_EQ(m.status, 200);
  EXPECT_NE(m.Header("content-type").find("text/plain; version=0.0.4"), std::string::npos);
  const std::regex sample(R"(^[a-zA-Z_:][a-zA-Z0-9_:]*(\{[a-zA-Z_][a-zA-Z0-9_]*="[^"]*"(,[a-zA-Z_][a-zA-Z0-9_]*="[^"]*")*\})? (-?[0-9.e+-]+|\+Inf|NaN)$)");
  std::istringstream lines(m.body);
  std::string line;
  int samples = 0;
  while (std::getline(lines, line)) {
    if (line.starts_with("# HELP ") || line.starts_with("# TYPE ")) continue;
    EXPECT_TRUE(std::regex_match(line, sample)) << line;
    ++samples;
  }
  EXPECT_GT(samples, 30);
  for (const char* want :
       {R"(moat_http_requests_total{route="/v1/decide",method="POST",status="200"} 1)",
        R"(moat_http_requests_total{route="-",method="GET",status="404"} 1)",
        R"(moat_decisions_total{action="allow",admit="true"} 1)", "moat_decision_duration_seconds_count 1",
        R"(moat_decision_duration_seconds_bucket{le="+Inf"} 1)", "moat_exchanges_ingested_total 1",
        R"(moat_bad_lines_total{reason="invalid_json"} 1)", "moat_engine_queue_exchanges 0",
        "# TYPE moat_engine_lag_seconds gauge"}) {
    EXPECT_NE(m.body.find(want), std::string::npos) << want;
  }
}

TEST_F(ServiceTest, RefusedPolicyKeepsTheRunningOne) {
  Start();
  const std::string bad = (dir_ / "bad.toml").string();
  std::ofstream(bad) << "[[rule]]\nname = \"x\"\naction = \"obliterate\"\n";
  auto r = Admin("POST", "/admin/v1/policy/reload", R"({"path":")" + bad + R"("})");
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(r.body.find("policy_refused"), std::string::npos);
  EXPECT_NE(r.body.find("bad.toml:"), std::string::npos) << r.body;  // file:line:column
  EXPECT_EQ(service_->decisions().policy()->origin(), policy_path_);
  auto good = Admin("POST", "/admin/v1/policy/reload");
  EXPECT_EQ(good.status, 200) << good.body;
}

TEST_F(ServiceTest, RestartResumesFromTheJournal) {
  Start();
  std::string body;
  for (int i = 0; i < 50; ++i) {
    body += Line("acct_" + std::to_string(i % 5), "2026-01-01T00:" + std::to_string(10 + i % 40) + ":00Z",
                 "r" + std::to_string(i)) + "\n";
  }
  ASSERT_EQ(Call("POST", "/v1/exchanges", body).status, 200);
  ASSERT_EQ(Admin("POST", "/admin/v1/overrides",
                  R"({"account_id":"acct_3","action":"suspend","analyst":"ana","reason":"r"})")
                .status,
            201);
  service_->WaitIdle();
  const std::string before = Admin("GET", "/admin/v1/accounts/acct_1").body;
  Stop();
  // A torn, unacknowledged tail (a crash mid-write) is cut off at restart.
  std::ofstream(dir_ / "data" / "journal.jsonl", std::ios::app) << R"({"ts":"2026-01-01T01:00:00Z","acc)";
  Start();
  EXPECT_EQ(service_->recovery().journal_exchanges, 50u);
  EXPECT_GT(service_->recovery().torn_bytes, 0u);
  EXPECT_EQ(service_->recovery().overrides_restored, 1u);
  const std::string after = Admin("GET", "/admin/v1/accounts/acct_1").body;
  const auto engine_part = [](const std::string& s) { return s.substr(0, s.find("\"decision\"")); };
  EXPECT_EQ(engine_part(after), engine_part(before));
  EXPECT_NE(Call("POST", "/v1/decide", R"({"account_id":"acct_3"})").body.find("\"action\":\"suspend\""),
            std::string::npos);
  // New batches append after the cut.
  ASSERT_EQ(Call("POST", "/v1/exchanges", Line("acct_1", "2026-01-01T02:00:00Z", "r99") + "\n").status, 200);
  const std::string journal = ReadFile((dir_ / "data" / "journal.jsonl").string());
  EXPECT_EQ(std::count(journal.begin(), journal.end(), '\n'), 51);
  EXPECT_EQ(journal.find("\"acc{"), std::string::npos);
}

TEST(JournalTest, ConcurrentAppendsAreWholeLinesInOrderOfTheirCallbacks) {
  const auto path = fs::temp_directory_path() / ("moat_journal_test_" + std::to_string(::getpid()));
  fs::remove(path);
  auto j = Journal::Open(path.string(), true);
  ASSERT_TRUE(j.ok());
  std::mutex mu;
  std::vector<uint64_t> order;
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 50; ++i) {
        const std::string line = "{\"t\":" + std::to_string(t) + ",\"i\":" + std::to_string(i) + "}\n";
        auto end = j.value()->Append(line, [&](uint64_t e) {
          std::lock_guard lock(mu);
          order.push_back(e);
        });
        ASSERT_TRUE(end.ok());
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_TRUE(std::is_sorted(order.begin(), order.end()));
  const std::string all = ReadFile(path.string());
  EXPECT_EQ(std::count(all.begin(), all.end(), '\n'), 200);
  EXPECT_EQ(j.value()->size(), all.size());
  fs::remove(path);
}

}  // namespace
}  // namespace moat::serve
