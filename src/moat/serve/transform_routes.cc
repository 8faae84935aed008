#include "moat/serve/transform_routes.h"

#include <string>

namespace moat::serve {

void MountTransform(HttpServer& server, const degrade::Transformer& transformer) {
  server.Route("POST", "/v1/transform", [&transformer](const Request& r) {
    std::string_view name = r.Query("mode");
    if (name.empty()) name = r.Header("x-moat-degrade-mode");
    if (name.empty()) return JsonError(400, "missing_mode", "give ?mode= or the x-moat-degrade-mode header");
    auto mode = degrade::ParseMode(name);
    if (!mode.ok()) return JsonError(400, "bad_mode", mode.status().message());
    auto out = transformer.Transform(r.body, mode.value());
    if (!out.ok()) return JsonError(400, "bad_response", out.status().message());
    Response res;
    res.body = std::move(out.value());
    return res;
  });
}

}  // namespace moat::serve
