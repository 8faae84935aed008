// Mounts intel's transport-free TAXII 2.1 server on the HTTP server, and gives
// intel's TAXII client an HTTP transport. The only place where TAXII meets
// HTTP: intel never includes serve.
#pragma once

#include <string>

#include "moat/intel/taxii.h"
#include "moat/serve/http_server.h"

namespace moat::serve {

// Routes /taxii2/ and /<api_root>/ (any method) to `taxii`, which must
// outlive the server.
void MountTaxii(HttpServer& server, intel::TaxiiServer& taxii);

// A transport for intel::TaxiiClient: one connection per call to `url`
// ("http://HOST:PORT" or "https://HOST[:PORT]"), so a partner restart costs
// one retry, not a stuck client. Over https the partner's certificate is
// checked against `ca_file` (PEM), or the system CA store when it is empty.
Result<intel::Transport> TaxiiHttpTransport(const std::string& url, const std::string& ca_file = {});

}  // namespace moat::serve
