#include "moat/serve/transform_routes.h"

#include <gtest/gtest.h>

#include <string>

#include "moat/serve/http_client.h"

namespace moat::serve {
namespace {

// POST /v1/transform withholds reasoning and keeps the final answer; bad
// modes and bodies are 400 with a JSON error, never a crash.
TEST(TransformRoutesTest, WithholdsReasoningOverHttp) {
  auto t = degrade::Transformer::Load(std::string(MOAT_SOURCE_DIR) + "/data/watermark/synonyms.tsv", "");
  ASSERT_TRUE(t.ok()) << t.status().message();
  ServerOptions so;
  so.threads = 1;
  HttpServer server(so);
  MountTransform(server, t.value());
  ASSERT_TRUE(server.Start().ok());
  auto c = HttpClient::Connect({"127.0.0.1", server.port()});
  ASSERT_TRUE(c.ok()) << c.status().message();

  std::string reasoning;
  for (int i = 1; i <= 12; ++i)
    reasoning += "Step " + std::to_string(i) + ": we multiply the running total by three and check it again. ";
  const std::string body = R"({"id":"msg_1","type":"message","content":[{"type":"thinking","thinking":")" + reasoning +
                           R"("},{"type":"text","text":"The answer is 42."}]})";
  auto r = c.value()->Call("POST", "/v1/transform?mode=withhold-reasoning", body);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r.value().status, 200) << r.value().body;
  EXPECT_NE(r.value().body.find(R"("text":"The answer is 42.")"), std::string::npos) << r.value().body;
  EXPECT_LT(r.value().body.size(), body.size());
  EXPECT_EQ(r.value().body.find("Step 7"), std::string::npos);

  // The mode may come as the header ext_authz put on the request.
  r = c.value()->Call("POST", "/v1/transform", body, {{"x-moat-degrade-mode", "withhold-reasoning"}});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.value().status, 200);

  for (const auto& [target, payload] : {std::pair<std::string, std::string>{"/v1/transform", body},
                                        {"/v1/transform?mode=shout", body},
                                        {"/v1/transform?mode=watermark", body},  // no keys loaded
                                        {"/v1/transform?mode=withhold-reasoning", "{not json"}}) {
    r = c.value()->Call("POST", target, payload);
    ASSERT_TRUE(r.ok()) << target;
    EXPECT_EQ(r.value().status, 400) << target << " " << r.value().body;
    EXPECT_NE(r.value().body.find("\"error\""), std::string::npos) << r.value().body;
  }
  server.Stop();
}

}  // namespace
}  // namespace moat::serve
