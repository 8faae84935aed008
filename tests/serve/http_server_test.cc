// The HTTP layer: routing, keep-alive and pipelining, limits, slow clients,
// concurrent clients. Every test runs a real server on a loopback port.
#include "moat/serve/http_server.h"

#include <gtest/gtest.h>

#include <atomic>
#include <boost/asio.hpp>
#include <thread>

#include "moat/serve/http_client.h"

namespace moat::serve {
namespace {

class HttpServerTest : public ::testing::Test {
 protected:
  void StartServer(ServerOptions options = {}) {
    server_ = std::make_unique<HttpServer>(options);
    server_->Route("GET", "/hello", [](const Request& r) {
      Response res;
      res.content_type = "text/plain";
      res.body = "hello " + std::string(r.Query("name"));
      res.headers.emplace_back("X-Path", r.path);
      return res;
    });
    server_->Route("POST", "/echo", [](const Request& r) {
      Response res;
      res.content_type = "text/plain";
      res.body = r.body + "|" + std::string(r.Header("x-test"));
      return res;
    });
    server_->Route("GET", "/boom", [](const Request&) -> Response {
      throw std::runtime_error("handler failed");
    });
    server_->RoutePrefix("*", "/authz/", [](const Request& r) {
      Response res;
      res.body = r.method + " " + r.path + " " + r.route;
      return res;
    });
    server_->SetObserver([this](std::string_view, std::string_view, int status, double) {
      if (status >= 400) ++errors_;
    });
    ASSERT_TRUE(server_->Start().ok());
  }
  std::unique_ptr<HttpClient> Client(std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
    auto c = HttpClient::Connect({"127.0.0.1", server_->port()}, timeout);
    EXPECT_TRUE(c.ok()) << c.status().message();
    return std::move(c).value();
  }

  std::unique_ptr<HttpServer> server_;
  std::atomic<int> errors_{0};
};

TEST_F(HttpServerTest, KeepAliveServesManyRequestsOnOneConnection) {
  StartServer();
  auto c = Client();
  for (int i = 0; i < 50; ++i) {
    auto r = c->Call("GET", "/hello?name=a%20b+c");
    ASSERT_TRUE(r.ok()) << r.status().message();
    EXPECT_EQ(r.value().status, 200);
    EXPECT_EQ(r.value().body, "hello a b c");
    EXPECT_EQ(r.value().Header("x-path"), "/hello");
    EXPECT_TRUE(r.value().keep_alive);
  }
  EXPECT_EQ(server_->open_connections(), 1u);
}

TEST_F(HttpServerTest, PipelinedRequestsAnswerInOrder) {
  StartServer();
  auto c = Client();
  for (int i = 0; i < 20; ++i) {
    ASSERT_TRUE(c->Send("POST", "/echo", std::to_string(i), {{"X-Test", "t"}}).ok());
  }
  for (int i = 0; i < 20; ++i) {
    auto r = c->Receive();
    ASSERT_TRUE(r.ok()) << r.status().message();
    EXPECT_EQ(r.value().body, std::to_string(i) + "|t");
  }
}

TEST_F(HttpServerTest, UnknownRouteIs404Json) {
  StartServer();
  auto r = Client()->Call("GET", "/nope");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.value().status, 404);
  EXPECT_EQ(r.value().Header("content-type"), "application/json");
  EXPECT_NE(r.value().body.find("\"error\":\"not_found\""), std::string::npos);
}

TEST_F(HttpServerTest, WrongMethodIs405WithAllow) {
  StartServer();
  auto r = Client()->Call("POST", "/hello", "x");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.value().status, 405);
  EXPECT_EQ(r.value().Header("allow"), "GET");
  EXPECT_NE(r.value().body.find("method_not_allowed"), std::string::npos);
}

TEST_F(HttpServerTest, PrefixRouteTakesAnyMethodAndSubpath) {
  StartServer();
  auto c = Client();
  auto r = c->Call("DELETE", "/authz/v1/chat?x=1");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.value().status, 200);
  EXPECT_EQ(r.value().body, "DELETE /authz/v1/chat /authz/");
}

TEST_F(HttpServerTest, OversizedBodyIs413AndConnectionCloses) {
  ServerOptions o;
  o.max_body_bytes = 1000;
  StartServer(o);
  auto c = Client();
  auto r = c->Call("POST", "/echo", std::string(5000, 'x'));
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r.value().status, 413);
  EXPECT_NE(r.value().body.find("body_too_large"), std::string::npos);
  EXPECT_FALSE(r.value().keep_alive);
  // A body under the limit on a fresh connection is fine.
  auto ok = Client()->Call("POST", "/echo", std::string(999, 'y'));
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(ok.value().status, 200);
}

TEST_F(HttpServerTest, OversizedHeadersAre431) {
  ServerOptions o;
  o.max_header_bytes = 1024;
  StartServer(o);
  auto r = Client()->Call("GET", "/hello", "", {{"X-Big", std::string(4000, 'h')}});
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r.value().status, 431);
  EXPECT_NE(r.value().body.find("headers_too_large"), std::string::npos);
}

TEST_F(HttpServerTest, MalformedRequestIs400) {
  StartServer();
  auto c = Client();
  ASSERT_TRUE(c->SendRaw("GET /hello HTTP/1.1\r\nHost x\r\n\r\n").ok());
  auto r = c->Receive();
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r.value().status, 400);
  EXPECT_NE(r.value().body.find("bad_request"), std::string::npos);
}

TEST_F(HttpServerTest, HandlerExceptionIs500AndWorkerSurvives) {
  StartServer();
  auto c = Client();
  auto r = c->Call("GET", "/boom");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.value().status, 500);
  auto again = c->Call("GET", "/hello");
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again.value().status, 200);
}

TEST_F(HttpServerTest, SlowClientGets408AndOthersAreServed) {
  ServerOptions o;
  o.threads = 1;  // the slow client must not hold the only worker
  o.header_timeout = std::chrono::milliseconds(200);
  o.body_timeout = std::chrono::milliseconds(200);
  StartServer(o);
  auto slow = Client();
  ASSERT_TRUE(slow->SendRaw("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc").ok());
  auto fast = Client()->Call("GET", "/hello");
  ASSERT_TRUE(fast.ok());
  EXPECT_EQ(fast.value().status, 200);
  auto r = slow->Receive();
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r.value().status, 408);
  EXPECT_FALSE(r.value().keep_alive);
}

TEST_F(HttpServerTest, StalledHeaderGets408) {
  ServerOptions o;
  o.idle_timeout = std::chrono::milliseconds(200);
  StartServer(o);
  auto c = Client();
  ASSERT_TRUE(c->SendRaw("GET /hello HTTP/1.1\r\nHost: x\r\nX-Slow: ").ok());
  auto r = c->Receive();
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r.value().status, 408);
}

TEST_F(HttpServerTest, IdleConnectionIsClosedQuietly) {
  ServerOptions o;
  o.idle_timeout = std::chrono::milliseconds(100);
  StartServer(o);
  auto c = Client();
  ASSERT_TRUE(c->Call("GET", "/hello").ok());
  std::this_thread::sleep_for(std::chrono::milliseconds(400));
  EXPECT_EQ(server_->open_connections(), 0u);
  auto r = c->Receive();
  EXPECT_FALSE(r.ok());  // closed, no 408 for a connection that sent nothing
}

TEST_F(HttpServerTest, ConcurrentClients) {
  StartServer();
  std::atomic<int> ok{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      auto c = HttpClient::Connect({"127.0.0.1", server_->port()});
      if (!c.ok()) return;
      for (int i = 0; i < 100; ++i) {
        const std::string body = std::to_string(t * 1000 + i);
        auto r = c.value()->Call("POST", "/echo", body);
        if (r.ok() && r.value().body == body + "|") ++ok;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(ok.load(), 800);
}

TEST_F(HttpServerTest, StopWithOpenConnectionsReturns) {
  StartServer();
  auto c1 = Client();
  auto c2 = Client();
  ASSERT_TRUE(c1->Call("GET", "/hello").ok());
  ASSERT_TRUE(c2->SendRaw("GET /hel").ok());  // half a request in flight
  server_->Stop();
  EXPECT_FALSE(c1->Call("GET", "/hello").ok());
}

// The client's timeout once only set SO_RCVTIMEO, which asio's blocking reads
// ignore (they poll without a limit): a silent server hung the caller.
TEST(HttpClientTimeout, ASilentServerFailsTheCallInTime) {
  boost::asio::io_context ioc;
  boost::asio::ip::tcp::acceptor mute(ioc, {boost::asio::ip::make_address("127.0.0.1"), 0});
  const auto begun = std::chrono::steady_clock::now();
  auto c = HttpClient::Connect({"127.0.0.1", mute.local_endpoint().port()},
                               std::chrono::milliseconds(200));
  ASSERT_TRUE(c.ok()) << c.status().message();  // the kernel accepts; nobody answers
  auto r = c.value()->Call("GET", "/hello");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("timed out"), std::string::npos) << r.status().message();
  EXPECT_LT(std::chrono::steady_clock::now() - begun, std::chrono::seconds(3));
}

}  // namespace
}  // namespace moat::serve
