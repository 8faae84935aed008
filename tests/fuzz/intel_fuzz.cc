// Property fuzzer for what intel reads from partners: a TAXII request body
// (POST envelope) and a pulled feed. Never crashes; the server answers a
// TAXII status or error with its media type; importing is deterministic;
// the guard never accepts a bundle it cannot parse.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "moat/intel/bundle.h"
#include "moat/intel/matcher.h"
#include "moat/intel/taxii.h"
#include "fuzz_check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace moat::intel;
  const std::string input(reinterpret_cast<const char*>(data), size);

  TaxiiConfig c;
  c.partners = {{"a", "", "", "t"}};
  c.collections = {{"c0", "fuzz", {{"a", {true, true}}}}};
  auto server = TaxiiServer::Open(c, [] { return moat::EventTime{1'800'000'000'000'000}; });
  FUZZ_CHECK(server.ok());
  TaxiiRequest post{"POST", "/moat/collections/c0/objects/", {}, {{"authorization", "Bearer t"},
                    {"content-type", kTaxiiMediaType}}, input};
  const TaxiiResponse r = server.value()->Handle(post);
  FUZZ_CHECK(r.status == 202 || r.status == 400 || r.status == 413);
  FUZZ_CHECK(r.Header("content-type") == kTaxiiMediaType);
  const TaxiiResponse get = server.value()->Handle(
      {"GET", "/moat/collections/c0/objects/", ParseQuery(input.substr(0, 64)), {{"authorization", "Bearer t"}}, ""});
  FUZZ_CHECK(get.status == 200 || get.status == 400);

  auto a = ParseIndicators(input);
  auto b = ParseIndicators(input);
  FUZZ_CHECK(a.ok() == b.ok());
  if (a.ok()) FUZZ_CHECK(a.value().size() == b.value().size());
  if (CheckBundle(input, RawValues{}).ok()) FUZZ_CHECK(a.ok());
  return 0;
}
