// Open-loop HTTP load at a constant rate, for the decision latency target
// (wrk 4.1 in Debian has no constant-rate mode). Request i is due at
// t0 + i/rate whatever happened before it, and its latency runs from that due
// time, so a stall shows up in the tail instead of slowing the load down
// (no coordinated omission). Requests are pipelined on keep-alive
// connections when a response is late.
//
//   serve_load --host 127.0.0.1 --port 8080 --rate 20000 --seconds 10
//              [--connections 16] [--path /v1/decide] [--get] [--accounts 10000]
#include <boost/asio.hpp>

#include <strings.h>

#include <algorithm>
#include <array>
#include <functional>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <memory>
#include <string>
#include <vector>

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;

namespace {

struct Args {
  std::string host = "127.0.0.1";
  int port = 8080;
  double rate = 20000;
  double seconds = 10;
  double warmup = 1;
  int connections = 16;
  std::string path = "/v1/decide";
  bool get = false;
  int accounts = 10000;
};

struct Stats {
  std::vector<int64_t> latency_ns;  // measured requests only
  uint64_t sent = 0;
  uint64_t done = 0;
  uint64_t non2xx = 0;
  uint64_t errors = 0;
};

class Conn : public std::enable_shared_from_this<Conn> {
 public:
  Conn(asio::io_context& ioc, Stats& stats, Clock::time_point measure_from)
      : socket_(ioc), stats_(stats), measure_from_(measure_from) {}

  bool Connect(const tcp::endpoint& ep) {
    boost::system::error_code ec;
    socket_.connect(ep, ec);
    if (ec) return false;
    socket_.set_option(tcp::no_delay(true), ec);
    Read();
    return true;
  }

  void Send(const std::string& request, Clock::time_point due) {
    due_.push_back(due);
    pending_ += request;
    if (!writing_) Write();
  }

  bool dead() const { return dead_; }

 private:
  void Write() {
    if (pending_.empty() || dead_) return;
    writing_ = true;
    inflight_.swap(pending_);
    pending_.clear();
    asio::async_write(socket_, asio::buffer(inflight_),
                      [self = shared_from_this()](boost::system::error_code ec, size_t) {
                        self->writing_ = false;
                        if (ec) return self->Fail();
                        self->Write();
                      });
  }

  void Read() {
    socket_.async_read_some(asio::buffer(chunk_), [self = shared_from_this()](boost::system::error_code ec,
                                                                               size_t n) {
      if (ec) return self->Fail();
      self->in_.append(self->chunk_.data(), n);
      self->Parse();
      self->Read();
    });
  }

  // Minimal HTTP/1.1 response framing: status line + Content-Length.
  void Parse() {
    for (;;) {
      const size_t hdr_end = in_.find("\r\n\r\n");
      if (hdr_end == std::string::npos) return;
      size_t body = 0;
      for (size_t p = 0; p < hdr_end;) {
        const size_t eol = in_.find("\r\n", p);
        if (eol - p > 15 && strncasecmp(in_.data() + p, "content-length:", 15) == 0) {
          body = std::strtoull(in_.c_str() + p + 15, nullptr, 10);
        }
        p = eol + 2;
      }
      const size_t total = hdr_end + 4 + body;
      if (in_.size() < total) return;
      const int status = in_.size() > 12 ? std::atoi(in_.c_str() + 9) : 0;
      const auto now = Clock::now();
      if (!due_.empty()) {
        const auto due = due_.front();
        due_.pop_front();
        ++stats_.done;
        if (status < 200 || status > 299) ++stats_.non2xx;
        if (due >= measure_from_) stats_.latency_ns.push_back((now - due).count());
      }
      in_.erase(0, total);
    }
  }

  void Fail() {
    if (!dead_) {
      dead_ = true;
      stats_.errors += due_.size() + 1;
      due_.clear();
    }
  }

  tcp::socket socket_;
  Stats& stats_;
  Clock::time_point measure_from_;
  std::deque<Clock::time_point> due_;
  std::string pending_, inflight_, in_;
  std::array<char, 65536> chunk_{};
  bool writing_ = false;
  bool dead_ = false;
};

int64_t Percentile(std::vector<int64_t>& v, double p) {
  if (v.empty()) return 0;
  const size_t k = std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())));
  std::nth_element(v.begin(), v.begin() + static_cast<ptrdiff_t>(k), v.end());
  return v[k];
}

}  // namespace

int main(int argc, char** argv) {
  Args a;
  for (int i = 1; i < argc; ++i) {
    const std::string k = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "serve_load: %s needs a value\n", k.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    if (k == "--host") a.host = next();
    else if (k == "--port") a.port = std::atoi(next().c_str());
    else if (k == "--rate") a.rate = std::atof(next().c_str());
    else if (k == "--seconds") a.seconds = std::atof(next().c_str());
    else if (k == "--warmup") a.warmup = std::atof(next().c_str());
    else if (k == "--connections") a.connections = std::atoi(next().c_str());
    else if (k == "--path") a.path = next();
    else if (k == "--get") a.get = true;
    else if (k == "--accounts") a.accounts = std::max(1, std::atoi(next().c_str()));
    else {
      std::fprintf(stderr, "serve_load: unknown option %s\n", k.c_str());
      return 2;
    }
  }
  // Requests prepared up front: the generator must cost little per request.
  std::vector<std::string> requests;
  const int variants = a.get ? 1 : a.accounts;
  for (int i = 0; i < variants; ++i) {
    std::string req;
    if (a.get) {
      req = "GET " + a.path + " HTTP/1.1\r\nHost: " + a.host + "\r\n\r\n";
    } else {
      const std::string body = "{\"account_id\":\"acct_" + std::to_string(i) + "\",\"api_key_id\":\"key_" +
                               std::to_string(i) + "\",\"ip\":\"10." + std::to_string(i % 250) + "." +
                               std::to_string((i / 250) % 250) + ".7\",\"org_id\":\"org_" +
                               std::to_string(i % 97) + "\",\"model\":\"m-large\"}";
      req = "POST " + a.path + " HTTP/1.1\r\nHost: " + a.host +
            "\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) +
            "\r\n\r\n" + body;
    }
    requests.push_back(std::move(req));
  }

  asio::io_context ioc(1);
  Stats stats;
  const auto t0 = Clock::now() + std::chrono::milliseconds(50);
  const auto measure_from = t0 + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(a.warmup));
  const auto end = measure_from + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(a.seconds));
  const tcp::endpoint ep(asio::ip::make_address(a.host), static_cast<unsigned short>(a.port));
  std::vector<std::shared_ptr<Conn>> conns;
  for (int i = 0; i < a.connections; ++i) {
    auto c = std::make_shared<Conn>(ioc, stats, measure_from);
    if (!c->Connect(ep)) {
      std::fprintf(stderr, "serve_load: cannot connect to %s:%d\n", a.host.c_str(), a.port);
      return 1;
    }
    conns.push_back(std::move(c));
  }
  const double ns_per_request = 1e9 / a.rate;
  uint64_t next_id = 0;
  asio::steady_timer timer(ioc);
  std::function<void()> tick = [&] {
    const auto now = Clock::now();
    while (true) {
      const auto due = t0 + std::chrono::nanoseconds(static_cast<int64_t>(next_id * ns_per_request));
      if (due > now || due >= end) break;
      Conn& c = *conns[next_id % conns.size()];
      if (!c.dead()) c.Send(requests[next_id % requests.size()], due);
      ++stats.sent;
      ++next_id;
    }
    const auto due = t0 + std::chrono::nanoseconds(static_cast<int64_t>(next_id * ns_per_request));
    if (due >= end) return;
    timer.expires_at(due);
    timer.async_wait([&](boost::system::error_code) { tick(); });
  };
  tick();
  // Run until every sent request is answered or 5 s past the end.
  while (ioc.run_one_until(end + std::chrono::seconds(5)) > 0) {
    if (Clock::now() >= end && stats.done + stats.errors >= stats.sent) break;
  }
  const double measured_s = a.seconds;
  auto& v = stats.latency_ns;
  const size_t n = v.size();
  const double us = 1e-3;
  const int64_t p50 = Percentile(v, 0.50), p90 = Percentile(v, 0.90), p99 = Percentile(v, 0.99),
                p999 = Percentile(v, 0.999), mx = n ? *std::max_element(v.begin(), v.end()) : 0;
  std::printf(
      "{\"target_rate\":%.0f,\"achieved_rate\":%.0f,\"measured\":%zu,\"sent\":%llu,\"non2xx\":%llu,"
      "\"errors\":%llu,\"p50_us\":%.1f,\"p90_us\":%.1f,\"p99_us\":%.1f,\"p999_us\":%.1f,\"max_us\":%.1f}\n",
      a.rate, n / measured_s, n, static_cast<unsigned long long>(stats.sent),
      static_cast<unsigned long long>(stats.non2xx), static_cast<unsigned long long>(stats.errors), p50 * us,
      p90 * us, p99 * us, p999 * us, mx * us);
  return stats.errors > 0 ? 1 : 0;
}
