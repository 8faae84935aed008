#include "moat/serve/http_client.h"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <optional>

#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>

#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

namespace moat::serve {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using TlsStream = beast::ssl_stream<tcp::socket>;

std::string_view ClientResponse::Header(std::string_view lower_name) const {
  for (const auto& [k, v] : headers) {
    if (k == lower_name) return v;
  }
  return {};
}

Result<Endpoint> ParseUrl(std::string_view url) {
  std::string_view rest = url;
  Endpoint ep;
  uint16_t default_port = 0;  // none without a scheme
  if (rest.starts_with("http://")) {
    rest.remove_prefix(7);
    default_port = 80;
  } else if (rest.starts_with("https://")) {
    rest.remove_prefix(8);
    default_port = 443;
    ep.tls = true;
  }
  rest = rest.substr(0, rest.find('/'));
  const size_t colon = rest.rfind(':');
  if (colon == std::string_view::npos && default_port != 0 && !rest.empty()) {
    ep.host = std::string(rest);
    ep.port = default_port;
    return ep;
  }
  if (colon == std::string_view::npos || colon == 0 || colon + 1 == rest.size()) {
    return Status::Error("url '" + std::string(url) + "': expected http[s]://HOST[:PORT]");
  }
  ep.host = std::string(rest.substr(0, colon));
  uint32_t port = 0;
  for (char c : rest.substr(colon + 1)) {
    if (c < '0' || c > '9' || port > 65535) {
      return Status::Error("url '" + std::string(url) + "': bad port");
    }
    port = port * 10 + static_cast<uint32_t>(c - '0');
  }
  if (port == 0 || port > 65535) return Status::Error("url '" + std::string(url) + "': bad port");
  ep.port = static_cast<uint16_t>(port);
  return ep;
}

struct HttpClient::Impl {
  asio::io_context ioc{1};
  tcp::socket socket{ioc};  // plain HTTP; over TLS it moves into `tls`
  std::optional<asio::ssl::context> ctx;
  std::optional<TlsStream> tls;
  beast::flat_buffer buffer;
  std::string host;
  std::chrono::milliseconds timeout{0};

  // Runs `f` on the connection's stream, whichever it is.
  template <class F>
  auto With(F&& f) {
    return tls ? f(*tls) : f(socket);
  }
  tcp::socket& Socket() { return tls ? beast::get_lowest_layer(*tls) : socket; }

  // Runs one asynchronous operation, started by `start(handler)`, to its end
  // or to `timeout`, when the connection is closed: blocking socket calls
  // would wait forever on a silent server (asio polls them without a limit).
  template <class Start>
  boost::system::error_code Run(Start&& start) {
    boost::system::error_code result = asio::error::would_block;
    start([&result](boost::system::error_code ec, auto&&...) { result = ec; });
    ioc.restart();
    ioc.run_for(timeout);
    if (!ioc.stopped()) {
      boost::system::error_code ignored;
      Socket().close(ignored);
      ioc.run();  // the handler runs, aborted
      result = asio::error::timed_out;
    }
    return result;
  }
};

namespace {

// Verifies against `ca_file` or the system store, and checks the server's
// name; then shakes hands. Errors name the server; `untrusted` is set when
// a retry cannot help (no usable CA, or a certificate that does not verify).
Status StartTls(HttpClient::Impl& impl, const Endpoint& endpoint, const std::string& ca_file,
                const std::string& where, bool& untrusted) {
  untrusted = true;
  asio::ssl::context ctx(asio::ssl::context::tls_client);
  SSL_CTX_set_min_proto_version(ctx.native_handle(), TLS1_2_VERSION);
  ctx.set_verify_mode(asio::ssl::verify_peer);
  boost::system::error_code ec;
  if (!ca_file.empty()) {
    if (std::ifstream in(ca_file); !in) {
      return Status::Error("http client: CA file '" + ca_file + "': cannot read: " + std::strerror(errno));
    }
    ctx.load_verify_file(ca_file, ec);
    if (ec) {
      return Status::Error("http client: CA file '" + ca_file + "': not PEM certificates: " + ec.message());
    }
  } else {
    ctx.set_default_verify_paths(ec);
    if (ec) return Status::Error("http client: cannot load the system CA store: " + ec.message());
  }
  impl.ctx.emplace(std::move(ctx));
  impl.tls.emplace(std::move(impl.socket), *impl.ctx);
  SSL* ssl = impl.tls->native_handle();
  boost::system::error_code not_ip;
  asio::ip::make_address(endpoint.host, not_ip);
  if (not_ip) {
    SSL_set_tlsext_host_name(ssl, endpoint.host.c_str());  // SNI
    SSL_set1_host(ssl, endpoint.host.c_str());
  } else {
    X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), endpoint.host.c_str());
  }
  ec = impl.Run([&](auto done) { impl.tls->async_handshake(asio::ssl::stream_base::client, done); });
  untrusted = false;
  if (!ec) return Status::Ok();
  std::string why = ec.message();
  if (const long verify = SSL_get_verify_result(ssl); verify != X509_V_OK) {
    why += std::string(" (") + X509_verify_cert_error_string(verify) + ")";
    untrusted = true;
  }
  return Status::Error("http client: TLS handshake with " + where + " failed: " + why);
}

}  // namespace

HttpClient::HttpClient(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
HttpClient::~HttpClient() = default;

Result<std::unique_ptr<HttpClient>> HttpClient::Connect(const Endpoint& endpoint,
                                                        std::chrono::milliseconds timeout,
                                                        const std::string& ca_file, bool* untrusted) {
  bool not_trusted = false;
  if (untrusted != nullptr) *untrusted = false;
  auto impl = std::make_unique<Impl>();
  impl->timeout = timeout;
  boost::system::error_code ec;
  tcp::resolver resolver(impl->ioc);
  const auto results = resolver.resolve(endpoint.host, std::to_string(endpoint.port), ec);
  if (!ec) ec = impl->Run([&](auto done) { asio::async_connect(impl->socket, results, done); });
  const std::string where = endpoint.host + ":" + std::to_string(endpoint.port);
  if (ec) return Status::Error("http client: cannot connect to " + where + ": " + ec.message());
  impl->socket.set_option(tcp::no_delay(true), ec);
  if (endpoint.tls) {
    if (Status st = StartTls(*impl, endpoint, ca_file, where, not_trusted); !st.ok()) {
      if (untrusted != nullptr) *untrusted = not_trusted;
      return st;
    }
  }
  impl->host = where;
  return std::unique_ptr<HttpClient>(new HttpClient(std::move(impl)));
}

Status HttpClient::Send(std::string_view method, std::string_view target, std::string_view body,
                        const std::vector<std::pair<std::string, std::string>>& headers) {
  std::string& out = scratch_;
  out.clear();
  out.append(method).append(" ").append(target).append(" HTTP/1.1\r\nHost: ");
  out.append(impl_->host).append("\r\n");
  bool has_type = false;
  for (const auto& [k, v] : headers) {
    if (beast::iequals(k, "content-type")) has_type = true;
    out.append(k).append(": ").append(v).append("\r\n");
  }
  if (!body.empty() && !has_type) out.append("Content-Type: application/json\r\n");
  out.append("Content-Length: ").append(std::to_string(body.size())).append("\r\n\r\n");
  out.append(body);
  return SendRaw(out);
}

Status HttpClient::SendRaw(std::string_view bytes) {
  const auto ec = impl_->Run([&](auto done) {
    impl_->With([&](auto& stream) { asio::async_write(stream, asio::buffer(bytes.data(), bytes.size()), done); });
  });
  if (ec) return Status::Error("http client: write to " + impl_->host + ": " + ec.message());
  return Status::Ok();
}

Result<ClientResponse> HttpClient::Receive() {
  http::response_parser<http::string_body> parser;
  parser.body_limit(size_t{1} << 30);
  const auto ec = impl_->Run([&](auto done) {
    impl_->With([&](auto& stream) { http::async_read(stream, impl_->buffer, parser, done); });
  });
  if (ec) return Status::Error("http client: read from " + impl_->host + ": " + ec.message());
  auto msg = parser.release();
  ClientResponse r;
  r.status = static_cast<int>(msg.result_int());
  for (const auto& f : msg) {
    std::string name(f.name_string());
    for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    r.headers.emplace_back(std::move(name), std::string(f.value()));
  }
  r.keep_alive = msg.keep_alive();
  r.body = std::move(msg.body());
  return r;
}

Result<ClientResponse> HttpClient::Call(
    std::string_view method, std::string_view target, std::string_view body,
    const std::vector<std::pair<std::string, std::string>>& headers) {
  if (Status st = Send(method, target, body, headers); !st.ok()) return st;
  return Receive();
}

}  // namespace moat::serve
