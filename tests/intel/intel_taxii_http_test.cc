// TAXII 2.1 over real HTTP on loopback: intel's server mounted on serve's
// HttpServer, intel's client through the HTTP transport, a partner outage in
// the middle.
#include <gtest/gtest.h>

#include <thread>

#include "moat/core/time.h"
#include "moat/intel/taxii.h"
#include "moat/serve/taxii_routes.h"

namespace moat::intel {
namespace {

TaxiiConfig Config() {
  TaxiiConfig c;
  c.partners = {{"a", "", "", "tok-a"}, {"b", "bee", "pw", ""}};
  TaxiiCollection col;
  col.id = "0f0e0d0c-0b0a-4908-8706-050403020100";
  col.title = "coalition";
  col.rights = {{"a", {true, true}}, {"b", {true, false}}};
  c.collections = {col};
  return c;
}

std::string Bundle(int from, int to) {
  std::string s = "{\"type\":\"bundle\",\"id\":\"bundle--00000000-0000-4000-8000-000000000000\",\"objects\":[";
  for (int i = from; i < to; ++i) {
    if (i > from) s += ",";
    char id[64];
    std::snprintf(id, sizeof id, "indicator--00000000-0000-4000-8000-%012d", i);
    s += std::string("{\"type\":\"indicator\",\"spec_version\":\"2.1\",\"id\":\"") + id +
         "\",\"created\":\"2026-02-01T00:00:00.000Z\",\"modified\":\"2026-02-01T00:00:00.000Z\"}";
  }
  return s + "]}";
}

TEST(TaxiiHttp, PushPullResumeAcrossAnOutage) {
  EventTime now = ParseRfc3339("2026-03-01T00:00:00Z").value();
  auto taxii = TaxiiServer::Open(Config(), [&] { return now; });
  ASSERT_TRUE(taxii.ok());
  auto server = std::make_unique<serve::HttpServer>(serve::ServerOptions{});
  serve::MountTaxii(*server, *taxii.value());
  ASSERT_TRUE(server->Start().ok());
  const uint16_t port = server->port();
  const std::string url = "http://127.0.0.1:" + std::to_string(port);

  auto transport = serve::TaxiiHttpTransport(url);
  ASSERT_TRUE(transport.ok());
  TaxiiClientOptions oa;
  oa.collection = "0f0e0d0c-0b0a-4908-8706-050403020100";
  oa.authorization = "Bearer tok-a";
  oa.sleep = [](std::chrono::milliseconds) {};
  TaxiiClient a(transport.value(), oa);
  auto pushed = a.Push(Bundle(0, 5));
  ASSERT_TRUE(pushed.ok()) << pushed.status().message();
  EXPECT_NE(pushed.value().find("\"success_count\":5"), std::string::npos);

  TaxiiClientOptions ob = oa;
  ob.authorization = "Basic " + Base64("bee:pw");
  ob.page_limit = 2;
  ob.backoff = std::chrono::milliseconds(20);
  ob.sleep = {};  // real sleeps: the server comes back while the client waits
  TaxiiClient b(transport.value(), ob);
  std::string last;
  auto n = b.Pull("", [&](std::string_view, std::string_view l) {
    last = std::string(l);
    return Status::Ok();
  });
  ASSERT_TRUE(n.ok()) << n.status().message();
  EXPECT_EQ(n.value(), 5u);
  // B may read but not write: refused at once, not retried.
  auto refused = b.Push(Bundle(9, 10));
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.status().message().find("403"), std::string::npos);
  EXPECT_EQ(b.retries(), 0u);

  now += kMicrosPerSecond;
  ASSERT_TRUE(a.Push(Bundle(5, 8)).ok());
  // The partner goes down; B keeps retrying and gets through once it is back.
  server->Stop();
  server.reset();
  std::thread restart([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    serve::ServerOptions so;
    so.port = port;
    server = std::make_unique<serve::HttpServer>(so);
    serve::MountTaxii(*server, *taxii.value());
    ASSERT_TRUE(server->Start().ok());
  });
  auto more = b.Pull(last, [](std::string_view, std::string_view) { return Status::Ok(); });
  restart.join();
  ASSERT_TRUE(more.ok()) << more.status().message();
  EXPECT_EQ(more.value(), 3u);  // only what was added after the last page seen
  EXPECT_GT(b.retries(), 0u);
  server->Stop();
}

}  // namespace
}  // namespace moat::intel
