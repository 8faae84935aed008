// A blocking HTTP/1.1 client over one keep-alive connection, for the replay
// driver, the soak, TAXII and tests; HTTPS verifies the server's certificate
// and name. Requests may be pipelined: Send several, then Receive their
// responses in order. No Beast types in the interface.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "moat/core/status.h"

namespace moat::serve {

struct ClientResponse {
  int status = 0;
  std::vector<std::pair<std::string, std::string>> headers;  // names lower-case
  std::string body;
  bool keep_alive = true;
  std::string_view Header(std::string_view lower_name) const;
};

struct Endpoint {
  std::string host;
  uint16_t port = 0;
  bool tls = false;  // https
};
// "http://HOST[:PORT][/...]", "https://HOST[:PORT][/...]" (ports 80 and 443
// by default) or "HOST:PORT" (plain HTTP).
Result<Endpoint> ParseUrl(std::string_view url);

class HttpClient {
 public:
  // Connects, and over TLS shakes hands: the server's certificate must chain
  // to `ca_file` (PEM), or to the system's CA store when it is empty, and
  // name the endpoint's host (DNS name or IP address). `timeout` bounds the
  // connect, the handshake and every later write and read (each Send and
  // Receive): on expiry the connection is closed and the call fails.
  // `untrusted`, when given, says whether a failure was one no retry can
  // mend: the CA file is unusable or the certificate does not verify.
  static Result<std::unique_ptr<HttpClient>> Connect(
      const Endpoint& endpoint, std::chrono::milliseconds timeout = std::chrono::seconds(30),
      const std::string& ca_file = {}, bool* untrusted = nullptr);
  ~HttpClient();

  // Writes one request (Content-Length framing; Host and keep-alive set).
  Status Send(std::string_view method, std::string_view target, std::string_view body = {},
              const std::vector<std::pair<std::string, std::string>>& headers = {});
  // Writes bytes as they are: for malformed requests in tests.
  Status SendRaw(std::string_view bytes);
  // Reads the next response.
  Result<ClientResponse> Receive();
  Result<ClientResponse> Call(std::string_view method, std::string_view target,
                              std::string_view body = {},
                              const std::vector<std::pair<std::string, std::string>>& headers = {});

  struct Impl;  // defined in http_client.cc

 private:
  explicit HttpClient(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
  std::string scratch_;
};

}  // namespace moat::serve
