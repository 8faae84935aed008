#include "moat/serve/http_server.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <exception>
#include <fstream>
#include <optional>
#include <thread>
#include <type_traits>
#include <unordered_map>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

#include "moat/core/json_writer.h"

namespace moat::serve {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;
// flat_stream inside beast's ssl_stream coalesces header and body into one
// TLS record per write.
using TlsStream = beast::ssl_stream<tcp::socket>;

std::string_view Request::Header(std::string_view lower_name) const {
  for (const auto& [k, v] : headers) {
    if (k == lower_name) return v;
  }
  return {};
}

bool Request::HasHeader(std::string_view lower_name) const {
  for (const auto& kv : headers) {
    if (kv.first == lower_name) return true;
  }
  return false;
}

std::string_view Request::Query(std::string_view name) const {
  for (const auto& [k, v] : query) {
    if (k == name) return v;
  }
  return {};
}

Response JsonResponse(int status, std::string body) {
  Response r;
  r.status = status;
  r.body = std::move(body);
  r.body.push_back('\n');
  return r;
}

Response JsonError(int status, std::string_view code, std::string_view message) {
  std::string out;
  JsonWriter w(out);
  w.BeginObject();
  w.Key("error");
  w.String(code);
  w.Key("message");
  w.String(message);
  w.EndObject();
  return JsonResponse(status, std::move(out));
}

namespace {

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

void ParseQuery(std::string_view q, std::vector<std::pair<std::string, std::string>>& out) {
  while (!q.empty()) {
    const size_t amp = q.find('&');
    const std::string_view part = q.substr(0, amp);
    q = amp == std::string_view::npos ? std::string_view{} : q.substr(amp + 1);
    if (part.empty()) continue;
    const size_t eq = part.find('=');
    if (eq == std::string_view::npos) {
      out.emplace_back(PercentDecode(part), std::string());
    } else {
      out.emplace_back(PercentDecode(part.substr(0, eq)), PercentDecode(part.substr(eq + 1)));
    }
  }
}

struct RouteEntry {
  std::string method;
  std::string pattern;
  Handler handler;
};

}  // namespace

std::string PercentDecode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (c == '+') {
      out.push_back(' ');
    } else if (c == '%' && i + 2 < s.size() && HexValue(s[i + 1]) >= 0 &&
               HexValue(s[i + 2]) >= 0) {
      out.push_back(static_cast<char>(HexValue(s[i + 1]) * 16 + HexValue(s[i + 2])));
      i += 2;
    } else {
      out.push_back(c);
    }
  }
  return out;
}

struct HttpServer::Impl {
  explicit Impl(ServerOptions o) : options(std::move(o)) {
    options.threads = std::max(1, options.threads);
    for (int i = 0; i < options.threads; ++i) {
      contexts.push_back(std::make_unique<asio::io_context>(1));
    }
    acceptor.emplace(*contexts[0]);
  }

  // Finds the handler for a request; fills `route` or answers 404/405.
  const Handler* Find(std::string_view method, std::string_view path, std::string& route,
                      std::string& allow) const {
    const RouteEntry* path_match = nullptr;
    auto try_entry = [&](const RouteEntry& e) -> bool {
      if (e.method == "*" || e.method == method) return true;
      if (!allow.empty()) allow += ", ";
      allow += e.method;
      path_match = &e;
      return false;
    };
    if (auto it = exact.find(std::string(path)); it != exact.end()) {
      for (const RouteEntry& e : it->second) {
        if (try_entry(e)) {
          route = e.pattern;
          return &e.handler;
        }
      }
    }
    if (path_match == nullptr) {
      // Longest prefix first (sorted at Start).
      for (const RouteEntry& e : prefixes) {
        if (path.substr(0, e.pattern.size()) != e.pattern) continue;
        if (path_match != nullptr && path_match->pattern != e.pattern) break;
        if (try_entry(e)) {
          route = e.pattern;
          return &e.handler;
        }
      }
    }
    if (path_match != nullptr) route = path_match->pattern;
    return nullptr;
  }

  ServerOptions options;
  // Before the loops: their sessions' streams use it until they are gone.
  std::optional<asio::ssl::context> tls;  // set when the server speaks HTTPS
  std::vector<std::unique_ptr<asio::io_context>> contexts;
  std::vector<asio::executor_work_guard<asio::io_context::executor_type>> guards;
  std::optional<tcp::acceptor> acceptor;
  std::vector<std::thread> threads;
  std::unordered_map<std::string, std::vector<RouteEntry>> exact;
  std::vector<RouteEntry> prefixes;
  RequestObserver observer;
  size_t next_context = 0;
  std::atomic<uint64_t> connections{0};
  bool started = false;
  bool stopped = false;
};

namespace {

bool IsTlsError(const boost::system::error_code& ec) {
  return ec.category() == asio::error::get_ssl_category() ||
         ec == asio::ssl::error::stream_truncated;
}

// What a client that spoke plain HTTP to the HTTPS port reads, in plain text.
const std::string& PlainHttpAnswer() {
  static const std::string answer = [] {
    const Response r = JsonError(400, "tls_required", "this port speaks HTTPS only");
    return "HTTP/1.1 400 Bad Request\r\nContent-Type: " + r.content_type +
           "\r\nConnection: close\r\nContent-Length: " + std::to_string(r.body.size()) +
           "\r\n\r\n" + r.body;
  }();
  return answer;
}

// One connection, plain (tcp::socket) or HTTPS (TlsStream). Lives on one
// worker's event loop, so it needs no locks; every asynchronous operation
// holds a shared_ptr to it.
template <class Stream>
class Session : public std::enable_shared_from_this<Session<Stream>> {
  static constexpr bool kTls = std::is_same_v<Stream, TlsStream>;

 public:
  template <class... StreamArgs>
  explicit Session(HttpServer::Impl& server, StreamArgs&&... args)
      : stream_(std::forward<StreamArgs>(args)...), timer_(stream_.get_executor()), server_(server) {
    ++server_.connections;
  }
  ~Session() { --server_.connections; }

  void Start() {
    boost::system::error_code ec;
    Socket().set_option(tcp::no_delay(true), ec);
    const auto ep = Socket().remote_endpoint(ec);
    if (!ec) remote_ip_ = ep.address().to_string();
    started_ = Clock::now();
    if constexpr (kTls) {
      // A client that never finishes the handshake is a slow client.
      Arm(server_.options.header_timeout);
      stream_.async_handshake(asio::ssl::stream_base::server,
                              [self = this->shared_from_this()](beast::error_code ec) {
                                self->OnHandshake(ec);
                              });
    } else {
      ReadHeader();
    }
  }

 private:
  tcp::socket& Socket() { return beast::get_lowest_layer(stream_); }

  void Arm(std::chrono::milliseconds timeout) {
    timed_out_ = false;
    timer_.expires_after(timeout);
    timer_.async_wait([self = this->shared_from_this()](boost::system::error_code ec) {
      if (ec) return;  // cancelled: the operation finished in time
      self->timed_out_ = true;
      boost::system::error_code ignored;
      self->Socket().cancel(ignored);
    });
  }

  void OnHandshake(beast::error_code ec) {
    timer_.cancel();
    if (!ec) return ReadHeader();
    if (!timed_out_ && ec.category() == asio::error::get_ssl_category() &&
        ERR_GET_REASON(static_cast<unsigned long>(ec.value())) == SSL_R_HTTP_REQUEST) {
      // Tell a plain-HTTP client why, in words it can read.
      if (server_.observer) server_.observer("-", "-", 400, Seconds());
      Arm(server_.options.write_timeout);
      return asio::async_write(Socket(), asio::buffer(PlainHttpAnswer()),
                               [self = this->shared_from_this()](beast::error_code ec, size_t) {
                                 if (ec) return self->Close();
                                 self->Linger();
                               });
    }
    Close();
  }

  // After the plain-HTTP answer: half-close and read what the client still
  // sends until it closes, so that our answer is not lost to a reset.
  void Linger() {
    boost::system::error_code ignored;
    Socket().shutdown(tcp::socket::shutdown_send, ignored);
    Arm(server_.options.header_timeout);
    drain_.resize(4096);
    Drain();
  }
  void Drain() {
    Socket().async_read_some(asio::buffer(drain_),
                             [self = this->shared_from_this()](beast::error_code ec, size_t) {
                               if (ec) return self->Close();
                               self->Drain();
                             });
  }

  void ReadHeader() {
    parser_.emplace();
    parser_->header_limit(static_cast<uint32_t>(
        std::min<size_t>(server_.options.max_header_bytes, UINT32_MAX)));
    parser_->body_limit(server_.options.max_body_bytes);
    // A pipelined request already buffered gets the header timeout, an idle
    // connection the idle one.
    Arm(buffer_.size() > 0 ? server_.options.header_timeout : server_.options.idle_timeout);
    started_ = Clock::now();
    http::async_read_header(stream_, buffer_, *parser_,
                            [self = this->shared_from_this()](beast::error_code ec, size_t) {
                              self->OnHeader(ec);
                            });
  }

  void OnHeader(beast::error_code ec) {
    if (ec) return OnReadError(ec);
    started_ = Clock::now();
    const auto& req = parser_->get();
    if (parser_->is_done()) return Dispatch();
    if (beast::iequals(req[http::field::expect], "100-continue")) {
      // curl waits for this before sending a large body.
      static const std::string kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
      Arm(server_.options.write_timeout);
      return asio::async_write(stream_, asio::buffer(kContinue),
                               [self = this->shared_from_this()](beast::error_code ec, size_t) {
                                 if (ec) return self->Close();
                                 self->ReadBody();
                               });
    }
    ReadBody();
  }

  void ReadBody() {
    Arm(server_.options.body_timeout);
    http::async_read(stream_, buffer_, *parser_,
                     [self = this->shared_from_this()](beast::error_code ec, size_t) {
                       if (ec) return self->OnReadError(ec);
                       self->Dispatch();
                     });
  }

  void OnReadError(beast::error_code ec) {
    timer_.cancel();
    if (timed_out_) {
      // Silence on an idle keep-alive connection is normal; a request that
      // started and stalled is a slow client and is told so.
      if (parser_->got_some() || buffer_.size() > 0) {
        return ErrorAndClose(408, "request_timeout", "the request did not arrive in time");
      }
      return Close();
    }
    // A TLS failure (garbage, a truncated stream) leaves nothing to answer on.
    if (ec == http::error::end_of_stream || ec == asio::error::eof ||
        ec == asio::error::connection_reset || ec == asio::error::operation_aborted ||
        IsTlsError(ec)) {
      return Close();
    }
    if (ec == http::error::body_limit) {
      return ErrorAndClose(413, "body_too_large",
                           "request body exceeds " +
                               std::to_string(server_.options.max_body_bytes) + " bytes");
    }
    if (ec == http::error::header_limit) {
      return ErrorAndClose(431, "headers_too_large",
                           "request headers exceed " +
                               std::to_string(server_.options.max_header_bytes) + " bytes");
    }
    if (ec == http::error::partial_message) return Close();
    ErrorAndClose(400, "bad_request", "malformed HTTP request: " + ec.message());
  }

  void ErrorAndClose(int status, std::string_view code, const std::string& message) {
    Response r = JsonError(status, code, message);
    if (server_.observer) server_.observer("-", "-", status, Seconds());
    Write(std::move(r), /*keep_alive=*/false, /*version=*/11);
  }

  double Seconds() const {
    return std::chrono::duration<double>(Clock::now() - started_).count();
  }

  void Dispatch() {
    timer_.cancel();
    http::request<http::string_body> msg = parser_->release();
    Request req;
    req.method = std::string(msg.method_string());
    req.target = std::string(msg.target());
    const size_t q = req.target.find('?');
    req.path = req.target.substr(0, q);
    if (q != std::string::npos) ParseQuery(std::string_view(req.target).substr(q + 1), req.query);
    req.headers.reserve(16);
    for (const auto& f : msg) {
      std::string name(f.name_string());
      for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      req.headers.emplace_back(std::move(name), std::string(f.value()));
    }
    req.body = std::move(msg.body());
    req.remote_ip = remote_ip_;
    const bool keep_alive = msg.keep_alive();

    std::string allow;
    const Handler* handler = server_.Find(req.method, req.path, req.route, allow);
    Response res;
    if (handler != nullptr) {
      try {
        res = (*handler)(req);
      } catch (const std::exception& e) {
        // Handlers return errors as values; this is the last line of defence
        // so that one bad request cannot take a worker down.
        res = JsonError(500, "internal_error", e.what());
      } catch (...) {
        res = JsonError(500, "internal_error", "unknown exception");
      }
    } else if (!allow.empty()) {
      res = JsonError(405, "method_not_allowed",
                      "method " + req.method + " not allowed on " + req.path + " (allowed: " +
                          allow + ")");
      res.headers.emplace_back("Allow", allow);
    } else {
      res = JsonError(404, "not_found", "no route for " + req.method + " " + req.path);
      req.route = "-";
    }
    if (server_.observer) server_.observer(req.route, req.method, res.status, Seconds());
    Write(std::move(res), keep_alive, msg.version());
  }

  void Write(Response res, bool keep_alive, unsigned version) {
    response_.emplace();
    auto& out = *response_;
    out.version(version);
    out.result(static_cast<unsigned>(res.status));
    out.set(http::field::content_type, res.content_type);
    for (auto& [k, v] : res.headers) out.set(k, v);
    out.body() = std::move(res.body);
    out.keep_alive(keep_alive);
    out.prepare_payload();
    Arm(server_.options.write_timeout);
    http::async_write(stream_, out,
                      [self = this->shared_from_this(), keep_alive](beast::error_code ec, size_t) {
                        self->timer_.cancel();
                        if (ec) return self->Close();
                        if (!keep_alive) return self->Finish();
                        self->response_.reset();
                        self->ReadHeader();
                      });
  }

  // The last response is out: over TLS, close_notify first (bounded like a
  // write), so that the client can tell the end from a truncation.
  void Finish() {
    if constexpr (kTls) {
      Arm(server_.options.write_timeout);
      stream_.async_shutdown([self = this->shared_from_this()](beast::error_code) { self->Close(); });
    } else {
      Close();
    }
  }

  void Close() {
    timer_.cancel();
    boost::system::error_code ec;
    Socket().shutdown(tcp::socket::shutdown_send, ec);
    Socket().close(ec);
  }

  Stream stream_;
  asio::steady_timer timer_;
  HttpServer::Impl& server_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  std::optional<http::response<http::string_body>> response_;
  std::string remote_ip_;
  Clock::time_point started_;
  bool timed_out_ = false;
  std::string drain_;  // Linger's scratch
};

// Starts a session on `loop`, the worker's loop that owns its socket.
template <class Stream, class... StreamArgs>
void Launch(HttpServer::Impl& s, const tcp::socket::executor_type& loop, StreamArgs&&... args) {
  auto session = std::make_shared<Session<Stream>>(s, std::forward<StreamArgs>(args)...);
  asio::post(loop, [session] { session->Start(); });
}

void Accept(HttpServer::Impl& s) {
  asio::io_context& target = *s.contexts[s.next_context];
  s.next_context = (s.next_context + 1) % s.contexts.size();
  s.acceptor->async_accept(target, [&s](boost::system::error_code ec, tcp::socket socket) {
    if (ec == asio::error::operation_aborted || !s.acceptor->is_open()) return;
    if (!ec) {
      // The socket belongs to another worker's loop: start it there.
      const auto loop = socket.get_executor();
      if (s.tls) {
        Launch<TlsStream>(s, loop, std::move(socket), *s.tls);
      } else {
        Launch<tcp::socket>(s, loop, std::move(socket));
      }
    }
    Accept(s);
  });
}

// The files are read once, here: a bad one stops the server before it listens.
Status LoadTls(HttpServer::Impl& s) {
  const std::string& cert = s.options.tls_cert_file;
  const std::string& key = s.options.tls_key_file;
  if (cert.empty() && key.empty()) return Status::Ok();
  if (cert.empty() || key.empty()) {
    return Status::Error("http: TLS needs both a certificate chain file and a private key file");
  }
  for (const std::string* path : {&cert, &key}) {
    std::ifstream in(*path);
    if (!in) {
      return Status::Error("http: TLS " +
                           std::string(path == &cert ? "certificate chain" : "private key") +
                           " file '" + *path + "': cannot read: " + std::strerror(errno));
    }
  }
  asio::ssl::context ctx(asio::ssl::context::tls_server);
  SSL_CTX_set_min_proto_version(ctx.native_handle(), TLS1_2_VERSION);
  ctx.set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_compression);
  // An encrypted key fails here instead of prompting on the terminal.
  ctx.set_password_callback([](size_t, asio::ssl::context::password_purpose) { return std::string(); });
  boost::system::error_code ec;
  ctx.use_certificate_chain_file(cert, ec);
  if (ec) {
    return Status::Error("http: TLS certificate chain file '" + cert +
                         "': not a PEM certificate chain: " + ec.message());
  }
  ctx.use_private_key_file(key, asio::ssl::context::pem, ec);
  const bool mismatch =
      (ec && ec.category() == asio::error::get_ssl_category() &&
       ERR_GET_REASON(static_cast<unsigned long>(ec.value())) == X509_R_KEY_VALUES_MISMATCH) ||
      (!ec && SSL_CTX_check_private_key(ctx.native_handle()) != 1);
  if (mismatch) {
    return Status::Error("http: TLS private key file '" + key +
                         "' does not match the certificate in '" + cert + "'");
  }
  if (ec) {
    return Status::Error("http: TLS private key file '" + key +
                         "': not a PEM private key: " + ec.message());
  }
  s.tls.emplace(std::move(ctx));
  return Status::Ok();
}

}  // namespace

HttpServer::HttpServer(ServerOptions options) : impl_(std::make_unique<Impl>(std::move(options))) {}

HttpServer::~HttpServer() { Stop(); }

void HttpServer::Route(std::string method, std::string path, Handler handler) {
  impl_->exact[path].push_back(RouteEntry{std::move(method), path, std::move(handler)});
}

void HttpServer::RoutePrefix(std::string method, std::string prefix, Handler handler) {
  impl_->prefixes.push_back(RouteEntry{std::move(method), std::move(prefix), std::move(handler)});
}

void HttpServer::SetObserver(RequestObserver observer) { impl_->observer = std::move(observer); }

Status HttpServer::Start() {
  Impl& s = *impl_;
  if (s.started) return Status::Error("http: server already started");
  if (Status st = LoadTls(s); !st.ok()) return st;
  std::stable_sort(s.prefixes.begin(), s.prefixes.end(),
                   [](const RouteEntry& a, const RouteEntry& b) {
                     return a.pattern.size() > b.pattern.size();
                   });
  boost::system::error_code ec;
  const auto address = asio::ip::make_address(s.options.address, ec);
  if (ec) return Status::Error("http: bad listen address '" + s.options.address + "': " + ec.message());
  const tcp::endpoint ep(address, s.options.port);
  const std::string where = s.options.address + ":" + std::to_string(s.options.port);
  s.acceptor->open(ep.protocol(), ec);
  if (!ec) s.acceptor->set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) s.acceptor->bind(ep, ec);
  if (!ec) s.acceptor->listen(s.options.backlog, ec);
  if (ec) return Status::Error("http: cannot listen on " + where + ": " + ec.message());
  s.started = true;
  Accept(s);
  for (auto& ctx : s.contexts) {
    s.guards.push_back(asio::make_work_guard(*ctx));
    s.threads.emplace_back([c = ctx.get()] { c->run(); });
  }
  return Status::Ok();
}

void HttpServer::Stop() {
  Impl& s = *impl_;
  if (!s.started || s.stopped) return;
  s.stopped = true;
  s.guards.clear();
  for (auto& ctx : s.contexts) ctx->stop();
  for (auto& t : s.threads) t.join();
  boost::system::error_code ec;
  s.acceptor->close(ec);
  s.acceptor.reset();
  // Destroying the loops destroys their pending handlers and with them the
  // sessions and their sockets.
  s.contexts.clear();
}

uint16_t HttpServer::port() const {
  if (!impl_->acceptor) return 0;
  boost::system::error_code ec;
  const auto ep = impl_->acceptor->local_endpoint(ec);
  return ec ? 0 : ep.port();
}

uint64_t HttpServer::open_connections() const { return impl_->connections.load(); }

}  // namespace moat::serve
