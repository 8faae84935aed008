#include "moat/serve/taxii_routes.h"

#include "moat/serve/http_client.h"

namespace moat::serve {

void MountTaxii(HttpServer& server, intel::TaxiiServer& taxii) {
  Handler handler = [&taxii](const Request& r) {
    intel::TaxiiRequest t;
    t.method = r.method;
    t.path = r.path;
    t.query = r.query;
    t.headers = r.headers;
    t.body = r.body;
    intel::TaxiiResponse tr = taxii.Handle(t);
    Response out;
    out.status = tr.status;
    for (auto& [k, v] : tr.headers) {
      if (k == "content-type") out.content_type = v;
      else out.headers.emplace_back(std::move(k), std::move(v));
    }
    out.body = std::move(tr.body);
    return out;
  };
  server.RoutePrefix("*", "/taxii2/", handler);
  server.RoutePrefix("*", "/" + taxii.config().api_root + "/", handler);
}

Result<intel::Transport> TaxiiHttpTransport(const std::string& url, const std::string& ca_file) {
  auto endpoint = ParseUrl(url);
  if (!endpoint.ok()) return endpoint.status();
  const Endpoint ep = endpoint.value();
  intel::Transport t = [ep, ca_file](std::string_view method, std::string_view target,
                                     std::string_view body,
                                     const intel::HeaderList& headers) -> Result<intel::HttpResult> {
    bool untrusted = false;
    auto client = HttpClient::Connect(ep, std::chrono::seconds(30), ca_file, &untrusted);
    if (!client.ok()) {
      // A certificate that does not verify will not verify on a retry.
      if (untrusted) return intel::HttpResult{0, {}, client.status().message()};
      return client.status();
    }
    auto r = client.value()->Call(method, target, body, headers);
    if (!r.ok()) return r.status();
    intel::HttpResult out;
    out.status = r.value().status;
    out.headers = std::move(r.value().headers);
    out.body = std::move(r.value().body);
    return out;
  };
  return t;
}

}  // namespace moat::serve
