// A small HTTP/1.1 server for moat's APIs (decision, admin, TAXII): keep-alive
// and pipelining, a route table, hard limits on headers, bodies and slow
// clients. Route handlers see plain structs; Boost.Beast stays inside
// http_server.cc, so modules that mount routes never compile it. A bad
// request is a 4xx JSON answer, never a crash or a stuck worker. With a
// certificate and key it speaks HTTPS only (OpenSSL).
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "moat/core/status.h"

namespace moat::serve {

struct Request {
  std::string method;  // as sent: "GET", "POST", ...
  std::string target;  // request-target as sent: path and query
  std::string path;    // target up to '?', not decoded
  std::string route;   // the pattern that matched (exact path or prefix)
  std::vector<std::pair<std::string, std::string>> query;    // percent-decoded
  std::vector<std::pair<std::string, std::string>> headers;  // names lower-case
  std::string body;
  std::string remote_ip;  // peer address of the connection

  // First value of a header (name in lower case), or empty.
  std::string_view Header(std::string_view lower_name) const;
  bool HasHeader(std::string_view lower_name) const;
  // First value of a query parameter, or empty.
  std::string_view Query(std::string_view name) const;
};

struct Response {
  int status = 200;
  std::string content_type = "application/json";
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
};

// `body` is JSON already; a newline is appended for curl users.
Response JsonResponse(int status, std::string body);
// {"error": code, "message": message}: every error moat answers looks like this.
Response JsonError(int status, std::string_view code, std::string_view message);

using Handler = std::function<Response(const Request&)>;

// Called after every answered request (also for 4xx the server produced
// itself, with route "-"), from the worker thread: for metrics and logs.
using RequestObserver =
    std::function<void(std::string_view route, std::string_view method, int status, double seconds)>;

struct ServerOptions {
  std::string address = "127.0.0.1";
  uint16_t port = 0;  // 0: any free port (see HttpServer::port())
  int threads = 2;    // workers, each running its own event loop
  size_t max_header_bytes = 16 * 1024;       // -> 431
  size_t max_body_bytes = size_t{64} << 20;  // -> 413
  // Slow clients: a new request's header must be complete within
  // idle_timeout of the previous response (header_timeout when it was
  // already pipelined behind it), and its body within body_timeout of the
  // header; otherwise 408 and close. A connection that sent nothing of a new
  // request in idle_timeout is closed without a word.
  std::chrono::milliseconds header_timeout{10'000};
  std::chrono::milliseconds body_timeout{60'000};
  std::chrono::milliseconds idle_timeout{30'000};
  std::chrono::milliseconds write_timeout{30'000};
  int backlog = 1024;
  // HTTPS only when both are set (PEM files; the chain is leaf first). TLS
  // 1.2 at least; the handshake must finish within header_timeout.
  std::string tls_cert_file;
  std::string tls_key_file;
};

class HttpServer {
 public:
  explicit HttpServer(ServerOptions options);
  ~HttpServer();  // stops and joins the workers
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Routes are fixed before Start. `method` "*" matches any method. An exact
  // route wins over a prefix; among prefixes, the longest wins. A path that
  // matches with another method answers 405 with Allow.
  void Route(std::string method, std::string path, Handler handler);
  void RoutePrefix(std::string method, std::string prefix, Handler handler);
  void SetObserver(RequestObserver observer);

  // Loads the TLS certificate and key when configured, binds and listens,
  // then starts the workers.
  Status Start();
  // Stops accepting, closes connections, joins the workers. Idempotent.
  void Stop();

  uint16_t port() const;
  uint64_t open_connections() const;

  struct Impl;  // defined in http_server.cc

 private:
  std::unique_ptr<Impl> impl_;
};

// Percent-decoding of a query component ('+' is a space), for tests and tools.
std::string PercentDecode(std::string_view s);

}  // namespace moat::serve
