// POST /v1/transform: the gateway hands moat a response for an account the
// policy said to degrade, and gets it back degraded and/or watermarked
// (degrade's modes). The only place where degrade meets HTTP.
#pragma once

#include "moat/degrade/transform.h"
#include "moat/serve/http_server.h"

namespace moat::serve {

// Body: the provider's response JSON, as it would go to the client. Mode:
// the `mode` query parameter or the x-moat-degrade-mode header (what
// /v1/decide and ext_authz answered). Answers the transformed response, or
// 400 with what was wrong. `transformer` must outlive the server.
void MountTransform(HttpServer& server, const degrade::Transformer& transformer);

}  // namespace moat::serve
