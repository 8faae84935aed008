#include "moat/serve/http_client.h"

#include <sys/socket.h>
#include <sys/time.h>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

namespace moat::serve {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

std::string_view ClientResponse::Header(std::string_view lower_name) const {
  for (const auto& [k, v] : headers) {
    if (k == lower_name) return v;
  }
  return {};
}

Result<Endpoint> ParseUrl(std::string_view url) {
  std::string_view rest = url;
  if (rest.starts_with("http://")) rest.remove_prefix(7);
  if (rest.starts_with("https://")) {
    return Status::Error("url '" + std::string(url) + "': https is not supported, use http://");
  }
  rest = rest.substr(0, rest.find('/'));
  const size_t colon = rest.rfind(':');
  if (colon == std::string_view::npos || colon == 0 || colon + 1 == rest.size()) {
    return Status::Error("url '" + std::string(url) + "': expected http://HOST:PORT");
  }
  Endpoint ep;
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
  tcp::socket socket{ioc};
  beast::flat_buffer buffer;
  std::string host;
};

HttpClient::HttpClient(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
HttpClient::~HttpClient() = default;

Result<std::unique_ptr<HttpClient>> HttpClient::Connect(const Endpoint& endpoint,
                                                        std::chrono::milliseconds timeout) {
  auto impl = std::make_unique<Impl>();
  boost::system::error_code ec;
  tcp::resolver resolver(impl->ioc);
  const auto results = resolver.resolve(endpoint.host, std::to_string(endpoint.port), ec);
  if (!ec) asio::connect(impl->socket, results, ec);
  const std::string where = endpoint.host + ":" + std::to_string(endpoint.port);
  if (ec) return Status::Error("http client: cannot connect to " + where + ": " + ec.message());
  impl->socket.set_option(tcp::no_delay(true), ec);
  // Blocking socket calls honour SO_RCVTIMEO/SO_SNDTIMEO: a dead server
  // cannot hang the caller.
  timeval tv{};
  tv.tv_sec = timeout.count() / 1000;
  tv.tv_usec = (timeout.count() % 1000) * 1000;
  setsockopt(impl->socket.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt(impl->socket.native_handle(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
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
  boost::system::error_code ec;
  asio::write(impl_->socket, asio::buffer(bytes.data(), bytes.size()), ec);
  if (ec) return Status::Error("http client: write to " + impl_->host + ": " + ec.message());
  return Status::Ok();
}

Result<ClientResponse> HttpClient::Receive() {
  http::response_parser<http::string_body> parser;
  parser.body_limit(size_t{1} << 30);
  boost::system::error_code ec;
  http::read(impl_->socket, impl_->buffer, parser, ec);
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
