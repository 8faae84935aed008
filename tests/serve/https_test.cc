// HTTPS: the server with a certificate and key, the client verifying it. The
// certificates are made here with OpenSSL's API (no openssl tool needed);
// every test runs a real server on a loopback port.
#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdlib.h>

#include <boost/asio.hpp>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <thread>

#include "moat/core/time.h"
#include "moat/intel/taxii.h"
#include "moat/serve/http_client.h"
#include "moat/serve/http_server.h"
#include "moat/serve/taxii_routes.h"

namespace moat::serve {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

// Writes a self-signed P-256 certificate for `alt_names` (subjectAltName
// syntax) and its key as PEM files.
void MakeSelfSigned(const std::string& alt_names, const fs::path& cert_path, const fs::path& key_path) {
  EVP_PKEY* key = EVP_EC_gen("P-256");
  ASSERT_NE(key, nullptr);
  X509* x = X509_new();
  X509_set_version(x, 2);
  static long serial = 1;
  ASN1_INTEGER_set(X509_get_serialNumber(x), serial++);
  X509_gmtime_adj(X509_getm_notBefore(x), -3600);
  X509_gmtime_adj(X509_getm_notAfter(x), 24 * 3600);
  X509_set_pubkey(x, key);
  X509_NAME* name = X509_get_subject_name(x);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("moat test"), -1, -1, 0);
  X509_set_issuer_name(x, name);
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, x, x, nullptr, nullptr, 0);
  X509_EXTENSION* san = X509V3_EXT_conf_nid(nullptr, &ctx, NID_subject_alt_name, alt_names.c_str());
  ASSERT_NE(san, nullptr);
  X509_add_ext(x, san, -1);
  X509_EXTENSION_free(san);
  ASSERT_GT(X509_sign(x, key, EVP_sha256()), 0);
  FILE* f = std::fopen(cert_path.c_str(), "w");
  ASSERT_NE(f, nullptr);
  PEM_write_X509(f, x);
  std::fclose(f);
  f = std::fopen(key_path.c_str(), "w");
  ASSERT_NE(f, nullptr);
  PEM_write_PrivateKey(f, key, nullptr, nullptr, 0, nullptr, nullptr);
  std::fclose(f);
  X509_free(x);
  EVP_PKEY_free(key);
}

class HttpsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (fs::path(::testing::TempDir()) / "moat-https-XXXXXX").string();
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
    // The server's certificate names 127.0.0.1 and localhost; the other one
    // (another CA, as far as the client is concerned) names another host.
    MakeSelfSigned("IP:127.0.0.1,DNS:localhost", dir_ / "cert.pem", dir_ / "key.pem");
    MakeSelfSigned("DNS:elsewhere.example", dir_ / "other-cert.pem", dir_ / "other-key.pem");
  }
  void TearDown() override {
    if (server_) server_->Stop();
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  ServerOptions TlsOptions() const {
    ServerOptions o;
    o.tls_cert_file = (dir_ / "cert.pem").string();
    o.tls_key_file = (dir_ / "key.pem").string();
    return o;
  }
  void StartServer(ServerOptions o) {
    server_ = std::make_unique<HttpServer>(o);
    server_->Route("GET", "/hello", [](const Request& r) {
      Response res;
      res.content_type = "text/plain";
      res.body = "hello " + std::string(r.Query("name"));
      return res;
    });
    const Status st = server_->Start();
    ASSERT_TRUE(st.ok()) << st.message();
  }
  Endpoint Tls(std::string host = "127.0.0.1") const { return {std::move(host), server_->port(), true}; }
  std::string Ca() const { return (dir_ / "cert.pem").string(); }

  fs::path dir_;
  std::unique_ptr<HttpServer> server_;
};

TEST_F(HttpsTest, ServesKeepAliveAndPipelinedRequestsOverTls) {
  StartServer(TlsOptions());
  for (const std::string host : {"127.0.0.1", "localhost"}) {
    auto c = HttpClient::Connect(Tls(host), 5s, Ca());
    ASSERT_TRUE(c.ok()) << c.status().message();
    for (int i = 0; i < 3; ++i) ASSERT_TRUE(c.value()->Send("GET", "/hello?name=" + std::to_string(i)).ok());
    for (int i = 0; i < 3; ++i) {
      auto r = c.value()->Receive();
      ASSERT_TRUE(r.ok()) << r.status().message();
      EXPECT_EQ(r.value().status, 200);
      EXPECT_EQ(r.value().body, "hello " + std::to_string(i));
    }
    // Connection: close ends with close_notify, and the connection goes away.
    auto last = c.value()->Call("GET", "/hello?name=bye", {}, {{"Connection", "close"}});
    ASSERT_TRUE(last.ok()) << last.status().message();
    EXPECT_EQ(last.value().body, "hello bye");
    EXPECT_FALSE(last.value().keep_alive);
  }
  for (int i = 0; i < 100 && server_->open_connections() > 0; ++i) std::this_thread::sleep_for(10ms);
  EXPECT_EQ(server_->open_connections(), 0u);
}

TEST_F(HttpsTest, TaxiiPushAndPullOverHttps) {
  intel::TaxiiConfig config;
  config.partners = {{"a", "", "", "tok-a"}};
  intel::TaxiiCollection col;
  col.id = "0f0e0d0c-0b0a-4908-8706-050403020100";
  col.title = "coalition";
  col.rights = {{"a", {true, true}}};
  config.collections = {col};
  auto taxii = intel::TaxiiServer::Open(config, [] { return ParseRfc3339("2026-03-01T00:00:00Z").value(); });
  ASSERT_TRUE(taxii.ok()) << taxii.status().message();
  server_ = std::make_unique<HttpServer>(TlsOptions());
  MountTaxii(*server_, *taxii.value());
  ASSERT_TRUE(server_->Start().ok());

  auto transport = TaxiiHttpTransport("https://127.0.0.1:" + std::to_string(server_->port()), Ca());
  ASSERT_TRUE(transport.ok()) << transport.status().message();
  intel::TaxiiClientOptions o;
  o.collection = col.id;
  o.authorization = "Bearer tok-a";
  o.sleep = [](std::chrono::milliseconds) {};
  intel::TaxiiClient client(transport.value(), o);
  std::string bundle = R"({"type":"bundle","id":"bundle--00000000-0000-4000-8000-000000000000","objects":[)";
  for (int i = 0; i < 3; ++i) {
    if (i > 0) bundle += ",";
    bundle += R"({"type":"indicator","spec_version":"2.1","id":"indicator--00000000-0000-4000-8000-00000000000)" +
              std::to_string(i) +
              R"(","created":"2026-02-01T00:00:00.000Z","modified":"2026-02-01T00:00:00.000Z"})";
  }
  bundle += "]}";
  auto pushed = client.Push(bundle);
  ASSERT_TRUE(pushed.ok()) << pushed.status().message();
  EXPECT_NE(pushed.value().find("\"success_count\":3"), std::string::npos) << pushed.value();

  std::string pulled;
  auto n = client.Pull("", [&](std::string_view objects, std::string_view) {
    pulled += objects;
    return Status::Ok();
  });
  ASSERT_TRUE(n.ok()) << n.status().message();
  EXPECT_EQ(n.value(), 3u);
  for (int i = 0; i < 3; ++i) {
    EXPECT_NE(pulled.find("indicator--00000000-0000-4000-8000-00000000000" + std::to_string(i)),
              std::string::npos);
  }
  EXPECT_EQ(client.retries(), 0u);
}

TEST_F(HttpsTest, TaxiiClientDoesNotRetryACertificateThatDoesNotVerify) {
  StartServer(TlsOptions());
  auto transport =
      TaxiiHttpTransport("https://127.0.0.1:" + std::to_string(server_->port()), (dir_ / "other-cert.pem").string());
  ASSERT_TRUE(transport.ok()) << transport.status().message();
  intel::TaxiiClientOptions o;
  o.collection = "0f0e0d0c-0b0a-4908-8706-050403020100";
  int sleeps = 0;
  o.sleep = [&sleeps](std::chrono::milliseconds) { ++sleeps; };
  intel::TaxiiClient client(transport.value(), o);
  auto pushed = client.Push(R"({"type":"bundle","id":"bundle--00000000-0000-4000-8000-000000000000","objects":[]})");
  ASSERT_FALSE(pushed.ok());
  EXPECT_NE(pushed.status().message().find("certificate verify failed"), std::string::npos)
      << pushed.status().message();
  EXPECT_EQ(client.retries(), 0u);
  EXPECT_EQ(sleeps, 0);
}

TEST_F(HttpsTest, ClientRefusesAnUntrustedOrMisnamedCertificate) {
  StartServer(TlsOptions());
  const std::string where = "127.0.0.1:" + std::to_string(server_->port());
  // Another CA.
  auto wrong = HttpClient::Connect(Tls(), 5s, (dir_ / "other-cert.pem").string());
  ASSERT_FALSE(wrong.ok());
  EXPECT_NE(wrong.status().message().find("certificate verify failed"), std::string::npos)
      << wrong.status().message();
  EXPECT_NE(wrong.status().message().find(where), std::string::npos) << wrong.status().message();
  // The system store does not know a self-signed certificate.
  auto system = HttpClient::Connect(Tls(), 5s);
  ASSERT_FALSE(system.ok());
  EXPECT_NE(system.status().message().find("certificate verify failed"), std::string::npos)
      << system.status().message();
  // The right CA, but the certificate names another host than the one dialled.
  server_->Stop();
  ServerOptions o = TlsOptions();
  o.tls_cert_file = (dir_ / "other-cert.pem").string();
  o.tls_key_file = (dir_ / "other-key.pem").string();
  StartServer(o);
  auto misnamed = HttpClient::Connect(Tls(), 5s, (dir_ / "other-cert.pem").string());
  ASSERT_FALSE(misnamed.ok());
  EXPECT_NE(misnamed.status().message().find("IP address mismatch"), std::string::npos)
      << misnamed.status().message();
  // And a CA file that is not there is named.
  auto missing = HttpClient::Connect(Tls(), 5s, (dir_ / "nope.pem").string());
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("nope.pem"), std::string::npos);
}

TEST_F(HttpsTest, PlainHttpToTheTlsPortIsToldSoAndTheServerGoesOn) {
  ServerOptions o = TlsOptions();
  o.threads = 1;  // one worker: a stuck connection would stall everything
  StartServer(o);
  auto plain = HttpClient::Connect({"127.0.0.1", server_->port()}, 5s);
  ASSERT_TRUE(plain.ok()) << plain.status().message();
  auto r = plain.value()->Call("GET", "/hello?name=x");
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r.value().status, 400);
  EXPECT_NE(r.value().body.find("tls_required"), std::string::npos) << r.value().body;
  EXPECT_FALSE(r.value().keep_alive);
  // Bytes that are neither HTTP nor TLS: the connection is closed.
  auto garbage = HttpClient::Connect({"127.0.0.1", server_->port()}, 5s);
  ASSERT_TRUE(garbage.ok());
  ASSERT_TRUE(garbage.value()->SendRaw("\x01\x02\x03\x04\x05 neither HTTP nor TLS").ok());
  EXPECT_FALSE(garbage.value()->Receive().ok());

  auto c = HttpClient::Connect(Tls(), 5s, Ca());
  ASSERT_TRUE(c.ok()) << c.status().message();
  auto ok = c.value()->Call("GET", "/hello?name=after");
  ASSERT_TRUE(ok.ok()) << ok.status().message();
  EXPECT_EQ(ok.value().body, "hello after");
}

TEST_F(HttpsTest, TlsClientToAPlainServerFailsNamingTheServer) {
  StartServer(ServerOptions{});
  auto c = HttpClient::Connect(Tls(), 5s, Ca());
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("TLS handshake with 127.0.0.1:"), std::string::npos)
      << c.status().message();
}

TEST_F(HttpsTest, AStalledHandshakeTimesOutWithoutBlockingTheWorker) {
  ServerOptions o = TlsOptions();
  o.threads = 1;
  o.header_timeout = 300ms;
  StartServer(o);
  boost::asio::io_context ioc;
  boost::asio::ip::tcp::socket silent(ioc);
  silent.connect({boost::asio::ip::make_address("127.0.0.1"), server_->port()});
  // Half a ClientHello, then nothing.
  boost::asio::write(silent, boost::asio::buffer(std::string("\x16\x03\x01\x02\x00", 5)));
  const auto begun = std::chrono::steady_clock::now();
  // Served meanwhile on the same worker.
  auto c = HttpClient::Connect(Tls(), 5s, Ca());
  ASSERT_TRUE(c.ok()) << c.status().message();
  EXPECT_EQ(c.value()->Call("GET", "/hello?name=y").value().body, "hello y");
  // The silent one is closed once the handshake is overdue.
  char byte;
  boost::system::error_code ec;
  silent.read_some(boost::asio::buffer(&byte, 1), ec);
  EXPECT_TRUE(ec == boost::asio::error::eof || ec == boost::asio::error::connection_reset) << ec.message();
  const auto waited = std::chrono::steady_clock::now() - begun;
  EXPECT_GE(waited, 200ms);
  EXPECT_LT(waited, 3s);
}

TEST(HttpsClient, AServerThatNeverShakesHandsTimesOut) {
  boost::asio::io_context ioc;
  boost::asio::ip::tcp::acceptor mute(ioc, {boost::asio::ip::make_address("127.0.0.1"), 0});
  const auto begun = std::chrono::steady_clock::now();
  // The kernel completes the TCP handshake; nobody ever reads or writes.
  auto c = HttpClient::Connect({"127.0.0.1", mute.local_endpoint().port(), true}, 300ms);
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("TLS handshake with 127.0.0.1:"), std::string::npos)
      << c.status().message();
  EXPECT_LT(std::chrono::steady_clock::now() - begun, 3s);
}

TEST_F(HttpsTest, BadCertificateOrKeyFilesStopTheServerNamingTheFile) {
  std::ofstream(dir_ / "garbage.pem") << "not a key\n";
  struct Case {
    std::string cert, key, expect;
  };
  const std::string cert = (dir_ / "cert.pem").string();
  const std::string key = (dir_ / "key.pem").string();
  const std::string garbage = (dir_ / "garbage.pem").string();
  const std::string missing = (dir_ / "missing.pem").string();
  const std::string other_key = (dir_ / "other-key.pem").string();
  for (const Case& c : {Case{cert, garbage, "private key file '" + garbage + "': not a PEM private key"},
                        Case{cert, missing, "private key file '" + missing + "': cannot read"},
                        Case{garbage, key, "certificate chain file '" + garbage + "': not a PEM"},
                        Case{missing, key, "certificate chain file '" + missing + "': cannot read"},
                        Case{cert, other_key, "'" + other_key + "' does not match the certificate in '" + cert},
                        Case{cert, "", "needs both"}}) {
    ServerOptions o;
    o.tls_cert_file = c.cert;
    o.tls_key_file = c.key;
    HttpServer server(o);
    const Status st = server.Start();
    ASSERT_FALSE(st.ok()) << c.cert << " " << c.key;
    EXPECT_NE(st.message().find(c.expect), std::string::npos) << st.message();
    EXPECT_EQ(server.port(), 0) << "must not listen";
  }
}

TEST(ParseUrl, SchemesAndDefaultPorts) {
  auto a = ParseUrl("https://taxii.example.org/moat/");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a.value().host, "taxii.example.org");
  EXPECT_EQ(a.value().port, 443);
  EXPECT_TRUE(a.value().tls);
  auto b = ParseUrl("https://127.0.0.1:8443");
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b.value().port, 8443);
  EXPECT_TRUE(b.value().tls);
  auto c = ParseUrl("http://h");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c.value().port, 80);
  EXPECT_FALSE(c.value().tls);
  auto d = ParseUrl("h:9");
  ASSERT_TRUE(d.ok());
  EXPECT_FALSE(d.value().tls);
  EXPECT_FALSE(ParseUrl("h").ok());
  EXPECT_FALSE(ParseUrl("https://").ok());
  EXPECT_FALSE(ParseUrl("https://h:99999").ok());
}

}  // namespace
}  // namespace moat::serve
